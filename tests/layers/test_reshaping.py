"""UpSampling, ZeroPadding and Cropping layers: shapes, values and argument forms."""
import numpy as np
import pytest
import torch

from fitgen.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D,
                                     ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from helpers.layer_harness import check_layer


def test_upsampling1d():
    out = check_layer(UpSampling1D, {"size": 3}, (2, 4, 5), (2, 12, 5))
    np.testing.assert_array_equal(out[:, 0].numpy(), out[:, 2].numpy())


@pytest.mark.parametrize("kwargs,expected", [({}, (2, 6, 8, 3)), ({"size": (1, 3)}, (2, 3, 12, 3)),
                                             ({"size": 2, "interpolation": "bilinear"}, (2, 6, 8, 3))])
def test_upsampling2d(kwargs, expected):
    check_layer(UpSampling2D, kwargs, (2, 3, 4, 3), expected)


def test_upsampling2d_nearest_repeats_pixels():
    x = torch.arange(4.0).reshape(1, 2, 2, 1)
    y = UpSampling2D((2, 2))(x)[0, :, :, 0].numpy()
    np.testing.assert_array_equal(y, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    with pytest.raises(ValueError, match="interpolation"):
        UpSampling2D(interpolation="bicubic")


@pytest.mark.parametrize("padding,expected", [(1, (2, 7, 3)), ((2, 0), (2, 7, 3))])
def test_zero_padding1d(padding, expected):
    out = check_layer(ZeroPadding1D, {"padding": padding}, (2, 5, 3), expected)
    assert ZeroPadding1D(padding).get_config()["padding"] == ((padding, padding) if isinstance(padding, int)
                                                              else padding)
    assert out.shape == expected


@pytest.mark.parametrize("padding,expected", [(1, (2, 6, 7, 3)), ((2, 1), (2, 8, 7, 3)),
                                              (((1, 0), (0, 3)), (2, 5, 8, 3))])
def test_zero_padding2d(padding, expected):
    check_layer(ZeroPadding2D, {"padding": padding}, (2, 4, 5, 3), expected)


def test_zero_padding2d_places_zeros():
    y = ZeroPadding2D(((1, 0), (0, 2)))(torch.ones(1, 2, 2, 1))[0, :, :, 0].numpy()
    np.testing.assert_array_equal(y, [[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]])
    assert ZeroPadding2D(2).get_config()["padding"] == ((2, 2), (2, 2))
    with pytest.raises(ValueError, match="padding"):
        ZeroPadding2D((1, 2, 3))


def test_cropping1d():
    out = check_layer(Cropping1D, {"cropping": (1, 2)}, (2, 6, 3), (2, 3, 3))
    assert out.shape == (2, 3, 3)
    with pytest.raises(ValueError, match="cropping"):
        Cropping1D((4, 3)).compute_output_shape((None, 6, 3))


@pytest.mark.parametrize("cropping,expected", [(1, (2, 4, 5, 3)), ((1, 2), (2, 4, 3, 3)),
                                               (((0, 2), (3, 0)), (2, 4, 4, 3))])
def test_cropping2d(cropping, expected):
    check_layer(Cropping2D, {"cropping": cropping}, (2, 6, 7, 3), expected)


def test_cropping2d_values_and_unknown_dims():
    x = torch.arange(16.0).reshape(1, 4, 4, 1)
    y = Cropping2D(((1, 0), (0, 2)))(x)[0, :, :, 0].numpy()
    np.testing.assert_array_equal(y, [[4, 5], [8, 9], [12, 13]])
    assert Cropping2D(1).compute_output_shape((None, None, 5, 2)) == (None, None, 3, 2)


def test_cropping_to_nothing_gives_an_empty_axis():
    # Keras 2.2.4's own test crops (2, 2) from 4 steps and gets 0 (tf-keras 2.21 refuses it).
    out = Cropping1D((2, 2))(torch.randn(2, 4, 3))
    assert out.shape == (2, 0, 3)
    assert Cropping1D((2, 2)).compute_output_shape((None, 4, 3)) == (None, 0, 3)
    assert Cropping2D(((2, 2), (0, 0)))(torch.randn(1, 4, 4, 2)).shape == (1, 0, 4, 2)
    with pytest.raises(ValueError, match="cropping"):
        Cropping1D((3, 2))(torch.randn(2, 4, 3))


@pytest.mark.parametrize("cls,kwargs,input_shape,expected", [
    (UpSampling2D, {"size": (2, 3)}, (2, 3, 4, 5), (2, 3, 8, 15)),
    (UpSampling2D, {"interpolation": "bilinear"}, (2, 3, 4, 5), (2, 3, 8, 10)),
    (ZeroPadding2D, {"padding": ((1, 0), (0, 3))}, (2, 3, 4, 5), (2, 3, 5, 8)),
    (Cropping2D, {"cropping": ((1, 0), (2, 1))}, (2, 3, 4, 5), (2, 3, 3, 2)),
    (UpSampling3D, {"size": (2, 1, 3)}, (2, 3, 2, 4, 2), (2, 3, 4, 4, 6)),
    (ZeroPadding3D, {"padding": 1}, (2, 3, 2, 4, 2), (2, 3, 4, 6, 4)),
    (Cropping3D, {"cropping": ((1, 0), (0, 2), 1)}, (2, 3, 3, 4, 5), (2, 3, 2, 2, 3)),
])
def test_channels_first_shapes(cls, kwargs, input_shape, expected):
    check_layer(cls, dict(kwargs, data_format="channels_first"), input_shape, expected)


@pytest.mark.parametrize("cls,kwargs,expected", [
    (UpSampling3D, {}, (2, 4, 8, 6, 3)), (UpSampling3D, {"size": (1, 2, 3)}, (2, 2, 8, 9, 3)),
    (ZeroPadding3D, {}, (2, 4, 6, 5, 3)), (ZeroPadding3D, {"padding": (1, 0, 2)}, (2, 4, 4, 7, 3)),
    (ZeroPadding3D, {"padding": ((1, 0), (0, 2), (3, 1))}, (2, 3, 6, 7, 3)),
    (Cropping3D, {}, (2, 0, 2, 1, 3)), (Cropping3D, {"cropping": ((0, 1), (1, 1), 0)}, (2, 1, 2, 3, 3)),
])
def test_3d_shapes(cls, kwargs, expected):
    check_layer(cls, kwargs, (2, 2, 4, 3, 3), expected, check_backward=expected[1] > 0)


def test_3d_values_and_configs():
    x = torch.arange(8.0).reshape(1, 2, 2, 2, 1)
    up = UpSampling3D((1, 2, 1))(x)[0, :, :, :, 0]
    np.testing.assert_array_equal(up.numpy(), x[0, :, :, :, 0].repeat_interleave(2, dim=1).numpy())
    first = ZeroPadding3D(((1, 0), (0, 0), (0, 1)), data_format="channels_first")(x.movedim(-1, 1))
    np.testing.assert_array_equal(first[0, 0, 1:, :, :2].numpy(), x[0, :, :, :, 0].numpy())
    assert first[0, 0, 0].abs().sum() == 0 and first[0, 0, :, :, 2].abs().sum() == 0
    cropped = Cropping3D(((1, 0), (0, 1), (1, 0)))(x)
    np.testing.assert_array_equal(cropped.numpy(), x[:, 1:, :1, 1:].numpy())
    assert ZeroPadding3D(2).get_config()["padding"] == ((2, 2), (2, 2), (2, 2))
    assert UpSampling3D(2).get_config()["size"] == (2, 2, 2)
    assert Cropping3D(1).compute_output_shape((None, None, 5, 4, 2)) == (None, None, 3, 2, 2)
    with pytest.raises(ValueError, match="padding"):
        ZeroPadding3D((1, 2))
    with pytest.raises(ValueError, match="cropping"):
        Cropping3D(-1)


def test_upsampling_is_exact_for_every_factor():
    x = torch.arange(5.0).reshape(1, 5, 1)
    for factor in range(1, 12):
        np.testing.assert_array_equal(UpSampling1D(factor)(x)[0, :, 0].numpy(),
                                      np.repeat(np.arange(5.0), factor))
