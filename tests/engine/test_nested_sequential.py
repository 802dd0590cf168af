"""Keras 2.2.4's test_nested_sequential: Sequential models inside Sequential models know their input from the
innermost first layer, so weights saved from one load into a fresh copy before it has seen data."""
import numpy as np

from fitgen.layers import Activation, Dense
from fitgen.models import Sequential, model_from_json


def _nested():
    inner = Sequential()
    inner.add(Dense(5, input_shape=(4,)))
    inner.add(Activation("relu"))
    inner.add(Dense(3))
    middle = Sequential()
    middle.add(inner)
    model = Sequential()
    model.add(middle)
    model.add(Activation("softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="rmsprop")
    return model


def test_nested_sequential_is_built_from_the_innermost_input_shape():
    model = _nested()
    assert model.built and model.input_shape == (None, 4) and model.output_shape == (None, 3)
    assert [layer.built for layer in model.layers] == [True, True]


def test_weights_of_a_trained_nested_sequential_load_into_a_fresh_one(tmp_path):
    rng = np.random.RandomState(0)
    x, y = rng.rand(16, 4), np.eye(3)[rng.randint(0, 3, 16)]
    model = _nested()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    loss = model.evaluate(x, y, verbose=0)
    model.save_weights(tmp_path / "nested.h5")

    fresh = _nested()
    fresh.load_weights(tmp_path / "nested.h5")
    assert fresh.evaluate(x, y, verbose=0) == loss
    again = model_from_json(fresh.to_json())
    assert again.input_shape == (None, 4) and len(again.get_weights()) == 4


def test_an_unbuilt_nested_first_layer_still_defers_to_the_first_data():
    model = Sequential([Sequential([Dense(2)]), Dense(1)])
    assert not model.built
    assert model.predict(np.zeros((3, 5)), verbose=0).shape == (3, 1)
    assert model.input_shape == (None, 5)
