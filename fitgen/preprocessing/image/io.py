"""Reading and writing images: `load_img`, `img_to_array`, `array_to_img`, `save_img`, `list_pictures`.

Pillow is optional for fitgen as a whole and is imported on first use. Every failure to decode a file
raises `UnreadableImageError` (an OSError) that names the file, so a bad picture never becomes a silent
wrong sample.
"""
import io
import os
import pathlib
import warnings

import numpy as np

from fitgen import backend

COLOR_MODES = ("grayscale", "rgb", "rgba")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
# The extensions Keras's directory and dataframe iterators accept.
WHITE_LIST_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


class UnreadableImageError(OSError):
    """An image file could not be read or decoded; `path` names it."""

    def __init__(self, path, cause):
        super().__init__(f"Could not read the image file '{path}': {type(cause).__name__}: {cause}")
        self.path = path

    def __reduce__(self):
        # Pickled by process workers: rebuilt with its message and path (the cause is in the message).
        return _rebuild_unreadable, (type(self), self.path, str(self)), self.__dict__


def _rebuild_unreadable(cls, path, message):
    error = cls.__new__(cls, message)
    OSError.__init__(error, message)
    error.path = path
    return error


def pil_image():
    """The `PIL.Image` module, or an ImportError that says how to install it."""
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError("Reading and writing images needs Pillow: `pip install fitgen[image]` "
                          "(or `pip install Pillow`).") from error
    return Image


def check_color_mode(color_mode):
    if color_mode not in COLOR_MODES:
        raise ValueError(f"`color_mode` must be one of {COLOR_MODES}. Received: color_mode={color_mode!r}")
    return _CHANNELS[color_mode]


def check_interpolation(interpolation):
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {INTERPOLATIONS}. "
                         f"Received: interpolation={interpolation!r}")


def check_target_size(target_size, allow_none=False):
    """Returns `(height, width)` as ints, or raises ValueError saying what a target size must be."""
    if target_size is None and allow_none:
        return None
    try:
        size = tuple(target_size)
    except TypeError:
        size = ()
    if len(size) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                                 for v in size):
        raise ValueError("`target_size` must be a pair of positive integers (height, width). "
                         f"Received: target_size={target_size!r}")
    return int(size[0]), int(size[1])


def _check_data_format(data_format):
    data_format = data_format or backend.image_data_format()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("`data_format` must be 'channels_last' or 'channels_first'. "
                         f"Received: data_format={data_format!r}")
    return data_format


