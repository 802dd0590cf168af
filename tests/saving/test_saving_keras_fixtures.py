"""Files written by tf-keras 2.21 (tests/fixtures/keras2) load in fitgen: predictions, evaluate, and training
resumed from the saved optimizer state match what tf-keras itself does (tests/fixtures/saving/resume_*.npz,
made by make_resume_fixtures.py)."""
import json
import os

import numpy as np
import pytest

from fitgen.models import load_model, model_from_json

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERAS2 = os.path.join(HERE, "fixtures", "keras2")
RESUME = os.path.join(HERE, "fixtures", "saving")
CASES = ["mlp", "cnn", "rnn", "two_io"]


def _case(name):
    data = np.load(os.path.join(KERAS2, f"{name}.npz"))
    with open(os.path.join(KERAS2, f"{name}.meta.json")) as f:
        meta = json.load(f)
    xs = {k[2:]: data[k] for k in data.files if k.startswith("x_")}
    ys = {k[2:]: data[k] for k in data.files if k.startswith("y_")}
    x = xs["x"] if list(xs) == ["x"] else xs
    y = ys["y"] if list(ys) == ["y"] else ys
    return data, meta, x, y


def _predictions(model, x):
    out = model.predict(x, verbose=0)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("name", CASES)
def test_trained_file_predicts_and_evaluates_as_keras(name):
    data, meta, x, y = _case(name)
    model = load_model(os.path.join(KERAS2, f"{name}.h5"))
    for i, pred in enumerate(_predictions(model, x)):
        np.testing.assert_allclose(pred, data[f"pred1_{i}"], rtol=1e-5, atol=1e-6)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, data[f"final_w_{i}"])
    assert model.metrics_names == meta["metrics_names"]
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=meta["batch_size"], verbose=0), data["eval"],
                               rtol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_trained_file_resumes_training_like_keras(name):
    _, meta, x, y = _case(name)
    expected = np.load(os.path.join(RESUME, f"resume_{name}.npz"))
    model = load_model(os.path.join(KERAS2, f"{name}.h5"))
    history = model.fit(x, y, batch_size=meta["batch_size"], epochs=1, shuffle=False, verbose=0)
    assert int(model.optimizer.iterations) == int(expected["iterations"])
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, expected[f"w_{i}"], rtol=1e-4, atol=1e-5)
    for key, values in history.history.items():
        np.testing.assert_allclose(values, expected[f"hist_{key}"], rtol=1e-4)


@pytest.mark.parametrize("name", CASES)
def test_initial_weights_file_loads_into_the_json_architecture(name):
    data, _, x, _ = _case(name)
    with open(os.path.join(KERAS2, f"{name}.json")) as f:
        model = model_from_json(f.read())
    model.load_weights(os.path.join(KERAS2, f"{name}.init_weights.h5"))
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, data[f"init_w_{i}"])
    for i, pred in enumerate(_predictions(model, x)):
        np.testing.assert_allclose(pred, data[f"pred0_{i}"], rtol=1e-5, atol=1e-6)


def test_full_model_file_also_serves_as_weights_file():
    data, _, x, _ = _case("cnn")
    with open(os.path.join(KERAS2, "cnn.json")) as f:
        model = model_from_json(f.read())
    model.load_weights(os.path.join(KERAS2, "cnn.h5"))
    np.testing.assert_allclose(_predictions(model, x)[0], data["pred1_0"], rtol=1e-5, atol=1e-6)


def test_uncompiled_load_skips_training_config():
    model = load_model(os.path.join(KERAS2, "mlp.h5"), compile=False)
    assert not model.compiled and model.optimizer is None
