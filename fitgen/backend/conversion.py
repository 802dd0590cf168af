"""Turning what Keras 2 code passes to backend functions into torch tensors, and normalising their arguments.

Operands may be torch tensors, `K.variable`s, the numpy-backed `Variable` of an optimizer (`lr`), layer weights,
NumPy arrays, Python numbers or lists, as TensorFlow accepted them. A non-tensor operand meeting a tensor takes
the tensor's dtype and device (as `tf.convert_to_tensor` with a dtype hint).
"""
import numbers

import numpy as np
import torch

from fitgen.backend import common


def is_plain_number(x):
    return isinstance(x, numbers.Number) and not isinstance(x, (np.ndarray, torch.Tensor))


def to_tensor(x, dtype=None, like=None):
    """`x` as a torch tensor; `dtype` (Keras name or torch dtype) casts it; `like` gives a non-tensor its dtype/device.

    Raises:
        TypeError: for values that cannot become a tensor (the message names the received type).
    """
    if isinstance(x, torch.Tensor):
        tensor = x
    elif isinstance(x, common.Variable):
        tensor = torch.as_tensor(x.numpy(), device=_device(like))
        if like is not None and tensor.dtype.is_floating_point and like.dtype.is_floating_point:
            tensor = tensor.to(like.dtype)
    elif hasattr(x, "keras_view") and hasattr(x, "assign"):  # a layer weight: its Keras-layout view keeps autograd
        tensor = x.keras_view()
    elif getattr(x, "_keras_history", None) is not None:
        raise TypeError(f"Cannot use the symbolic tensor {x!r} as a value here; call the function on it directly "
                        "(backend functions record a layer when given symbolic tensors).")
    else:
        try:
            if like is not None:
                value = np.asarray(x) if not isinstance(x, (numbers.Number, list, tuple)) else x
                tensor = torch.as_tensor(_contiguous(value), dtype=like.dtype, device=like.device)
            else:
                tensor = _from_python(x)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(f"Expected a tensor, array or number; received {type(x).__name__}: {error}") from None
    if dtype is not None:
        dtype = common.torch_dtype(dtype)
        if tensor.dtype != dtype:
            tensor = tensor.to(dtype)
    return tensor


def _device(like):
    return like.device if like is not None else common.creation_device()


def _contiguous(value):
    if isinstance(value, np.ndarray) and not value.flags.c_contiguous:
        return np.ascontiguousarray(value)
    return value


def _from_python(x):
    device = common.creation_device()
    if isinstance(x, np.ndarray) or isinstance(x, np.generic):
        return torch.as_tensor(_contiguous(np.asarray(x)), device=device)
    value = np.asarray(x)
    if value.dtype.kind == "f":
        value = value.astype(common.floatx())
    elif value.dtype.kind in "iu" and value.dtype.itemsize == 8 and not isinstance(x, np.ndarray):
        value = value.astype("int32")  # a Python int becomes int32, as tf.convert_to_tensor does
    return torch.as_tensor(_contiguous(value), device=device)


def pair(x, y):
    """`x` and `y` as tensors of one dtype family and device, broadcasting left to torch.

    A Python number stays a number when the other side is a tensor (torch keeps the tensor's dtype).
    """
    x_tensor, y_tensor = isinstance(x, torch.Tensor), isinstance(y, torch.Tensor)
    if x_tensor and y_tensor:
        if x.device != y.device:
            if x.device.type == "cpu":
                x = x.to(y.device)
            else:
                y = y.to(x.device)
        return x, y
    if x_tensor:
        return x, (y if is_plain_number(y) else to_tensor(y, like=x))
    if y_tensor:
        return (x if is_plain_number(x) else to_tensor(x, like=y)), y
    x = to_tensor(x)
    return x, (y if is_plain_number(y) else to_tensor(y, like=x))


def floating(x):
    """`x` as a tensor, cast to floatx unless it is already floating point."""
    x = to_tensor(x)
    return x if x.dtype.is_floating_point else x.to(common.torch_dtype())


def axis_arg(axis, ndim, name="axis"):
    """A Keras axis argument (None, an int or a list/tuple of ints) with negative axes made positive.

    Raises:
        ValueError: for an axis outside `[-ndim, ndim)`.
    """
    if axis is None:
        return None
    if isinstance(axis, torch.Tensor):
        axis = axis.tolist()
    if isinstance(axis, (list, tuple)):
        return tuple(axis_arg(a, ndim, name) for a in axis)
    axis = int(axis)
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"Invalid {name}={axis} for a tensor of rank {ndim}: expected a value in "
                         f"[{-ndim}, {ndim}).")
    return axis % max(ndim, 1)


def shape_arg(shape, name="shape"):
    """A shape given as ints, 0-d tensors (`K.shape(x)[0]`), a tensor or a torch.Size, as a tuple of ints.

    Raises:
        TypeError: for a shape entry that is not an integer.
    """
    if isinstance(shape, torch.Tensor):
        return tuple(int(d) for d in shape.reshape(-1).tolist())
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a tuple of integers (None is not allowed for a concrete tensor). "
                        f"Received: {name}={shape!r}") from None


def dtype_name(dtype):
    """'float32' for torch.float32, a numpy dtype or a Keras name."""
    if isinstance(dtype, torch.dtype):
        return str(dtype).replace("torch.", "")
    return np.dtype(dtype).name if dtype != "bfloat16" else "bfloat16"


data_format_arg = common.normalize_data_format  # one rule for layers and backend functions
