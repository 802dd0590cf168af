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


# ------------------------------------------------------------------------------------------------ ConvRNN2D
from fitgen import backend as fitgen_backend  # noqa: E402 - the ConvRNN2D tests' user cell
from fitgen.layers import Layer  # noqa: E402
def test_conv_rnn2d_with_the_conv_lstm_cell_is_conv_lstm2d():
    from fitgen.layers import ConvLSTM2D, ConvLSTM2DCell, ConvRNN2D
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.standard_normal((2, 4, 6, 5, 3)).astype("float32"))
    fused = ConvLSTM2D(4, 3, padding="same", return_sequences=True, return_state=True)
    layer = ConvRNN2D(ConvLSTM2DCell(4, 3, padding="same"), return_sequences=True, return_state=True)
    fused(x)
    layer(x)
    layer.set_weights(fused.get_weights())
    for mine, reference in zip(layer(x), fused(x)):
        np.testing.assert_allclose(mine.detach().numpy(), reference.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert isinstance(fused, ConvRNN2D)  # as in Keras 2, ConvLSTM2D is a ConvRNN2D
    assert layer.compute_output_shape((None, 4, 6, 5, 3)) == [(None, 4, 6, 5, 4), (None, 6, 5, 4), (None, 6, 5, 4)]


class MinimalConvCell(Layer):
    """A user's convolutional cell (the Keras 2 contract): h = tanh(conv(x) + conv(h)), 'valid' input conv."""

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.padding = filters, (kernel_size, kernel_size), "valid"
        self.state_size = filters

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight("kernel", k + (input_shape[-1], self.filters))
        self.recurrent_kernel = self.add_weight("recurrent_kernel", k + (self.filters, self.filters))
        self.built = True

    def call(self, inputs, states, training=None):
        conv = fitgen_backend.conv2d
        h = fitgen_backend.tanh(conv(inputs, self.kernel, padding="valid")
                                + conv(states[0], self.recurrent_kernel, padding="same"))
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "kernel_size": self.kernel_size[0]})
        return config


def test_conv_rnn2d_runs_a_users_cell_with_masks_states_and_saving(tmp_path):
    from fitgen import Input, Model
    from fitgen.layers import ConvRNN2D, Dense, Flatten
    from fitgen.models import load_model
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 7, 6, 2)).astype("float32")
    inputs = Input((5, 7, 6, 2))
    layer = ConvRNN2D(MinimalConvCell(3, 3), return_state=True)
    outputs, state = layer(inputs)
    model = Model(inputs, Dense(1)(Flatten()(outputs)))
    assert tuple(outputs.shape) == (None, 5, 4, 3) and tuple(state.shape) == (None, 5, 4, 3)
    model.compile("adam", "mse")
    before = layer.get_weights()
    model.fit(x, np.ones((3, 1), "float32"), epochs=2, verbose=0)
    assert not np.allclose(layer.get_weights()[0], before[0])  # the cell's weights train
    # A masked step keeps the states: a sequence masked after step 3 ends as its first three steps do.
    sequences = ConvRNN2D(MinimalConvCell(3, 3), return_sequences=True)
    sequences(torch.as_tensor(x))
    sequences.set_weights(layer.get_weights())
    mask = torch.tensor([[True] * 3 + [False] * 2] * 3)
    last, _ = layer(torch.as_tensor(x), mask=mask)
    np.testing.assert_allclose(last.detach().numpy(), sequences(torch.as_tensor(x[:, :3]))[:, -1].detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    path = tmp_path / "conv_rnn.h5"
    model.save(path)
    loaded = load_model(path, custom_objects={"MinimalConvCell": MinimalConvCell})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_conv_rnn2d_refuses_unrolling_and_stacked_cells():
    from fitgen.layers import ConvLSTM2DCell, ConvRNN2D
    with pytest.raises(TypeError, match="Unrolling"):
        ConvRNN2D(ConvLSTM2DCell(2, 3), unroll=True)
    with pytest.raises(TypeError, match="stacking"):
        ConvRNN2D([ConvLSTM2DCell(2, 3), ConvLSTM2DCell(2, 3)])
    with pytest.raises(ValueError, match="ndim=5"):
        ConvRNN2D(ConvLSTM2DCell(2, 3))(torch.zeros(2, 3, 4))


def test_a_per_pixel_mask_is_refused_with_what_to_pass():
    # Masking on image sequences masks every position; the recurrent layers take one value per timestep.
    from fitgen import Input, Model
    from fitgen.layers import ConvRNN2D, Masking
    x = np.ones((2, 4, 5, 5, 2), "float32")
    for layer in (ConvLSTM2D(3, 3), ConvRNN2D(ConvLSTM2DCell(3, 3))):
        inputs = Input((4, 5, 5, 2))
        model = Model(inputs, layer(Masking(0.0)(inputs)))
        with pytest.raises(ValueError, match=r"one value per timestep.*\(2, 4, 5, 5\).*Masking on 5-D"):
            model.predict(x, verbose=0)
