"""DepthwiseConv2D: each input channel convolved with `depth_multiplier` filters of its own."""
import torch.nn.functional as F

from fitgen import constraints, initializers, regularizers
from fitgen.engine.base_layer import Layer
from fitgen.layers.convolutional.base_conv import Conv2D


def pop_unused_conv_keys(kwargs):
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
        pop_unused_conv_keys(kwargs)
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
