"""Image transforms with Keras 2's conventions: affine warps, flips, channel and brightness shifts.

NOTE [ fitgen affine conventions ]
Keras (keras_preprocessing 1.1 with SciPy) builds one 3x3 matrix in (row, column) pixel coordinates,
    M = offset(c) . rotation(theta) . shift(tx, ty) . shear . zoom(zx, zy) . offset(-c),  c = (h/2 - 0.5, w/2 - 0.5)
and hands it to `scipy.ndimage.affine_transform(channel, M[:2, :2], M[:2, 2], order=1)`, which reads every
output pixel o from the input at M . o (an inverse map). So `tx` moves rows (the height shift) and `ty`
moves columns, `zx` scales rows and `zy` columns, and a positive `theta` turns the picture clockwise on
screen. Two known bugs are not copied: keras_preprocessing 1.1.2 (Keras 2.2.4/2.3.1) centres on
(h/2 + 0.5, w/2 + 0.5), one pixel off (later keras-preprocessing and tf-keras use (h - 1)/2, as fitgen
does); tf-keras 2.x transposes M for channels_last images while still centring it on (h, w), which turns
`height_shift_range` into a horizontal shift and rotates non-square images about the wrong point. With the
centre corrected, fitgen's output equals keras_preprocessing 1.1.2's for the same seed.

The resampling itself (SciPy's order-0/1 modes, batched) lives in `_resample.py`.
"""
import numpy as np

from fitgen.preprocessing.image._resample import FILL_MODES  # noqa: F401 (public here)
from fitgen.preprocessing.image._resample import affine_resample  # noqa: F401 (public here)
from fitgen.preprocessing.image._resample import check_fill_mode
from fitgen.preprocessing.image._resample import check_interpolation_order


def transform_matrix_offset_center(matrix, x, y):
    """Conjugates `matrix` so that it acts about the centre of an `x` by `y` pixel grid."""
    o_x = float(x) / 2 - 0.5
    o_y = float(y) / 2 - 0.5
    offset_matrix = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset_matrix = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return offset_matrix @ matrix @ reset_matrix


def affine_transform_matrix(theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, height=None, width=None):
    """The (row, column) inverse-map matrix Keras builds, centred when `height` and `width` are given.

    Returns None for the identity parameters, which Keras skips without resampling.
    """
    matrix = None

    def _compose(part):
        return part if matrix is None else matrix @ part

    if theta != 0:
        angle = np.deg2rad(theta)
        matrix = _compose(np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                                    [0, 0, 1]]))
    if tx != 0 or ty != 0:
        matrix = _compose(np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], dtype=np.float64))
    if shear != 0:
        angle = np.deg2rad(shear)
        matrix = _compose(np.array([[1, -np.sin(angle), 0], [0, np.cos(angle), 0], [0, 0, 1]]))
    if zx != 1 or zy != 1:
        matrix = _compose(np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]], dtype=np.float64))
    if matrix is not None and height is not None:
        matrix = transform_matrix_offset_center(matrix, height, width)
    return matrix


def affine_transform_matrices(theta, tx, ty, shear, zx, zy, height, width):
    """`affine_transform_matrix` for arrays of parameters at once: returns the centred matrices (n, 3, 3).

    Zero angles, shifts and unit zooms give exact identity factors, so each matrix equals the one Keras
    builds from only the factors it needs.
    """
    theta, shear = np.deg2rad(np.asarray(theta, dtype=np.float64)), np.deg2rad(np.asarray(shear, dtype=np.float64))
    n = len(theta)

    def stack(a, b, c, d, e, f):
        m = np.zeros((n, 3, 3))
        m[:, 0, 0], m[:, 0, 1], m[:, 0, 2], m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = a, b, c, d, e, f
        m[:, 2, 2] = 1
        return m

    zeros, ones = np.zeros(n), np.ones(n)
    rotation = stack(np.cos(theta), -np.sin(theta), zeros, np.sin(theta), np.cos(theta), zeros)
    shift = stack(ones, zeros, tx, zeros, ones, ty)
    shearing = stack(ones, -np.sin(shear), zeros, zeros, np.cos(shear), zeros)
    zoom = stack(zx, zeros, zeros, zeros, zy, zeros)
    matrices = rotation @ shift @ shearing @ zoom
    return transform_matrix_offset_center(matrices, height, width)


