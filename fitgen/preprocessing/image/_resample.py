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
clamp (Keras's default, so that path builds the normalised grid straight from the matrices); 'constant'
masks the outside reads afterwards; 'wrap' wraps the coordinates first; 'reflect' folds them about -0.5
and n - 0.5, which reproduces SciPy's index mirroring exactly for bilinear reads. grid_sample takes
float32 normalised coordinates, so values agree with SciPy to about 1e-5 of a pixel step. Order 0 is a
numpy gather with SciPy's rounding, floor(x + 0.5).

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
    """Input (row, col) read by every output pixel, float64 (n, h, w): one broadcast add per coordinate."""
    m = matrices[:, :2, :, None, None]
    rows, cols = _output_grid(height, width)
    return m[:, 0, 0] * rows + m[:, 0, 2] + m[:, 0, 1] * cols, m[:, 1, 0] * rows + m[:, 1, 2] + m[:, 1, 1] * cols


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


def _normalise(coord, size):
    # grid_sample's align_corners=True maps -1 and 1 to the centres of the first and last pixels.
    return coord * (2.0 / (size - 1)) - 1 if size > 1 else np.zeros_like(coord)


def _bilinear(images, grid):
    """Bilinear reads of `images` (n, h, w, c) at a normalised float32 grid (n, oh, ow, 2) (x = column first),
    clamped to the border. Returns a float array (n, c, oh, ow)."""
    _single_thread_after_fork()
    source = torch.from_numpy(images).permute(0, 3, 1, 2)
    grid = torch.from_numpy(grid).to(source.dtype)  # grid_sample wants one dtype: float64 images, float64 grid

    def sample(src, where):
        return F.grid_sample(src, where, mode="bilinear", padding_mode="border", align_corners=True)

    if torch.get_num_threads() == 1 or len(images) == 1:
        return sample(source, grid).numpy()
    # One image per call runs inline: torch's OpenMP split of a small batch costs more than it saves, and
    # many times more on a busy machine. Worker processes run with one thread and take the batched call.
    return torch.cat([sample(source[i:i + 1], grid[i:i + 1]) for i in range(len(images))]).numpy()


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
        The warped batch `(n, height, width, channels)`: float32 (float64 for float64 input), possibly a
        non-contiguous view.
    """
    check_fill_mode(fill_mode)
    check_interpolation_order(order)
    images = np.asarray(images)
    dtype = np.float64 if images.dtype == np.float64 else np.float32
    images = np.array(images, dtype=dtype, order="C", copy=not images.flags.writeable or None)
    n, height, width, _ = images.shape
    matrices = np.asarray(matrices, dtype=np.float64).reshape(n, -1, 3)
    if order == 1 and fill_mode == "nearest":
        # The common case: normalised coordinates straight from the matrix, one pass per coordinate.
        scale = np.array([2.0 / (height - 1) if height > 1 else 0.0, 2.0 / (width - 1) if width > 1 else 0.0])
        m = matrices[:, :2] * scale[None, :, None]
        m[:, :, 2] -= np.where(scale > 0, 1.0, 0.0)
        grid = np.empty((n, height, width, 2), dtype=np.float32)
        rows, cols = _output_grid(height, width)
        for axis, row in ((0, 1), (1, 0)):  # grid x is the column coordinate
            mm = m[:, row, :, None, None]
            np.add(mm[:, 0] * rows + mm[:, 2], mm[:, 1] * cols, out=grid[..., axis], casting="same_kind")
        return _bilinear(images, grid).transpose(0, 2, 3, 1)
    rows, cols = _source_coordinates(matrices, height, width)
    outside = None
    if fill_mode == "constant":
        outside = np.nonzero(~(_inside(rows, height) & _inside(cols, width)))
    elif fill_mode == "wrap":
        rows, cols = _wrap_coordinate(rows, height), _wrap_coordinate(cols, width)
    elif fill_mode == "reflect" and order == 1:
        rows, cols = _reflect_coordinate(rows, height), _reflect_coordinate(cols, width)
    if order == 0:
        out = _nearest(images, rows, cols, fill_mode)
        if outside is not None:
            out[outside] = cval
        return out
    grid = np.empty((n, height, width, 2), dtype=np.float32)
    grid[..., 0] = _normalise(cols, width)
    grid[..., 1] = _normalise(rows, height)
    out = _bilinear(images, grid)
    if outside is not None:
        # Indexing the outside positions costs what they number; a boolean mask costs the whole batch.
        out[outside[0], :, outside[1], outside[2]] = cval
    return out.transpose(0, 2, 3, 1)
