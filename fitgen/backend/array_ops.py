"""Keras 2 backend shape functions: reshape, permute, concatenate, stack, tile, repeat, gather, one_hot, slice,
padding and image resizing.

Spatial functions take `data_format` ('channels_last' by default, from `image_data_format()`).
"""
import builtins

import torch
import torch.nn.functional as F

from fitgen.backend import common
from fitgen.backend.conversion import axis_arg, data_format_arg, shape_arg, to_tensor
from fitgen.backend.dispatch import keras_op


@keras_op("K.reshape")
def reshape(x, shape):
    """`x` with a new shape (one entry may be -1)."""
    return to_tensor(x).reshape(shape_arg(shape))


@keras_op("K.permute_dimensions")
def permute_dimensions(x, pattern):
    """Reorders the axes: `pattern` lists the input axis for each output axis, e.g. `(0, 2, 1)`."""
    return to_tensor(x).permute(shape_arg(pattern, "pattern"))


@keras_op("K.expand_dims")
def expand_dims(x, axis=-1):
    """Inserts an axis of size 1 at `axis` (-1: at the end)."""
    x = to_tensor(x)
    return x.unsqueeze(axis_arg(axis, x.dim() + 1))


@keras_op("K.squeeze")
def squeeze(x, axis):
    """Removes the axis `axis`, which must have size 1.

    Raises:
        ValueError: if that axis does not have size 1.
    """
    x = to_tensor(x)
    axis = axis_arg(axis, x.dim())
    if x.shape[axis] != 1:
        raise ValueError(f"squeeze: axis {axis} of a tensor of shape {tuple(x.shape)} has size {x.shape[axis]}, "
                         "expected 1.")
    return x.squeeze(axis)


@keras_op("K.flatten")
def flatten(x):
    """All values in one axis."""
    return to_tensor(x).reshape(-1)


@keras_op("K.batch_flatten")
def batch_flatten(x):
    """`(batch, ...)` to `(batch, prod(...))`."""
    x = to_tensor(x)
    return x.reshape(x.shape[0], -1)


@keras_op("K.concatenate")
def concatenate(tensors, axis=-1):
    """Joins tensors along `axis` (default the last)."""
    tensors = [to_tensor(t) for t in tensors]
    tensors = [t.to(tensors[0].device) for t in tensors]
    return torch.cat(tensors, dim=axis_arg(axis, tensors[0].dim()))


@keras_op("K.stack")
def stack(x, axis=0):
    """Stacks tensors of one shape along a new axis `axis`."""
    tensors = [to_tensor(t) for t in x]
    tensors = [t.to(tensors[0].device) for t in tensors]
    return torch.stack(tensors, dim=axis_arg(axis, tensors[0].dim() + 1))


@keras_op("K.tile")
def tile(x, n):
    """Repeats the whole tensor `n[i]` times along axis i (`n` an int or a list)."""
    return torch.tile(to_tensor(x), shape_arg(n, "n"))


@keras_op("K.repeat")
def repeat(x, n):
    """`(samples, dim)` to `(samples, n, dim)`: each row repeated `n` times.

    Raises:
        ValueError: if `x` is not 2-D.
    """
    x = to_tensor(x)
    if x.dim() != 2:
        raise ValueError(f"repeat expects a 2-D tensor (samples, dim). Received shape {tuple(x.shape)}.")
    return x.unsqueeze(1).expand(x.shape[0], int(n), x.shape[1]).contiguous()


@keras_op("K.repeat_elements")
def repeat_elements(x, rep, axis):
    """Repeats each element `rep` times along `axis`, as `np.repeat`."""
    x = to_tensor(x)
    return torch.repeat_interleave(x, int(rep), dim=axis_arg(axis, x.dim()))


@keras_op("K.arange")
def arange(start, stop=None, step=1, dtype="int32"):
    """`[start, stop)` by `step`, as a 1-D tensor; `arange(n)` counts from 0 (a negative `n` gives nothing)."""
    start, stop, step = (int(v) if isinstance(v, torch.Tensor) else v for v in (start, stop, step))
    if stop is None:
        start, stop = (0, start) if start >= 0 else (0, 0)
    return torch.arange(start, stop, step, dtype=common.torch_dtype(dtype), device=common.creation_device())


@keras_op("K.gather")
def gather(reference, indices):
    """Rows of `reference` at `indices` (an int tensor of any shape): shape `indices.shape + reference.shape[1:]`."""
    reference = to_tensor(reference)
    indices = to_tensor(indices).to(reference.device).long()
    return reference[indices]