def apply_affine_transform(x, theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, row_axis=1, col_axis=2, channel_axis=0,
                           fill_mode="nearest", cval=0.0, order=1):
    """Applies an affine transformation specified by the parameters given (Keras 2 semantics).

    Args:
        x: 3D numpy array, a 2D image with one or more channels.
        theta: rotation angle in degrees.
        tx: shift along the row axis, in pixels (the height shift in Keras's generator).
        ty: shift along the column axis, in pixels (the width shift).
        shear: shear angle in degrees.
        zx: zoom factor along the row axis (> 1 shows less of the image).
        zy: zoom factor along the column axis.
        row_axis: index of the rows axis in `x`.
        col_axis: index of the columns axis in `x`.
        channel_axis: index of the channels axis in `x`.
        fill_mode: points outside the boundaries are filled according to 'constant', 'nearest', 'reflect'
            or 'wrap' (SciPy's definitions).
        cval: value used for points outside the boundaries when `fill_mode='constant'`.
        order: interpolation order, 1 (bilinear, default) or 0 (nearest).

    Returns:
        The transformed image, same shape as `x`.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"Expected a single image with 3 dimensions. Received: x.shape={x.shape}")
    if sorted((row_axis, col_axis, channel_axis)) != [0, 1, 2]:
        raise ValueError("`row_axis`, `col_axis` and `channel_axis` must be a permutation of 0, 1, 2. Received: "
                         f"row_axis={row_axis}, col_axis={col_axis}, channel_axis={channel_axis}")
    check_fill_mode(fill_mode)
    check_interpolation_order(order)
    height, width = x.shape[row_axis], x.shape[col_axis]
    matrix = affine_transform_matrix(theta, tx, ty, shear, zx, zy, height, width)
    if matrix is None:
        return x
    image = np.transpose(x, (row_axis, col_axis, channel_axis))[None]
    out = affine_resample(image, matrix[None], fill_mode=fill_mode, cval=cval, order=order)[0]
    return np.transpose(out, np.argsort((row_axis, col_axis, channel_axis)))


def flip_axis(x, axis):
    """Reverses `x` along `axis`."""
    return np.flip(np.asarray(x), axis)


def apply_channel_shift(x, intensity, channel_axis=0):
    """Adds `intensity` to every channel, clipped to the image's own [min, max] (Keras 2)."""
    x = np.asarray(x)
    return np.clip(x + intensity, np.min(x), np.max(x)).astype(x.dtype, copy=False)


def random_channel_shift(x, intensity_range, channel_axis=0):
    """Channel shift by an intensity drawn uniformly from [-intensity_range, intensity_range]."""
    intensity = np.random.uniform(-intensity_range, intensity_range)
    return apply_channel_shift(x, intensity, channel_axis=channel_axis)


def apply_brightness_shift(x, brightness, scale=True, channel_axis=-1):
    """Scales brightness as Keras does through `PIL.ImageEnhance.Brightness`, without needing Pillow.

    The image passes through 8-bit pixels as in Keras: values are truncated to uint8, multiplied by
    `brightness` in float32, truncated and clipped to [0, 255] again; an alpha channel is kept as is.

    Args:
        x: 3D image array.
        brightness: float factor; 1 keeps the image, 0 makes it black.
        scale: whether the result stays min-max stretched to [0, 255]. With False (what
            ImageDataGenerator uses), an image outside [0, 255] is stretched for the 8-bit step and
            mapped back to its own range afterwards.
        channel_axis: channels axis of `x` (a fitgen extension; Keras assumes channels last).

    Returns:
        float32 image array of the same shape.
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float32), channel_axis, -1)
    if x.ndim != 3 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(f"Brightness shifts need an image with 1, 3 or 4 channels. Received shape {x.shape}.")
    x_min, x_max = np.min(x), np.max(x)
    local_scale = bool(x_min < 0 or x_max > 255)
    if local_scale or scale:
        x = x - x_min
        span = np.max(x)
        if span != 0:
            x = x / span
        x = x * 255
    pixels = x.astype(np.uint8)
    out = np.floor(np.clip(np.float32(brightness) * pixels.astype(np.float32), 0, 255))
    if out.shape[-1] == 4:
        out[..., 3] = pixels[..., 3]
    if not scale and local_scale:
        out = out / 255 * (x_max - x_min) + x_min
    return np.moveaxis(out, -1, channel_axis)


def random_brightness(x, brightness_range, scale=True):
    """Brightness shift by a factor drawn uniformly from `brightness_range` (a pair of floats)."""
    if len(brightness_range) != 2:
        raise ValueError(f"`brightness_range` should be a tuple or list of two floats. "
                         f"Received: {brightness_range!r}")
    factor = np.random.uniform(brightness_range[0], brightness_range[1])
    return apply_brightness_shift(x, factor, scale)


def random_rotation(x, rg, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest", cval=0.0,
                    interpolation_order=1):
    """Rotation by an angle drawn uniformly from [-rg, rg] degrees."""
    theta = np.random.uniform(-rg, rg)
    return apply_affine_transform(x, theta=theta, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


def random_shift(x, wrg, hrg, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest", cval=0.0,
                 interpolation_order=1):
    """Shift by fractions drawn from [-hrg, hrg] of the height and [-wrg, wrg] of the width."""
    h, w = x.shape[row_axis], x.shape[col_axis]
    tx = np.random.uniform(-hrg, hrg) * h
    ty = np.random.uniform(-wrg, wrg) * w
    return apply_affine_transform(x, tx=tx, ty=ty, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


def random_shear(x, intensity, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest", cval=0.0,
                 interpolation_order=1):
    """Shear by an angle drawn uniformly from [-intensity, intensity] degrees."""
    shear = np.random.uniform(-intensity, intensity)
    return apply_affine_transform(x, shear=shear, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


def random_zoom(x, zoom_range, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest", cval=0.0,
                interpolation_order=1):
    """Zoom by two factors (rows, columns) drawn uniformly from `zoom_range` (a pair of floats)."""
    if len(zoom_range) != 2:
        raise ValueError(f"`zoom_range` should be a tuple or list of two floats. Received: {zoom_range!r}")
    if zoom_range[0] == 1 and zoom_range[1] == 1:
        zx, zy = 1, 1
    else:
        zx, zy = np.random.uniform(zoom_range[0], zoom_range[1], 2)
    return apply_affine_transform(x, zx=zx, zy=zy, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)
