"""Backend control flow: K.rnn against tf-keras 2.21, switch, the learning phase, map_fn/foldl/foldr."""
import json

import numpy as np
import pytest
import torch
from backend_checks import assert_close, numpy_of, rnn_fixture

from fitgen import backend as K
from fitgen.engine.base_layer import Layer
from fitgen.layers import Dense, Input, Lambda
from fitgen.models import Model, Sequential

RNN_CASES = ("rnn_plain", "rnn_backwards", "rnn_mask", "rnn_mask_backwards_zero", "rnn_constants")


def _rnn_weights():
    # The weights tests/fixtures/backend/make_backend_fixtures.py uses.
    rng = np.random.RandomState(3)
    return [torch.as_tensor(rng.uniform(-0.5, 0.5, shape).astype("float32")) for shape in ((3, 4), (4, 4), (4,))]


@pytest.mark.parametrize("name", RNN_CASES)
def test_rnn_matches_tf_keras(name):
    data = rnn_fixture()
    options = json.loads(str(data[f"{name}/spec"]))["kwargs"]
    kernel, recurrent, bias = _rnn_weights()
    uses_constant = options.get("constants", False)

    def step(x, states):
        h = K.tanh(K.dot(x, kernel) + K.dot(states[0], recurrent) + bias + (states[1] if uses_constant else 0.0))
        return h * 2.0, [h]

    kwargs = {k: v for k, v in options.items() if k not in ("mask", "constants")}
    if options.get("mask"):
        kwargs["mask"] = torch.as_tensor(data["rnn/mask"])
    if uses_constant:
        kwargs["constants"] = [torch.as_tensor(data["rnn/constant"])]
    last, outputs, states = K.rnn(step, torch.as_tensor(data["rnn/inputs"]), [torch.zeros(2, 4)], **kwargs)
    assert_close(numpy_of(last), data[f"{name}/y0"], rtol=1e-5)
    assert_close(numpy_of(outputs), data[f"{name}/y1"], rtol=1e-5)
    assert_close(numpy_of(states[0]), data[f"{name}/y2"], rtol=1e-5)


def test_rnn_on_symbolic_inputs_and_time_major():
    def step(x, states):
        total = states[0] + x
        return total, [total]

    inputs = Input((5, 3))
    last, outputs, states = K.rnn(step, inputs, [K.zeros_like(inputs[:, 0])])
    assert last.shape == (None, 3) and outputs.shape == (None, 5, 3) and states[0].shape == (None, 3)
    x = np.random.RandomState(0).rand(2, 5, 3).astype("float32")
    prediction = Model(inputs, outputs).predict(x, verbose=0)
    assert_close(prediction, np.cumsum(x, axis=1), rtol=1e-6)
    _, major, _ = K.rnn(step, torch.as_tensor(x.transpose(1, 0, 2)), [torch.zeros(2, 3)], time_major=True,
                        return_all_outputs=False)
    assert_close(numpy_of(major), x.sum(1)[None], rtol=1e-6)


def test_switch_elementwise_scalar_and_lazy():
    x = torch.tensor([[1.0, -2.0], [-3.0, 4.0]])
    assert_close(numpy_of(K.switch(x > 0, x, -x)), np.abs(x.numpy()))
    assert_close(numpy_of(K.switch(torch.tensor([True, False]), x, torch.zeros(2, 2))), [[1.0, -2.0], [0.0, 0.0]])
    assert_close(numpy_of(K.switch(True, lambda: x, lambda: 1 / 0)), x.numpy())
    assert_close(numpy_of(K.switch(torch.tensor(False), x, x * 2)), x.numpy() * 2)
    with pytest.raises(ValueError, match="Rank of `condition`"):
        K.switch(torch.ones(2, 2, 2) > 0, torch.ones(2, 2), torch.ones(2, 2))


def test_learning_phase_set_explicitly_and_in_train_phase():
    x, y = torch.ones(2), torch.zeros(2)
    assert int(K.learning_phase()) == 0  # outside any training code
    assert_close(numpy_of(K.in_train_phase(x, y)), [0.0, 0.0])
    assert_close(numpy_of(K.in_train_phase(x, y, training=1)), [1.0, 1.0])
    assert_close(numpy_of(K.in_test_phase(x, y, training=True)), [0.0, 0.0])
    K.set_learning_phase(1)
    assert K.learning_phase() == 1
    assert_close(numpy_of(K.in_train_phase(lambda: x, y)), [1.0, 1.0])
    with pytest.raises(ValueError, match="0 or 1"):
        K.set_learning_phase(2)
    K.clear_session()
    assert not isinstance(K.learning_phase(), int) and int(K.learning_phase()) == 0


class NoiseOnlyWhenTraining(Layer):
    """A Keras 2 style layer: `K.in_train_phase` without a `training` argument follows fit/predict."""

    def call(self, inputs):
        return K.in_train_phase(inputs + 100.0, inputs)


def test_in_train_phase_follows_fit_and_predict():
    model = Sequential([Dense(1, kernel_initializer="zeros", input_shape=(2,)), NoiseOnlyWhenTraining(),
                        Lambda(lambda t: K.in_train_phase(t * 0.0, t))])
    model.compile("sgd", "mse")
    x, y = np.ones((4, 2), "float32"), np.zeros((4, 1), "float32")
    assert_close(model.predict(x, verbose=0), np.zeros((4, 1)))
    history = model.fit(x, y, epochs=1, verbose=0)
    assert history.history["loss"][0] == 0.0  # in training the Lambda zeroes everything
    model.layers[2].function = lambda t: t
    assert model.evaluate(x, y, verbose=0) == 0.0
    assert model.train_on_batch(x, y) == pytest.approx(100.0 ** 2)


def test_symbolic_in_train_phase_follows_the_model_mode():
    inputs = Input((2,))
    model = Model(inputs, Dense(1, kernel_initializer="ones")(K.in_train_phase(inputs * 0.0, inputs)))
    model.compile("sgd", "mse")
    x, y = np.ones((3, 2), "float32"), np.zeros((3, 1), "float32")
    assert_close(model.predict(x, verbose=0), np.full((3, 1), 2.0))
    assert model.train_on_batch(x, y) == pytest.approx(0.0)


def test_map_fn_foldl_foldr_and_stop_gradient():
    x = torch.arange(6.0).reshape(3, 2)
    assert_close(numpy_of(K.map_fn(lambda row: row * 2, x)), x.numpy() * 2)
    assert_close(numpy_of(K.foldl(lambda acc, row: acc + row, x)), [6.0, 9.0])
    assert_close(numpy_of(K.foldr(lambda acc, row: acc * 0 + row, x)), [0.0, 1.0])
    assert_close(numpy_of(K.foldl(lambda acc, row: acc - row, x, initializer=torch.zeros(2))), [-6.0, -9.0])
    w = torch.ones(2, requires_grad=True)
    assert not K.stop_gradient(w * 2).requires_grad
    assert all(not t.requires_grad for t in K.stop_gradient([w * 2, w]))
