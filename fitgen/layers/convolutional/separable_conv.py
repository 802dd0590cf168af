"""Depthwise-separable convolutions: SeparableConv1D, SeparableConv2D."""
from fitgen import constraints, initializers, regularizers
from fitgen.layers.convolutional.base_conv import Conv, kernel_layout
from fitgen.layers.convolutional.depthwise_conv import pop_unused_conv_keys


class SeparableConv(Conv):
    """Depthwise convolution followed by a pointwise (1x1) one; base of SeparableConv1D/2D."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        pop_unused_conv_keys(kwargs)
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
            constraint=self.pointwise_constraint, layout=kernel_layout(self.rank))
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
