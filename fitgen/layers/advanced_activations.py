"""Activation layers with parameters: LeakyReLU, PReLU, ELU, ReLU, Softmax, ThresholdedReLU.

Numeric arguments are kept as float32 values, as tf-keras casts them, so configs read back the same numbers
(`LeakyReLU().get_config()['alpha'] == 0.30000001192092896`).
"""
import numpy as np
import torch
import torch.nn.functional as F

from fitgen import activations, constraints, initializers, regularizers
from fitgen.engine.base_layer import Layer
from fitgen.layers.core import pass_mask


def _float32(value, name):
    if value is None:
        raise ValueError(f"The `{name}` argument must be a number. Received: {name}=None")
    return float(np.float32(value))


class _ElementwiseActivation(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return input_shape


class LeakyReLU(_ElementwiseActivation):
    """`x` for `x >= 0`, `alpha * x` otherwise (default alpha 0.3, Keras 2's)."""

    def __init__(self, alpha=0.3, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _float32(alpha, "alpha")

    def call(self, inputs):
        return pass_mask(inputs, F.leaky_relu(inputs, self.alpha))

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class ELU(_ElementwiseActivation):
    """`x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _float32(alpha, "alpha")

    def call(self, inputs):
        return pass_mask(inputs, F.elu(inputs, self.alpha))

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class ThresholdedReLU(_ElementwiseActivation):
    """`x` for `x > theta`, 0 otherwise."""

    def __init__(self, theta=1.0, **kwargs):
        super().__init__(**kwargs)
        if theta is None or theta < 0:
            raise ValueError(f"Theta of a Thresholded ReLU layer cannot be None or negative, but got {theta}")
        self.theta = _float32(theta, "theta")

    def call(self, inputs):
        return pass_mask(inputs, inputs * (inputs > self.theta).to(inputs.dtype))

    def get_config(self):
        config = super().get_config()
        config["theta"] = self.theta
        return config


class ReLU(_ElementwiseActivation):
    """Rectified linear unit with Keras's options.

    `f(x) = max_value` for `x >= max_value`, `x` for `threshold <= x < max_value`,
    `negative_slope * (x - threshold)` otherwise.

    Args:
        max_value: None (unbounded) or a non-negative float.
        negative_slope: non-negative float, slope below the threshold.
        threshold: float.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0.0:
            raise ValueError(f"max_value of a ReLU layer cannot be a negative value. Received: {max_value}")
        if negative_slope is None or negative_slope < 0.0:
            raise ValueError(f"negative_slope of a ReLU layer cannot be a negative value. Received: {negative_slope}")
        if threshold is None or threshold < 0.0:
            raise ValueError(f"threshold of a ReLU layer cannot be a negative value. Received: {threshold}")
        self.max_value = None if max_value is None else _float32(max_value, "max_value")
        self.negative_slope = _float32(negative_slope, "negative_slope")
        self.threshold = _float32(threshold, "threshold")
        self._plain = self.max_value is None and self.negative_slope == 0 and self.threshold == 0

    def call(self, inputs):
        if self._plain:
            return pass_mask(inputs, torch.relu(inputs))
        outputs = activations.relu(inputs, alpha=self.negative_slope, max_value=self.max_value,
                                   threshold=self.threshold)
        return pass_mask(inputs, outputs)

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config


class Softmax(_ElementwiseActivation):
    """Softmax over `axis` (an int or a list of ints).

    `call(inputs, mask=None)`: an explicit `mask` (1 keep, 0 drop, broadcastable to the input) sends the
    dropped positions to a large negative logit first, so they get (almost) zero probability.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis

    def call(self, inputs, mask=None):
        if mask is not None:
            large_negative = -65500.0 if inputs.dtype == torch.float16 else -1e9
            inputs = inputs + (1.0 - mask.to(inputs.dtype)) * large_negative
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        return activations.softmax(inputs, axis=axis)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


class PReLU(Layer):
    """Leaky ReLU with a learned slope per unit: `f(x) = x` for `x >= 0`, `alpha * x` otherwise.

    Args:
        alpha_initializer: initializer of the slopes (default zeros).
        alpha_regularizer / alpha_constraint: optional.
        shared_axes: axes (1-based, batch excluded counting from 1) sharing one slope, e.g. `[1, 2]` for one
            slope per channel of `(batch, H, W, C)` images.

    Weights: alpha, of the input shape without the batch axis (shared axes of length 1).
    """

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = list(shared_axes)
        else:
            self.shared_axes = [shared_axes]

    def build(self, input_shape):
        param_shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            param_shape[axis - 1] = 1
        if any(d is None for d in param_shape):
            raise ValueError(f"PReLU needs every non-shared input axis to be known; received input shape "
                             f"{tuple(input_shape)} with shared_axes={self.shared_axes}.")
        self.alpha = self.add_weight("alpha", tuple(param_shape), initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        self.built = True

    def call(self, inputs):
        outputs = torch.relu(inputs) - self.alpha * torch.relu(-inputs)
        return pass_mask(inputs, outputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"alpha_initializer": initializers.serialize(self.alpha_initializer),
                       "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                       "alpha_constraint": constraints.serialize(self.alpha_constraint),
                       "shared_axes": self.shared_axes})
        return config
