"""LocallyConnected1D/2D: shapes, Keras's implementation=1 weight layout in both data formats, configs, errors.

Numbers against tf-keras (both data formats, forward and gradients) are in test_conv_parity.py.
"""
import numpy as np
import pytest
import torch

from fitgen.layers.local import LocallyConnected1D, LocallyConnected2D
from helpers.layer_harness import check_layer


@pytest.mark.parametrize("cls,kwargs,input_shape,expected", [
    (LocallyConnected1D, {"filters": 3, "kernel_size": 3}, (2, 7, 4), (2, 5, 3)),
    (LocallyConnected1D, {"filters": 3, "kernel_size": 2, "strides": 2, "use_bias": False}, (2, 7, 4), (2, 3, 3)),
    (LocallyConnected1D, {"filters": 3, "kernel_size": 3, "data_format": "channels_first"}, (2, 4, 7), (2, 3, 5)),
    (LocallyConnected2D, {"filters": 4, "kernel_size": 3, "activation": "relu"}, (2, 6, 5, 3), (2, 4, 3, 4)),
    (LocallyConnected2D, {"filters": 2, "kernel_size": (3, 2), "strides": (2, 1)}, (2, 7, 5, 3), (2, 3, 4, 2)),
    (LocallyConnected2D, {"filters": 2, "kernel_size": 2, "strides": 2, "data_format": "channels_first"},
     (2, 3, 6, 5), (2, 2, 3, 2)),
])
def test_shapes(cls, kwargs, input_shape, expected):
    check_layer(cls, kwargs, input_shape, expected)


def _reference(x, kernel, bias, kernel_size, strides, channels_first):
    """Keras's implementation=1 rule written out with loops over positions (NumPy)."""
    if channels_first:
        x = np.moveaxis(x, 1, -1)
    n, rows, cols, channels = x.shape
    (kh, kw), (sh, sw) = kernel_size, strides
    out_rows, out_cols = (rows - kh) // sh + 1, (cols - kw) // sw + 1
    out = np.zeros((n, out_rows, out_cols, kernel.shape[-1]), np.float32)
    for i in range(out_rows):
        for j in range(out_cols):
            window = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]  # (n, kh, kw, c)
            if channels_first:
                window = np.moveaxis(window, -1, 1)  # Keras lists channels_first windows as (c, kh, kw)
            out[:, i, j] = window.reshape(n, -1) @ kernel[i * out_cols + j]
    if channels_first:
        out = np.moveaxis(out, -1, 1)
        return out + bias.reshape(out.shape[1:])  # Keras reshapes the (rows, cols, filters) bias
    return out + bias


@pytest.mark.parametrize("channels_first", [False, True])
def test_kernel_layout_is_keras_implementation_1(channels_first):
    rng = np.random.default_rng(0)
    fmt = "channels_first" if channels_first else "channels_last"
    layer = LocallyConnected2D(3, (3, 2), strides=(2, 1), data_format=fmt)
    x = rng.standard_normal((2, 4, 7, 5) if channels_first else (2, 7, 5, 4)).astype("float32")
    layer(torch.as_tensor(x))
    kernel = rng.standard_normal((3 * 4, 3 * 2 * 4, 3)).astype("float32")
    bias = rng.standard_normal((3, 4, 3)).astype("float32")
    layer.set_weights([kernel, bias])
    for got, want in zip(layer.get_weights(), [kernel, bias]):
        np.testing.assert_array_equal(got, want)
    expected = _reference(x, kernel, bias, (3, 2), (2, 1), channels_first)
    np.testing.assert_allclose(layer(torch.as_tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-5)


def test_config_and_errors():
    config = LocallyConnected2D(2, 3, data_format="channels_first").get_config()
    assert (config["kernel_size"], config["strides"], config["padding"], config["implementation"]) == \
        ((3, 3), (1, 1), "valid", 1)
    assert config["data_format"] == "channels_first"
    with pytest.raises(ValueError, match="padding"):
        LocallyConnected2D(2, 3, padding="same")
    with pytest.raises(ValueError, match="implementation"):
        LocallyConnected1D(2, 3, implementation=2)
    with pytest.raises(ValueError, match="fully defined"):
        LocallyConnected2D(2, 3).build((None, None, 5, 3))
    with pytest.raises(ValueError, match="<= 0"):
        LocallyConnected1D(2, 5)(torch.randn(1, 3, 2))


def test_regularizer_and_constraint_see_keras_layout():
    layer = LocallyConnected1D(2, 2, kernel_regularizer="l2", kernel_constraint="non_neg")
    layer(torch.randn(1, 4, 3))
    kernel = layer.get_weights()[0]
    (penalty,) = layer.losses
    assert float(penalty.detach()) == pytest.approx(0.01 * float((kernel ** 2).sum()), rel=1e-5)
