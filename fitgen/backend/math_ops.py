"""Keras 2 backend maths: elementwise functions, comparisons, reductions (`axis`, `keepdims`), `dot`, `batch_dot`.

Reductions take Keras's `axis` (None for all axes, an int, or a list/tuple) and `keepdims=False`; `mean`, `var`
and `std` average booleans and integers as floatx. Comparisons return bool tensors; `argmax`/`argmin` int64, as
TensorFlow's do.
"""
import builtins

import torch

from fitgen.backend.conversion import axis_arg, floating, pair, to_tensor
from fitgen.backend.dispatch import keras_op


# ----------------------------------------------------------------------------------------------- reductions
def _reduce(x, axis, keepdims, fn):
    axis = axis_arg(axis, x.dim())
    if axis == ():
        return x
    if axis is None:
        axis = tuple(range(x.dim()))
    return fn(x, axis, keepdims)


def _per_axis(op):
    # Reductions torch offers one axis at a time: apply them from the last axis down.
    def reduce(x, axis, keepdims):
        axes = (axis,) if isinstance(axis, int) else axis
        for a in sorted(set(axes), reverse=True):
            x = op(x, a, keepdim=True)
        if not keepdims:
            x = x.squeeze(tuple(sorted(set(axes)))) if axes else x
        return x
    return reduce


@keras_op("K.max")
def max(x, axis=None, keepdims=False):
    """Maximum over `axis` (all axes when None)."""
    return _reduce(to_tensor(x), axis, keepdims, lambda t, a, k: torch.amax(t, dim=a, keepdim=k))


@keras_op("K.min")
def min(x, axis=None, keepdims=False):
    """Minimum over `axis`."""
    return _reduce(to_tensor(x), axis, keepdims, lambda t, a, k: torch.amin(t, dim=a, keepdim=k))


@keras_op("K.sum")
def sum(x, axis=None, keepdims=False):
    """Sum over `axis`."""
    return _reduce(to_tensor(x), axis, keepdims, lambda t, a, k: torch.sum(t, dim=a, keepdim=k))


@keras_op("K.prod")
def prod(x, axis=None, keepdims=False):
    """Product over `axis`."""
    return _reduce(to_tensor(x), axis, keepdims, _per_axis(lambda t, a, keepdim: torch.prod(t, dim=a,
                                                                                            keepdim=keepdim)))


