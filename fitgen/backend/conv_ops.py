"""Keras 2 backend convolutions and pooling on Keras-layout tensors and kernels.

Inputs are channels_last unless `data_format` (or `image_data_format()`) says channels_first; kernels are in
Keras's layout (`(kh, kw, in, out)`; transposed convolutions `(kh, kw, out, in)`; depthwise
`(kh, kw, in, multiplier)`). 'same' padding is TensorFlow's: the odd extra row/column goes after. Average
pooling with 'same' padding leaves the padding out of each window's count, as TensorFlow does.
"""
import itertools
import math

import torch
import torch.nn.functional as F

from fitgen.backend.conversion import data_format_arg, floating, to_tensor
from fitgen.backend.dispatch import keras_op

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _tuple(value, rank, name):
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise ValueError(f"`{name}` must be an int or {rank} ints. Received: {name}={value!r}")
    return value


def _padding(padding, allowed=("valid", "same")):
    value = str(padding).lower()
    if value not in allowed:
        raise ValueError(f"Invalid padding: {padding!r}. Expected one of {allowed}.")
    return value


def _to_first(x, rank, data_format):
    return x if data_format == "channels_first" else x.movedim(-1, 1)


def _to_format(x, data_format):
    return x if data_format == "channels_first" else x.movedim(1, -1)


def _same_pads(length, kernel, stride, dilation):
    total = max((math.ceil(length / stride) - 1) * stride + (kernel - 1) * dilation + 1 - length, 0)
    return total // 2, total - total // 2


def _pad_same(x, kernel, strides, dilation, value=0.0):
    pairs = [_same_pads(n, k, s, d) for n, k, s, d in zip(x.shape[2:], kernel, strides, dilation)]
    spec = [p for pair in reversed(pairs) for p in pair]
    return F.pad(x, spec, value=value) if any(spec) else x


def _check_rank(x, rank, function):
    if x.dim() != rank + 2:
        raise ValueError(f"{function} expects a {rank + 2}-D input (batch, {rank} spatial axes, channels). "
                         f"Received shape {tuple(x.shape)}.")


def _conv(x, kernel, rank, strides, padding, data_format, dilation_rate, groups=1, function="conv"):
    x = floating(x)
    _check_rank(x, rank, function)
    data_format = data_format_arg(data_format)
    strides = _tuple(strides, rank, "strides")
    dilation = _tuple(dilation_rate, rank, "dilation_rate")
    padding = _padding(padding, ("valid", "same", "causal") if rank == 1 else ("valid", "same"))
    weight = kernel.permute((rank + 1, rank) + tuple(range(rank)))  # (k..., in, out) -> (out, in, k...)
    x = _to_first(x, rank, data_format)
    if padding == "same":
        x = _pad_same(x, weight.shape[2:], strides, dilation)
    elif padding == "causal":
        x = F.pad(x, (dilation[0] * (weight.shape[2] - 1), 0))
    out = _CONV[rank](x, weight.to(device=x.device, dtype=x.dtype), None, strides, 0, dilation, groups)
    return _to_format(out, data_format)


@keras_op("K.conv1d")
def conv1d(x, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """1-D convolution of `(batch, steps, channels)` by a `(kernel_size, in, out)` kernel; padding may be 'causal'."""
    return _conv(x, to_tensor(kernel), 1, strides, padding, data_format, dilation_rate, function="conv1d")


@keras_op("K.conv2d")
def conv2d(x, kernel, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1)):
    """2-D convolution by a `(kh, kw, in, out)` kernel."""
    return _conv(x, to_tensor(kernel), 2, strides, padding, data_format, dilation_rate, function="conv2d")


@keras_op("K.conv3d")
def conv3d(x, kernel, strides=(1, 1, 1), padding="valid", data_format=None, dilation_rate=(1, 1, 1)):
    """3-D convolution by a `(kd, kh, kw, in, out)` kernel."""
    return _conv(x, to_tensor(kernel), 3, strides, padding, data_format, dilation_rate, function="conv3d")


def _depthwise_weight(depthwise_kernel, rank):
    # (k..., in, multiplier) -> (in * multiplier, 1, k...): output channel c * multiplier + m, as TensorFlow.
    kernel = to_tensor(depthwise_kernel)
    channels, multiplier = kernel.shape[rank], kernel.shape[rank + 1]
    weight = kernel.permute((rank, rank + 1) + tuple(range(rank)))
    return weight.reshape((channels * multiplier, 1) + tuple(kernel.shape[:rank])), channels