def _resize(img, target_size, interpolation, keep_aspect_ratio):
    image_module = pil_image()
    width_height = (target_size[1], target_size[0])
    if img.size == width_height:
        return img
    resample = getattr(image_module, "Resampling", image_module)
    resample = getattr(resample, interpolation.upper())
    if not keep_aspect_ratio:
        return img.resize(width_height, resample)
    # Centre crop to the target aspect ratio first, as tf-keras's keep_aspect_ratio does.
    width, height = img.size
    crop_height = min(height, (width * width_height[1]) // width_height[0])
    crop_width = min(width, (height * width_height[0]) // width_height[1])
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    return img.resize(width_height, resample, box=(left, top, left + crop_width, top + crop_height))


def _convert(img, color_mode):
    if color_mode == "grayscale":
        return img if img.mode in ("L", "I;16", "I") else img.convert("L")
    wanted = "RGBA" if color_mode == "rgba" else "RGB"
    return img if img.mode == wanted else img.convert(wanted)


def load_img(path, grayscale=False, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Loads an image into PIL format.

    Args:
        path: path to the image file (str, bytes or pathlib.Path) or a file-like object.
        grayscale: deprecated, use `color_mode="grayscale"`.
        color_mode: one of "grayscale", "rgb", "rgba".
        target_size: None (original size) or `(height, width)`.
        interpolation: resampling used when the size changes: "nearest" (default), "bilinear",
            "bicubic", "hamming", "box" or "lanczos".
        keep_aspect_ratio: crop the centre to the target aspect ratio before resizing.

    Returns:
        A fully decoded PIL Image (no file handle stays open).

    Raises:
        ImportError: if Pillow is not installed.
        UnreadableImageError: (an OSError) if the file cannot be decoded; the message names the file.
        ValueError: for an unknown `color_mode` or `interpolation`, or a malformed `target_size`.
    """
    if grayscale:
        warnings.warn('grayscale is deprecated. Please use color_mode = "grayscale"', stacklevel=2)
        color_mode = "grayscale"
    check_color_mode(color_mode)
    check_interpolation(interpolation)
    target_size = check_target_size(target_size, allow_none=True)
    if isinstance(path, pathlib.Path):
        path = str(path)
    if isinstance(path, (str, bytes)):
        with open(path, "rb") as f:
            data = io.BytesIO(f.read())
        name = os.fsdecode(path)
    elif hasattr(path, "read"):
        data, name = path, getattr(path, "name", repr(path))
    else:
        raise TypeError(f"`path` must be a path or a file-like object. Received: {type(path).__name__}")
    return _decode(data, name, color_mode, target_size, interpolation, keep_aspect_ratio, as_array=False)


def _decode(data, name, color_mode, target_size, interpolation, keep_aspect_ratio, as_array):
    image_module = pil_image()
    try:
        img = _convert(image_module.open(data), color_mode)
        if target_size is not None:
            img = _resize(img, target_size, interpolation, keep_aspect_ratio)
        if not as_array:
            img.load()
            return img
        return np.asarray(img)  # decodes, unless convert or resize already did
    except Exception as error:  # PIL signals corrupt data with many exception types
        raise UnreadableImageError(name, error) from error


def decode_image_file(path, color_mode, target_size, interpolation, keep_aspect_ratio=False):
    """Decodes one file straight to an (h, w, channels) array: the iterators' path, arguments pre-checked."""
    with open(path, "rb") as f:
        data = io.BytesIO(f.read())
    array = _decode(data, path, color_mode, target_size, interpolation, keep_aspect_ratio, as_array=True)
    return array.reshape(array.shape[0], array.shape[1], -1)


def img_to_array(img, data_format=None, dtype=None):
    """Converts a PIL Image instance to a 3D numpy array (height, width, channels) by default."""
    data_format = _check_data_format(data_format)
    x = np.asarray(img, dtype=dtype or backend.floatx())
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(2, 0, 1)
    return x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """Converts a 3D numpy array to a PIL Image instance.

    Args:
        x: 3D array, e.g. `(height, width, channels)`.
        data_format: "channels_last" (default) or "channels_first".
        scale: whether to stretch the values to [0, 255] (min-max) first.
        dtype: working float dtype, floatx() by default.

    Returns:
        A PIL Image: "RGBA" for 4 channels, "RGB" for 3, "L" (or "I" above 255) for 1.
    """
    image_module = pil_image()
    data_format = _check_data_format(data_format)
    x = np.asarray(x, dtype=dtype or backend.floatx())
    if x.ndim != 3:
        raise ValueError(f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x = x / x_max
        x = x * 255
    channels = x.shape[2]
    if channels == 4:
        return image_module.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return image_module.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return image_module.fromarray(x[:, :, 0].astype("int32"), "I")
        return image_module.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}. Expected 1, 3 or 4.")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Saves an image stored as a numpy array to a path or file object (extra kwargs go to PIL's save)."""
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format in ("jpg", "jpeg"):
        warnings.warn("The JPG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def list_pictures(directory, ext=("jpg", "jpeg", "bmp", "png", "ppm", "tif", "tiff")):
    """Lists the image files under `directory` (recursively) whose extension is in `ext`, sorted."""
    suffixes = tuple(f".{e.lower()}" for e in ((ext,) if isinstance(ext, str) else ext))
    return sorted(os.path.join(root, name) for root, _, files in os.walk(directory)
                  for name in files if name.lower().endswith(suffixes))
