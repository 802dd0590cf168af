"""Convolution layers: output shapes for every padding/stride/dilation form, weight layouts, configs, errors.

Numbers against tf-keras are in test_layer_parity.py; here the harness checks shapes, configs and gradients,
and a few layouts are checked against hand-made references.
"""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fitgen.layers.convolutional import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose,
                                         DepthwiseConv2D, SeparableConv1D, SeparableConv2D)
from fitgen.utils.conv_utils import same_pads
from helpers.layer_harness import check_layer


@pytest.mark.parametrize("kwargs,input_shape,expected", [
    ({"filters": 4, "kernel_size": 3}, (2, 9, 3), (2, 7, 4)),
    ({"filters": 4, "kernel_size": 3, "padding": "same"}, (2, 9, 3), (2, 9, 4)),
    ({"filters": 4, "kernel_size": 4, "padding": "same", "strides": 2}, (2, 9, 3), (2, 5, 4)),
    ({"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (2, 9, 3), (2, 9, 4)),
    ({"filters": 4, "kernel_size": 2, "strides": 3}, (2, 10, 3), (2, 3, 4)),
    ({"filters": 4, "kernel_size": 3, "groups": 2}, (2, 9, 4), (2, 7, 4)),
])
def test_conv1d_shapes(kwargs, input_shape, expected):
    check_layer(Conv1D, kwargs, input_shape, expected)


@pytest.mark.parametrize("kwargs,input_shape,expected", [
    ({"filters": 5, "kernel_size": (3, 3)}, (2, 8, 8, 3), (2, 6, 6, 5)),
    ({"filters": 5, "kernel_size": 2, "padding": "same"}, (2, 7, 7, 3), (2, 7, 7, 5)),
    ({"filters": 5, "kernel_size": 3, "padding": "same", "strides": 2}, (2, 8, 7, 3), (2, 4, 4, 5)),
    ({"filters": 5, "kernel_size": (4, 2), "padding": "same", "strides": (2, 3)}, (2, 9, 7, 3), (2, 5, 3, 5)),
    ({"filters": 5, "kernel_size": 3, "strides": 2}, (2, 9, 8, 3), (2, 4, 3, 5)),
    ({"filters": 5, "kernel_size": 3, "dilation_rate": 2}, (2, 9, 9, 3), (2, 5, 5, 5)),
    ({"filters": 5, "kernel_size": 3, "dilation_rate": (2, 1), "padding": "same", "activation": "relu"},
     (2, 6, 6, 3), (2, 6, 6, 5)),
    ({"filters": 6, "kernel_size": 1, "groups": 3, "use_bias": False}, (2, 4, 4, 3), (2, 4, 4, 6)),
])
def test_conv2d_shapes(kwargs, input_shape, expected):
    check_layer(Conv2D, kwargs, input_shape, expected)


def test_conv2d_kernel_layout_matches_keras():
    layer = Conv2D(4, (3, 2), use_bias=False)
    x = torch.randn(2, 6, 5, 3)
    y = layer(x)
    kernel = layer.get_weights()[0]
    assert kernel.shape == (3, 2, 3, 4)
    # Direct channels_last correlation with the Keras kernel.
    xn = x.numpy()
    expected = np.zeros((2, 4, 4, 4), np.float32)
    for i in range(4):
        for j in range(4):
            expected[:, i, j, :] = np.einsum("nhwc,hwco->no", xn[:, i:i + 3, j:j + 2, :], kernel)
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-5, atol=1e-5)


def test_conv_none_spatial_dims():
    assert Conv2D(2, 3, strides=2, padding="same").compute_output_shape((None, None, 7, 3)) == (None, None, 4, 2)
    layer = Conv2D(2, 3, strides=2, padding="same")
    for size in (5, 6, 7):  # 'same' pads are recomputed per input size
        assert layer(torch.randn(1, size, size, 3)).shape == (1, (size + 1) // 2, (size + 1) // 2, 2)


def test_same_pads_rule():
    assert same_pads(7, 2, 1) == (0, 1)
    assert same_pads(8, 3, 2) == (0, 1)
    assert same_pads(7, 3, 2) == (1, 1)
    assert same_pads(7, 4, 2) == (1, 2)
    assert same_pads(5, 1, 2) == (0, 0)


def test_conv3d_shapes():
    check_layer(Conv3D, {"filters": 2, "kernel_size": 2}, (2, 4, 4, 4, 3), (2, 3, 3, 3, 2))
    check_layer(Conv3D, {"filters": 2, "kernel_size": 3, "padding": "same", "strides": 2}, (1, 5, 4, 3, 2),
                (1, 3, 2, 2, 2))


@pytest.mark.parametrize("kwargs,input_shape,expected", [
    ({"filters": 3, "kernel_size": 3}, (2, 5, 5, 2), (2, 7, 7, 3)),
    ({"filters": 3, "kernel_size": 3, "strides": 2}, (2, 5, 4, 2), (2, 11, 9, 3)),
    ({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 5, 4, 2), (2, 10, 8, 3)),
    ({"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"}, (2, 5, 5, 2), (2, 10, 10, 3)),
    ({"filters": 3, "kernel_size": 2, "strides": 3}, (2, 4, 4, 2), (2, 12, 12, 3)),
    ({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": 0}, (2, 5, 5, 2),
     (2, 9, 9, 3)),
    ({"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": (1, 0)}, (2, 5, 5, 2), (2, 12, 11, 3)),
    ({"filters": 3, "kernel_size": 3, "dilation_rate": 2, "padding": "same"}, (2, 5, 5, 2), (2, 5, 5, 3)),
])
def test_conv2d_transpose_shapes(kwargs, input_shape, expected):
    check_layer(Conv2DTranspose, kwargs, input_shape, expected)


def test_conv2d_transpose_layout_and_errors():
    layer = Conv2DTranspose(5, 3)
    layer(torch.randn(1, 4, 4, 2))
    assert [w.shape for w in layer.weights] == [(3, 3, 5, 2), (5,)]
    assert layer.get_config()["output_padding"] is None
    with pytest.raises(ValueError, match="output padding"):
        Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="groups"):
        Conv2DTranspose(2, 3, groups=2)


@pytest.mark.parametrize("kwargs,input_shape,expected", [
    ({"kernel_size": 3}, (2, 6, 6, 3), (2, 4, 4, 3)),
    ({"kernel_size": 3, "depth_multiplier": 2, "padding": "same"}, (2, 6, 6, 3), (2, 6, 6, 6)),
    ({"kernel_size": 2, "strides": 2, "padding": "same", "use_bias": False}, (2, 7, 6, 3), (2, 4, 3, 3)),
])
def test_depthwise_conv2d_shapes(kwargs, input_shape, expected):
    check_layer(DepthwiseConv2D, kwargs, input_shape, expected)


def test_depthwise_channel_order_is_keras():
    layer = DepthwiseConv2D(1, depth_multiplier=2, use_bias=False)
    x = torch.randn(1, 2, 2, 3)
    layer(x)
    kernel = np.arange(1.0, 7.0, dtype=np.float32).reshape(1, 1, 3, 2)
    layer.set_weights([kernel])
    y = layer(x).detach().numpy()
    for i in range(3):
        for m in range(2):
            np.testing.assert_allclose(y[..., i * 2 + m], x.numpy()[..., i] * kernel[0, 0, i, m], rtol=1e-6)
    np.testing.assert_array_equal(layer.get_weights()[0], kernel)


@pytest.mark.parametrize("kwargs,input_shape,expected", [
    ({"filters": 4, "kernel_size": 3}, (2, 6, 6, 3), (2, 4, 4, 4)),
    ({"filters": 4, "kernel_size": 2, "depth_multiplier": 2, "strides": 2, "padding": "same"}, (2, 7, 7, 3),
     (2, 4, 4, 4)),
    ({"filters": 4, "kernel_size": 3, "dilation_rate": 2, "activation": "relu"}, (2, 7, 7, 3), (2, 3, 3, 4)),
])
def test_separable_conv2d_shapes(kwargs, input_shape, expected):
    check_layer(SeparableConv2D, kwargs, input_shape, expected)


def test_separable_conv2d_weights():
    layer = SeparableConv2D(4, 3, depth_multiplier=2)
    layer(torch.randn(1, 5, 5, 3))
    assert [w.name.split("/")[1] for w in layer.weights] == ["depthwise_kernel:0", "pointwise_kernel:0", "bias:0"]
    assert [w.shape for w in layer.weights] == [(3, 3, 3, 2), (1, 1, 6, 4), (4,)]


def test_separable_conv1d_shapes():
    check_layer(SeparableConv1D, {"filters": 3, "kernel_size": 3, "padding": "same", "strides": 2}, (2, 9, 2),
                (2, 5, 3))


def test_conv_configs_from_tf_keras():
    with open("tests/fixtures/keras2/cnn.json") as f:
        layers = json.load(f)["config"]["layers"]
    config = layers[1]["config"]
    layer = Conv2D.from_config(config)
    assert (layer.filters, layer.kernel_size, layer.padding) == (8, (3, 3), "same")
    ours = json.loads(json.dumps(layer.get_config()))
    assert set(ours) == set(config)
    # tf-keras configs of depthwise/separable convs carry the base conv's unused keys.
    sep = SeparableConv2D.from_config({"filters": 2, "kernel_size": [3, 3], "groups": 1,
                                       "kernel_initializer": {"class_name": "GlorotUniform", "config": {}},
                                       "kernel_regularizer": None, "kernel_constraint": None})
    assert sep.filters == 2
    dw = DepthwiseConv2D.from_config(json.loads(json.dumps(DepthwiseConv2D(3).get_config())))
    assert dw.kernel_size == (3, 3)


def test_conv_argument_errors():
    with pytest.raises(ValueError, match="data_format"):
        Conv2D(2, 3, data_format="channels_middle")
    with pytest.raises(ValueError, match="padding"):
        Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="dilation_rate"):
        Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="groups"):
        Conv2D(3, 3, groups=2)
    with pytest.raises(ValueError, match="channels"):
        Conv2D(4, 3, groups=2)(torch.randn(1, 5, 5, 3))


