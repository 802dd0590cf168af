"""Keras 2 backend variables, constants and tensor introspection: `K.variable`, `K.constant`, `K.zeros`, `K.eval`,
`K.update_add`, `K.int_shape`, `K.dtype`, `K.cast`, ...

`K.variable` returns a `KerasVariable`: a torch tensor (a `torch.nn.Parameter` subclass, so a Module that holds
one moves it with `.to(device)`) with a Keras `name`, usable in every backend function and every torch op. It
does not require grad (Keras 2 code trains weights made with `add_weight`; a `K.variable` is state that code or
callbacks change with `K.set_value` / `K.update_add`).
"""
import numpy as np
import torch

from fitgen.backend import common
from fitgen.backend.conversion import dtype_name, shape_arg, to_tensor
from fitgen.backend.dispatch import keras_op
from fitgen.engine.keras_tensor import KerasTensor


class KerasVariable(torch.nn.Parameter):
    """The tensor `K.variable` returns: a torch tensor with a Keras `name` (`'Variable:0'` by default)."""

    def __new__(cls, data=None, requires_grad=False, name=None):
        data = torch.empty(0) if data is None else data
        variable = torch.Tensor._make_subclass(cls, data, requires_grad)
        variable._keras_name = name or "Variable:0"
        return variable

    @property
    def name(self):
        return self._keras_name

    def assign(self, value):
        common.set_value(self, value)
        return self

    def assign_add(self, delta):
        return update_add(self, delta)

    def assign_sub(self, delta):
        return update_sub(self, delta)

    def __deepcopy__(self, memo):
        copy = type(self)(self.data.clone(), self.requires_grad, self._keras_name)
        memo[id(self)] = copy
        return copy

    def __repr__(self):
        return (f"<KerasVariable {self._keras_name!r} shape={tuple(self.shape)} dtype={dtype_name(self.dtype)} "
                f"numpy={self.detach().cpu().numpy()!r}>")


def _variable_name(name):
    if name is None:
        name = common.unique_object_name("Variable")
    return name if ":" in name else f"{name}:0"


def variable(value, dtype=None, name=None, constraint=None):
    """A variable holding `value` (array, number, list or tensor), of `dtype` (default `floatx()`).

    Returns:
        A `KerasVariable` (a torch tensor) on the model device; `K.get_value`/`K.set_value` read and write it.
    """
    value = value.detach() if isinstance(value, torch.Tensor) else np.asarray(common.get_value(value))
    tensor = to_tensor(value, dtype=dtype or common.floatx()).to(common.creation_device()).clone()
    result = KerasVariable(tensor, name=_variable_name(name))
    result.constraint = constraint
    return result


def constant(value, dtype=None, shape=None, name=None):
    """A constant tensor of `dtype` (default `floatx()`); a scalar `value` with `shape` fills that shape."""
    tensor = to_tensor(common.get_value(value) if not isinstance(value, torch.Tensor) else value,
                       dtype=dtype or common.floatx())
    if shape is not None:
        shape = shape_arg(shape)
        tensor = tensor.expand(shape).clone() if tensor.numel() == 1 else tensor.reshape(shape)
    return tensor.to(common.creation_device())


def zeros(shape, dtype=None, name=None):
    """An all-zeros variable of `shape`."""
    tensor = torch.zeros(shape_arg(shape), dtype=common.torch_dtype(dtype), device=common.creation_device())
    return KerasVariable(tensor, name=_variable_name(name))


def ones(shape, dtype=None, name=None):
    """An all-ones variable of `shape`."""
    tensor = torch.ones(shape_arg(shape), dtype=common.torch_dtype(dtype), device=common.creation_device())
    return KerasVariable(tensor, name=_variable_name(name))


def eye(size, dtype=None, name=None):
    """An identity-matrix variable; `size` is an int or a (rows, columns) pair."""
    rows, columns = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    tensor = torch.eye(int(rows), int(columns), dtype=common.torch_dtype(dtype), device=common.creation_device())
    return KerasVariable(tensor, name=_variable_name(name))


@keras_op("K.zeros_like")
def zeros_like(x, dtype=None, name=None):
    x = to_tensor(x)
    return torch.zeros_like(x, dtype=common.torch_dtype(dtype) if dtype else x.dtype)


@keras_op("K.ones_like")
def ones_like(x, dtype=None, name=None):
    x = to_tensor(x)
    return torch.ones_like(x, dtype=common.torch_dtype(dtype) if dtype else x.dtype)


@keras_op("K.identity")
def identity(x, name=None):
    """A copy of `x` (a plain tensor, also for a variable)."""
    return to_tensor(x).clone()


