"""Spatial reshaping layers: UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D (channels_last)."""
import torch.nn.functional as F

from fitgen.engine.base_layer import Layer
from fitgen.layers.convolutional import check_data_format, normalize_tuple


def _pair(value, name):
    """An int or a pair of ints as (before, after)."""
    if isinstance(value, int):
        return (value, value)
    return normalize_tuple(value, 2, name, allow_zero=True)


def _pairs_2d(value, name):
    """int, (sym_rows, sym_cols) or ((top, bottom), (left, right)) as ((top, bottom), (left, right))."""
    if isinstance(value, int):
        return ((value, value), (value, value))
    if not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"`{name}` should be an int, a tuple of 2 ints (symmetric_height, symmetric_width) or a "
                         f"tuple of 2 tuples of 2 ints ((top, bottom), (left, right)). Received: {name}={value!r}")
    return tuple(_pair(v, name) for v in value)


def _add(length, extra):
    return None if length is None else length + extra


class UpSampling1D(Layer):
    """Repeats each timestep `size` times along the time axis: `(N, T, C) -> (N, T * size, C)`."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, inputs):
        return inputs.repeat_interleave(self.size, dim=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] * self.size
        return (input_shape[0], length, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size
        return config


class UpSampling2D(Layer):
    """Upsamples rows and columns by `size`: `(N, H, W, C) -> (N, H * sh, W * sw, C)`.

    Args:
        size: int or tuple of 2 ints.
        data_format: None or 'channels_last'.
        interpolation: 'nearest' (repeats pixels) or 'bilinear' (TF's half-pixel-centre bilinear, no
            antialiasing, the same as torch's `align_corners=False`).
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, 2, "size")
        self.data_format = check_data_format(data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"`interpolation` argument should be one of 'nearest', 'bilinear' (the ones fitgen "
                             f"implements with TensorFlow's numbers). Received: interpolation={interpolation!r}")
        self.interpolation = interpolation

    def call(self, inputs):
        x = inputs.permute(0, 3, 1, 2)
        if self.interpolation == "nearest":
            x = F.interpolate(x, scale_factor=self.size, mode="nearest")
        else:
            size = (x.shape[2] * self.size[0], x.shape[3] * self.size[1])
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return x.permute(0, 2, 3, 1)

    def compute_output_shape(self, input_shape):
        rows = None if input_shape[1] is None else input_shape[1] * self.size[0]
        cols = None if input_shape[2] is None else input_shape[2] * self.size[1]
        return (input_shape[0], rows, cols, input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format, "interpolation": self.interpolation})
        return config


class ZeroPadding1D(Layer):
    """Pads the time axis with zeros: `padding` is an int or `(before, after)`."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair(padding, "padding")
        self._pads = (0, 0) + self.padding

    def call(self, inputs):
        return F.pad(inputs, self._pads)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _add(input_shape[1], sum(self.padding)), input_shape[2])

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        return config


class ZeroPadding2D(Layer):
    """Pads rows and columns with zeros.

    Args:
        padding: int (same on all sides), `(symmetric_height, symmetric_width)` or
            `((top, bottom), (left, right))`.
        data_format: None or 'channels_last'.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs_2d(padding, "padding")
        self.data_format = check_data_format(data_format)
        (top, bottom), (left, right) = self.padding
        self._pads = (0, 0, left, right, top, bottom)

    def call(self, inputs):
        return F.pad(inputs, self._pads)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _add(input_shape[1], sum(self.padding[0])), _add(input_shape[2], sum(self.padding[1])),
                input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding, "data_format": self.data_format})
        return config


class Cropping1D(Layer):
    """Crops the time axis: `cropping` is an int or `(before, after)`."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pair(cropping, "cropping")

    def call(self, inputs):
        before, after = self.cropping
        return inputs[:, before:inputs.shape[1] - after]

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        if length is not None:
            length -= sum(self.cropping)
            if length <= 0:
                raise ValueError(f"`cropping` parameter of `Cropping1D` layer must be smaller than the input length. "
                                 f"Received: input_shape={tuple(input_shape)}, cropping={self.cropping}")
        return (input_shape[0], length, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config["cropping"] = self.cropping
        return config


class Cropping2D(Layer):
    """Crops rows and columns.

    Args:
        cropping: int, `(symmetric_height, symmetric_width)` or `((top, bottom), (left, right))`.
        data_format: None or 'channels_last'.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs_2d(cropping, "cropping")
        self.data_format = check_data_format(data_format)

    def call(self, inputs):
        (top, bottom), (left, right) = self.cropping
        return inputs[:, top:inputs.shape[1] - bottom, left:inputs.shape[2] - right]

    def compute_output_shape(self, input_shape):
        dims = []
        for length, crop in zip(input_shape[1:3], self.cropping):
            if length is not None:
                length -= sum(crop)
                if length <= 0:
                    raise ValueError(f"`cropping` parameter of `Cropping2D` layer must be smaller than the input "
                                     f"shape. Received: input_shape={tuple(input_shape)}, cropping={self.cropping}")
            dims.append(length)
        return (input_shape[0],) + tuple(dims) + (input_shape[3],)

    def get_config(self):
        config = super().get_config()
        config.update({"cropping": self.cropping, "data_format": self.data_format})
        return config
