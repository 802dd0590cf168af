"""Convolution layers: Conv1D, Conv2D, Conv3D, Conv2DTranspose, SeparableConv1D/2D, DepthwiseConv2D.

Inputs and outputs are channels_last `(N, *spatial, C)`. Each call views the input as channels-first with
a zero-copy `permute` (a channels_last-memory NCHW tensor, which torch's convolutions take as is) and
views the result back. Kernels are stored in torch's layout and exposed in Keras's through `Layout`s:

=================  ========================  ==============================
layer              Keras kernel              torch weight
=================  ========================  ==============================
Conv2D             (kh, kw, in/groups, out)  (out, in/groups, kh, kw)
Conv2DTranspose    (kh, kw, out, in)         (in, out, kh, kw)
DepthwiseConv2D    (kh, kw, in, dm)          (in*dm, 1, kh, kw), channel i*dm+m
=================  ========================  ==============================

'same' padding follows TensorFlow: `pad_total = max((ceil(n/s) - 1)*s + (k-1)*d + 1 - n, 0)`, with
`pad_total // 2` before and the rest (one more when odd) after.
"""
import math

import torch.nn.functional as F

from fitgen import activations, constraints, initializers, regularizers
from fitgen.engine.base_layer import Layer, Layout, Permute

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
TO_CHANNELS_FIRST = {1: (0, 2, 1), 2: (0, 3, 1, 2), 3: (0, 4, 1, 2, 3)}
TO_CHANNELS_LAST = {1: (0, 2, 1), 2: (0, 2, 3, 1), 3: (0, 2, 3, 4, 1)}


# ------------------------------------------------------------------------------------ shape helpers
def normalize_tuple(value, n, name, allow_zero=False):
    """An int or an iterable of `n` ints, as a tuple of `n` ints (positive unless `allow_zero`)."""
    if isinstance(value, int):
        result = (value,) * n
    else:
        try:
            result = tuple(value)
        except TypeError:
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received: {name}={value!r}")
        if len(result) != n or not all(isinstance(v, int) for v in result):
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received: {name}={value!r}")
    low = 0 if allow_zero else 1
    if any(v < low for v in result):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} {'non-negative' if allow_zero else 'positive'}"
                         f" integers. Received: {name}={value!r}")
    return result


def normalize_padding(value, allowed=("valid", "same")):
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        raise ValueError(f"The `padding` argument must be one of {', '.join(repr(a) for a in allowed)}. "
                         f"Received: padding={value!r}")
    return padding


def check_data_format(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"fitgen layers work on channels_last tensors (Keras's default layout). Expected "
                         f"data_format=None or 'channels_last'; received data_format={data_format!r}.")
    return "channels_last"


def conv_output_length(length, kernel, padding, stride, dilation=1):
    """Output length of a convolution or pooling window along one axis (None stays None)."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding in ("same", "causal"):
        out = length
    elif padding == "valid":
        out = length - effective + 1
    else:  # full
        out = length + effective - 1
    return (out + stride - 1) // stride


def deconv_output_length(length, kernel, padding, output_padding, stride, dilation=1):
    """Output length of a transposed convolution along one axis, as tf-keras computes it."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(effective - stride, 0)
        if padding == "full":
            return length * stride - (stride + effective - 2)
        return length * stride
    pad = {"same": effective // 2, "valid": 0, "full": effective - 1}[padding]
    return (length - 1) * stride + effective - 2 * pad + output_padding


def same_pads(length, kernel, stride, dilation=1):
    """TensorFlow's 'same' padding of one axis: (before, after), the extra one after."""
    total = max((math.ceil(length / stride) - 1) * stride + (kernel - 1) * dilation + 1 - length, 0)
    return total // 2, total - total // 2


class SamePadding:
    """How to apply TF 'same' padding to inputs of given spatial sizes, cached per size.

    Returns `(padding, pads)`: when every axis pads symmetrically, `padding` is the per-axis amount for the
    torch op itself and `pads` is empty; otherwise `padding` is 0 and `pads` is the F.pad argument.
    """

    def __init__(self, kernel_size, strides, dilation_rate=None):
        self.kernel_size = kernel_size
        self.strides = strides
        self.dilation_rate = dilation_rate or (1,) * len(kernel_size)
        self._cache = {}

    def __call__(self, spatial):
        pads = self._cache.get(spatial)
        if pads is None:
            pairs = [same_pads(n, k, s, d) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate)]
            if all(before == after for before, after in pairs):
                pads = (tuple(before for before, _ in pairs), ())
            else:
                pads = (0, tuple(p for pair in reversed(pairs) for p in pair))
            self._cache[spatial] = pads
        return pads


