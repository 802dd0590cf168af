"""Adam's eager CPU update in torch's fused kernel: the multi-tensor path's numbers, and the cases it must refuse."""
import importlib
from unittest import mock

import numpy as np
import pytest
import torch

import fitgen
from fitgen.optimizers import Adam

adam_module = importlib.import_module("fitgen.optimizers.adam")


def _run(optimizer, shapes, steps, fused, dtype=torch.float32, grad_layout=None):
    assert adam_module._fused_kernel_on_cpu()  # (its one probe call happens before the counting below)
    torch.manual_seed(0)
    params = [torch.randn(s, dtype=dtype) for s in shapes]
    slots = {name: [torch.zeros(s, dtype=dtype) for s in shapes] for name in ("m", "v", "vhat")}
    calls = []
    real = torch._fused_adam_
    with mock.patch.object(torch, "_fused_adam_", side_effect=lambda *a, **k: calls.append(1) or real(*a, **k)), \
            mock.patch.object(Adam, "_fused_update", Adam._fused_update if fused else (lambda *a: False)):
        for step in range(steps):
            grads = [torch.randn(s, dtype=dtype) * 10 ** -(i % 3) for i, s in enumerate(shapes)]
            if grad_layout is not None:
                grads = [grad_layout(g) for g in grads]
            optimizer._apply_step(params, grads, slots, optimizer._step_scalars(0.01, step))
    return params, slots, len(calls)


@pytest.mark.parametrize("kwargs", [{}, {"amsgrad": True}, {"adaptive_epsilon": True},
                                    {"beta_1": 0.5, "epsilon": 1e-3}])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_update_equals_the_multi_tensor_update(kwargs, dtype):
    shapes = [(6, 4), (4,), (3, 2, 2, 5)]
    fused_params, fused_slots, calls = _run(Adam(**kwargs), shapes, 12, True, dtype)
    params, slots, _ = _run(Adam(**kwargs), shapes, 12, False, dtype)
    assert calls == 12
    tolerance = dict(rtol=1e-6, atol=1e-7) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-14)
    for got, want in zip(fused_params, params):
        torch.testing.assert_close(got, want, **tolerance)
    for name in ("m", "v") + (("vhat",) if kwargs.get("amsgrad") else ()):
        for got, want in zip(fused_slots[name], slots[name]):
            torch.testing.assert_close(got, want, **tolerance)


def test_non_contiguous_gradients_take_the_multi_tensor_path():
    # torch's fused kernel walks memory in order: a channels_last gradient (a convolution's, from
    # torch.autograd.grad) would be paired with the wrong weights. Such steps keep the multi-tensor update.
    def channels_last(gradient):
        return gradient.contiguous(memory_format=torch.channels_last)

    shapes = [(8, 3, 3, 3)]
    params, slots, calls = _run(Adam(), shapes, 3, True, grad_layout=channels_last)
    want_params, want_slots, _ = _run(Adam(), shapes, 3, False)
    assert calls == 0
    torch.testing.assert_close(params[0], want_params[0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(slots["m"][0], want_slots["m"][0], rtol=1e-6, atol=1e-7)


def test_fit_on_the_cpu_uses_the_fused_kernel_and_keeps_keras_numbers():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 5)).astype("float32"), rng.integers(0, 3, 64)

    def train(fused):
        torch.manual_seed(0)
        model = fitgen.Sequential([fitgen.layers.Dense(8, activation="relu", input_shape=(5,)),
                                   fitgen.layers.Dense(3, activation="softmax")])
        model.compile(Adam(0.01), "sparse_categorical_crossentropy")
        with mock.patch.object(Adam, "_fused_update", Adam._fused_update if fused else (lambda *a: False)), \
                mock.patch.object(torch, "_fused_adam_", wraps=torch._fused_adam_) as kernel:
            history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
        return model.get_weights(), history.history["loss"], kernel.call_count

    weights, losses, calls = train(True)
    want_weights, want_losses, _ = train(False)
    assert calls == 12
    np.testing.assert_allclose(losses, want_losses, rtol=1e-6)
    for got, want in zip(weights, want_weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_a_torch_without_the_cpu_kernel_takes_the_multi_tensor_path():
    # torch 2.3 (which fitgen supports) has no CPU `_fused_adam_`: the probe says so once, and Adam keeps working.
    with mock.patch.object(adam_module, "_FUSED_ON_CPU", [False]):
        params, slots, calls = _run_unprobed(Adam(), [(4, 3)], 3)
    want, want_slots, _ = _run(Adam(), [(4, 3)], 3, False)
    assert calls == 0
    torch.testing.assert_close(params[0], want[0], rtol=1e-6, atol=1e-7)
    with mock.patch.object(adam_module, "_FUSED_ON_CPU", []), \
            mock.patch.object(torch, "_fused_adam_", side_effect=RuntimeError("not implemented for 'CPU'")):
        assert adam_module._fused_kernel_on_cpu() is False


def _run_unprobed(optimizer, shapes, steps):
    torch.manual_seed(0)
    params = [torch.randn(s) for s in shapes]
    slots = {name: [torch.zeros(s) for s in shapes] for name in ("m", "v", "vhat")}
    with mock.patch.object(torch, "_fused_adam_", wraps=torch._fused_adam_) as kernel:
        for step in range(steps):
            grads = [torch.randn(s) * 10 ** -(i % 3) for i, s in enumerate(shapes)]
            optimizer._apply_step(params, grads, slots, optimizer._step_scalars(0.01, step))
    return params, slots, kernel.call_count
