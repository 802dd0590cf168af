"""Regularisation noise layers, active only in training: GaussianNoise, GaussianDropout, AlphaDropout,
SpatialDropout1D, SpatialDropout2D, SpatialDropout3D."""
import math

import torch

from fitgen.engine.base_layer import Layer
from fitgen.layers.core import Dropout, check_rate, pass_mask, random_generator
from fitgen.utils.conv_utils import normalize_data_format

# SELU's constants: AlphaDropout keeps a self-normalising network's mean and variance.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class _NoiseLayer(Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.supports_masking = True

    def _randn(self, shape, inputs):
        generator = random_generator(self, self.seed, inputs.device)
        return torch.randn(shape, generator=generator, device=inputs.device, dtype=inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


class GaussianNoise(_NoiseLayer):
    """Adds zero-mean Gaussian noise of standard deviation `stddev` during training (identity otherwise)."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = stddev

    def call(self, inputs, training=None):
        if training is None:
            training = self.training
        if not training:
            return inputs
        return pass_mask(inputs, inputs + self._randn(inputs.shape, inputs) * self.stddev)

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config


class GaussianDropout(_NoiseLayer):
    """Multiplies inputs by Gaussian noise of mean 1 and variance `rate / (1 - rate)` during training."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate(rate)

    def call(self, inputs, training=None):
        if training is None:
            training = self.training
        if not training or not 0 < self.rate < 1:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return pass_mask(inputs, inputs * (self._randn(inputs.shape, inputs) * stddev + 1.0))

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config


class AlphaDropout(_NoiseLayer):
    """Dropout that keeps a SELU network self-normalising: dropped units take SELU's negative saturation
    value, then an affine map restores the mean and variance (training only)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate(rate)
        self.noise_shape = noise_shape

    def call(self, inputs, training=None):
        if training is None:
            training = self.training
        if not training or not 0 < self.rate < 1:
            return inputs
        shape = inputs.shape if self.noise_shape is None else tuple(
            inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        generator = random_generator(self, self.seed, inputs.device)
        kept = (torch.rand(shape, generator=generator, device=inputs.device, dtype=inputs.dtype)
                >= self.rate).to(inputs.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        return pass_mask(inputs, a * (inputs * kept + alpha_p * (1 - kept)) + b)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed})
        return config


class SpatialDropout1D(Dropout):
    """Dropout of whole feature maps: the same features are zeroed at every timestep of a sample
    (`(batch, steps, features)`), which suits strongly correlated neighbouring steps."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def _get_noise_shape(self, inputs):
        return (inputs.shape[0], 1, inputs.shape[2])


class SpatialDropout2D(Dropout):
    """Dropout of whole channels of images: a dropped channel is zero at every pixel.

    Args:
        rate: fraction of the channels to drop.
        data_format: 'channels_last' (`(batch, H, W, C)`), 'channels_first' (`(batch, C, H, W)`), or None
            for `fitgen.backend.image_data_format()`.
    """

    rank = 2

    def __init__(self, rate, data_format=None, noise_shape=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = normalize_data_format(data_format)

    def _get_noise_shape(self, inputs):
        if inputs.dim() != self.rank + 2:
            raise ValueError(f"{type(self).__name__} expects inputs of rank {self.rank + 2}. Received: "
                             f"inputs.shape={tuple(inputs.shape)}")
        ones = (1,) * self.rank
        if self.data_format == "channels_first":
            return (inputs.shape[0], inputs.shape[1]) + ones
        return (inputs.shape[0],) + ones + (inputs.shape[-1],)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class SpatialDropout3D(SpatialDropout2D):
    """Dropout of whole channels of volumes (`(batch, d1, d2, d3, C)` or channels_first): a dropped channel
    is zero at every voxel. Arguments as `SpatialDropout2D`."""

    rank = 3