@keras_op("K.cast")
def cast(x, dtype):
    """`x` cast to `dtype` (a Keras name such as 'float32', 'int32', 'bool')."""
    return to_tensor(x, dtype=dtype)


def cast_to_floatx(x):
    """A NumPy array (or number, or tensor) as `floatx()`: a tensor stays a tensor, anything else becomes NumPy."""
    if isinstance(x, torch.Tensor):
        return x.to(common.torch_dtype())
    return np.asarray(x, dtype=common.floatx())


def _updatable(x, function):
    if isinstance(x, torch.Tensor) or isinstance(x, common.Variable) or hasattr(x, "assign"):
        return
    raise TypeError(f"{function} expects a variable (K.variable, a layer weight or a torch tensor) as `x`. "
                    f"Received: {type(x).__name__}")


@keras_op("K.update")
def update(x, new_x):
    """Sets `x` to `new_x` in place; returns `x`."""
    _updatable(x, "update")
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            x.copy_(to_tensor(new_x, like=x).detach().to(x.dtype))
    else:
        common.set_value(x, common.get_value(new_x))
    return x


@keras_op("K.update_add")
def update_add(x, increment):
    """Adds `increment` to `x` in place; returns `x`."""
    _updatable(x, "update_add")
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            x.add_(to_tensor(increment, like=x).detach().to(x.dtype))
        return x
    return update(x, common.get_value(x) + common.get_value(increment))


@keras_op("K.update_sub")
def update_sub(x, decrement):
    """Subtracts `decrement` from `x` in place; returns `x`."""
    _updatable(x, "update_sub")
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            x.sub_(to_tensor(decrement, like=x).detach().to(x.dtype))
        return x
    return update(x, common.get_value(x) - common.get_value(decrement))


@keras_op("K.moving_average_update")
def moving_average_update(x, value, momentum):
    """`x = x * momentum + value * (1 - momentum)` in place (tf-keras 2.x's rule, no zero-debiasing); returns `x`."""
    _updatable(x, "moving_average_update")
    current = to_tensor(x) if not isinstance(x, torch.Tensor) else x
    value = to_tensor(value, like=current).detach()
    return update_sub(x, (current.detach() - value) * (1.0 - float(momentum)))


def eval(x):
    """The value of a tensor or variable as a NumPy array.

    Raises:
        TypeError: for a symbolic KerasTensor (it has no value; call the model or `K.function`).
    """
    if isinstance(x, (list, tuple, np.ndarray, int, float)):
        return to_tensor(x).cpu().numpy()
    return common.get_value(x)


def int_shape(x):
    """The shape as a tuple of ints (None for unknown axes of a symbolic tensor), or None if `x` has none."""
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    return tuple(None if d is None else int(d) for d in shape)


get_variable_shape = int_shape


def ndim(x):
    """The number of axes."""
    shape = int_shape(x)
    return None if shape is None else len(shape)


def dtype(x):
    """The dtype name, e.g. `'float32'`."""
    value = x.dtype
    return value if isinstance(value, str) else dtype_name(value)


def count_params(x):
    """The number of scalars in `x`."""
    return int(np.prod(int_shape(x)))


@keras_op("K.shape")
def shape(x):
    """The shape of `x` as an int32 tensor (on CPU): `K.shape(x)[0]` is the batch size."""
    return torch.tensor(tuple(to_tensor(x).shape), dtype=torch.int32)


def is_keras_tensor(x):
    """True for a symbolic tensor of the functional API (`Input()`, a layer's output).

    Raises:
        ValueError: if `x` is not a tensor at all (as Keras 2 does).
    """
    if isinstance(x, KerasTensor):
        return True
    if not is_tensor(x):
        raise ValueError(f"Unexpectedly found an instance of type `{type(x)}`. Expected a symbolic tensor instance.")
    return False


def is_tensor(x):
    """True for a torch tensor (variables included) or a symbolic KerasTensor."""
    return isinstance(x, (torch.Tensor, KerasTensor))


def is_variable(x):
    return isinstance(x, (KerasVariable, common.Variable))


def is_sparse(tensor):
    return bool(getattr(tensor, "is_sparse", False))


@keras_op("K.to_dense")
def to_dense(tensor):
    tensor = to_tensor(tensor)
    return tensor.to_dense() if tensor.is_sparse else tensor


@keras_op("K.print_tensor")
def print_tensor(x, message="", summarize=3):
    """Prints `message` and the value of `x` when it is computed; returns `x`."""
    x = to_tensor(x)
    print(f"{message}{x.detach().cpu().numpy()}")
    return x