def test_conv_regularizers_and_constraints():
    layer = Conv2D(2, 3, kernel_regularizer="l2", kernel_constraint="non_neg")
    layer(torch.randn(1, 4, 4, 1))
    kernel = layer.get_weights()[0]
    (penalty,) = layer.losses
    assert float(penalty.detach()) == pytest.approx(0.01 * float((kernel ** 2).sum()), rel=1e-5)
    assert layer.weights[0].constraint is not None


def test_conv_uses_no_copy_for_channels_last_input():
    layer = Conv2D(8, 3, padding="same")
    x = torch.randn(2, 6, 6, 4)
    y = layer(x)
    assert y.is_contiguous()  # NHWC result, viewed back from a channels_last conv output
    ref = F.conv2d(x.permute(0, 3, 1, 2).contiguous(), layer.kernel, layer.bias, padding=1).permute(0, 2, 3, 1)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("kernel_size,strides,dilation_rate,groups", [
    (3, 1, 1, 1), (4, 1, 1, 2), (1, 1, 1, 1), (4, 2, 1, 1), (3, 3, 1, 2), (3, 1, 2, 1), (2, 1, 3, 2)])
def test_conv1d_as_one_row_images_equals_torch_conv1d(padding, kernel_size, strides, dilation_rate, groups):
    # On the CPU, Conv1D runs as a one-row image convolution in channels_last memory (no layout copies); the
    # numbers and gradients are conv1d's on the (batch, channels, steps) view, padded by TF's rules.
    layer = Conv1D(6, kernel_size, strides=strides, padding=padding, dilation_rate=dilation_rate, groups=groups,
                   activation="tanh")
    x = torch.randn(3, 11, 4, requires_grad=True)
    y = layer(x)
    assert y.is_contiguous()
    view = x.permute(0, 2, 1)
    total = (kernel_size - 1) * dilation_rate
    if padding == "causal":
        view = F.pad(view, (total, 0))
    elif padding == "same":
        before, after = same_pads(11, kernel_size, strides, dilation_rate)
        view = F.pad(view, (before, after))
    ref = torch.tanh(F.conv1d(view, layer.kernel, layer.bias, strides, 0, dilation_rate, groups)).permute(0, 2, 1)
    assert y.shape == ref.shape == layer.compute_output_shape((3, 11, 4))
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-6)
    seed = torch.randn_like(ref)
    for got, want in zip(torch.autograd.grad((y * seed).sum(), [x, layer.kernel, layer.bias]),
                         torch.autograd.grad((ref * seed).sum(), [x, layer.kernel, layer.bias])):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls,kwargs,input_shape,expected", [
    (Conv1D, {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (2, 3, 9), (2, 4, 9)),
    (Conv1D, {"filters": 4, "kernel_size": 4, "strides": 2, "padding": "same"}, (2, 3, 9), (2, 4, 5)),
    (Conv2D, {"filters": 5, "kernel_size": (4, 2), "strides": (2, 3), "padding": "same"}, (2, 3, 9, 7), (2, 5, 5, 3)),
    (Conv2D, {"filters": 6, "kernel_size": 3, "groups": 3}, (2, 3, 6, 6), (2, 6, 4, 4)),
    (Conv3D, {"filters": 2, "kernel_size": 3, "padding": "same", "strides": 2}, (1, 2, 5, 4, 3), (1, 2, 3, 2, 2)),
    (Conv2DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": (1, 0)}, (2, 2, 5, 5),
     (2, 3, 12, 11)),
    (DepthwiseConv2D, {"kernel_size": 3, "depth_multiplier": 2, "padding": "same"}, (2, 3, 6, 6), (2, 6, 6, 6)),
    (SeparableConv2D, {"filters": 4, "kernel_size": 2, "strides": 2, "padding": "same"}, (2, 3, 7, 7), (2, 4, 4, 4)),
    (SeparableConv1D, {"filters": 3, "kernel_size": 3, "padding": "causal"}, (2, 2, 9), (2, 3, 9)),
])
def test_channels_first_shapes(cls, kwargs, input_shape, expected):
    check_layer(cls, dict(kwargs, data_format="channels_first"), input_shape, expected)


