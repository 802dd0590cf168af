"""SimpleRNN / LSTM / GRU: tf-keras 2.21 parity (outputs and gradients), the fused path, masks, states."""
import json
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from helpers.layer_harness import check_layer
from recurrent_case_runner import check_case, load_cases

from fitgen.engine.input_layer import Input
from fitgen.layers.embeddings import Embedding
from fitgen.layers.recurrent import GRU, LSTM, SimpleRNN

CASES = load_cases("recurrent_cases.npz")
KERAS2 = Path(__file__).resolve().parents[1] / "fixtures" / "keras2"


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_tf_keras(name):
    """Outputs (and d sum(output)/d weights where recorded) equal tf-keras's for layers built from its config."""
    check_case(CASES[name])


def test_gradient_cases_cover_every_kind_and_the_loop_path():
    with_grads = {name for name, case in CASES.items() if any(k.startswith("g_") for k in case)}
    for needed in ("simple_rnn_seq_state", "lstm_seq_state", "gru_seq_state", "lstm_hard_sigmoid",
                   "gru_reset_before", "lstm_masked_seq"):
        assert needed in with_grads


@pytest.mark.parametrize("cls, kwargs", [
    (SimpleRNN, {"units": 3}),
    (SimpleRNN, {"units": 3, "activation": "relu", "return_sequences": True}),
    (LSTM, {"units": 3, "return_sequences": True}),
    (LSTM, {"units": 3, "go_backwards": True, "recurrent_activation": "hard_sigmoid"}),
    (GRU, {"units": 3}),
    (GRU, {"units": 3, "reset_after": False, "return_sequences": True}),
])
def test_layer_harness(cls, kwargs):
    steps = 5 if kwargs.get("return_sequences") else None
    expected = (2, 5, 3) if steps else (2, 3)
    check_layer(cls, kwargs, (2, 5, 4), expected)


def test_rnn_fixture_chain_reproduces_keras_prediction():
    """Embedding(100,16) -> LSTM(8, seq) -> GRU(8) -> Dense(1, sigmoid) with tf-keras's initial weights."""
    data = np.load(KERAS2 / "rnn.npz")
    w = [data[f"init_w_{i}"] for i in range(9)]
    embedding, lstm, gru = Embedding(100, 16, input_length=12), LSTM(8, return_sequences=True), GRU(8)
    x = torch.from_numpy(data["x_x"])
    for layer, weights in ((embedding, w[0:1]), (lstm, w[1:4]), (gru, w[4:7])):
        layer.eval()
        x = layer(x)
        layer.set_weights(weights)
    with torch.no_grad():
        h = gru(lstm(embedding(torch.from_numpy(data["x_x"]))))
        pred = torch.sigmoid(h @ torch.from_numpy(w[7]) + torch.from_numpy(w[8]))
    np.testing.assert_allclose(pred.numpy(), data["pred0_0"], rtol=1e-5, atol=1e-7)


def test_rnn_fixture_configs_rebuild():
    config = json.loads((KERAS2 / "rnn.json").read_text())
    by_class = {layer["class_name"]: layer["config"] for layer in config["config"]["layers"]}
    lstm, gru = LSTM.from_config(by_class["LSTM"]), GRU.from_config(by_class["GRU"])
    assert lstm.return_sequences and lstm.units == 8 and gru.reset_after
    for layer, keras_config in ((lstm, by_class["LSTM"]), (gru, by_class["GRU"])):
        assert list(layer.get_config()) == list(keras_config)


def _count_calls(name):
    return mock.patch.object(torch, name, wraps=getattr(torch, name))


@pytest.mark.parametrize("cls, kernel, grad", [(LSTM, "lstm", True), (GRU, "gru", False),
                                               (SimpleRNN, "rnn_tanh", True)])
