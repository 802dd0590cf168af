"""Keras 2's recurrent API: RNN(cell) with the built-in cells, StackedRNNCells and user-written cells, against
tf-keras 2.21 (tests/fixtures/layers/make_rnn_api_fixtures.py) and against the fused SimpleRNN/LSTM/GRU."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from recurrent_case_runner import check_case, load_cases

from fitgen import backend
from fitgen.engine.base_layer import Layer
from fitgen.layers import (GRU, LSTM, RNN, Dense, Embedding, GRUCell, Input, LSTMCell, SimpleRNN, SimpleRNNCell,
                           StackedRNNCells)
from fitgen.models import Model, Sequential, load_model, model_from_json
from fitgen.saving.serialization import deserialize_layer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "layers"
CASES = {name: case for name, case in load_cases("rnn_api_cases.npz").items() if not name.startswith("conv_lstm")}
EXTRA = dict(np.load(FIXTURES / "rnn_api_extra.npz"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_tf_keras(name):
    """Outputs and d sum(output)/d weights of RNN(cell) chains rebuilt from tf-keras's configs."""
    layers = check_case(CASES[name])
    assert any(isinstance(layer, (RNN, LSTM)) for layer in layers)


@pytest.mark.parametrize("cell_cls, layer_cls, kwargs", [
    (SimpleRNNCell, SimpleRNN, {}), (SimpleRNNCell, SimpleRNN, {"activation": "relu"}), (LSTMCell, LSTM, {}),
    (LSTMCell, LSTM, {"recurrent_activation": "hard_sigmoid"}), (GRUCell, GRU, {}),
    (GRUCell, GRU, {"reset_after": False}), (LSTMCell, LSTM, {"use_bias": False})])
@pytest.mark.parametrize("masked", [False, True])
def test_cell_in_rnn_equals_fused_layer(cell_cls, layer_cls, kwargs, masked):
    torch.manual_seed(0)
    x = torch.randn(3, 6, 4)
    mask = torch.tensor([[1, 1, 0, 1, 1, 1], [0, 1, 1, 1, 1, 0], [1] * 6], dtype=torch.bool) if masked else None
    rnn = RNN(cell_cls(5, **kwargs), return_sequences=True, return_state=True, go_backwards=masked)
    layer = layer_cls(5, return_sequences=True, return_state=True, go_backwards=masked, **kwargs)
    rnn(x)
    layer(x)
    layer.set_weights([w * 1.5 for w in rnn.get_weights()])
    rnn.set_weights(layer.get_weights())
    for got, want in zip(rnn(x, mask=mask), layer(x, mask=mask)):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    # One cell step at a time gives the same sequence (unmasked).
    states = rnn.get_initial_state(x)
    outputs = []
    for t in range(5, -1, -1) if masked else range(6):
        output, states = rnn.cell(x[:, t], states)
        outputs.append(output)
    if not masked:
        torch.testing.assert_close(torch.stack(outputs, 1), layer(x)[0], rtol=1e-5, atol=1e-6)


def test_weight_names_and_configs_follow_tf_keras():
    for tag in ("rnn_lstm", "rnn_stacked"):
        entry = json.loads(str(EXTRA[f"names__{tag}_config"]))
        layer = deserialize_layer(entry)
        layer(torch.zeros(2, 3, 4))
        assert [w.name for w in layer.weights] == json.loads(str(EXTRA[f"names__{tag}"]))
        assert list(layer.get_config()) == list(entry["config"])
        keras_cell = entry["config"]["cell"]
        assert layer.get_config()["cell"]["class_name"] == keras_cell["class_name"]
        inner = keras_cell["config"]["cells"][0] if tag == "rnn_stacked" else keras_cell
        ours = layer.cell.cells[0] if tag == "rnn_stacked" else layer.cell
        assert list(ours.get_config()) == list(inner["config"])
    assert RNN(LSTMCell(3)).get_config()["cell"]["class_name"] == "LSTMCell"
    assert GRUCell(3).get_config()["reset_after"] is True