@pytest.mark.parametrize("cls,kwargs,input_shape,expected", [
    (Conv1DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2}, (2, 5, 2), (2, 11, 3)),
    (Conv1DTranspose, {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same",
                       "data_format": "channels_first"}, (2, 2, 5), (2, 3, 10)),
    (Conv3DTranspose, {"filters": 2, "kernel_size": 3}, (2, 3, 4, 2, 3), (2, 5, 6, 4, 2)),
    (Conv3DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 3, 4, 2, 3),
     (2, 6, 8, 4, 2)),
    (Conv3DTranspose, {"filters": 2, "kernel_size": 2, "strides": (3, 1, 2)}, (2, 3, 4, 2, 3), (2, 9, 5, 4, 2)),
    (Conv3DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1,
                       "data_format": "channels_first"}, (2, 3, 3, 4, 2), (2, 2, 8, 10, 6)),
])
def test_conv_transpose_1d_3d_shapes(cls, kwargs, input_shape, expected):
    check_layer(cls, kwargs, input_shape, expected)


def test_conv3d_transpose_weights_and_errors():
    layer = Conv3DTranspose(5, (3, 2, 1))
    layer(torch.randn(1, 4, 4, 4, 2))
    assert [w.shape for w in layer.weights] == [(3, 2, 1, 5, 2), (5,)]
    assert isinstance(layer, Conv3D) and isinstance(Conv2DTranspose(1, 1), Conv2D)
    with pytest.raises(ValueError, match="output padding"):
        Conv3DTranspose(2, 3, strides=2, output_padding=(1, 2, 0))
    with pytest.raises(ValueError, match="causal"):
        Conv1DTranspose(2, 3, padding="causal")
    with pytest.raises(ValueError, match="ndim"):
        Conv3DTranspose(2, 3)(torch.randn(1, 4, 4, 2))


