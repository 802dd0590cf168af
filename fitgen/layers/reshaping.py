"""Spatial reshaping layers: UpSampling1D/2D/3D, ZeroPadding1D/2D/3D, Cropping1D/2D/3D.

The 2-D and 3-D layers take `data_format` (channels_last `(N, *spatial, C)`, channels_first
`(N, C, *spatial)`, or None for `fitgen.backend.image_data_format()`); the 1-D ones work on `(N, steps, C)`.
Each works on the tensor's own layout (no permutation): it only needs to know which axes are spatial.
"""
import torch.nn.functional as F

from fitgen.engine.base_layer import Layer
from fitgen.utils.conv_utils import ChannelsAxis, normalize_data_format, normalize_tuple


def _pair(value, name):
    """An int or a pair of ints as (before, after)."""
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"`{name}` values must be non-negative. Received: {name}={value!r}")
        return (value, value)
    return normalize_tuple(value, 2, name, allow_zero=True)


def _pairs(value, rank, name):
    """int, `rank` symmetric ints or `rank` (before, after) pairs, as `rank` (before, after) pairs."""
    if isinstance(value, int):
        return (_pair(value, name),) * rank
    if not hasattr(value, "__len__") or len(value) != rank:
        axes = ("height", "width") if rank == 2 else ("dim1", "dim2", "dim3")
        raise ValueError(f"`{name}` should be an int, a tuple of {rank} ints (symmetric_{', symmetric_'.join(axes)}) "
                         f"or a tuple of {rank} tuples of 2 ints (before, after) per spatial axis. Received: "
                         f"{name}={value!r}")
    return tuple(_pair(v, name) for v in value)


def _add(length, extra):
    return None if length is None else length + extra


class _Spatial(Layer):
    """Base of the layers that act on the spatial axes of a rank-`rank` tensor in its own layout."""

    rank = 2

    def __init__(self, data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self._axes = ChannelsAxis(self.rank, self.data_format)

    def _spatial_shape(self, input_shape, spatial):
        input_shape = tuple(input_shape)
        return self._axes.shape(input_shape[0], spatial, self._axes.channels(input_shape))

    def get_config(self):
        config = super().get_config()
        if self.rank > 1:
            config["data_format"] = self.data_format
        return config


# ---------------------------------------------------------------------------------------- upsampling
class _UpSampling(_Spatial):
    """Repeats every row (column, ...) `size` times along each spatial axis (nearest neighbour)."""

    interpolation = "nearest"

    def call(self, inputs):
        if self.interpolation != "nearest":
            x = self._axes.to_torch(inputs)
            size = tuple(n * s for n, s in zip(x.shape[2:], self._sizes))
            return self._axes.from_torch(F.interpolate(x, size=size, mode=self.interpolation, align_corners=False))
        # One broadcast copy: a new axis of length `s` after each spatial axis, merged into it. Exact for
        # every integer factor (torch's `interpolate(scale_factor=...)` rounds 1/s in floating point).
        view, expanded, merged = [inputs.shape[0]], [inputs.shape[0]], [inputs.shape[0]]
        sizes = dict(zip(self._axes.spatial_axes, self._sizes))
        for axis in range(1, inputs.dim()):
            length = inputs.shape[axis]
            if axis in sizes:
                view += [length, 1]
                expanded += [length, sizes[axis]]
                merged.append(length * sizes[axis])
            else:
                view.append(length)
                expanded.append(length)
                merged.append(length)
        return inputs.reshape(view).expand(expanded).reshape(merged)

    def compute_output_shape(self, input_shape):
        spatial = [None if n is None else n * s for n, s in zip(self._axes.spatial(input_shape), self._sizes)]
        return self._spatial_shape(input_shape, spatial)

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size
        return config


class UpSampling1D(_UpSampling):
    """Repeats each timestep `size` times along the time axis: `(N, T, C) -> (N, T * size, C)`."""

    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self._sizes = (self.size,)


class UpSampling2D(_UpSampling):
    """Upsamples rows and columns by `size`: `(N, H, W, C) -> (N, H * sh, W * sw, C)`.

    Args:
        size: int or tuple of 2 ints.
        data_format: 'channels_last', 'channels_first', or None for `fitgen.backend.image_data_format()`.
        interpolation: 'nearest' (repeats pixels) or 'bilinear' (TF's half-pixel-centre bilinear, no
            antialiasing, the same as torch's `align_corners=False`).
    """

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.size = self._sizes = normalize_tuple(size, 2, "size")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"`interpolation` argument should be one of 'nearest', 'bilinear' (the ones fitgen "
                             f"implements with TensorFlow's numbers). Received: interpolation={interpolation!r}")
        self.interpolation = interpolation

    def get_config(self):
        config = super().get_config()
        config["interpolation"] = self.interpolation
        return config


