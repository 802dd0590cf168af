"""Rescaling and Normalization against tf-keras 2.21 (tests/fixtures/layers/preprocessing.npz): outputs, adapt's
statistics and count, configs; Normalization's weights load from and save to Keras's layout."""
import json
import os

import numpy as np
import pytest
import torch

import fitgen
from fitgen.layers import Normalization, Rescaling

REF = np.load(os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "layers", "preprocessing.npz"))
NAMES = sorted({key.split("/")[0] for key in REF.files})


def _layer(name):
    spec = json.loads(str(REF[f"{name}/spec"]))
    kwargs = dict(spec["kwargs"])
    if isinstance(kwargs.get("axis"), list):
        kwargs["axis"] = tuple(kwargs["axis"])
    layer = {"Rescaling": Rescaling, "Normalization": Normalization}[spec["class_name"]](**kwargs)
    if spec["adapt"] is not None:
        layer.adapt(REF[f"{name}/adapt"], batch_size=spec["adapt"].get("batch_size"))
    return layer


@pytest.mark.parametrize("name", NAMES)
def test_matches_tfkeras(name):
    layer = _layer(name)
    x = REF[f"{name}/x"]
    y = layer(torch.from_numpy(x))
    assert y.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), REF[f"{name}/y"], rtol=1e-5, atol=1e-6)
    expected_weights = [REF[k] for k in sorted(k for k in REF.files if k.startswith(f"{name}/w"))]
    got = layer.get_weights()
    assert len(got) == len(expected_weights)
    for g, e in zip(got, expected_weights):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    config, expected = layer.get_config(), json.loads(str(REF[f"{name}/config"]))
    for key in ("scale", "offset", "invert", "mean", "variance"):
        if key in expected:
            assert json.loads(json.dumps(config[key])) == expected[key], key
    if "axis" in expected:
        assert list(config["axis"]) == expected["axis"]


def test_normalization_weights_and_symbolic_use():
    inputs = fitgen.Input((4, 3))
    layer = Normalization()
    model = fitgen.Model(inputs, layer(inputs))
    assert [w.name for w in layer.weights] == ["normalization/mean:0", "normalization/variance:0",
                                               "normalization/count:0"]
    assert not layer.trainable_weights and model.count_params() == 7
    layer.set_weights([np.array([1.0, 2.0, 3.0]), np.array([4.0, 1.0, 0.25]), np.array(5)])
    x = np.ones((2, 4, 3), "float32")
    np.testing.assert_allclose(model.predict(x, verbose=0)[0, 0], [0.0, -1.0, -4.0])
    clone = fitgen.models.model_from_json(model.to_json())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_normalization_adapt_iterable_and_errors():
    rng = np.random.default_rng(0)
    data = rng.normal(1.0, 2.0, (40, 3)).astype("float32")
    layer = Normalization()
    layer.adapt(iter([(data[:25], None), (data[25:], None)]))
    np.testing.assert_allclose(layer.get_weights()[0], data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[1], data.var(0), rtol=1e-4)
    assert int(layer.get_weights()[2]) == 40
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="Cannot `adapt`"):
        Normalization(mean=1.0, variance=1.0).adapt(data)
    with pytest.raises(ValueError, match="range"):
        Normalization(axis=3)(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="scale"):
        Rescaling("half")
