"""Convolution layers: Conv1D/2D/3D, Conv1D/2D/3DTranspose, SeparableConv1D/2D, DepthwiseConv2D.

Tensors follow the layer's `data_format`: channels_last `(N, *spatial, C)` (Keras's default) or
channels_first `(N, C, *spatial)`, which is torch's own layout and runs torch's kernels as is. A
channels_last call views the input as channels-first with a zero-copy `permute` (a channels_last-memory
NCHW tensor, which torch's convolutions take as is) and views the result back. Kernels are stored in
torch's layout and exposed in Keras's through `Layout`s, the same whatever the data format:

=================  ========================  ==============================
layer              Keras kernel              torch weight
=================  ========================  ==============================
Conv2D             (kh, kw, in/groups, out)  (out, in/groups, kh, kw)
Conv2DTranspose    (kh, kw, out, in)         (in, out, kh, kw)
DepthwiseConv2D    (kh, kw, in, dm)          (in*dm, 1, kh, kw), channel i*dm+m
=================  ========================  ==============================

'same' padding follows TensorFlow (see `fitgen.utils.conv_utils.same_pads`). Transposed convolutions have
tf-keras's output size per axis: `n * s + max(k - s, 0)` ('valid') or `n * s` ('same') without
`output_padding`; with it, `(n - 1) * s + k - 2 * pad + output_padding` (pad = k // 2 for 'same', 0 for
'valid'); `k` is the dilated kernel size. tf-keras's result is the full transposed convolution cropped by
the forward convolution's pads; torch crops `padding` on both sides and extends the end by
`output_padding`, so each axis maps to torch's arguments once, at construction, plus an end crop where
tf-keras crops more at the end than at the start.

Keras 2 scripts import the pooling, padding, cropping and upsampling layers from this module too.
"""
import torch
import torch.nn.functional as F

from fitgen import activations, constraints, initializers, regularizers
from fitgen.engine.base_layer import Layer, Layout, PermutedLayout
from fitgen.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, MaxPooling1D,  # noqa: F401
                                   MaxPooling2D, MaxPooling3D)