def _depthwise(x, depthwise_kernel, rank, strides, padding, data_format, dilation_rate, function):
    x = floating(x)
    _check_rank(x, rank, function)
    data_format = data_format_arg(data_format)
    strides = _tuple(strides, rank, "strides")
    dilation = _tuple(dilation_rate, rank, "dilation_rate")
    padding = _padding(padding)
    weight, channels = _depthwise_weight(depthwise_kernel, rank)
    x = _to_first(x, rank, data_format)
    if padding == "same":
        x = _pad_same(x, weight.shape[2:], strides, dilation)
    out = _CONV[rank](x, weight.to(device=x.device, dtype=x.dtype), None, strides, 0, dilation, channels)
    return _to_format(out, data_format)


@keras_op("K.depthwise_conv2d")
def depthwise_conv2d(x, depthwise_kernel, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1)):
    """Per-channel 2-D convolution by a `(kh, kw, in, depth_multiplier)` kernel."""
    return _depthwise(x, depthwise_kernel, 2, strides, padding, data_format, dilation_rate, "depthwise_conv2d")


@keras_op("K.separable_conv2d")
def separable_conv2d(x, depthwise_kernel, pointwise_kernel, strides=(1, 1), padding="valid", data_format=None,
                     dilation_rate=(1, 1)):
    """Depthwise convolution, then a 1x1 convolution by `pointwise_kernel` `(1, 1, in * multiplier, out)`."""
    out = _depthwise(x, depthwise_kernel, 2, strides, padding, data_format, dilation_rate, "separable_conv2d")
    return _conv(out, to_tensor(pointwise_kernel), 2, 1, "valid", data_format, 1, function="separable_conv2d")


@keras_op("K.separable_conv1d")
def separable_conv1d(x, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                     dilation_rate=1):
    """1-D depthwise convolution, then a pointwise `(1, in * multiplier, out)` convolution."""
    out = _depthwise(x, depthwise_kernel, 1, strides, padding, data_format, dilation_rate, "separable_conv1d")
    return _conv(out, to_tensor(pointwise_kernel), 1, 1, "valid", data_format, 1, function="separable_conv1d")


def _conv_transpose(x, kernel, output_shape, rank, strides, padding, data_format, dilation_rate, function):
    x = floating(x)
    _check_rank(x, rank, function)
    data_format = data_format_arg(data_format)
    strides = _tuple(strides, rank, "strides")
    dilation = _tuple(dilation_rate, rank, "dilation_rate")
    padding = _padding(padding)
    kernel = to_tensor(kernel)
    weight = kernel.permute((rank + 1, rank) + tuple(range(rank)))  # (k..., out, in) -> (in, out, k...)
    output_shape = tuple(int(d) for d in (output_shape.tolist() if isinstance(output_shape, torch.Tensor)
                                          else output_shape))
    spatial = output_shape[2:] if data_format == "channels_first" else output_shape[1:-1]
    x = _to_first(x, rank, data_format)
    full = _CONV_T[rank](x, weight.to(device=x.device, dtype=x.dtype), None, strides, 0, 0, 1, dilation)
    # The transposed convolution is the gradient of a convolution whose input has `spatial` sizes: take the
    # window of the full result that such a convolution's padding selects (zeros where none reaches).
    for axis, (size, k, s, d) in enumerate(zip(spatial, weight.shape[2:], strides, dilation)):
        start = _same_pads(size, k, s, d)[0] if padding == "same" else 0
        dim = axis + 2
        available = full.shape[dim] - start
        if available < size:
            pad = [0, 0] * (full.dim() - dim - 1) + [0, size - available]
            full = F.pad(full, pad)
        full = full.narrow(dim, start, size)
    return _to_format(full, data_format)


@keras_op("K.conv2d_transpose")
def conv2d_transpose(x, kernel, output_shape, strides=(1, 1), padding="valid", data_format=None,
                     dilation_rate=(1, 1)):
    """Transposed 2-D convolution by a `(kh, kw, out, in)` kernel to `output_shape` (batch axis included)."""
    return _conv_transpose(x, kernel, output_shape, 2, strides, padding, data_format, dilation_rate,
                           "conv2d_transpose")