class DepthwiseLayout(Layout):
    """Keras depthwise kernel (kh, kw, in, dm) <-> torch grouped weight (in*dm, 1, kh, kw)."""

    def __init__(self, rank, in_channels):
        self.rank = rank
        self.in_channels = in_channels

    def to_keras(self, tensor):
        kernel = tensor.permute(tuple(range(2, 2 + self.rank)) + (0, 1))  # (*k, in*dm, 1)
        return kernel.reshape(tuple(kernel.shape[:self.rank]) + (self.in_channels, -1))

    def from_keras(self, tensor):
        spatial = tuple(tensor.shape[:self.rank])
        kernel = tensor.reshape(spatial + (tensor.shape[-2] * tensor.shape[-1], 1))
        return kernel.permute((self.rank, self.rank + 1) + tuple(range(self.rank))).contiguous()

    def torch_shape(self, keras_shape):
        return (keras_shape[-2] * keras_shape[-1], 1) + tuple(keras_shape[:self.rank])


def _kernel_layout(rank):
    # Keras (*k, in, out) -> torch (out, in, *k)
    return Permute((rank + 1, rank) + tuple(range(rank)))


# --------------------------------------------------------------------------------------- layers
class Conv(Layer):
    """Base of the N-D convolutions (`rank` 1, 2 or 3); see Conv2D for the arguments."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        rank = self.rank
        self.filters = int(filters) if filters is not None else None
        if self.filters is not None and self.filters <= 0:
            raise ValueError(f"Invalid value for argument `filters`. Expected a strictly positive value. "
                             f"Received filters={filters}.")
        self.groups = groups or 1
        if self.filters is not None and self.filters % self.groups:
            raise ValueError(f"The number of filters must be evenly divisible by the number of groups. Received: "
                             f"groups={groups}, filters={filters}.")
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size")
        self.strides = normalize_tuple(strides, rank, "strides")
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = normalize_padding(padding, ("valid", "same", "causal") if rank == 1 else ("valid", "same"))
        if self.padding == "causal" and type(self).__name__.startswith("Separable"):
            raise ValueError("Causal padding is only supported for `Conv1D`. Received: padding='causal'")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
                             f"strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.data_format = check_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._setup_padding()

    def _setup_padding(self):
        # With stride 1, 'same' pads (k-1)*d in total whatever the input size: when that is even on every axis
        # the padding is symmetric and the convolution does it itself.
        self._torch_padding, self._same_pads, self._causal_pad = 0, None, None
        totals = [(k - 1) * d for k, d in zip(self.kernel_size, self.dilation_rate)]
        if self.padding == "causal":
            self._causal_pad = ((self.kernel_size[0] - 1) * self.dilation_rate[0], 0)
        elif self.padding == "same":
            if max(self.strides) == 1 and all(t % 2 == 0 for t in totals):
                self._torch_padding = tuple(t // 2 for t in totals)
            else:
                self._same_pads = SamePadding(self.kernel_size, self.strides, self.dilation_rate)

    def _input_channels(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"The channel dimension of the inputs should be defined. The input_shape received is "
                             f"{tuple(input_shape)}, where axis -1 (channels_last) has value None.")
        return channels

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"The number of input channels must be evenly divisible by the number of groups. "
                             f"Received groups={self.groups}, but the input has {channels} channels (full input "
                             f"shape is {tuple(input_shape)}).")
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels // self.groups, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, layout=_kernel_layout(self.rank))
        self._build_bias(self.filters)

    def _add_depthwise_kernel(self, input_shape):
        """The (k..., in, depth_multiplier) kernel of depthwise and separable convolutions; returns `in`."""
        channels = self._input_channels(input_shape)
        self.groups_ = channels
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", self.kernel_size + (channels, self.depth_multiplier),
            initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint, layout=DepthwiseLayout(self.rank, channels))
        return channels

    def _build_bias(self, size):
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (size,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self._conv = _CONV[self.rank]
        self._to_first, self._to_last = TO_CHANNELS_FIRST[self.rank], TO_CHANNELS_LAST[self.rank]
        self.built = True

    def _pad(self, x):
        """The channels-first input, padded where torch cannot, and the `padding` for the torch op."""
        if self._same_pads is not None:
            padding, pads = self._same_pads(x.shape[2:])
            return (F.pad(x, pads) if pads else x), padding
        if self._causal_pad is not None:
            return F.pad(x, self._causal_pad), 0
        return x, self._torch_padding

    def call(self, inputs):
        x, padding = self._pad(inputs.permute(self._to_first))
        x = self._conv(x, self.kernel, self.bias, self.strides, padding, self.dilation_rate, self.groups)
        return self.activation(x.permute(self._to_last))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        spatial = tuple(conv_output_length(n, k, self.padding, s, d) for n, k, s, d in
                        zip(input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate))
        return (input_shape[0],) + spatial + (self.filters,)

    def _base_config(self):
        return {
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "groups": self.groups, "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }

    def get_config(self):
        config = super().get_config()
        config.update(self._base_config())
        return config


class Conv1D(Conv):
    """1-D convolution over `(batch, steps, channels)`; kernel `(k, in/groups, filters)`.

    Same arguments as `Conv2D` with single ints; `padding` may also be `'causal'` (output step t sees
    only inputs up to t: left padding of `(kernel_size - 1) * dilation_rate`).
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format="channels_last",
                 dilation_rate=1, groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2D(Conv):
    """2-D convolution over channels_last images `(batch, rows, cols, channels)`.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints (default 1).
        padding: 'valid' or 'same' (TensorFlow's rule: the extra padding goes at the end).
        data_format: None or 'channels_last' (channels_first is not supported).
        dilation_rate: int or tuple of 2 ints; cannot be combined with strides > 1.
        groups: number of channel groups (input channels and filters must be divisible by it).
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as for `Dense`.

    Weights: kernel `(kh, kw, in/groups, filters)`, bias `(filters,)` in `get_weights()`.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv3D(Conv):
    """3-D convolution over `(batch, d1, d2, d3, channels)`; same arguments as `Conv2D` with 3-tuples."""

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2DTranspose(Conv2D):
    """Transposed 2-D convolution ("deconvolution"), with tf-keras's output shape and padding.

    Output size per axis: `n * s + max(k - s, 0)` ('valid') or `n * s` ('same') without `output_padding`;
    with it, `(n - 1) * s + k - 2 * pad + output_padding` (pad = k // 2 for 'same', 0 for 'valid').

    Args:
        output_padding: None, or int / tuple of 2 ints, each smaller than the stride.
        Others as `Conv2D`. Weights: kernel `(kh, kw, filters, in)`, bias `(filters,)`.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 groups=1, **kwargs):
        if groups not in (1, None):
            raise ValueError(f"Conv2DTranspose does not support groups; expected groups=1, received groups={groups}.")
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = normalize_tuple(output_padding, 2, "output_padding", allow_zero=True)
            for stride, pad in zip(self.strides, self.output_padding):
                if pad >= stride:
                    raise ValueError(f"Strides must be greater than output padding. Received strides={self.strides}, "
                                     f"output_padding={self.output_padding}.")
        self._setup_padding()

    def _setup_padding(self):
        # tf-keras's output is the full transposed convolution cropped by the forward conv's 'same'/'valid'
        # pads; torch crops `padding` on both sides and extends the end by `output_padding`: a static mapping.
        self._torch_padding, self._torch_output_padding, self._crop_end = [], [], []
        for i, (k, s, d) in enumerate(zip(self.kernel_size, self.strides, self.dilation_rate)):
            effective = (k - 1) * d + 1
            user_pad = None if getattr(self, "output_padding", None) is None else self.output_padding[i]
            n = 8  # any input length: the pads do not depend on it
            out = deconv_output_length(n, k, self.padding, user_pad, s, d)
            full = (n - 1) * s + effective
            before = 0 if self.padding == "valid" else max(full - out, 0) // 2
            extra = out - (full - 2 * before)
            self._torch_padding.append(before)
            self._torch_output_padding.append(max(extra, 0))
            self._crop_end.append(max(-extra, 0))
        self._torch_padding = tuple(self._torch_padding)
        self._torch_output_padding = tuple(self._torch_output_padding)
        self._crop = any(self._crop_end)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, channels),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, layout=Permute((3, 2, 0, 1)))
        self._build_bias(self.filters)

    def call(self, inputs):
        x = F.conv_transpose2d(inputs.permute(0, 3, 1, 2), self.kernel, self.bias, self.strides,
                               self._torch_padding, self._torch_output_padding, 1, self.dilation_rate)
        if self._crop:
            x = x[:, :, :x.shape[2] - self._crop_end[0], :x.shape[3] - self._crop_end[1]]
        return self.activation(x.permute(0, 2, 3, 1))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        pads = self.output_padding or (None, None)
        spatial = tuple(deconv_output_length(n, k, self.padding, p, s, d) for n, k, p, s, d in
                        zip(input_shape[1:3], self.kernel_size, pads, self.strides, self.dilation_rate))
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config["output_padding"] = self.output_padding
        return config


