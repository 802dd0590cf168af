"""The LSTM's hand-differentiated loop (recurrent dropout, masks) and Keras's dropout semantics: which masks are
drawn, of which shapes, on which path."""
from unittest import mock

import numpy as np
import pytest
import torch

from fitgen.backend import random_ops
from fitgen.layers import GRU, LSTM, RNN, Dense, Embedding, GRUCell, LSTMCell, SimpleRNN
from fitgen.layers.rnn import cells, fast_gru, fast_lstm, fast_simple_rnn, sequence
from fitgen.layers.rnn.gru import GRUMath
from fitgen.layers.rnn.lstm import LSTMMath
from fitgen.layers.rnn.simple_rnn import SimpleRNNMath
from fitgen.models import Sequential

MASK = torch.tensor([[1, 1, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 0], [1, 0, 1, 0, 1, 0, 1]],
                    dtype=torch.bool)


def test_hand_written_backward_passes_gradcheck():
    torch.manual_seed(0)
    steps, n, u = 4, 3, 2
    args = [torch.randn(steps, 4, n, u, dtype=torch.float64, requires_grad=True),
            torch.randn(n, u, dtype=torch.float64, requires_grad=True),
            torch.randn(n, u, dtype=torch.float64, requires_grad=True),
            torch.randn(4 * u, u, dtype=torch.float64, requires_grad=True)]
    recurrent_masks = (torch.rand(4, n, u, dtype=torch.float64) > 0.3).double() / 0.7
    mask = MASK[:n, :steps].t().unsqueeze(-1).contiguous()
    gru_args = [torch.randn(steps, 3, n, u, dtype=torch.float64, requires_grad=True), args[1],
                torch.randn(3 * u, u, dtype=torch.float64, requires_grad=True),
                torch.randn(3 * u, dtype=torch.float64, requires_grad=True)]
    for masks, step_mask in ((None, None), (recurrent_masks, None), (None, mask), (recurrent_masks, mask)):
        def lstm(*a, masks=masks, step_mask=step_mask):
            return fast_lstm._LSTMSequence.apply(*a, masks, step_mask)

        def gru(*a, masks=None if masks is None else masks[:3], step_mask=step_mask):
            return fast_gru._GRUSequence.apply(*a, masks, step_mask)
        assert torch.autograd.gradcheck(lstm, args)
        assert torch.autograd.gradcheck(gru, gru_args)


