"""Batched affine resampling with the semantics of `scipy.ndimage.affine_transform` for orders 0 and 1.

NOTE [ fitgen resampling ]
Keras warps each channel with SciPy; fitgen warps a whole batch at once and matches SciPy's edge modes:
- 'constant': a read whose coordinate lies outside [0, n-1] gives `cval` (no blending with cval);
- 'nearest':  neighbour indices are clamped (aaaa|abcd|dddd);
- 'reflect':  neighbour indices mirror about the edge, edge pixel repeated (dcba|abcd|dcba), period 2n;
- 'wrap':     a coordinate outside [0, n-1] is taken modulo n-1 (SciPy's 'wrap', not 'grid-wrap').
Coordinates are computed in float64 as SciPy does; those within `_EDGE_TOL` of the border count as inside,
so that a 90-degree turn does not lose a row to round-off (SciPy's answer there hangs on the last bit).

Bilinear reads (order 1) run in torch's fused `grid_sample` kernel, several times faster than the dozen
numpy passes a gather-and-blend takes: border padding with align_corners=True is exactly the 'nearest'
clamp; 'constant' masks the outside reads afterwards; 'wrap' wraps the coordinates first; 'reflect' folds
them about -0.5 and n - 0.5, which reproduces SciPy's index mirroring exactly for bilinear reads. grid_sample takes float32 normalised coordinates, so values agree with SciPy to about 1e-5 of a
pixel step. Order 0 is a numpy gather with SciPy's rounding, floor(x + 0.5).

Fork safety: torch's OpenMP thread pool does not survive fork(); a forked child that resamples switches
itself to one intra-op thread first, as torch's DataLoader workers do (otherwise the child hangs).
"""
import functools
import os

import numpy as np
import torch
import torch.nn.functional as F

FILL_MODES = ("constant", "nearest", "reflect", "wrap")
_EDGE_TOL = 1e-6
_IMPORT_PID = os.getpid()
_checked_pid = None


def check_fill_mode(fill_mode):
    if fill_mode not in FILL_MODES:
        raise ValueError(f"`fill_mode` must be one of {FILL_MODES}. Received: fill_mode={fill_mode!r}")


def check_interpolation_order(order):
    if order not in (0, 1):
        raise ValueError("fitgen resamples with interpolation order 1 (bilinear, Keras's default) or 0 (nearest). "
                         f"Received: order={order!r}")


@functools.lru_cache(maxsize=16)
def _output_grid(height, width):
    # Shared by every batch of one image size; read-only so that threads may share it.
    rows = np.arange(height, dtype=np.float64)[:, None]
    cols = np.arange(width, dtype=np.float64)[None, :]
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


def _source_coordinates(matrices, height, width):
    m = matrices[:, :2, :, None, None]
    rows, cols = _output_grid(height, width)
    return m[:, 0, 0] * rows + m[:, 0, 1] * cols + m[:, 0, 2], m[:, 1, 0] * rows + m[:, 1, 1] * cols + m[:, 1, 2]


def _inside(coord, size):
    return (coord >= -_EDGE_TOL) & (coord <= size - 1 + _EDGE_TOL)


def _float_mod(coord, period):
    # x - floor(x / p) * p: ten times faster than np.mod on float64 (which also fixes signs of zero).
    return coord - np.floor(coord * (1.0 / period)) * period


def _wrap_coordinate(coord, size):
    if size == 1:
        return np.zeros_like(coord)
    return np.where(_inside(coord, size), coord, _float_mod(coord, size - 1))


def _reflect_coordinate(coord, size):
    # For bilinear reads SciPy's index mirroring equals folding the coordinate about -0.5 and n - 0.5
    # (period 2n) and clamping: between the fold and the edge pixel both neighbours are that pixel.
    folded = _float_mod(coord + 0.5, 2 * size) - 0.5
    return np.where(folded > size - 0.5, 2 * size - 1 - folded, folded)


