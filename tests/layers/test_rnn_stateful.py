"""Stateful RNNs: states carried across batches and calls, reset_states (with and without values),
Model.reset_states, and predict followed by training, against a tf-keras 2.21 sequence of calls."""
from pathlib import Path

import numpy as np
import pytest
import torch

from fitgen.layers import GRU, LSTM, RNN, Dense, Input, LSTMCell, SimpleRNN
from fitgen.models import Model, Sequential, model_from_json
from fitgen.optimizers import SGD

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "layers"
DATA = {k[len("stateful__"):]: v for k, v in np.load(FIXTURES / "rnn_api_extra.npz").items()
        if k.startswith("stateful__")}
RTOL, ATOL = 1e-5, 1e-6


def _close(got, want):
    np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL, atol=ATOL)


def test_stateful_sequence_of_calls_matches_tf_keras():
    model = model_from_json(str(DATA["json"]))
    assert [layer.stateful for layer in model.layers[:3]] == [True, True, True] and model.stateful
    model.set_weights([DATA[f"w_{i}"] for i in range(len(model.get_weights()))])
    xs = [DATA[f"x_{i}"] for i in range(3)]
    _close(model.predict_on_batch(xs[0]), DATA["p1"])
    _close(model.predict_on_batch(xs[1]), DATA["p2"])  # continues from the states of the first batch
    for k, state in enumerate(model.layers[0].states):
        _close(state.numpy(), DATA[f"states_{k}"])
    model.reset_states()
    _close(model.predict_on_batch(xs[0]), DATA["p3"])
    model.layers[0].reset_states([DATA["given_0"], DATA["given_1"]])
    _close(model.predict_on_batch(xs[1]), DATA["p4"])
    # Training right after predicting: the states predict made (under inference mode) feed a training step.
    model.compile(SGD(0.1), "mse")
    _close(model.train_on_batch(xs[2], DATA["y_2"]), DATA["loss_1"])
    _close(model.train_on_batch(xs[0], DATA["y_0"]), DATA["loss_2"])
    _close(model.predict_on_batch(xs[1]), DATA["p5"])
    model.reset_states()
    _close(model.predict_on_batch(xs[1]), DATA["p6"])
    for i, w in enumerate(model.get_weights()):
        _close(w, DATA[f"after_{i}"])


@pytest.mark.parametrize("make", [lambda: LSTM(4, stateful=True), lambda: GRU(4, stateful=True),
                                  lambda: SimpleRNN(4, stateful=True), lambda: RNN(LSTMCell(4), stateful=True)])
def test_predict_then_train_on_batch(make):
    """The crash of the Keras 2.2.4 suite: states made under predict's inference mode were kept, and the next
    training step failed with "Inference tensors cannot be saved for backward"."""
    model = Sequential([Input(batch_shape=(2, 3, 5)), make(), Dense(1)])
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).standard_normal((2, 3, 5)).astype("float32")
    model.predict(x, batch_size=2, verbose=0)
    loss = model.train_on_batch(x, np.zeros((2, 1), "float32"))
    assert np.isfinite(loss)
    model.evaluate(x, np.zeros((2, 1), "float32"), batch_size=2, verbose=0)
    model.fit(x, np.zeros((2, 1), "float32"), batch_size=2, epochs=1, verbose=0, shuffle=False)


def test_states_carry_until_reset_and_reset_to_values():
    layer = LSTM(3, stateful=True, return_state=True)
    x = torch.randn(2, 4, 5)
    first, h1, c1 = layer(x)
    second = layer(x)[0]
    assert not torch.allclose(first, second)
    layer.reset_states()
    assert all(bool((s == 0).all()) for s in layer.states)
    torch.testing.assert_close(layer(x)[0], first)
    layer.reset_states([h1.detach().numpy(), c1.detach().numpy()])
    torch.testing.assert_close(layer(x)[0], second)
    with pytest.raises(ValueError, match="expects 2 states"):
        layer.reset_states([np.zeros((2, 3))])
    with pytest.raises(ValueError, match="incompatible"):
        layer.reset_states([np.zeros((3, 3)), np.zeros((3, 3))])
    with pytest.raises(ValueError, match="batch size"):
        layer(torch.randn(3, 4, 5))
    with pytest.raises(AttributeError, match="stateful"):
        LSTM(3).reset_states()


def test_model_reset_states_reaches_nested_models():
    inner = Sequential([Input(batch_shape=(2, 4, 3)), GRU(3, stateful=True)])
    inputs = Input(batch_shape=(2, 4, 3))
    model = Model(inputs, Dense(1)(inner(inputs)))
    x = np.ones((2, 4, 3), "float32")
    first = model.predict(x, batch_size=2, verbose=0)
    assert not np.allclose(model.predict(x, batch_size=2, verbose=0), first)
    model.reset_states()
    np.testing.assert_allclose(model.predict(x, batch_size=2, verbose=0), first, rtol=1e-6)
    assert model.stateful and not Sequential([Dense(1, input_shape=(2,))]).stateful


def test_stateful_layer_keeps_given_initial_state_only_while_its_own_are_zero():
    layer = GRU(2, stateful=True)
    x = torch.randn(1, 3, 2)
    h0 = torch.ones(1, 2)
    with_h0 = layer(x, initial_state=[h0])
    layer.reset_states()
    torch.testing.assert_close(layer(x, initial_state=[h0]), with_h0)
    carried = layer(x, initial_state=[h0])  # non-zero states of its own now win, as tf-keras
    assert not torch.allclose(carried, with_h0)
