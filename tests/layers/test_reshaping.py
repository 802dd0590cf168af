"""UpSampling, ZeroPadding and Cropping layers: shapes, values and argument forms."""
import numpy as np
import pytest
import torch

from fitgen.layers.reshaping import (Cropping1D, Cropping2D, UpSampling1D, UpSampling2D, ZeroPadding1D,
                                     ZeroPadding2D)
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