class UpSampling3D(_UpSampling):
    """Repeats the voxels of volumes `size` times along each spatial axis:
    `(N, d1, d2, d3, C) -> (N, d1 * s1, d2 * s2, d3 * s3, C)`.

    Args:
        size: int or tuple of 3 ints (default (2, 2, 2)).
        data_format: 'channels_last', 'channels_first', or None for `fitgen.backend.image_data_format()`.
    """

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.size = self._sizes = normalize_tuple(size, 3, "size")


# --------------------------------------------------------------------------------------- zero padding
class _ZeroPadding(_Spatial):
    """Pads each spatial axis with `padding[i] = (before, after)` zeros."""

    def _set_padding(self, pairs):
        self.padding = pairs[0] if self.rank == 1 else pairs
        self._pad_pairs = pairs
        pads = [p for pair in reversed(pairs) for p in pair]  # F.pad lists the last axis first
        self._pads = tuple(pads if self._axes.channels_first else [0, 0] + pads)

    def call(self, inputs):
        return F.pad(inputs, self._pads)

    def compute_output_shape(self, input_shape):
        spatial = [_add(n, sum(pair)) for n, pair in zip(self._axes.spatial(input_shape), self._pad_pairs)]
        return self._spatial_shape(input_shape, spatial)

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        return config


class ZeroPadding1D(_ZeroPadding):
    """Pads the time axis with zeros: `padding` is an int or `(before, after)`."""

    rank = 1

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self._set_padding((_pair(padding, "padding"),))


class ZeroPadding2D(_ZeroPadding):
    """Pads rows and columns with zeros.

    Args:
        padding: int (same on all sides), `(symmetric_height, symmetric_width)` or
            `((top, bottom), (left, right))`.
        data_format: 'channels_last', 'channels_first', or None for `fitgen.backend.image_data_format()`.
    """

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self._set_padding(_pairs(padding, 2, "padding"))


class ZeroPadding3D(_ZeroPadding):
    """Pads the three spatial axes of volumes with zeros.

    Args:
        padding: int, 3 symmetric ints, or `((before1, after1), (before2, after2), (before3, after3))`.
        data_format: 'channels_last', 'channels_first', or None for `fitgen.backend.image_data_format()`.
    """

    rank = 3

    def __init__(self, padding=(1, 1, 1), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self._set_padding(_pairs(padding, 3, "padding"))


# ------------------------------------------------------------------------------------------ cropping
class _Cropping(_Spatial):
    """Crops `cropping[i] = (before, after)` from each spatial axis.

    A cropping that leaves an axis empty gives a length-0 output, as Keras 2.2 does (tf-keras refuses it);
    one that crops more than the axis holds is refused.
    """

    def _cropped(self, input_shape):
        spatial = []
        for length, crop in zip(self._axes.spatial(input_shape), self._crop_pairs):
            if length is not None:
                length -= sum(crop)
                if length < 0:
                    raise ValueError(f"`cropping` parameter of `{type(self).__name__}` layer must not exceed the "
                                     f"input length. Received: input_shape={tuple(input_shape)}, "
                                     f"cropping={self.cropping}")
            spatial.append(length)
        return spatial

    def call(self, inputs):
        self._cropped(inputs.shape)
        index = [slice(None)] * inputs.dim()
        for axis, (before, after) in zip(self._axes.spatial_axes, self._crop_pairs):
            index[axis] = slice(before, inputs.shape[axis] - after)
        return inputs[tuple(index)]

    def compute_output_shape(self, input_shape):
        return self._spatial_shape(input_shape, self._cropped(input_shape))

    def get_config(self):
        config = super().get_config()
        config["cropping"] = self.cropping
        return config


class Cropping1D(_Cropping):
    """Crops the time axis: `cropping` is an int or `(before, after)`."""

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pair(cropping, "cropping")
        self._crop_pairs = (self.cropping,)


class Cropping2D(_Cropping):
    """Crops rows and columns.

    Args:
        cropping: int, `(symmetric_height, symmetric_width)` or `((top, bottom), (left, right))`.
        data_format: 'channels_last', 'channels_first', or None for `fitgen.backend.image_data_format()`.
    """

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.cropping = self._crop_pairs = _pairs(cropping, 2, "cropping")


class Cropping3D(_Cropping):
    """Crops the three spatial axes of volumes.

    Args:
        cropping: int, 3 symmetric ints, or `((before1, after1), (before2, after2), (before3, after3))`.
        data_format: 'channels_last', 'channels_first', or None for `fitgen.backend.image_data_format()`.
    """

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.cropping = self._crop_pairs = _pairs(cropping, 3, "cropping")