def test_stacked_cells_flatten_states_and_shapes():
    layer = RNN([LSTMCell(4), GRUCell(3)], return_state=True)
    assert isinstance(layer.cell, StackedRNNCells) and layer.cell.state_size == (4, 4, 3)
    out = layer(torch.randn(2, 5, 6))
    assert [tuple(t.shape) for t in out] == [(2, 3), (2, 4), (2, 4), (2, 3)]
    assert layer.compute_output_shape((None, 5, 6)) == [(None, 3), (None, 4), (None, 4), (None, 3)]
    symbolic = layer(Input((5, 6)))
    assert [t.shape for t in symbolic] == [(None, 3), (None, 4), (None, 4), (None, 3)]
    # Stepping the stacked cell equals running the layer (which runs the cells one after the other).
    x = torch.randn(2, 5, 6)
    states = layer.get_initial_state(x)
    for t in range(5):
        output, states = layer.cell(x[:, t], states)
    for got, want in zip([output] + states, layer(x)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


class MinimalRNNCell(Layer):
    """The cell of Keras's RNN documentation, written with fitgen."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), initializer="uniform")
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, self.units), initializer="uniform")
        self.built = True

    def call(self, inputs, states):
        output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        return output, [output]

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config


class ConstantsCell(Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        assert isinstance(input_shape, list)  # Keras 2: [step input shape, constant shape]
        self.kernel = self.add_weight("kernel", (input_shape[0][-1], self.units), initializer="uniform")
        self.constant_kernel = self.add_weight("constant_kernel", (input_shape[1][-1], self.units))
        self.built = True

    def call(self, inputs, states, constants):
        output = torch.tanh(inputs @ self.kernel + constants[0] @ self.constant_kernel + states[0])
        return output, [output]

    def get_config(self):
        return dict(super().get_config(), units=self.units)


def test_minimal_rnn_cell_matches_tf_keras_and_names():
    layer = RNN([MinimalRNNCell(3), MinimalRNNCell(2)], return_sequences=True)
    x = torch.from_numpy(EXTRA["minimal__x"])
    layer(x)
    layer.set_weights([EXTRA[f"minimal__w_{i}"] for i in range(4)])
    np.testing.assert_allclose(layer(x).detach().numpy(), EXTRA["minimal__y"], rtol=1e-5, atol=1e-6)
    keras_names = json.loads(str(EXTRA["minimal__names"]))
    assert [w.name.split("/", 1)[1] for w in layer.weights] == [
        n.split("/", 1)[1].replace("stacked_rnn_cells_3", layer.cell.name) for n in keras_names]


def test_cell_with_constants_matches_tf_keras():
    constant = torch.from_numpy(EXTRA["constants__c"])
    layer = RNN(ConstantsCell(3), return_sequences=True)
    x = torch.from_numpy(EXTRA["minimal__x"])
    layer(x, constants=constant)
    layer.set_weights([EXTRA[f"constants__w_{i}"] for i in range(2)])
    np.testing.assert_allclose(layer(x, constants=constant).detach().numpy(), EXTRA["constants__y"], rtol=1e-5,
                               atol=1e-6)
    # Symbolic constants: an input of the node, `num_constants` in the config, and a JSON round trip.
    inputs, c = Input((5, 4)), Input((2,))
    model = Model([inputs, c], RNN(ConstantsCell(3))(inputs, constants=c))
    assert model.layers[-1].get_config()["num_constants"] == 1
    rebuilt = model_from_json(model.to_json(), custom_objects={"ConstantsCell": ConstantsCell})
    rebuilt.set_weights(model.get_weights())
    feed = [x.numpy(), constant.numpy()]
    np.testing.assert_allclose(rebuilt.predict(feed, verbose=0), model.predict(feed, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="does not support constants"):
        RNN(MinimalRNNCell(3))(x, constants=constant)


def test_user_cell_trains_and_round_trips(tmp_path):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6, 3)).astype("float32")
    y = (x.sum(axis=(1, 2)) > 0).astype("float32")[:, None]
    model = Sequential([RNN(MinimalRNNCell(8), input_shape=(6, 3)), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "cell.h5")
    loaded = load_model(tmp_path / "cell.h5", custom_objects={"MinimalRNNCell": MinimalRNNCell})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_nested_state_size_cell():
    class NestedCell(Layer):
        state_size = [2, torch.Size([2, 3])]
        output_size = 2

        def call(self, inputs, states):
            h, grid = states
            h = torch.tanh(inputs[:, :2] + h + grid.sum(-1))
            return h, [h, grid + 1]

    layer = RNN(NestedCell(), return_state=True)
    out, h, grid = layer(torch.ones(4, 5, 3))
    assert tuple(grid.shape) == (4, 2, 3) and bool((grid == 5).all())
    assert layer.compute_output_shape((None, 5, 3)) == [(None, 2), (None, 2), (None, 2, 3)]


def test_symbolic_initial_states_functional_model_from_tf_keras_json():
    model = model_from_json(str(EXTRA["functional__json"]))
    model.set_weights([EXTRA[f"functional__w_{i}"] for i in range(len(model.get_weights()))])
    feed = [EXTRA[f"functional__x_{i}"] for i in range(3)]
    np.testing.assert_allclose(model.predict(feed, verbose=0), EXTRA["functional__y"], rtol=1e-5, atol=1e-6)
    again = model_from_json(model.to_json())
    again.set_weights(model.get_weights())
    np.testing.assert_allclose(again.predict(feed, verbose=0), EXTRA["functional__y"], rtol=1e-5, atol=1e-6)


def test_save_load_h5_names_and_predictions(tmp_path):
    import h5py
    inputs = Input((5, 4))
    x = RNN(LSTMCell(3), return_sequences=True, name="rnn_a")(inputs)
    x = RNN([GRUCell(3, reset_after=False), SimpleRNNCell(2)], go_backwards=True)(x)
    model = Model(inputs, x)
    feed = np.random.default_rng(1).standard_normal((3, 5, 4)).astype("float32")
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["model_weights/rnn_a"].attrs["weight_names"]]
    assert names == [f"rnn_a/{model.layers[1].cell.name}/{w}:0" for w in ("kernel", "recurrent_kernel", "bias")]
    loaded = load_model(tmp_path / "m.h5", compile=False)
    np.testing.assert_allclose(loaded.predict(feed, verbose=0), model.predict(feed, verbose=0), rtol=1e-6)
    assert isinstance(loaded.layers[-1].cell, StackedRNNCells)


def test_masking_from_embedding_and_compute_mask():
    tokens = torch.tensor([[0, 0, 3, 4], [1, 2, 0, 0]])
    embedded = Embedding(10, 3, mask_zero=True)(tokens)
    layer = RNN(LSTMCell(2), return_sequences=True)
    seq = layer(embedded)
    torch.testing.assert_close(seq[0, :2], torch.zeros(2, 2))  # nothing kept yet: zeros, as Keras
    torch.testing.assert_close(seq[1, 2], seq[1, 1])  # masked: the last output repeated
    assert seq._keras_mask is embedded._keras_mask
    mask = embedded._keras_mask
    assert layer.compute_mask(embedded, mask) is mask
    assert RNN(LSTMCell(2)).compute_mask(embedded, mask) is None
    assert RNN(LSTMCell(2), return_sequences=True, return_state=True).compute_mask(embedded, [mask]) == [
        mask, None, None]


def test_bad_cells_and_arguments():
    with pytest.raises(ValueError, match="`call` method"):
        RNN(object())
    with pytest.raises(ValueError, match="state_size"):
        RNN(type("NoState", (), {"call": lambda self, x, s: (x, s)})())
    with pytest.raises(ValueError, match="unroll"):
        RNN(LSTMCell(2), unroll=True)(Input((None, 3)))
    with pytest.raises(ValueError, match="batch size"):
        RNN(LSTMCell(2), stateful=True)(Input((4, 3)))
    with pytest.raises(ValueError, match="initial state"):
        RNN(LSTMCell(2))(torch.zeros(2, 4, 3), initial_state=[torch.zeros(2, 2)])
    assert backend.floatx() == "float32"