def test_default_configuration_runs_torch_fused_kernel(cls, kernel, grad):
    layer = cls(4, return_sequences=True, dropout=0.3)
    x = torch.randn(2, 5, 3)
    with _count_calls(kernel) as fused, torch.set_grad_enabled(grad):
        layer(x)
        layer.train()
        layer(x)
        mask = torch.ones(2, 5, dtype=torch.bool)
        layer(x, mask=mask)
    assert fused.call_count == 3


@pytest.mark.parametrize("return_sequences", [False, True])
def test_gru_trains_through_its_written_out_backward_on_the_cpu(return_sequences):
    # torch's CPU GRU kernel differentiates its cell's ops step by step; with gradients wanted the GRU runs its
    # hand-differentiated loop instead (faster), with torch's kernel's numbers.
    from fitgen.layers.rnn import fast_gru
    torch.manual_seed(0)
    layer = GRU(6, return_sequences=return_sequences, return_state=True)
    x = torch.randn(3, 7, 5, requires_grad=True)
    with _count_calls("gru") as fused, mock.patch.object(fast_gru._GRUSequence, "apply",
                                                         wraps=fast_gru._GRUSequence.apply) as loop:
        out, state = layer(x)
    assert fused.call_count == 0 and loop.call_count == 1
    seed = torch.randn_like(out)
    grads = torch.autograd.grad((out * seed).sum() + state.sum(), [x] + [w.tensor for w in layer.weights])
    with mock.patch.object(GRU, "_trains_faster_in_loop", return_value=False), _count_calls("gru") as fused:
        ref_out, ref_state = layer(x)
    assert fused.call_count == 1
    ref_grads = torch.autograd.grad((ref_out * seed).sum() + ref_state.sum(), [x] + [w.tensor for w in layer.weights])
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(state, ref_state, rtol=1e-5, atol=1e-6)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    with torch.no_grad(), _count_calls("gru") as fused:
        layer(x)
    assert fused.call_count == 1  # inference keeps torch's kernel (faster without a backward)


@pytest.mark.parametrize("layer", [
    LSTM(4, recurrent_activation="hard_sigmoid"), GRU(4, reset_after=False), LSTM(4, recurrent_dropout=0.2)])
def test_loop_path_when_torch_has_no_kernel(layer):
    layer.train()
    with _count_calls("lstm") as lstm, _count_calls("gru") as gru:
        out = layer(torch.randn(2, 5, 3))
    assert lstm.call_count == gru.call_count == 0
    out.sum().backward()
    assert all(torch.isfinite(w.tensor.grad).all() for w in layer.trainable_weights)


def test_weight_names_shapes_and_gate_layout():
    gru = GRU(2)
    gru(torch.zeros(1, 3, 4))
    assert [w.name for w in gru.weights] == ["gru/gru_cell/kernel:0", "gru/gru_cell/recurrent_kernel:0",
                                             "gru/gru_cell/bias:0"]
    kernel = np.arange(24, dtype="float32").reshape(4, 6)  # Keras blocks z = cols 0-1, r = 2-3, h = 4-5
    weights = gru.get_weights()
    gru.set_weights([kernel] + weights[1:])
    np.testing.assert_array_equal(gru.get_weights()[0], kernel)
    # torch stores (3u, in) in torch's r, z, n order: its first rows are Keras's r block.
    np.testing.assert_array_equal(gru.kernel[:2].detach().numpy(), kernel[:, 2:4].T)
    assert GRU(2, reset_after=False).compute_output_shape((None, 3, 4)) == (None, 2)


