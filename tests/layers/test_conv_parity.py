"""tf-keras 2.21 parity of the channels_first, 3-D and locally-connected layers: the same weights and inputs
give Keras's outputs and Keras's gradients (of the input and of every trainable weight, in Keras's layout).

The fixtures come from tests/fixtures/layers/make_conv_fixtures.py (run with tf-keras; see its docstring).
"""
import json
import os

import numpy as np
import pytest
import torch

from fitgen.saving.serialization import layer_classes

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "layers", "conv_cases.npz")
CLASSES = layer_classes()


def _cases():
    with np.load(FIXTURE) as data:
        return sorted({key.split("/")[0] for key in data.files})


def _load(case):
    with np.load(FIXTURE) as data:
        arrays = {key.split("/", 1)[1]: data[key] for key in data.files if key.startswith(case + "/")}
    return json.loads(str(arrays.pop("spec"))), arrays


def _numbered(arrays, prefix):
    return [arrays[f"{prefix}{i}"] for i in range(sum(1 for k in arrays if k[len(prefix):].isdigit()
                                                       and k.startswith(prefix)))]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
@pytest.mark.parametrize("case", _cases())
def test_forward_and_gradients_match_tf_keras(case, device):
    spec, arrays = _load(case)
    weights = _numbered(arrays, "w")
    layer = CLASSES[spec["class_name"]](**spec["kwargs"]).to(device)
    x = torch.as_tensor(arrays["x"], device=device)
    layer(x)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in weights]
    layer.set_weights(weights)
    layer.train(spec["training"])
    x.requires_grad_(True)
    y = layer(x)
    # CUDA kernels may use TF32 or other reduction orders: a looser bound there.
    tol = {"rtol": 1e-5, "atol": 1e-5} if device == "cpu" else {"rtol": 2e-3, "atol": 2e-4}
    np.testing.assert_allclose(y.detach().cpu().numpy(), arrays["y"], **tol)
    (y * torch.as_tensor(arrays["c"], device=device)).sum().backward()
    grad_tol = {"rtol": 1e-4, "atol": 1e-5} if device == "cpu" else {"rtol": 2e-3, "atol": 2e-3}
    np.testing.assert_allclose(x.grad.cpu().numpy(), arrays["dx"], **grad_tol, err_msg="input gradient")
    expected = _numbered(arrays, "g")
    assert len(layer.trainable_weights) == len(expected)
    for weight, want in zip(layer.trainable_weights, expected):
        got = weight.to_keras(weight.tensor.grad).cpu().numpy()
        np.testing.assert_allclose(got, want, **grad_tol, err_msg=f"gradient of {weight.name}")
    for got, want in zip(layer.get_weights(), _numbered(arrays, "after")):
        np.testing.assert_allclose(got, want, **grad_tol, err_msg="weights after the call")
