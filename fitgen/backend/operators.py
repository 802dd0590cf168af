"""Python operators of symbolic tensors (`inputs * 2`, `1 - x`, `x[:, 0]`, `-x`, `x @ w`, `x > 0`).

Each is a registered op, so `KerasTensor.__mul__` records a `BackendOp` layer named `operators.multiply` (as
tf-keras records `tf.math.multiply`). The symbolic tensor is always the first argument: reflected operators
(`2 * x`) have their own functions (`rmultiply(x, 2)` computes `2 * x`). Indexing keys are stored in a JSON form
(`encode_key`) so that a model with `x[:, 1:3]` saves and loads.
"""
import builtins
import operator

import torch

from fitgen.backend.conversion import pair, to_tensor
from fitgen.backend.dispatch import keras_op


def _binary(name, fn, reflected=False):
    def op(x, y):
        x, y = pair(x, y)
        return fn(y, x) if reflected else fn(x, y)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"`{'y ' if reflected else 'x '}{name}` with the symbolic tensor as `x`."
    return keras_op(f"operators.{name}")(op)


add = _binary("add", operator.add)
radd = _binary("radd", operator.add, reflected=True)
subtract = _binary("subtract", operator.sub)
rsubtract = _binary("rsubtract", operator.sub, reflected=True)
multiply = _binary("multiply", operator.mul)
rmultiply = _binary("rmultiply", operator.mul, reflected=True)
truediv = _binary("truediv", operator.truediv)
rtruediv = _binary("rtruediv", operator.truediv, reflected=True)
floordiv = _binary("floordiv", operator.floordiv)
rfloordiv = _binary("rfloordiv", operator.floordiv, reflected=True)
mod = _binary("mod", operator.mod)
rmod = _binary("rmod", operator.mod, reflected=True)
power = _binary("power", operator.pow)
rpower = _binary("rpower", operator.pow, reflected=True)
matmul = _binary("matmul", operator.matmul)
rmatmul = _binary("rmatmul", operator.matmul, reflected=True)
less = _binary("less", operator.lt)
less_equal = _binary("less_equal", operator.le)
greater = _binary("greater", operator.gt)
greater_equal = _binary("greater_equal", operator.ge)
logical_and = _binary("logical_and", operator.and_)
rlogical_and = _binary("rlogical_and", operator.and_, reflected=True)
logical_or = _binary("logical_or", operator.or_)
rlogical_or = _binary("rlogical_or", operator.or_, reflected=True)
logical_xor = _binary("logical_xor", operator.xor)
rlogical_xor = _binary("rlogical_xor", operator.xor, reflected=True)


@keras_op("operators.negative")
def negative(x):
    """`-x`."""
    return -to_tensor(x)


@keras_op("operators.absolute")
def absolute(x):
    """`abs(x)`."""
    return torch.abs(to_tensor(x))


@keras_op("operators.invert")
def invert(x):
    """`~x` (logical not of a bool tensor)."""
    return ~to_tensor(x)


def encode_key(key):
    """An indexing key (ints, slices, Ellipsis, None, lists, tensors) in a JSON-able form."""
    items = key if isinstance(key, tuple) else (key,)
    return [_encode(item) for item in items]


def _encode(item):
    if isinstance(item, slice):
        return {"slice": [item.start, item.stop, item.step]}
    if item is Ellipsis:
        return "..."
    if isinstance(item, list):
        return {"index": item}
    return item


def _decode(item):
    if isinstance(item, dict) and "slice" in item:
        return slice(*[None if v is None else int(v) for v in item["slice"]])
    if isinstance(item, dict) and "index" in item:
        return to_tensor(item["index"]).long()
    if isinstance(item, str) and item == "...":
        return Ellipsis
    if isinstance(item, torch.Tensor) and item.dim() == 0 and not item.dtype.is_floating_point:
        return int(item)
    return item


@keras_op("operators.getitem")
def getitem(x, key):
    """`x[key]`, where `key` is `encode_key`'s form of the indexing key (negative steps allowed, as NumPy)."""
    x = to_tensor(x)
    items = [_decode(item) for item in key]
    consumed = builtins.sum(0 if item is None or item is Ellipsis else 1 for item in items)
    axis = 0
    for i, item in enumerate(items):
        if item is Ellipsis:
            axis += x.dim() - consumed
        elif isinstance(item, slice) and item.step is not None and item.step < 0:
            # torch slices only forward: flip the axis and take the mirrored forward slice.
            positions = range(*item.indices(x.shape[axis]))
            x = x.flip(axis)
            last = x.shape[axis] - 1
            items[i] = slice(last - positions[0], last - positions[-1] + 1, -item.step) if positions else slice(0, 0)
            axis += 1
        elif item is not None:
            axis += 1
    return x[tuple(items)]