from fitgen.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D,  # noqa: F401
                                     UpSampling3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from fitgen.utils.conv_utils import (ChannelsAxis, SamePadding, check_output_positive, conv_output_length,
                                     deconv_output_length,
                                     normalize_data_format, normalize_padding, normalize_tuple)

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


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
    """Keras (*k, in, out) <-> torch (out, in, *k); also transposed kernels' (*k, out, in) <-> (in, out, *k)."""
    return PermutedLayout((rank + 1, rank) + tuple(range(rank)))


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
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
                             f"strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.data_format = normalize_data_format(data_format)
        self._axes = ChannelsAxis(rank, self.data_format)
        self._cpu_channels_last = rank == 2 and self._axes.channels_first
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
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: expected ndim="
                             f"{self.rank + 2}, found ndim={len(input_shape)}. Full shape received: "
                             f"{tuple(input_shape)}")
        channels = self._axes.channels(input_shape)
        if channels is None:
            raise ValueError(f"The channel dimension of the inputs should be defined. The input_shape received is "
                             f"{tuple(input_shape)}, where axis {self._axes.axis} ({self.data_format}) has value "
                             f"None.")
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
        self.built = True

    def _pad(self, x):
        """The channels-first input, padded where torch cannot, and the `padding` for the torch op."""
        if self._cpu_channels_last and x.device.type == "cpu" and \
                not x.is_contiguous(memory_format=torch.channels_last):
            # torch's CPU kernels (oneDNN convolutions, max pooling) are faster on channels_last memory, and
            # every layer after keeps that memory order: one copy here speeds up the whole channels_first
            # network, which then runs as a channels_last one does. GPUs keep NCHW, cuDNN's own layout.
            x = x.contiguous(memory_format=torch.channels_last)
        if self._same_pads is not None:
            padding, pads = self._same_pads(x.shape[2:])
            return (F.pad(x, pads) if pads else x), padding
        if self._causal_pad is not None:
            return F.pad(x, self._causal_pad), 0
        return x, self._torch_padding

    def call(self, inputs):
        try:
            outputs = self._convolve(inputs)
        except RuntimeError:
            self._output_spatial(tuple(inputs.shape))  # Keras's error when the input is shorter than the window
            raise
        return self.activation(outputs)

    def _convolve(self, inputs):
        """The convolution of Keras-layout `inputs`, in Keras layout, before the activation."""
        x, padding = self._pad(self._axes.to_torch(inputs))
        x = self._conv(x, self.kernel, self.bias, self.strides, padding, self.dilation_rate, self.groups)
        return self._axes.from_torch(x)

    def _output_spatial(self, input_shape):
        return check_output_positive(self, input_shape, tuple(
            conv_output_length(n, k, self.padding, s, d) for n, k, s, d in
            zip(self._axes.spatial(input_shape), self.kernel_size, self.strides, self.dilation_rate)))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return self._axes.shape(input_shape[0], self._output_spatial(input_shape), self.filters)

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
    """1-D convolution over `(batch, steps, channels)` (or `(batch, channels, steps)` with
    `data_format='channels_first'`); kernel `(k, in/groups, filters)`.

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

    def _convolve(self, inputs):
        if self._axes.channels_first or inputs.device.type != "cpu":
            return super()._convolve(inputs)
        return self._convolve_as_image_row(inputs)

    def _convolve_as_image_row(self, inputs):
        """Keras's `(batch, steps, channels)` convolved as one-row images in channels_last memory.

        torch's CPU kernels have no steps-last layout for 1-D convolutions: the `(batch, channels, steps)` view
        of a Keras tensor is copied in, the result comes back channels-first, and every elementwise layer
        after it (and its gradient) then runs on a permuted view; the backward pass copies again. Seen as
        `(batch, 1, steps, channels)` images the same tensor is channels_last memory, which oneDNN takes as
        it is and returns in kind: no copies, and a contiguous Keras-layout output (forward and backward of
        a (32, 100, 50) input and 128 filters: 8.8 -> 6.1 ms, one thread).
        """
        x = inputs.contiguous()
        padding = self._torch_padding
        if self._causal_pad is not None:
            x = F.pad(x, (0, 0) + self._causal_pad)
        elif self._same_pads is not None:
            padding, pads = self._same_pads((x.shape[1],))
            if pads:
                x = F.pad(x, (0, 0) + pads)
        steps_padding = padding[0] if isinstance(padding, tuple) else padding
        images = x.unsqueeze(1).permute(0, 3, 1, 2)  # (batch, channels, 1, steps), channels_last memory
        y = F.conv2d(images, self.kernel.unsqueeze(2), self.bias, (1, self.strides[0]), (0, steps_padding),
                     (1, self.dilation_rate[0]), self.groups)
        return y.permute(0, 2, 3, 1).squeeze(1)


class Conv2D(Conv):
    """2-D convolution over images: `(batch, rows, cols, channels)` (channels_last) or `(batch, channels,
    rows, cols)` (channels_first).

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints (default 1).
        padding: 'valid' or 'same' (TensorFlow's rule: the extra padding goes at the end).
        data_format: 'channels_last', 'channels_first', or None for `fitgen.backend.image_data_format()`
            (keras.json's `image_data_format`, 'channels_last' unless set).
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
    """3-D convolution over volumes `(batch, d1, d2, d3, channels)` (or `(batch, channels, d1, d2, d3)`);
    same arguments as `Conv2D` with 3-tuples. Weights: kernel `(k1, k2, k3, in/groups, filters)`, bias."""

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class _ConvTranspose(Conv):
    """Base of the transposed convolutions; see `Conv2DTranspose` for the arguments."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, groups=1, **kwargs):
        if groups not in (1, None):
            raise ValueError(f"{type(self).__name__} does not support groups; expected groups=1, received "
                             f"groups={groups}.")
        if isinstance(padding, str) and padding.lower() == "causal":
            raise ValueError(f"{type(self).__name__} does not support causal padding. Expected 'valid' or 'same'. "
                             f"Received: padding={padding!r}")
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = normalize_tuple(output_padding, self.rank, "output_padding", allow_zero=True)
            for stride, pad in zip(self.strides, self.output_padding):
                if pad >= stride:
                    raise ValueError(f"Strides must be greater than output padding. Received strides={self.strides}, "
                                     f"output_padding={self.output_padding}.")
        self._setup_padding()

    def _setup_padding(self):
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
                                      constraint=self.kernel_constraint, layout=_kernel_layout(self.rank))
        self._build_bias(self.filters)

    def call(self, inputs):
        x = _CONV_TRANSPOSE[self.rank](self._axes.to_torch(inputs), self.kernel, self.bias, self.strides,
                                       self._torch_padding, self._torch_output_padding, 1, self.dilation_rate)
        if self._crop:
            x = x[(slice(None), slice(None)) + tuple(slice(0, n - c) for n, c in zip(x.shape[2:], self._crop_end))]
        return self.activation(self._axes.from_torch(x))

    def _output_spatial(self, input_shape):
        pads = self.output_padding or (None,) * self.rank
        return tuple(deconv_output_length(n, k, self.padding, p, s, d) for n, k, p, s, d in
                     zip(self._axes.spatial(input_shape), self.kernel_size, pads, self.strides, self.dilation_rate))

    def get_config(self):
        config = super().get_config()
        config["output_padding"] = self.output_padding
        return config


class Conv1DTranspose(_ConvTranspose, Conv1D):
    """Transposed 1-D convolution over `(batch, steps, channels)`; see `Conv2DTranspose`.

    Weights: kernel `(k, filters, in)`, bias `(filters,)`.
    """

    rank = 1


class Conv2DTranspose(_ConvTranspose, Conv2D):
    """Transposed 2-D convolution ("deconvolution"), with tf-keras's output shape and padding.

    Args:
        filters: number of output channels.
        kernel_size, strides, dilation_rate: int or tuple of 2 ints.
        padding: 'valid' or 'same'.
        output_padding: None, or int / tuple of 2 ints, each smaller than the stride.
        data_format: 'channels_last', 'channels_first', or None for `fitgen.backend.image_data_format()`.
        Others as `Conv2D`. Weights: kernel `(kh, kw, filters, in)`, bias `(filters,)`.
    """

    rank = 2


class Conv3DTranspose(_ConvTranspose, Conv3D):
    """Transposed 3-D convolution over volumes (`(batch, d1, d2, d3, channels)` or channels_first), arguments
    as `Conv2DTranspose` with 3-tuples. Weights: kernel `(k1, k2, k3, filters, in)`, bias `(filters,)`."""

    rank = 3


def _pop_unused_conv_keys(kwargs):
    """Drops the base Conv's keys that tf-keras configs of depthwise/separable convs carry (no effect)."""
    for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint", "filters"):
        kwargs.pop(key, None)
    groups = kwargs.pop("groups", 1)
    if groups not in (1, None):
        raise ValueError(f"Depthwise and separable convolutions take no `groups`; received groups={groups}.")


class DepthwiseConv2D(Conv2D):
    """Depthwise 2-D convolution: each input channel convolved with `depth_multiplier` own filters.

    Output channel `i * depth_multiplier + m` comes from input channel `i`, as in Keras. Arguments as
    `Conv2D` (`data_format` included) without `filters`. Weights: depthwise_kernel
    `(kh, kw, in, depth_multiplier)`, bias `(in * depth_multiplier,)`.
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
        x, padding = self._pad(self._axes.to_torch(inputs))
        x = F.conv2d(x, self.depthwise_kernel, self.bias, self.strides, padding, self.dilation_rate,
                     self.groups_)
        return self.activation(self._axes.from_torch(x))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        channels = self._axes.channels(input_shape)
        channels = None if channels is None else channels * self.depth_multiplier
        return self._axes.shape(input_shape[0], self._output_spatial(input_shape), channels)

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
        x, padding = self._pad(self._axes.to_torch(inputs))
        x = self._conv(x, self.depthwise_kernel, None, self.strides, padding, self.dilation_rate,
                       self.groups_)
        x = self._conv(x, self.pointwise_kernel, self.bias)
        return self.activation(self._axes.from_torch(x))

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
    """Depthwise-separable 1-D convolution over `(batch, steps, channels)` (or channels_first); see
    `SeparableConv2D`. Weights: depthwise_kernel `(k, in, dm)`, pointwise_kernel `(1, in * dm, filters)`."""

    rank = 1


class SeparableConv2D(SeparableConv):
    """Depthwise-separable 2-D convolution: a depthwise conv (strides, padding and dilation apply to it)
    then a 1x1 conv to `filters` channels.

    Arguments as `Conv2D` (`data_format` included) plus `depth_multiplier` and the depthwise_* / pointwise_*
    initializers, regularizers and constraints. Weights: depthwise_kernel `(kh, kw, in, depth_multiplier)`,
    pointwise_kernel `(1, 1, in * depth_multiplier, filters)`, bias `(filters,)`.
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


# Keras 2 aliases.
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = Conv1DTranspose, Conv2DTranspose, \
    Conv3DTranspose
Deconvolution2D, Deconvolution3D = Conv2DTranspose, Conv3DTranspose
Deconv2D, Deconv3D = Conv2DTranspose, Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
DepthwiseConvolution2D = DepthwiseConv2D

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv2D",
           "SeparableConv1D", "SeparableConv2D", "Convolution1D", "Convolution2D", "Convolution3D",
           "Convolution1DTranspose", "Convolution2DTranspose", "Convolution3DTranspose", "Deconvolution2D",
           "Deconvolution3D", "SeparableConvolution1D", "SeparableConvolution2D", "DepthwiseConvolution2D",
           "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
           "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
           "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"]