@keras_op("K.mean")
def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (booleans and integers are averaged as floatx)."""
    return _reduce(floating(x), axis, keepdims, lambda t, a, k: torch.mean(t, dim=a, keepdim=k))


@keras_op("K.var")
def var(x, axis=None, keepdims=False):
    """Population variance (mean of squared deviations) over `axis`."""
    return _reduce(floating(x), axis, keepdims, lambda t, a, k: torch.var(t, dim=a, keepdim=k, correction=0))


@keras_op("K.std")
def std(x, axis=None, keepdims=False):
    """Population standard deviation over `axis`."""
    return torch.sqrt(var.raw_function(x, axis, keepdims))


@keras_op("K.any")
def any(x, axis=None, keepdims=False):
    """Logical OR over `axis` (a bool tensor)."""
    x = to_tensor(x).bool()
    return _reduce(x, axis, keepdims, _per_axis(lambda t, a, keepdim: torch.any(t, dim=a, keepdim=keepdim)))


@keras_op("K.all")
def all(x, axis=None, keepdims=False):
    """Logical AND over `axis` (a bool tensor)."""
    x = to_tensor(x).bool()
    return _reduce(x, axis, keepdims, _per_axis(lambda t, a, keepdim: torch.all(t, dim=a, keepdim=keepdim)))


@keras_op("K.argmax")
def argmax(x, axis=-1):
    """Index of the maximum along `axis` (int64; the first one on ties)."""
    x = to_tensor(x)
    return torch.argmax(x, dim=axis_arg(axis, x.dim()))


@keras_op("K.argmin")
def argmin(x, axis=-1):
    """Index of the minimum along `axis` (int64)."""
    x = to_tensor(x)
    return torch.argmin(x, dim=axis_arg(axis, x.dim()))


@keras_op("K.logsumexp")
def logsumexp(x, axis=None, keepdims=False):
    """`log(sum(exp(x)))` over `axis`, computed stably."""
    return _reduce(floating(x), axis, keepdims, lambda t, a, k: torch.logsumexp(t, dim=a, keepdim=k))


@keras_op("K.cumsum")
def cumsum(x, axis=0):
    """Cumulative sum along `axis` (Keras's default: the first axis)."""
    x = to_tensor(x)
    return torch.cumsum(x, dim=axis_arg(axis, x.dim()))


@keras_op("K.cumprod")
def cumprod(x, axis=0):
    """Cumulative product along `axis` (default: the first axis)."""
    x = to_tensor(x)
    return torch.cumprod(x, dim=axis_arg(axis, x.dim()))


# --------------------------------------------------------------------------------------------- elementwise
def _unary(name, fn, doc):
    def op(x):
        return fn(to_tensor(x))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return keras_op(f"K.{name}")(op)


square = _unary("square", torch.square, "Elementwise square.")
abs = _unary("abs", torch.abs, "Elementwise absolute value.")
exp = _unary("exp", lambda x: torch.exp(floating(x)), "Elementwise exponential.")
log = _unary("log", lambda x: torch.log(floating(x)), "Elementwise natural logarithm.")
round = _unary("round", torch.round, "Elementwise rounding to the nearest integer (halves to even, as tf.round).")
sign = _unary("sign", torch.sign, "Elementwise sign (-1, 0 or 1).")
sin = _unary("sin", lambda x: torch.sin(floating(x)), "Elementwise sine.")
cos = _unary("cos", lambda x: torch.cos(floating(x)), "Elementwise cosine.")
sqrt = _unary("sqrt", lambda x: torch.sqrt(torch.clamp(floating(x), min=0.0)),
              "Elementwise square root of `max(x, 0)` (Keras clips negatives to 0 first).")


@keras_op("K.pow")
def pow(x, a):
    """Elementwise `x ** a`."""
    x, a = pair(x, a)
    return torch.pow(x, a)


@keras_op("K.clip")
def clip(x, min_value, max_value):
    """Elementwise clipping to `[min_value, max_value]`; None means unbounded, and `max < min` gives `min`."""
    x = to_tensor(x)
    if isinstance(min_value, (int, float)) and isinstance(max_value, (int, float)) and max_value < min_value:
        max_value = min_value
    low = -float("inf") if min_value is None else min_value
    high = float("inf") if max_value is None else max_value
    if isinstance(low, torch.Tensor) or isinstance(high, torch.Tensor) or not isinstance(low, (int, float)):
        low = to_tensor(low, like=x)
        high = to_tensor(high, like=x)
        return torch.minimum(torch.maximum(x, low), high)
    return torch.clamp(x, float(low), float(high))


def _binary(name, fn, doc):
    def op(x, y):
        x, y = pair(x, y)
        if not isinstance(x, torch.Tensor):
            x = to_tensor(x, like=y)
        return fn(x, y)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return keras_op(f"K.{name}")(op)


equal = _binary("equal", torch.eq, "Elementwise `x == y` (bool).")
not_equal = _binary("not_equal", torch.ne, "Elementwise `x != y` (bool).")
greater = _binary("greater", torch.gt, "Elementwise `x > y` (bool).")
greater_equal = _binary("greater_equal", torch.ge, "Elementwise `x >= y` (bool).")
less = _binary("less", torch.lt, "Elementwise `x < y` (bool).")
less_equal = _binary("less_equal", torch.le, "Elementwise `x <= y` (bool).")
maximum = _binary("maximum", lambda x, y: torch.maximum(x, to_tensor(y, like=x)), "Elementwise maximum.")
minimum = _binary("minimum", lambda x, y: torch.minimum(x, to_tensor(y, like=x)), "Elementwise minimum.")


# ---------------------------------------------------------------------------------------- linear algebra
@keras_op("K.dot")
def dot(x, y):
    """Matrix product; for N-D operands Theano's rule: `x`'s last axis against `y`'s second-to-last.

    `(2, 3) . (4, 3, 5)` gives `(2, 4, 5)`: the result's shape is `x.shape[:-1] + y.shape[:-2] + y.shape[-1:]`.
    """
    x, y = pair(x, y)
    if x.dim() > 2 or y.dim() > 2:
        return torch.tensordot(x, y, dims=([x.dim() - 1], [builtins.max(y.dim() - 2, 0)]))
    return torch.matmul(x, y)


@keras_op("K.batch_dot")
def batch_dot(x, y, axes=None):
    """Batchwise dot product, with Keras 2.2.4's rules.

    Args:
        x, y: tensors with at least 2 axes; the first is the batch axis.
        axes: an int or a pair: the axes of `x` and `y` summed over (default: `x`'s last and `y`'s
            second-to-last; for two 2-D tensors, both last).

    Returns:
        For 2-D operands, `sum(x * y, axis)` as `(batch, 1)`. Otherwise the operand of lower rank is padded
        with trailing axes of size 1 and the two multiply as batched matrices over their last two axes (every
        axis before them is a batch axis, as in Keras 2.2.4: an axis other than the last counts as the
        second-to-last), then the padding axes are dropped; a rank-1 result becomes `(batch, 1)`.

    Raises:
        ValueError: for operands of rank < 2 or `axes` that is not an int or a pair of ints.
    """
    x, y = pair(x, y)
    if not isinstance(x, torch.Tensor):
        x = to_tensor(x, like=y)
    x_ndim, y_ndim = x.dim(), y.dim()
    if x_ndim < 2 or y_ndim < 2:
        raise ValueError(f"batch_dot requires inputs of rank 2 or more. Received: x.shape={tuple(x.shape)}, "
                         f"y.shape={tuple(y.shape)}")
    if isinstance(axes, int):
        axes = (axes, axes)
    if axes is None:
        axes = (x_ndim - 1, y_ndim - 1) if x_ndim == 2 and y_ndim == 2 else (x_ndim - 1, y_ndim - 2)
    if len(axes) != 2 or builtins.any(isinstance(a, (list, tuple)) for a in axes):
        raise ValueError(f"batch_dot: `axes` must be an int or a pair of ints. Received: axes={axes!r}")
    axes = (axis_arg(axes[0], x_ndim, "axes[0]"), axis_arg(axes[1], y_ndim, "axes[1]"))
    diff = builtins.abs(x_ndim - y_ndim)
    if x_ndim < y_ndim:
        x = x.reshape(tuple(x.shape) + (1,) * diff)
    elif y_ndim < x_ndim:
        y = y.reshape(tuple(y.shape) + (1,) * diff)
    if x.dim() == 2:
        if axes[0] == axes[1]:
            out = torch.sum(x * y, dim=axes[0])
        else:
            out = torch.sum(x.transpose(0, 1) * y, dim=axes[1])
    else:
        left = x.transpose(-1, -2) if axes[0] != x.dim() - 1 else x
        right = y.transpose(-1, -2) if axes[1] == y.dim() - 1 else y
        out = torch.matmul(left, right)
    if diff:
        start = x_ndim + y_ndim - 3 if x_ndim > y_ndim else x_ndim - 1
        out = out.squeeze(tuple(range(start, start + diff)))
    if out.dim() == 1:
        out = out.unsqueeze(1)
    return out


@keras_op("K.transpose")
def transpose(x):
    """Reverses the order of all axes (a matrix transpose for 2-D)."""
    x = to_tensor(x)
    return x.permute(tuple(reversed(range(x.dim()))))
