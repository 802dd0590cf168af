"""BatchNormalization and LayerNormalization: tf-keras 2.21 parity, moving statistics, frozen layers."""
import numpy as np
import pytest
import torch
from helpers.layer_harness import check_layer
from recurrent_case_runner import check_case, load_cases

from fitgen.layers.normalization import BatchNormalization, LayerNormalization

CASES = load_cases("normalization_cases.npz")
# tf-keras does not serialise `fused`; the recorded layer was built with fused=False.
OVERRIDES = {"bn_conv_not_fused": {"fused": False}}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_tf_keras(name):
    """Training output, gradients, moving stats after one training call and inference output equal tf-keras's."""
    check_case(CASES[name], overrides=OVERRIDES.get(name))


@pytest.mark.parametrize("shape, fused_variance_is_unbiased", [((4, 3), False), ((4, 5, 3), False),
                                                               ((2, 3, 3, 3), True)])
def test_moving_variance_follows_tf_keras_fused_rule(shape, fused_variance_is_unbiased):
    """tf-keras 2.21 averages the unbiased variance in its fused (4-D/5-D) kernel, the biased one otherwise."""
    x = torch.randn(shape) * 2 + 1
    layer = BatchNormalization(momentum=0.5)
    layer(x, training=True)
    n = x.numel() // shape[-1]
    variance = x.reshape(-1, shape[-1]).var(dim=0, correction=1 if fused_variance_is_unbiased else 0)
    np.testing.assert_allclose(layer.get_weights()[3], 0.5 + 0.5 * variance.numpy(), rtol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[2], 0.5 * x.reshape(-1, shape[-1]).mean(0).numpy(),
                               rtol=1e-5, atol=1e-6)
    assert n > 1


def test_weights_order_names_and_trainability():
    layer = BatchNormalization()
    layer(torch.zeros(2, 4))
    assert [w.name for w in layer.weights] == ["batch_normalization/gamma:0", "batch_normalization/beta:0",
                                               "batch_normalization/moving_mean:0",
                                               "batch_normalization/moving_variance:0"]
    assert [w.trainable for w in layer.weights] == [True, True, False, False]
    bare = BatchNormalization(center=False, scale=False)
    bare(torch.zeros(2, 4))
    assert [w.name.split("/")[1] for w in bare.weights] == ["moving_mean:0", "moving_variance:0"]


def test_frozen_layer_runs_in_inference_mode_even_when_training():
    layer = BatchNormalization()
    x = torch.randn(8, 3) * 3 + 2
    layer(x, training=False)
    layer.trainable = False
    before = layer.get_weights()
    out = layer(x, training=True)
    for got, want in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    torch.testing.assert_close(out, layer(x, training=False))
    assert layer.trainable_weights == []


def test_phase_follows_module_mode():
    layer = BatchNormalization()
    x = torch.randn(6, 2) + 5
    layer.train()
    out = layer(x)
    torch.testing.assert_close(out.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    layer.eval()
    before = layer.get_weights()
    layer(x)
    np.testing.assert_array_equal(layer.get_weights()[2], before[2])


def test_single_sample_batch_trains_like_keras():
    layer = BatchNormalization()
    out = layer(torch.tensor([[1.0, -2.0]]), training=True)
    torch.testing.assert_close(out, torch.zeros(1, 2))
    np.testing.assert_allclose(layer.get_weights()[2], [0.01, -0.02], rtol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[3], [0.99, 0.99], rtol=1e-6)


def test_config_keys_and_axis():
    layer = BatchNormalization()
    assert layer.get_config()["axis"] == -1
    layer(torch.zeros(2, 4, 4, 3))
    config = layer.get_config()
    assert config["axis"] == [3]
    assert list(config) == ["name", "trainable", "dtype", "axis", "momentum", "epsilon", "center", "scale",
                            "beta_initializer", "gamma_initializer", "moving_mean_initializer",
                            "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
                            "beta_constraint", "gamma_constraint"]
    assert LayerNormalization(axis=(1, 2)).get_config()["axis"] == [1, 2]


def test_unsupported_options_and_bad_axis():
    with pytest.raises(ValueError, match="renorm"):
        BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match="axis"):
        BatchNormalization(axis=4)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="fused=True"):
        BatchNormalization(fused=True)(torch.zeros(2, 3))


def test_mask_passes_through():
    x = torch.randn(2, 3, 4)
    x._keras_mask = torch.tensor([[True, False, True], [True, True, True]])
    assert BatchNormalization()(x)._keras_mask is x._keras_mask
    assert LayerNormalization()(x)._keras_mask is x._keras_mask


@pytest.mark.parametrize("cls, kwargs, shape", [
    (BatchNormalization, {}, (3, 5)),
    (BatchNormalization, {"momentum": 0.9, "epsilon": 1e-2}, (3, 4, 4, 2)),
    (BatchNormalization, {"axis": 1}, (3, 2, 4)),
    (LayerNormalization, {}, (3, 4, 5)),
    (LayerNormalization, {"axis": [1, 2], "scale": False}, (3, 4, 5)),
])
def test_layer_harness(cls, kwargs, shape):
    check_layer(cls, kwargs, shape, shape)
