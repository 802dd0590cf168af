"""tf-keras 2.21 parity of the feed-forward layers: same weights and inputs give Keras's outputs.

The fixtures come from tests/fixtures/layers/make_layer_fixtures.py (run with tf-keras; see its docstring).
"""
import json
import os

import numpy as np
import pytest
import torch

from fitgen.layers import advanced_activations, convolutional, core, merge, pooling, reshaping

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "layers")
MODULES = ("core", "convolutional", "pooling", "merge", "advanced_activations")
CLASSES = {name: getattr(module, name) for module in (core, convolutional, reshaping, pooling, merge,
                                                      advanced_activations)
           for name in dir(module)
           if isinstance(getattr(module, name), type) and getattr(module, name).__module__ == module.__name__}


def _cases():
    for module in MODULES:
        with np.load(os.path.join(FIXTURES, f"{module}.npz")) as data:
            names = sorted({key.split("/")[0] for key in data.files})
        for name in names:
            yield pytest.param(module, name, id=f"{module}-{name}")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
@pytest.mark.parametrize("module,case", list(_cases()))
def test_matches_tf_keras(module, case, device):
    with np.load(os.path.join(FIXTURES, f"{module}.npz")) as data:
        arrays = {key.split("/", 1)[1]: data[key] for key in data.files if key.startswith(case + "/")}
    spec = json.loads(str(arrays["spec"]))
    inputs = [torch.as_tensor(arrays[f"x{i}"], device=device) for i in range(spec["inputs"])]
    weights = [arrays[f"w{i}"] for i in range(sum(k.startswith("w") for k in arrays))]
    layer = CLASSES[spec["class_name"]](**spec["kwargs"]).to(device)
    layer.eval()
    feed = inputs[0] if len(inputs) == 1 else inputs
    layer(feed)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in weights]
    layer.set_weights(weights)
    with torch.no_grad():
        output = layer(feed)
    # CUDA convolutions may use TF32 or other reduction orders: a looser bound there.
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if device == "cpu" else {"rtol": 1e-3, "atol": 1e-4}
    np.testing.assert_allclose(output.cpu().numpy(), arrays["y"], **tolerance)
