"""Activation layers with parameters: values, configs (float32-cast numbers as tf-keras), PReLU weights."""
import numpy as np
import pytest
import torch

from fitgen.layers.advanced_activations import ELU, LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU
from helpers.layer_harness import check_layer


@pytest.mark.parametrize("cls,kwargs", [(LeakyReLU, {}), (LeakyReLU, {"alpha": 0.1}), (ELU, {"alpha": 0.5}),
                                        (ReLU, {}), (ReLU, {"max_value": 6.0, "negative_slope": 0.1}),
                                        (ThresholdedReLU, {"theta": 0.5}), (Softmax, {}), (Softmax, {"axis": 1}),
                                        (PReLU, {}), (PReLU, {"shared_axes": 1})])
def test_harness(cls, kwargs):
    check_layer(cls, kwargs, (2, 3, 4), (2, 3, 4))


def test_values():
    x = torch.tensor([[-2.0, -0.5, 0.0, 0.5, 2.0, 8.0]])
    np.testing.assert_allclose(LeakyReLU()(x).numpy(), [[-0.6, -0.15, 0, 0.5, 2, 8]], rtol=1e-6)
    np.testing.assert_allclose(ELU(0.5)(x).numpy(), [[0.5 * np.expm1(-2), 0.5 * np.expm1(-0.5), 0, 0.5, 2, 8]],
                               rtol=1e-6)
    np.testing.assert_allclose(ReLU(max_value=6.0)(x).numpy(), [[0, 0, 0, 0.5, 2, 6]])
    np.testing.assert_allclose(ReLU(negative_slope=0.1, threshold=1.0)(x).numpy(),
                               [[-0.3, -0.15, -0.1, -0.05, 2, 8]], rtol=1e-6)
    np.testing.assert_allclose(ThresholdedReLU(1.0)(x).numpy(), [[0, 0, 0, 0, 2, 8]])


def test_configs_are_float32_like_tf_keras():
    assert LeakyReLU().get_config()["alpha"] == pytest.approx(0.30000001192092896, abs=0)
    config = ReLU().get_config()
    assert (config["max_value"], config["negative_slope"], config["threshold"]) == (None, 0.0, 0.0)
    assert ThresholdedReLU().get_config()["theta"] == 1.0
    assert Softmax(axis=(1, 2)).get_config()["axis"] == [1, 2]


def test_argument_errors():
    with pytest.raises(ValueError, match="max_value"):
        ReLU(max_value=-1)
    with pytest.raises(ValueError, match="negative_slope"):
        ReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match="Theta"):
        ThresholdedReLU(-1.0)


def test_softmax_axis_mask_and_logits():
    x = torch.randn(2, 3, 4)
    y = Softmax(axis=[1, 2])(x)
    np.testing.assert_allclose(y.sum(dim=(1, 2)).numpy(), 1.0, rtol=1e-6)
    out = Softmax()(torch.randn(2, 4))
    assert hasattr(out, "_keras_logits")
    masked = Softmax()(torch.zeros(1, 4), mask=torch.tensor([[1, 1, 0, 0]]))
    np.testing.assert_allclose(masked.numpy(), [[0.5, 0.5, 0, 0]], atol=1e-7)


def test_prelu_weights():
    layer = PReLU(alpha_initializer="ones", shared_axes=[1, 2])
    layer(torch.randn(2, 4, 5, 3))
    assert [w.shape for w in layer.weights] == [(1, 1, 3)]
    assert layer.weights[0].name == "p_re_lu/alpha:0"
    layer.set_weights([np.array([[[0.1, 0.2, 0.3]]], np.float32)])
    y = layer(-torch.ones(1, 1, 1, 3))
    np.testing.assert_allclose(y.detach().numpy().ravel(), [-0.1, -0.2, -0.3], rtol=1e-6)
    config = layer.get_config()
    assert config["shared_axes"] == [1, 2] and config["alpha_initializer"]["class_name"] == "Ones"


def test_activations_pass_masks():
    x = torch.randn(2, 3, 4)
    x._keras_mask = torch.ones(2, 3, dtype=torch.bool)
    for layer in (LeakyReLU(), ELU(), ReLU(), ThresholdedReLU(), PReLU()):
        assert layer(x)._keras_mask is x._keras_mask
