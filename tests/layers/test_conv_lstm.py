"""ConvLSTM2D (`keras.layers.convolutional_recurrent`) against tf-keras 2.21, channels_first against
channels_last, dropout, the one-step cell, stateful use and a save/load round trip."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from recurrent_case_runner import check_case, load_cases

from fitgen.layers import ConvLSTM2D, Input
from fitgen.layers.convolutional_recurrent import ConvLSTM2D as ConvLSTM2DFromModule
from fitgen.layers.convolutional_recurrent import ConvLSTM2DCell
from fitgen.models import Sequential, load_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "layers"
CASES = {name: case for name, case in load_cases("rnn_api_cases.npz").items() if name.startswith("conv_lstm")}
EXTRA = np.load(FIXTURES / "rnn_api_extra.npz")


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_tf_keras(name):
    """Outputs (states too) and gradients, for paddings, strides, dilation, even kernels, go_backwards."""
    check_case(CASES[name])


def test_weight_names_shapes_and_config_follow_tf_keras():
    entry = json.loads(str(EXTRA["names__conv_lstm_config"]))
    layer = ConvLSTM2D.from_config(entry["config"])
    layer(torch.zeros(2, 3, 5, 5, 4))
    assert [w.name for w in layer.weights] == json.loads(str(EXTRA["names__conv_lstm"]))
    assert [w.shape for w in layer.weights] == [(3, 3, 4, 8), (3, 3, 2, 8), (8,)]
    assert list(layer.get_config()) == list(entry["config"])
    assert ConvLSTM2DFromModule is ConvLSTM2D


@pytest.mark.parametrize("kwargs", [dict(padding="same", return_sequences=True, return_state=True),
                                    dict(strides=2, go_backwards=True, return_state=True)])
def test_channels_first_equals_channels_last(kwargs):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, 6, 4)
    last = ConvLSTM2D(3, (3, 2), data_format="channels_last", **kwargs)
    first = ConvLSTM2D(3, (3, 2), data_format="channels_first", **kwargs)
    outputs_last = last(x)
    first(x.permute(0, 1, 4, 2, 3))
    first.set_weights(last.get_weights())  # Keras's weight layout does not depend on the data format
    outputs_first = first(x.permute(0, 1, 4, 2, 3))
    for got, want in zip(outputs_first, outputs_last):
        torch.testing.assert_close(got.movedim(-3, -1), want, rtol=1e-5, atol=1e-6)
    assert first.compute_output_shape((None, 3, 4, 7, 6))[0][1:] == tuple(outputs_first[0].shape[1:])


def test_cell_steps_equal_the_layer_and_dropout_is_fixed_per_sequence():
    torch.manual_seed(0)
    layer = ConvLSTM2D(2, 3, padding="same", return_sequences=True)
    x = torch.randn(2, 4, 5, 5, 3)
    expected = layer(x)
    cell = ConvLSTM2DCell(2, 3, padding="same")
    cell(x[:, 0], [torch.zeros(2, 5, 5, 2)] * 2)
    cell.set_weights(layer.get_weights())
    states, outputs = [torch.zeros(2, 5, 5, 2)] * 2, []
    for t in range(4):
        output, states = cell(x[:, t], states)
        outputs.append(output)
    torch.testing.assert_close(torch.stack(outputs, 1), expected, rtol=1e-5, atol=1e-6)
    dropped = ConvLSTM2D(2, 3, padding="same", dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    dropped(x)
    dropped.train()
    torch.manual_seed(1)
    a = dropped(x, training=True)
    torch.manual_seed(1)
    torch.testing.assert_close(dropped(x, training=True), a)
    assert not torch.allclose(dropped(x, training=True), a)
    a.sum().backward()
    assert all(torch.isfinite(w.tensor.grad).all() for w in dropped.trainable_weights)
    dropped.eval()
    torch.testing.assert_close(dropped(x), dropped(x))


def test_stateful_and_save_load(tmp_path):
    model = Sequential([Input(batch_shape=(2, 3, 6, 6, 1)), ConvLSTM2D(2, 3, stateful=True, name="conv")])
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6, 1)).astype("float32")
    first = model.predict(x, batch_size=2, verbose=0)
    assert first.shape == (2, 4, 4, 2)
    assert [tuple(s.shape) for s in model.layers[0].states] == [(2, 4, 4, 2), (2, 4, 4, 2)]
    assert not np.allclose(model.predict(x, batch_size=2, verbose=0), first)
    model.reset_states()
    np.testing.assert_allclose(model.predict(x, batch_size=2, verbose=0), first, rtol=1e-6)
    model.save(tmp_path / "conv_lstm.h5")
    loaded = load_model(tmp_path / "conv_lstm.h5", compile=False)
    np.testing.assert_allclose(loaded.predict(x, batch_size=2, verbose=0), first, rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(TypeError, match="Unrolling"):
        ConvLSTM2D(2, 3, unroll=True)
    with pytest.raises(ValueError, match="padding"):
        ConvLSTM2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="ndim=5"):
        ConvLSTM2D(2, 3)(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="kernel_size"):
        ConvLSTM2D(2, (3, 0))
