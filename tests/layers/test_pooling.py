"""Pooling layers: shapes for every padding/stride form, TF 'same' semantics, masks, configs, aliases."""
import numpy as np
import pytest
import torch

from fitgen.layers import pooling
from fitgen.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                                   GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from helpers.layer_harness import check_layer


@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("kwargs,expected", [({}, (2, 3, 4)), ({"pool_size": 3, "strides": 1}, (2, 5, 4)),
                                             ({"padding": "same"}, (2, 4, 4)),
                                             ({"pool_size": 3, "strides": 2, "padding": "same"}, (2, 4, 4))])
def test_pooling1d_shapes(cls, kwargs, expected):
    check_layer(cls, kwargs, (2, 7, 4), expected)


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("kwargs,expected", [({}, (2, 3, 4, 3)), ({"pool_size": 3, "strides": 2}, (2, 3, 4, 3)),
                                             ({"padding": "same"}, (2, 4, 5, 3)),
                                             ({"pool_size": (2, 3), "strides": (1, 2), "padding": "same"},
                                              (2, 7, 5, 3))])
def test_pooling2d_shapes(cls, kwargs, expected):
    check_layer(cls, kwargs, (2, 7, 9, 3), expected)


def test_max_pool_same_never_picks_padding():
    x = -torch.ones(1, 3, 3, 1) * torch.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    y = MaxPooling2D(padding="same")(x)[0, :, :, 0].numpy()
    np.testing.assert_array_equal(y, [[-1, -3], [-7, -9]])


def test_average_pool_same_ignores_padding():
    x = torch.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    y = AveragePooling2D(padding="same")(x)[0, :, :, 0].numpy()
    np.testing.assert_allclose(y, [[3.0, 4.5], [7.5, 9.0]])
    y1 = AveragePooling1D(3, strides=1, padding="same")(torch.tensor([[[1.0], [2.0], [3.0]]]))[0, :, 0].numpy()
    np.testing.assert_allclose(y1, [1.5, 2.0, 2.5])


def test_pooling_config_and_errors():
    config = MaxPooling2D(3).get_config()
    assert (config["pool_size"], config["strides"], config["padding"]) == ((3, 3), (3, 3), "valid")
    assert MaxPooling1D().get_config()["strides"] == (2,)
    with pytest.raises(ValueError, match="padding"):
        MaxPooling2D(padding="full")
    with pytest.raises(ValueError, match="data_format"):
        AveragePooling2D(data_format="channels_middle")
    assert MaxPooling2D().compute_output_shape((None, None, 5, 2)) == (None, None, 2, 2)


@pytest.mark.parametrize("cls,input_shape,expected", [
    (GlobalAveragePooling1D, (2, 5, 3), (2, 3)), (GlobalMaxPooling1D, (2, 5, 3), (2, 3)),
    (GlobalAveragePooling2D, (2, 4, 5, 3), (2, 3)), (GlobalMaxPooling2D, (2, 4, 5, 3), (2, 3)),
])
def test_global_pooling(cls, input_shape, expected):
    out = check_layer(cls, {}, input_shape, expected)
    assert out.shape == expected
    keep = check_layer(cls, {"keepdims": True}, input_shape, (2,) + (1,) * (len(input_shape) - 2) + (3,))
    assert keep.dim() == len(input_shape)


def test_global_average_pooling1d_mask():
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])
    x._keras_mask = torch.tensor([[True, True, False], [True, True, True]])
    y = GlobalAveragePooling1D()(x)
    np.testing.assert_allclose(y.numpy(), [[2.0], [4.0]])
    assert getattr(y, "_keras_mask", None) is None


def test_aliases():
    assert pooling.MaxPool2D is MaxPooling2D and pooling.AvgPool1D is AveragePooling1D
    assert pooling.GlobalAvgPool2D is GlobalAveragePooling2D and pooling.GlobalMaxPool1D is GlobalMaxPooling1D


@pytest.mark.parametrize("cls", [pooling.MaxPooling3D, pooling.AveragePooling3D])
@pytest.mark.parametrize("kwargs,input_shape,expected", [
    ({}, (2, 5, 4, 6, 3), (2, 2, 2, 3, 3)),
    ({"pool_size": 3, "strides": 2, "padding": "same"}, (2, 5, 4, 6, 3), (2, 3, 2, 3, 3)),
    ({"pool_size": (2, 1, 3), "strides": 1}, (2, 5, 4, 6, 3), (2, 4, 4, 4, 3)),
    ({"data_format": "channels_first"}, (2, 3, 5, 4, 6), (2, 3, 2, 2, 3)),
    ({"data_format": "channels_first", "padding": "same"}, (2, 3, 5, 4, 6), (2, 3, 3, 2, 3)),
])
def test_pooling3d_shapes(cls, kwargs, input_shape, expected):
    check_layer(cls, kwargs, input_shape, expected)


@pytest.mark.parametrize("cls,input_shape", [(MaxPooling1D, (2, 4, 7)), (AveragePooling2D, (2, 3, 7, 9)),
                                             (MaxPooling2D, (2, 3, 7, 9))])
def test_channels_first_pooling_shapes(cls, input_shape):
    expected = input_shape[:2] + tuple((n + 1) // 2 for n in input_shape[2:])
    check_layer(cls, {"padding": "same", "data_format": "channels_first"}, input_shape, expected)


@pytest.mark.parametrize("cls,input_shape,expected,keep", [
    (pooling.GlobalAveragePooling3D, (2, 4, 5, 2, 3), (2, 3), (2, 1, 1, 1, 3)),
    (pooling.GlobalMaxPooling3D, (2, 4, 5, 2, 3), (2, 3), (2, 1, 1, 1, 3)),
])
def test_global_pooling3d(cls, input_shape, expected, keep):
    check_layer(cls, {}, input_shape, expected)
    check_layer(cls, {"keepdims": True}, input_shape, keep)
    first = (2, 3) + input_shape[1:4]
    check_layer(cls, {"data_format": "channels_first"}, first, expected)
    check_layer(cls, {"data_format": "channels_first", "keepdims": True}, first, (2, 3, 1, 1, 1))


def test_global_average_pooling1d_channels_first_mask():
    x = torch.tensor([[[1.0, 3.0, 100.0]], [[2.0, 4.0, 6.0]]])  # (N, C=1, T=3)
    x._keras_mask = torch.tensor([[True, True, False], [True, True, True]])
    layer = GlobalAveragePooling1D(data_format="channels_first")
    np.testing.assert_allclose(layer(x).numpy(), [[2.0], [4.0]])
    assert layer.compute_output_shape((None, 1, 3)) == (None, 1)


def test_3d_aliases():
    assert pooling.MaxPool3D is pooling.MaxPooling3D and pooling.AvgPool3D is pooling.AveragePooling3D
    assert pooling.GlobalAvgPool3D is pooling.GlobalAveragePooling3D
    assert pooling.GlobalMaxPool3D is pooling.GlobalMaxPooling3D