class DepthwiseConv2D(Conv2D):
    """Depthwise 2-D convolution: each input channel convolved with `depth_multiplier` own filters.

    Output channel `i * depth_multiplier + m` comes from input channel `i`, as in Keras. Weights:
    depthwise_kernel `(kh, kw, in, depth_multiplier)`, bias `(in * depth_multiplier,)`.
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        _pop_unused_conv_keys(kwargs)
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate, 1, activation, use_bias,
                         "glorot_uniform", bias_initializer, None, bias_regularizer, activity_regularizer, None,
                         bias_constraint, **kwargs)
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)

    def build(self, input_shape):
        channels = self._add_depthwise_kernel(input_shape)
        self._build_bias(channels * self.depth_multiplier)

    def call(self, inputs):
        x, padding = self._pad(inputs.permute(0, 3, 1, 2))
        x = F.conv2d(x, self.depthwise_kernel, self.bias, self.strides, padding, self.dilation_rate,
                     self.groups_)
        return self.activation(x.permute(0, 2, 3, 1))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        shape = super().compute_output_shape(input_shape)
        channels = None if input_shape[-1] is None else input_shape[-1] * self.depth_multiplier
        return shape[:-1] + (channels,)

    def get_config(self):
        config = Layer.get_config(self)
        base = self._base_config()
        for key in ("filters", "kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            base.pop(key)
        config.update(base)
        config.update({"depth_multiplier": self.depth_multiplier,
                       "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                       "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                       "depthwise_constraint": constraints.serialize(self.depthwise_constraint)})
        return config


class SeparableConv(Conv):
    """Depthwise convolution followed by a pointwise (1x1) one; base of SeparableConv1D/2D."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        _pop_unused_conv_keys(kwargs)
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, "glorot_uniform", bias_initializer, None, bias_regularizer,
                         activity_regularizer, None, bias_constraint, **kwargs)
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        channels = self._add_depthwise_kernel(input_shape)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, layout=_kernel_layout(self.rank))
        self._build_bias(self.filters)

    def call(self, inputs):
        x, padding = self._pad(inputs.permute(self._to_first))
        x = self._conv(x, self.depthwise_kernel, None, self.strides, padding, self.dilation_rate,
                       self.groups_)
        x = self._conv(x, self.pointwise_kernel, self.bias)
        return self.activation(x.permute(self._to_last))

    def get_config(self):
        config = super().get_config()
        config.update({"depth_multiplier": self.depth_multiplier,
                       "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                       "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                       "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                       "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
                       "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
                       "pointwise_constraint": constraints.serialize(self.pointwise_constraint)})
        return config


