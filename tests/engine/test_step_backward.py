"""The train step's backward call: torch's engine entry beneath `Tensor.backward`, with `Tensor.backward`'s results."""
from unittest import mock

import pytest
import torch

from fitgen.engine import step


def _graph():
    torch.manual_seed(0)
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    x = torch.randn(8, 5)
    return (w, b), torch.log_softmax(x @ w + b, -1).mean()


def test_gradients_equal_tensor_backward_and_accumulate():
    (w, b), loss = _graph()
    loss.backward()
    expected = [w.grad.clone(), b.grad.clone()]
    (w2, b2), loss2 = _graph()
    step.backward(loss2)
    assert torch.equal(w2.grad, expected[0]) and torch.equal(b2.grad, expected[1])
    loss3 = torch.log_softmax(torch.randn(8, 5) @ w2 + b2, -1).mean()
    grad_alone = torch.autograd.grad(loss3, w2, retain_graph=True)[0]
    step.backward(loss3)
    assert torch.equal(w2.grad, expected[0] + grad_alone)  # accumulated into .grad, as Tensor.backward does
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        step.backward(loss3)  # the graph is freed, as Tensor.backward frees it


@pytest.mark.parametrize("make_loss", [
    lambda w: (w * 2).sum(dim=0),  # not one element: Tensor.backward's own error
    lambda w: w,  # a leaf, no graph
])
def test_losses_the_engine_call_does_not_take_go_through_tensor_backward(make_loss):
    w = torch.randn(3, 2, requires_grad=True)
    loss = make_loss(w)
    with mock.patch.object(torch.Tensor, "backward", autospec=True) as public:
        step.backward(loss)
    public.assert_called_once()
    assert w.grad is None


def test_a_tensor_subclass_loss_goes_through_tensor_backward():
    class Logged(torch.Tensor):
        pass

    w = torch.randn(3, requires_grad=True)
    loss = (w * 2).sum().as_subclass(Logged)
    with mock.patch.object(torch.Tensor, "backward", autospec=True) as public:
        step.backward(loss)
    public.assert_called_once()


def test_the_train_step_calls_the_engine_once_a_batch():
    import numpy as np
    import fitgen
    model = fitgen.Sequential([fitgen.layers.Dense(4, activation="relu", input_shape=(3,)),
                               fitgen.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = np.random.rand(20, 3).astype("float32"), np.random.randint(0, 2, 20)
    calls = []
    real = step._engine_run_backward

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    with mock.patch.object(step, "_engine_run_backward", counted):
        model.fit(x, y, batch_size=5, epochs=1, verbose=0)
    assert len(calls) == 4 and all(len(outputs) == 1 and outputs[0].dim() == 0 for outputs in calls)