def test_channels_first_runs_torch_layout_directly():
    layer = Conv2D(8, 3, padding="same", data_format="channels_first")
    x = torch.randn(2, 4, 6, 6)
    y = layer(x)
    ref = F.conv2d(x, layer.kernel, layer.bias, padding=1)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-6)
    # On CPU the result keeps channels_last memory (faster oneDNN kernels for the layers after it).
    assert y.shape == (2, 8, 6, 6) and y.is_contiguous(memory_format=torch.channels_last)
    # The Keras kernel is the same array whatever the data format.
    last = Conv2D(8, 3, padding="same")
    last(x.permute(0, 2, 3, 1))
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(last(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).detach().numpy(),
                               y.detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="axis 1"):
        Conv2D(2, 3, data_format="channels_first").build((None, None, 5, 5))


def test_convolutional_module_keeps_keras2_names():
    from fitgen.layers import convolutional
    for name in ("Convolution3D", "Deconvolution2D", "Deconvolution3D", "Conv3DTranspose", "MaxPooling3D",
                 "AveragePooling3D", "UpSampling3D", "ZeroPadding3D", "Cropping3D", "Convolution2DTranspose"):
        assert hasattr(convolutional, name), name
    assert convolutional.Deconvolution3D is Conv3DTranspose


@pytest.mark.parametrize("layer, short, long", [
    (lambda: Conv1D(4, 3), (2, 2, 3), (2, 3, 3)), (lambda: Conv1D(4, 2, dilation_rate=3), (2, 3, 3), (2, 4, 3)),
    (lambda: Conv1D(4, 3, data_format="channels_first"), (2, 3, 2), (2, 3, 3)),
    (lambda: Conv2D(4, 3), (1, 2, 5, 3), (1, 3, 5, 3)), (lambda: Conv3D(2, 2), (1, 1, 4, 4, 2), (1, 2, 4, 4, 2))])
def test_an_input_shorter_than_the_window_gets_keras_error(layer, short, long):
    from fitgen.layers import Input
    message = "One of the dimensions in the output is <= 0 due to downsampling"
    with pytest.raises(ValueError, match=message):
        layer()(torch.zeros(short))
    with pytest.raises(ValueError, match=message):
        layer()(Input(short[1:]))
    assert layer()(torch.zeros(long)).shape[0] == long[0]  # one step longer: an output of size 1