@keras_op("K.conv3d_transpose")
def conv3d_transpose(x, kernel, output_shape, strides=(1, 1, 1), padding="valid", data_format=None):
    """Transposed 3-D convolution by a `(kd, kh, kw, out, in)` kernel to `output_shape`."""
    return _conv_transpose(x, kernel, output_shape, 3, strides, padding, data_format, 1, "conv3d_transpose")


def _pool(x, rank, pool_size, strides, padding, data_format, pool_mode, function):
    x = floating(x)
    _check_rank(x, rank, function)
    data_format = data_format_arg(data_format)
    pool_size = _tuple(pool_size, rank, "pool_size")
    strides = _tuple(strides, rank, "strides")
    padding = _padding(padding)
    if pool_mode not in ("max", "avg"):
        raise ValueError(f"Invalid pool_mode: {pool_mode!r}. Expected 'max' or 'avg'.")
    x = _to_first(x, rank, data_format)
    if pool_mode == "max":
        if padding == "same":
            x = _pad_same(x, pool_size, strides, (1,) * rank, value=-float("inf"))
        out = _MAX[rank](x, pool_size, strides)
    elif padding == "same":
        # Average of the real cells only: pooled values over pooled counts of ones.
        ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
        sums = _AVG[rank](_pad_same(x, pool_size, strides, (1,) * rank), pool_size, strides)
        counts = _AVG[rank](_pad_same(ones, pool_size, strides, (1,) * rank), pool_size, strides)
        out = sums / counts
    else:
        out = _AVG[rank](x, pool_size, strides)
    return _to_format(out, data_format)


@keras_op("K.pool2d")
def pool2d(x, pool_size, strides=(1, 1), padding="valid", data_format=None, pool_mode="max"):
    """2-D max or average pooling (`pool_mode` 'max' or 'avg')."""
    return _pool(x, 2, pool_size, strides, padding, data_format, pool_mode, "pool2d")


@keras_op("K.pool3d")
def pool3d(x, pool_size, strides=(1, 1, 1), padding="valid", data_format=None, pool_mode="max"):
    """3-D max or average pooling."""
    return _pool(x, 3, pool_size, strides, padding, data_format, pool_mode, "pool3d")


def _local_conv(inputs, kernel, kernel_size, strides, output_shape, data_format, function):
    inputs = floating(inputs)
    kernel = to_tensor(kernel).to(device=inputs.device, dtype=inputs.dtype)
    rank = len(output_shape)
    _check_rank(inputs, rank, function)
    data_format = data_format_arg(data_format)
    kernel_size, strides = _tuple(kernel_size, rank, "kernel_size"), _tuple(strides, rank, "strides")
    patches = []
    for position in itertools.product(*[range(n) for n in output_shape]):
        window = tuple(slice(p * s, p * s + k) for p, s, k in zip(position, strides, kernel_size))
        # Each patch is flattened in the input's own axis order: (k..., channels) or (channels, k...).
        patch = inputs[(slice(None),) + window] if data_format == "channels_last" else \
            inputs[(slice(None), slice(None)) + window]
        patches.append(patch.reshape(inputs.shape[0], -1))
    out = torch.bmm(torch.stack(patches), kernel)  # (positions, batch, filters)
    out = out.permute(1, 0, 2).reshape((inputs.shape[0],) + tuple(output_shape) + (kernel.shape[-1],))
    return _to_format(out.movedim(-1, 1), data_format)


@keras_op("K.local_conv1d")
def local_conv1d(inputs, kernel, kernel_size, strides, data_format=None):
    """Unshared-weight 1-D convolution: `kernel` `(output_length, kernel_size * channels, filters)`."""
    kernel = to_tensor(kernel)
    return _local_conv(inputs, kernel, kernel_size, strides, (kernel.shape[0],), data_format, "local_conv1d")


@keras_op("K.local_conv2d")
def local_conv2d(inputs, kernel, kernel_size, strides, output_shape, data_format=None):
    """Unshared-weight 2-D convolution: `kernel` `(rows * cols, kh * kw * channels, filters)`, `output_shape`
    `(rows, cols)`."""
    return _local_conv(inputs, kernel, kernel_size, strides, tuple(int(d) for d in output_shape), data_format,
                       "local_conv2d")