def test_lstm_unit_forget_bias_initialises_forget_block_to_one():
    lstm = LSTM(3)
    lstm(torch.zeros(1, 2, 2))
    np.testing.assert_array_equal(lstm.get_weights()[2], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    plain = LSTM(3, unit_forget_bias=False)
    plain(torch.zeros(1, 2, 2))
    np.testing.assert_array_equal(plain.get_weights()[2], np.zeros(12))


def test_return_state_symbolic_call():
    outputs = LSTM(4, return_sequences=True, return_state=True)(Input((7, 3)))
    assert [tuple(o.shape) for o in outputs] == [(None, 7, 4), (None, 4), (None, 4)]


def test_return_state_shapes():
    layer = LSTM(4, return_sequences=True, return_state=True)
    assert layer.compute_output_shape((None, 7, 3)) == [(None, 7, 4), (None, 4), (None, 4)]
    seq, h, _ = layer(torch.randn(2, 7, 3))
    torch.testing.assert_close(seq[:, -1], h)
    assert GRU(4, return_state=True).compute_output_shape((None, 7, 3)) == [(None, 4), (None, 4)]


def test_masked_steps_carry_state_and_repeat_output():
    layer = SimpleRNN(3, return_sequences=True, return_state=True)
    x = torch.randn(2, 4, 2)
    mask = torch.tensor([[True, True, False, True], [True, True, True, True]])
    seq, _ = layer(x, mask=mask)
    torch.testing.assert_close(seq[0, 2], seq[0, 1])
    unmasked, _ = layer(x[:, [0, 1, 3]])
    torch.testing.assert_close(seq[0, 3], unmasked[0, 2])
    assert seq._keras_mask is mask
    x._keras_mask = mask
    torch.testing.assert_close(layer(x)[0], seq)


def test_dropout_only_in_training_and_same_mask_every_step():
    layer = SimpleRNN(4, dropout=0.5, return_sequences=True, use_bias=False, recurrent_initializer="zeros")
    x = torch.ones(3, 6, 5)
    layer.eval()
    reference = layer(x)
    torch.testing.assert_close(layer(x), reference)
    layer.train()
    dropped = layer(x)
    assert not torch.allclose(dropped, reference)
    # Zero recurrent kernel: every step sees only its (masked) input, so one mask gives equal steps.
    torch.testing.assert_close(dropped[:, 0], dropped[:, -1])


def test_initial_state_validation():
    layer = LSTM(3)
    x = torch.randn(2, 4, 2)
    with pytest.raises(ValueError, match="2 initial state"):
        layer(x, initial_state=[torch.zeros(2, 3)])
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        layer(x, initial_state=[torch.zeros(2, 4), torch.zeros(2, 4)])


def test_stateful_carries_states_until_reset():
    layer = GRU(3, stateful=True)
    x = torch.randn(2, 4, 2)
    first = layer(x)
    second = layer(x)
    assert not torch.allclose(first, second)
    layer.reset_states()
    torch.testing.assert_close(layer(x), first)
    with pytest.raises(ValueError, match="batch size"):
        layer(torch.randn(3, 4, 2))
    with pytest.raises(AttributeError):
        GRU(3).reset_states()


def test_time_major_and_go_backwards_agree_with_manual_flip():
    layer = LSTM(3, return_sequences=True, go_backwards=True)
    x = torch.randn(2, 5, 4)
    forward = LSTM(3, return_sequences=True)
    forward(x)
    forward.set_weights(layer.get_weights() if layer.built else forward.get_weights())
    layer(x)
    layer.set_weights(forward.get_weights())
    torch.testing.assert_close(layer(x), forward(torch.flip(x, dims=(1,))))
    major = LSTM(3, return_sequences=True, time_major=True)
    major(x.transpose(0, 1))
    major.set_weights(forward.get_weights())
    torch.testing.assert_close(major(x.transpose(0, 1)).transpose(0, 1), forward(x))
    assert major.compute_output_shape((5, None, 4)) == (5, None, 3)


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="units"):
        LSTM(0)
    with pytest.raises(ValueError, match="dropout"):
        GRU(3, dropout=1.5)
    with pytest.raises(ValueError, match="ndim=3"):
        SimpleRNN(2)(torch.zeros(2, 3))
    assert LSTM(3, recurrent_dropout=0.1).implementation == 1