class SeparableConv1D(SeparableConv):
    """Depthwise-separable 1-D convolution; see `SeparableConv2D`."""

    rank = 1


class SeparableConv2D(SeparableConv):
    """Depthwise-separable 2-D convolution: a depthwise conv (strides, padding and dilation apply to it)
    then a 1x1 conv to `filters` channels.

    Weights: depthwise_kernel `(kh, kw, in, depth_multiplier)`, pointwise_kernel
    `(1, 1, in * depth_multiplier, filters)`, bias `(filters,)`.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


def _pop_unused_conv_keys(kwargs):
    # tf-keras configs of depthwise/separable convs carry the base Conv's keys; they do not change behaviour.
    for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint", "filters"):
        kwargs.pop(key, None)
    groups = kwargs.pop("groups", 1)
    if groups not in (1, None):
        raise ValueError(f"Depthwise and separable convolutions take no `groups`; received groups={groups}.")


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution2DTranspose = Conv2DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
DepthwiseConvolution2D = DepthwiseConv2D

# Keras 2.2 scripts import pooling, padding, cropping and upsampling from keras.layers.convolutional.
from fitgen.layers.pooling import (AveragePooling1D, AveragePooling2D, MaxPooling1D,  # noqa: E402,F401
                                   MaxPooling2D)
from fitgen.layers.reshaping import (Cropping1D, Cropping2D, UpSampling1D, UpSampling2D,  # noqa: E402,F401
                                     ZeroPadding1D, ZeroPadding2D)

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
           "Convolution1D", "Convolution2D", "Convolution3D", "Convolution2DTranspose", "SeparableConvolution1D",
           "SeparableConvolution2D", "DepthwiseConvolution2D", "AveragePooling1D", "AveragePooling2D",
           "MaxPooling1D", "MaxPooling2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D",
           "ZeroPadding1D", "ZeroPadding2D"]