@keras_op("K.one_hot")
def one_hot(indices, num_classes):
    """`indices` (ints, any shape) as one-hot vectors: shape `indices.shape + (num_classes,)`, float32.

    An index outside `[0, num_classes)` gives a row of zeros, as tf.one_hot.
    """
    indices = to_tensor(indices).long()
    classes = torch.arange(int(num_classes), device=indices.device)
    return (indices.unsqueeze(-1) == classes).to(torch.float32)


@keras_op("K.reverse")
def reverse(x, axes):
    """Reverses `x` along `axes` (an int or a list of ints)."""
    x = to_tensor(x)
    axes = axis_arg(axes, x.dim(), "axes")
    return torch.flip(x, dims=(axes,) if isinstance(axes, int) else axes)


@keras_op("K.slice")
def slice(x, start, size):
    """The block starting at `start` with `size` (per axis; -1 takes the rest of that axis)."""
    x = to_tensor(x)
    start, size = shape_arg(start, "start"), shape_arg(size, "size")
    if len(start) != x.dim() or len(size) != x.dim():
        raise ValueError(f"slice: `start` and `size` need one entry per axis ({x.dim()}). Received: start={start}, "
                         f"size={size}")
    index = tuple(builtins.slice(b, x.shape[i] if s == -1 else b + s) for i, (b, s) in enumerate(zip(start, size)))
    return x[index]


def _spatial_axes(rank, data_format):
    return tuple(range(2, 2 + rank)) if data_format == "channels_first" else tuple(range(1, 1 + rank))


def _pad(x, pairs, axes):
    # F.pad lists (before, after) pairs from the last axis backwards.
    spec = [0, 0] * x.dim()
    for (before, after), axis in zip(pairs, axes):
        spec[2 * (x.dim() - 1 - axis)] = int(before)
        spec[2 * (x.dim() - 1 - axis) + 1] = int(after)
    return F.pad(x, spec)


def _pairs(padding, rank, name):
    padding = list(padding)
    if len(padding) != rank or not builtins.all(isinstance(p, (list, tuple)) and len(p) == 2 for p in padding):
        raise ValueError(f"`{name}` must be {rank} pairs (before, after). Received: {name}={padding!r}")
    return [tuple(p) for p in padding]


@keras_op("K.temporal_padding")
def temporal_padding(x, padding=(1, 1)):
    """Zero-pads the middle axis of a `(batch, steps, features)` tensor by `(before, after)`."""
    x = to_tensor(x)
    return _pad(x, [tuple(padding)], (1,))


@keras_op("K.spatial_2d_padding")
def spatial_2d_padding(x, padding=((1, 1), (1, 1)), data_format=None):
    """Zero-pads the rows and columns of a 4-D image tensor by `((top, bottom), (left, right))`."""
    x = to_tensor(x)
    return _pad(x, _pairs(padding, 2, "padding"), _spatial_axes(2, data_format_arg(data_format)))


@keras_op("K.spatial_3d_padding")
def spatial_3d_padding(x, padding=((1, 1), (1, 1), (1, 1)), data_format=None):
    """Zero-pads the three spatial axes of a 5-D tensor."""
    x = to_tensor(x)
    return _pad(x, _pairs(padding, 3, "padding"), _spatial_axes(3, data_format_arg(data_format)))


@keras_op("K.resize_images")
def resize_images(x, height_factor, width_factor, data_format=None, interpolation="nearest"):
    """Upsamples a 4-D image tensor by integer factors, 'nearest' (repeat) or 'bilinear' (half-pixel centres).

    Raises:
        ValueError: for another `interpolation`.
    """
    x = to_tensor(x)
    data_format = data_format_arg(data_format)
    rows, cols = _spatial_axes(2, data_format)
    if interpolation == "nearest":
        return torch.repeat_interleave(torch.repeat_interleave(x, int(height_factor), dim=rows), int(width_factor),
                                       dim=cols)
    if interpolation != "bilinear":
        raise ValueError(f"resize_images: `interpolation` must be 'nearest' or 'bilinear'. "
                         f"Received: interpolation={interpolation!r}")
    first = x if data_format == "channels_first" else x.permute(0, 3, 1, 2)
    size = (first.shape[2] * int(height_factor), first.shape[3] * int(width_factor))
    out = F.interpolate(first, size=size, mode="bilinear", align_corners=False)
    return out if data_format == "channels_first" else out.permute(0, 2, 3, 1)


@keras_op("K.resize_volumes")
def resize_volumes(x, depth_factor, height_factor, width_factor, data_format=None):
    """Upsamples the three spatial axes of a 5-D tensor by repeating elements."""
    x = to_tensor(x)
    for axis, factor in zip(_spatial_axes(3, data_format_arg(data_format)), (depth_factor, height_factor,
                                                                              width_factor)):
        x = torch.repeat_interleave(x, int(factor), dim=axis)
    return x
