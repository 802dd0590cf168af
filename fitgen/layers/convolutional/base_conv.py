"""The N-D convolution base `Conv` and Conv1D, Conv2D, Conv3D.

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

'same' padding follows TensorFlow (see `fitgen.utils.conv_utils.same_pads`).
"""
import torch.nn.functional as F

from fitgen import activations, constraints, initializers, regularizers
from fitgen.engine.base_layer import Layer, Layout, Permute
from fitgen.utils.conv_utils import (ChannelsAxis, SamePadding, conv_output_length, normalize_data_format,
                                     normalize_padding, normalize_tuple)

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


def kernel_layout(rank):
    """Keras (*k, in, out) <-> torch (out, in, *k); also transposed kernels' (*k, out, in) <-> (in, out, *k)."""
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
        self.data_format = normalize_data_format(data_format)
        self._axes = ChannelsAxis(rank, self.data_format)
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
                                      constraint=self.kernel_constraint, layout=kernel_layout(self.rank))
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
        if self._same_pads is not None:
            padding, pads = self._same_pads(x.shape[2:])
            return (F.pad(x, pads) if pads else x), padding
        if self._causal_pad is not None:
            return F.pad(x, self._causal_pad), 0
        return x, self._torch_padding

    def call(self, inputs):
        x, padding = self._pad(self._axes.to_torch(inputs))
        x = self._conv(x, self.kernel, self.bias, self.strides, padding, self.dilation_rate, self.groups)
        return self.activation(self._axes.from_torch(x))

    def _output_spatial(self, input_shape):
        return tuple(conv_output_length(n, k, self.padding, s, d) for n, k, s, d in
                     zip(self._axes.spatial(input_shape), self.kernel_size, self.strides, self.dilation_rate))

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
