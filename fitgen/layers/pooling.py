"""Pooling layers: Max/AveragePooling1D/2D/3D and Global{Average,Max}Pooling1D/2D/3D.

Each takes `data_format`: channels_last `(N, *spatial, C)` or channels_first `(N, C, *spatial)` (torch's
own layout, pooled as is; channels_last is pooled through a zero-copy permuted view).
'same' padding follows TensorFlow: pads of `same_pads` (the extra one at the end); max pooling ignores
padded cells (they are -inf) and average pooling divides by the number of real cells in each window.
"""
import torch
import torch.nn.functional as F

from fitgen.engine.base_layer import Layer
from fitgen.utils.conv_utils import (ChannelsAxis, SamePadding, conv_output_length, normalize_data_format,
                                     normalize_padding, normalize_tuple)

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class Pooling(Layer):
    """Base of the windowed poolings; `kind` is 'max' or 'avg', `rank` 1, 2 or 3."""

    rank = 2
    kind = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, self.rank, "strides")
        self.padding = normalize_padding(padding, ("valid", "same"))
        self.data_format = normalize_data_format(data_format)
        self._axes = ChannelsAxis(self.rank, self.data_format)
        self._same = SamePadding(self.pool_size, self.strides) if self.padding == "same" else None
        self._pool = (_MAX if self.kind == "max" else _AVG)[self.rank]
        self._divisors = {}

    def call(self, inputs):
        x = self._axes.to_torch(inputs)
        if self._same is None:
            return self._axes.from_torch(self._pool(x, self.pool_size, self.strides))
        padding, pads = self._same(x.shape[2:])
        if not pads:
            # Symmetric: torch's own padding (max ignores it; average leaves it out of the count, as TF).
            if self.kind == "max":
                x = self._pool(x, self.pool_size, self.strides, padding)
            else:
                x = self._pool(x, self.pool_size, self.strides, padding, count_include_pad=False)
        elif self.kind == "max":
            x = self._pool(F.pad(x, pads, value=float("-inf")), self.pool_size, self.strides)
        else:
            # Zero padding plus a per-window count of real cells: TF's average ignores the padding.
            x = self._pool(F.pad(x, pads), self.pool_size, self.strides) * self._divisor(x, pads)
        return self._axes.from_torch(x)

    def _divisor(self, x, pads):
        key = (tuple(x.shape[2:]), x.device, x.dtype)
        scale = self._divisors.get(key)
        if scale is None:
            ones = F.pad(torch.ones((1, 1) + key[0], dtype=x.dtype, device=x.device), pads)
            scale = self._divisors[key] = 1.0 / self._pool(ones, self.pool_size, self.strides)
        return scale

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        spatial = tuple(conv_output_length(n, k, self.padding, s) for n, k, s in
                        zip(self._axes.spatial(input_shape), self.pool_size, self.strides))
        return self._axes.shape(input_shape[0], spatial, self._axes.channels(input_shape))

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                       "data_format": self.data_format})
        return config


class MaxPooling1D(Pooling):
    """Max over windows of `pool_size` steps of `(batch, steps, features)` (strides default to pool_size)."""

    rank, kind = 1, "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format="channels_last", **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(Pooling):
    """Average over windows of `pool_size` steps of `(batch, steps, features)`."""

    rank, kind = 1, "avg"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format="channels_last", **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(Pooling):
    """Max over `pool_size` windows of images (`(N, H, W, C)`, or `(N, C, H, W)` with channels_first).

    Args:
        pool_size: int or tuple of 2 ints (default (2, 2)).
        strides: int, tuple of 2 ints, or None (= pool_size).
        padding: 'valid' or 'same' (TF's rule; padded cells never win the max).
        data_format: 'channels_last', 'channels_first', or None for `fitgen.backend.image_data_format()`.
    """

    rank, kind = 2, "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(Pooling):
    """Average over `pool_size` windows of images (arguments as `MaxPooling2D`; with 'same'
    padding each window averages only its real cells, as TensorFlow does)."""

    rank, kind = 2, "avg"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class GlobalPooling(Layer):
    """Base of the global poolings over all spatial axes (`rank` of them)."""

    rank = 2
    kind = "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = keepdims
        self._axes = ChannelsAxis(self.rank, self.data_format)
        self._dims = self._axes.spatial_axes
        self.supports_masking = self.rank == 1

    def call(self, inputs, mask=None):
        if self.kind == "max":
            return torch.amax(inputs, dim=self._dims, keepdim=self.keepdims)
        if self.rank == 1:
            mask = mask if mask is not None else getattr(inputs, "_keras_mask", None)
            if mask is not None:
                # Average over the unmasked steps only, as Keras does.
                weights = mask.to(inputs.dtype).unsqueeze(1 if self._axes.channels_first else -1)
                total = (inputs * weights).sum(dim=self._dims, keepdim=self.keepdims)
                return total / weights.sum(dim=self._dims, keepdim=self.keepdims)
        return torch.mean(inputs, dim=self._dims, keepdim=self.keepdims)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        channels = self._axes.channels(input_shape)
        if self.keepdims:
            return self._axes.shape(input_shape[0], (1,) * self.rank, channels)
        return (input_shape[0], channels)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling1D(GlobalPooling):
    """Mean over the time axis of `(batch, steps, features)`; masked steps (a Keras mask) are left out.

    Args:
        data_format: 'channels_last' (default) or 'channels_first' (`(batch, features, steps)`).
        keepdims: keep the time axis with length 1.
    """

    rank, kind = 1, "avg"

    def __init__(self, data_format="channels_last", **kwargs):
        super().__init__(data_format=data_format, **kwargs)


class GlobalMaxPooling1D(GlobalPooling):
    """Max over the time axis of `(batch, steps, features)`."""

    rank, kind = 1, "max"

    def __init__(self, data_format="channels_last", **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.supports_masking = False


class GlobalAveragePooling2D(GlobalPooling):
    """Mean over rows and columns of images: `(N, H, W, C) -> (N, C)` (or `(N, 1, 1, C)` with `keepdims`);
    `data_format` as `MaxPooling2D`."""

    rank, kind = 2, "avg"


class GlobalMaxPooling2D(GlobalPooling):
    """Max over rows and columns of images: `(N, H, W, C) -> (N, C)` (or `(N, 1, 1, C)` with `keepdims`);
    `data_format` as `MaxPooling2D`."""

    rank, kind = 2, "max"


class MaxPooling3D(Pooling):
    """Max over `pool_size` windows of volumes `(N, d1, d2, d3, C)` (or `(N, C, d1, d2, d3)` with
    channels_first); arguments as `MaxPooling2D` with 3-tuples (default pool_size (2, 2, 2))."""

    rank, kind = 3, "max"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling3D(Pooling):
    """Average over `pool_size` windows of volumes; arguments as `MaxPooling3D` ('same' windows average
    only their real cells, as TensorFlow does)."""

    rank, kind = 3, "avg"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class GlobalAveragePooling3D(GlobalPooling):
    """Mean over the three spatial axes of volumes: `(N, d1, d2, d3, C) -> (N, C)`; `data_format` and
    `keepdims` as `GlobalAveragePooling2D`."""

    rank, kind = 3, "avg"


class GlobalMaxPooling3D(GlobalPooling):
    """Max over the three spatial axes of volumes: `(N, d1, d2, d3, C) -> (N, C)`."""

    rank, kind = 3, "max"


# Keras aliases
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = GlobalAveragePooling1D, GlobalAveragePooling2D, \
    GlobalAveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