def _reflect_index(index, size):
    index = np.mod(index, 2 * size)
    return np.where(index >= size, 2 * size - 1 - index, index)


def _map_index(index, size, fill_mode):
    if fill_mode == "reflect":
        return _reflect_index(index, size)
    return np.clip(index, 0, size - 1)


def _single_thread_after_fork():
    global _checked_pid
    pid = os.getpid()
    if pid != _checked_pid:
        if pid != _IMPORT_PID and torch.get_num_threads() > 1:
            torch.set_num_threads(1)
        _checked_pid = pid


def _bilinear(images, rows, cols):
    """Bilinear reads of `images` (n, h, w, c) at float64 pixel coordinates (n, oh, ow), clamped to the border."""
    _single_thread_after_fork()
    _, height, width, _ = images.shape
    grid = np.empty(rows.shape + (2,), dtype=np.float32)
    # align_corners=True maps -1 and 1 to the centres of the first and last pixels.
    grid[..., 0] = cols * (2.0 / (width - 1)) - 1 if width > 1 else 0.0
    grid[..., 1] = rows * (2.0 / (height - 1)) - 1 if height > 1 else 0.0
    source = torch.from_numpy(images).permute(0, 3, 1, 2)
    out = F.grid_sample(source, torch.from_numpy(grid), mode="bilinear", padding_mode="border",
                        align_corners=True)
    return np.ascontiguousarray(out.permute(0, 2, 3, 1).numpy())


def _nearest(images, rows, cols, fill_mode):
    n, height, width, channels = images.shape
    r = _map_index(np.floor(rows + 0.5).astype(np.intp), height, fill_mode)
    c = _map_index(np.floor(cols + 0.5).astype(np.intp), width, fill_mode)
    flat = (np.arange(n, dtype=np.intp)[:, None, None] * height + r) * width + c
    return images.reshape(-1, channels)[flat.ravel()].reshape(rows.shape + (channels,))


def affine_resample(images, matrices, fill_mode="nearest", cval=0.0, order=1):
    """Warps a batch of same-sized images, each with its own inverse-map matrix.

    Args:
        images: array `(n, height, width, channels)`.
        matrices: array `(n, 3, 3)` (or `(n, 2, 3)`) mapping output (row, col, 1) to the input (row, col)
            that is read, as `scipy.ndimage.affine_transform(image, m[:2, :2], m[:2, 2])` does.
        fill_mode: one of 'constant', 'nearest', 'reflect', 'wrap' (SciPy's definitions).
        cval: value for reads outside the image when `fill_mode='constant'`.
        order: 1 for bilinear (Keras's default), 0 for nearest neighbour.

    Returns:
        The warped batch: float32, or float64 for float64 input.
    """
    check_fill_mode(fill_mode)
    check_interpolation_order(order)
    images = np.asarray(images)
    dtype = np.float64 if images.dtype == np.float64 else np.float32
    images = np.array(images, dtype=dtype, order="C", copy=not images.flags.writeable or None)
    n, height, width, _ = images.shape
    rows, cols = _source_coordinates(np.asarray(matrices, dtype=np.float64).reshape(n, -1, 3), height, width)
    inside = None
    if fill_mode == "constant":
        inside = _inside(rows, height) & _inside(cols, width)
    elif fill_mode == "wrap":
        rows, cols = _wrap_coordinate(rows, height), _wrap_coordinate(cols, width)
    if order == 0:
        out = _nearest(images, rows, cols, fill_mode)
    elif fill_mode == "reflect":
        out = _bilinear(images, _reflect_coordinate(rows, height), _reflect_coordinate(cols, width))
    else:
        out = _bilinear(images, rows, cols)
    if inside is not None:
        # Indexing by the outside positions costs what they number; a boolean mask costs the whole batch.
        out.reshape(-1, out.shape[-1])[np.flatnonzero(~inside)] = cval
    return out
