"""Noise layers: identity in inference, the right noise law in training, seeds, spatial masks."""
import numpy as np
import pytest
import torch

from fitgen.layers.noise import (AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D,
                                 SpatialDropout3D)
from helpers.layer_harness import check_layer


@pytest.mark.parametrize("cls,kwargs,shape", [
    (GaussianNoise, {"stddev": 0.5}, (2, 3, 4)), (GaussianNoise, {"stddev": 0.5, "seed": 1}, (2, 3)),
    (GaussianDropout, {"rate": 0.3}, (2, 3, 4)), (AlphaDropout, {"rate": 0.2}, (2, 5)),
    (SpatialDropout1D, {"rate": 0.5}, (2, 3, 4)), (SpatialDropout2D, {"rate": 0.5}, (2, 3, 3, 4)),
    (SpatialDropout2D, {"rate": 0.5, "data_format": "channels_first"}, (2, 4, 3, 3)),
    (SpatialDropout3D, {"rate": 0.5}, (2, 3, 2, 3, 4)),
])
def test_harness_and_inference_identity(cls, kwargs, shape):
    check_layer(cls, kwargs, shape, shape)
    layer = cls(**kwargs)
    x = torch.randn(*shape)
    layer.eval()
    assert torch.equal(layer(x), x)
    assert torch.equal(layer(x, training=False), x)


def test_gaussian_noise_statistics():
    layer = GaussianNoise(0.5)
    layer.train()
    noise = layer(torch.zeros(200, 100))
    assert abs(noise.mean().item()) < 0.02 and abs(noise.std().item() - 0.5) < 0.02


def test_gaussian_noise_seed_repeats():
    a = GaussianNoise(1.0, seed=5)(torch.zeros(3, 4), training=True)
    b = GaussianNoise(1.0, seed=5)(torch.zeros(3, 4), training=True)
    assert torch.equal(a, b)
    assert GaussianNoise(0.1, seed=5).get_config()["seed"] == 5


def test_gaussian_dropout_statistics():
    layer = GaussianDropout(0.2)
    noise = layer(torch.ones(200, 100), training=True)
    assert abs(noise.mean().item() - 1.0) < 0.02
    assert abs(noise.std().item() - np.sqrt(0.2 / 0.8)) < 0.02


def test_alpha_dropout_keeps_mean_and_variance():
    x = torch.randn(400, 250)
    y = AlphaDropout(0.2)(x, training=True)
    assert abs(y.mean().item()) < 0.03 and abs(y.std().item() - 1.0) < 0.03


def test_spatial_dropout_drops_whole_channels():
    y = SpatialDropout2D(0.5)(torch.ones(8, 4, 5, 16), training=True)
    per_channel = y.reshape(8, 20, 16)
    assert torch.equal(per_channel.amax(1), per_channel.amin(1))
    assert set(per_channel.unique().tolist()) == {0.0, 2.0}
    y1 = SpatialDropout1D(0.5)(torch.ones(8, 6, 16), training=True)
    assert torch.equal(y1, y1[:, :1].expand_as(y1))


def test_configs():
    assert set(SpatialDropout1D(0.2).get_config()) >= {"rate", "noise_shape", "seed"}
    assert SpatialDropout2D.from_config({"rate": 0.1, "noise_shape": None, "seed": None, "name": "s"}).rate == 0.1
    assert GaussianDropout(0.3).get_config()["rate"] == 0.3
    assert AlphaDropout(0.3, seed=2).get_config()["seed"] == 2
    with pytest.raises(ValueError, match="data_format"):
        SpatialDropout2D(0.1, data_format="channels_middle")


@pytest.mark.parametrize("cls,shape,data_format", [
    (SpatialDropout2D, (8, 16, 4, 5), "channels_first"), (SpatialDropout3D, (8, 3, 4, 2, 16), "channels_last"),
    (SpatialDropout3D, (8, 16, 3, 4, 2), "channels_first"),
])
def test_spatial_dropout_channels_first_and_3d_drop_whole_channels(cls, shape, data_format):
    y = cls(0.5, data_format=data_format)(torch.ones(shape), training=True)
    per_channel = (y if data_format == "channels_first" else y.movedim(-1, 1)).reshape(8, 16, -1)
    assert torch.equal(per_channel.amax(2), per_channel.amin(2))
    assert set(per_channel.unique().tolist()) == {0.0, 2.0}
    assert cls(0.5, data_format=data_format).get_config()["data_format"] == data_format
    with pytest.raises(ValueError, match="rank"):
        cls(0.5)(torch.ones(2, 3), training=True)
