"""Locally-connected layers (`keras.layers.local`): LocallyConnected1D and LocallyConnected2D.

A convolution whose weights are not shared: every output position has its own kernel. Weights follow
Keras's `implementation=1` (Keras 2's only implementation): kernel `(output positions, kernel cells *
input channels, filters)` and bias `(*output spatial, filters)`. The middle kernel axis lists a window's
values in the input's own layout: `(*kernel, channels)` for channels_last inputs, `(channels, *kernel)` for
channels_first ones, so a kernel does not carry over between the two layouts (as in Keras).

The forward pass takes every window at once with `Tensor.unfold` (a strided view, no copy) and contracts
it with the per-position kernels in one `einsum` (a batched matmul over positions).
"""
import math

import torch

from fitgen import activations, constraints, initializers, regularizers
from fitgen.engine.base_layer import Layer, Layout
from fitgen.utils.conv_utils import (ChannelsAxis, check_output_positive, conv_output_length, normalize_data_format,
                                     normalize_padding, normalize_tuple)

_LETTERS = "abc"  # kernel-window axes in the einsum equations
_POSITIONS = "xyz"  # output-position axes


class LocalKernelLayout(Layout):
    """Keras kernel `(P, K*C, F)` (window order `(*k, C)` channels_last, `(C, *k)` channels_first) <->
    torch `(*out, C, *k, F)`, the shape the einsum contracts with unfolded windows."""

    def __init__(self, output_spatial, channels, kernel_size, channels_first):
        self.output_spatial = tuple(output_spatial)
        self.channels = channels
        self.kernel_size = tuple(kernel_size)
        self.channels_first = channels_first
        rank = len(self.kernel_size)
        # torch axes: out (0..rank-1), C (rank), k (rank+1 .. 2rank), F (2rank+1)
        self._cl_order = tuple(range(rank)) + tuple(range(rank + 1, 2 * rank + 1)) + (rank, 2 * rank + 1)

    def torch_shape(self, keras_shape):
        return self.output_spatial + (self.channels,) + self.kernel_size + (keras_shape[-1],)

    def to_keras(self, tensor):
        positions, filters = math.prod(self.output_spatial), tensor.shape[-1]
        if not self.channels_first:
            tensor = tensor.permute(self._cl_order)
        return tensor.reshape(positions, -1, filters)

    def from_keras(self, tensor):
        filters = tensor.shape[-1]
        if self.channels_first:
            return tensor.reshape(self.torch_shape((filters,))).contiguous()
        window = self.output_spatial + self.kernel_size + (self.channels, filters)
        inverse = tuple(self._cl_order.index(i) for i in range(len(self._cl_order)))
        return tensor.reshape(window).permute(inverse).contiguous()


class LocallyConnected(Layer):
    """Base of LocallyConnected1D/2D (`rank` 1 or 2); see LocallyConnected2D for the arguments."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, implementation=1, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = int(filters)
        if self.filters <= 0:
            raise ValueError(f"Invalid value for argument `filters`. Expected a strictly positive value. "
                             f"Received filters={filters}.")
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = normalize_tuple(strides, self.rank, "strides")
        self.padding = normalize_padding(padding, ("valid", "same"))
        if self.padding != "valid":
            raise ValueError(f"Invalid border mode for {type(self).__name__}: only 'valid' is supported (Keras's "
                             f"implementation=1). Received: padding={padding!r}")
        if implementation != 1:
            raise ValueError(f"fitgen's {type(self).__name__} implements Keras's implementation=1 (its weight "
                             f"shapes and numbers; it is already vectorised). Received: implementation="
                             f"{implementation!r}")
        self.implementation = implementation
        self.data_format = normalize_data_format(data_format)
        self._axes = ChannelsAxis(self.rank, self.data_format)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        positions, window = _POSITIONS[:self.rank], _LETTERS[:self.rank]
        out = f"nf{positions}" if self._axes.channels_first else f"n{positions}f"
        self._equation = f"nc{positions}{window},{positions}c{window}f->{out}"

    def _output_spatial(self, input_shape):
        return tuple(conv_output_length(n, k, self.padding, s) for n, k, s in
                     zip(self._axes.spatial(input_shape), self.kernel_size, self.strides))

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: expected ndim="
                             f"{self.rank + 2}, found ndim={len(input_shape)}. Full shape received: {input_shape}")
        spatial, channels = self._axes.spatial(input_shape), self._axes.channels(input_shape)
        if None in spatial or channels is None:
            raise ValueError(f"The spatial dimensions and the channels of the inputs to a {type(self).__name__} "
                             f"layer should be fully defined, but the layer received the input shape {input_shape}.")
        output_spatial = check_output_positive(self, input_shape, self._output_spatial(input_shape))
        self.output_spatial = output_spatial
        keras_kernel = (math.prod(output_spatial), math.prod(self.kernel_size) * channels, self.filters)
        layout = LocalKernelLayout(output_spatial, channels, self.kernel_size, self._axes.channels_first)
        self.kernel = self.add_weight("kernel", keras_kernel, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      layout=layout)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", output_spatial + (self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs):
        windows = self._axes.to_torch(inputs)  # (N, C, *spatial)
        for axis, (k, s) in enumerate(zip(self.kernel_size, self.strides)):
            windows = windows.unfold(2 + axis, k, s)  # -> (N, C, *out, *k)
        outputs = torch.einsum(self._equation, windows, self.kernel)
        if self.bias is not None:
            if self._axes.channels_first:
                # Keras adds the (*out, F) bias to channels_first outputs reshaped, not transposed, to
                # (F, *out) (its bias_add rule for multi-axis biases); the same numbers need the same rule.
                outputs = outputs + self.bias.reshape((self.filters,) + self.output_spatial)
            else:
                outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return self._axes.shape(input_shape[0], self._output_spatial(input_shape), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "implementation": self.implementation,
        })
        return config


class LocallyConnected1D(LocallyConnected):
    """Locally-connected layer for sequences `(batch, steps, channels)` (or `(batch, channels, steps)` with
    channels_first): a Conv1D whose weights differ at every output step.

    Arguments as `LocallyConnected2D` with single ints. Weights: kernel `(output_length, kernel_size *
    channels, filters)`, bias `(output_length, filters)`.
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, implementation=1, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, activation, use_bias,
                         kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, implementation, **kwargs)


class LocallyConnected2D(LocallyConnected):
    """Locally-connected layer for images: a Conv2D whose weights differ at every output pixel.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints (default 1).
        padding: 'valid' only (as Keras's implementation=1).
        data_format: 'channels_last' (`(N, H, W, C)`), 'channels_first' (`(N, C, H, W)`), or None for
            `fitgen.backend.image_data_format()`.
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as for `Dense`.
        implementation: 1 (Keras's weight layout; the only value accepted).

    Weights: kernel `(out_rows * out_cols, kh * kw * channels, filters)`, bias `(out_rows, out_cols, filters)`.
    The input's spatial size must be known when the layer is built.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, implementation=1, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, activation, use_bias,
                         kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, implementation, **kwargs)