@pytest.mark.parametrize("kwargs", [dict(recurrent_dropout=0.3), dict(recurrent_dropout=0.3, dropout=0.2),
                                    dict(dropout=0.2, implementation=1, unroll=True),
                                    dict(recurrent_dropout=0.2, go_backwards=True), dict(use_bias=False)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("cls, math, function", [(LSTM, LSTMMath, fast_lstm._LSTMSequence),
                                                  (GRU, GRUMath, fast_gru._GRUSequence)])
def test_fast_loop_equals_the_autograd_step_loop(kwargs, masked, zero_output_for_mask, cls, math, function):
    torch.manual_seed(0)
    x = torch.randn(4, 7, 5)
    layer = cls(3, return_sequences=True, return_state=True, zero_output_for_mask=zero_output_for_mask, **kwargs)
    layer(x)
    states = [torch.randn(4, 3, requires_grad=True) for _ in range(2 if cls is LSTM else 1)]

    def run():
        torch.manual_seed(1)
        out = layer(x, mask=MASK if masked else None, initial_state=states, training=True)
        loss = (out[0] * torch.cos(out[0])).sum() + 0.3 * out[1].sum() + (out[-1] ** 2).sum()
        return out, torch.autograd.grad(loss, [w.tensor for w in layer.trainable_weights] + states)

    with mock.patch.object(function, "apply", wraps=function.apply) as fast:
        outputs, grads = run()
    # (the GRU trains through its loop on the CPU in every configuration: faster than torch's kernel there)
    loop_expected = masked or "recurrent_dropout" in kwargs or "unroll" in kwargs or cls is GRU
    assert fast.call_count == (1 if loop_expected else 0)
    with mock.patch.object(math, "_fast_loop", lambda self: None):
        want_outputs, want_grads = run()
    for got, want in zip(list(outputs) + list(grads), list(want_outputs) + list(want_grads)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6)


def test_simple_rnn_backward_pass_gradchecks():
    torch.manual_seed(0)
    steps, n, u = 4, 3, 2
    args = [torch.randn(steps, n, u, dtype=torch.float64, requires_grad=True),
            torch.randn(n, u, dtype=torch.float64, requires_grad=True),
            torch.randn(u, u, dtype=torch.float64, requires_grad=True)]
    recurrent_mask = (torch.rand(n, u, dtype=torch.float64) > 0.3).double() / 0.7
    mask = MASK[:n, :steps].t().unsqueeze(-1).contiguous()
    for masks, step_mask in ((None, None), (recurrent_mask, None), (None, mask), (recurrent_mask, mask)):
        for relu in (False, True):
            def simple(*a, masks=masks, step_mask=step_mask, relu=relu):
                return fast_simple_rnn._SimpleRNNSequence.apply(*a, masks, step_mask, relu)
            assert torch.autograd.gradcheck(simple, args)


@pytest.mark.parametrize("kwargs", [dict(recurrent_dropout=0.3), dict(recurrent_dropout=0.3, dropout=0.2),
                                    dict(recurrent_dropout=0.2, go_backwards=True), dict(use_bias=False),
                                    dict(activation="relu", recurrent_dropout=0.2)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_simple_rnn_fast_loop_equals_the_autograd_step_loop(kwargs, masked, zero_output_for_mask):
    torch.manual_seed(0)
    x = torch.randn(4, 7, 5)
    layer = SimpleRNN(3, return_sequences=True, return_state=True, zero_output_for_mask=zero_output_for_mask,
                      **kwargs)
    layer(x)
    states = [torch.randn(4, 3, requires_grad=True)]

    def run():
        torch.manual_seed(1)
        out = layer(x, mask=MASK if masked else None, initial_state=states, training=True)
        loss = (out[0] * torch.cos(out[0])).sum() + (out[-1] ** 2).sum()
        return out, torch.autograd.grad(loss, [w.tensor for w in layer.trainable_weights] + states)

    function = fast_simple_rnn._SimpleRNNSequence
    with mock.patch.object(function, "apply", wraps=function.apply) as fast:
        outputs, grads = run()
    assert fast.call_count == (1 if masked or "recurrent_dropout" in kwargs else 0)
    with mock.patch.object(SimpleRNNMath, "_fast_loop", lambda self: None):
        want_outputs, want_grads = run()
    for got, want in zip(list(outputs) + list(grads), list(want_outputs) + list(want_grads)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6)


def _dropout_shapes(layer, x, training=True, **kwargs):
    shapes = []

    def record(shape, rate, *args, **kwargs):
        shapes.append((tuple(shape), rate))
        return random_ops.dropout_mask(shape, rate, *args, **kwargs)

    with mock.patch.object(sequence, "dropout_mask", record), mock.patch.object(cells, "dropout_mask", record):
        layer(x, training=training, **kwargs)
    return shapes


@pytest.mark.parametrize("layer, expected", [
    # tf-keras's cuDNN-eligible LSTM/GRU layers drop inputs elementwise over the whole sequence ...
    (LSTM(3, dropout=0.2), [((2, 6, 5), 0.2)]),
    (GRU(3, dropout=0.2), [((2, 6, 5), 0.2)]),
    # ... the others use one mask per sequence (per gate with implementation 1), as Keras 2's cells.
    (LSTM(3, dropout=0.2, recurrent_dropout=0.3), [((2, 1, 5), 0.2)] * 4 + [((2, 3), 0.3)] * 4),
    (LSTM(3, dropout=0.2, recurrent_activation="hard_sigmoid"), [((2, 1, 5), 0.2)]),
    (GRU(3, dropout=0.2, reset_after=False), [((2, 1, 5), 0.2)]),
    (SimpleRNN(3, dropout=0.2, recurrent_dropout=0.3), [((2, 1, 5), 0.2), ((2, 3), 0.3)]),
    (RNN(LSTMCell(3, dropout=0.2)), [((2, 1, 5), 0.2)]),
    (RNN(LSTMCell(3, dropout=0.2, implementation=1)), [((2, 1, 5), 0.2)] * 4),
    (RNN(GRUCell(3, dropout=0.2, recurrent_dropout=0.1)), [((2, 1, 5), 0.2)] * 3 + [((2, 3), 0.1)] * 3),
])
def test_which_dropout_masks_are_drawn(layer, expected):
    x = torch.randn(2, 6, 5)
    assert _dropout_shapes(layer, x) == expected
    assert _dropout_shapes(layer, x, mask=torch.ones(2, 6, dtype=torch.bool)) == expected
    layer.eval()
    assert _dropout_shapes(layer, x, training=False) == []


def test_masks_keep_the_expected_fraction_scaled():
    layer = LSTM(8, dropout=0.25, recurrent_dropout=0.25)
    masks = sequence.input_dropout_masks(layer, torch.ones(4000, 3, 8), training=True)
    values = torch.stack(masks)
    assert set(values.unique().tolist()) == {0.0, np.float32(1 / 0.75)}
    assert abs((values > 0).float().mean().item() - 0.75) < 0.01


def test_imdb_lstm_model_trains_on_the_fast_loop():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, (96, 12)).astype("int32")
    y = (x[:, :3].sum(1) > 75).astype("float32")
    torch.manual_seed(0)
    model = Sequential([Embedding(50, 8), LSTM(8, dropout=0.2, recurrent_dropout=0.2),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    with mock.patch.object(fast_lstm._LSTMSequence, "apply", wraps=fast_lstm._LSTMSequence.apply) as fast, \
            mock.patch.object(torch, "lstm", wraps=torch.lstm) as fused:
        history = model.fit(x, y, batch_size=32, epochs=6, verbose=0)
        model.predict(x, verbose=0)
    assert fast.call_count == 18 and fused.call_count == 3  # training: the fast loop; predict: the fused kernel
    assert history.history["loss"][-1] < history.history["loss"][0]
