"""Weight constraints with Keras 2 names and formulas (tf-keras 2.21), computed with torch.

A constraint is called with a weight tensor in **Keras layout** (a Dense kernel `(input_dim, units)`, a Conv2D
kernel `(rows, cols, input_depth, filters)`), so `axis` means what it means in Keras, and returns the projected
tensor; the engine applies it after each optimizer update and copies the result back into the parameter.
"""
import numpy as np
import torch

from fitgen import backend
from fitgen.utils import generic_utils


class Constraint:
    """Base class of constraints: `__call__(w)` returns the projected weight (the base returns `w` unchanged).

    Any function `f(w) -> tensor` is also accepted wherever a constraint is.

    Example:

    >>> class Clip(Constraint):
    ...     def __init__(self, limit=1.0):
    ...         self.limit = limit
    ...     def __call__(self, w):
    ...         return torch.clamp(w, -self.limit, self.limit)
    ...     def get_config(self):
    ...         return {"limit": self.limit}
    >>> Clip(1.0)(torch.tensor([-3.0, 0.5])).tolist()
    [-1.0, 0.5]
    """

    def __call__(self, w):
        return w

    def get_config(self):
        """Returns the constructor arguments as a JSON-serialisable dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Builds a constraint from `get_config()`'s dict."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescales the weights incident to each unit so that their L2 norm is at most `max_value`.

    Args:
        max_value: The largest norm allowed.
        axis: Axis (int or list of ints) along which norms are computed, in Keras layout: `0` for a Dense kernel
            `(input_dim, units)` constrains each unit's incoming weight vector; `[0, 1, 2]` for a Conv2D kernel
            `(rows, cols, input_depth, filters)` constrains each filter.
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _as_tensor(w)
        norms = _norms(w, self.axis)
        desired = torch.clamp(norms, 0, self.max_value)
        return w * (desired / (backend.epsilon() + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        w = _as_tensor(w)
        return w * (w >= 0).to(w.dtype)


class UnitNorm(Constraint):
    """Rescales the weights incident to each unit to unit L2 norm.

    Args:
        axis: Axis (int or list of ints) along which norms are computed, in Keras layout (see `MaxNorm`).
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _as_tensor(w)
        return w / (backend.epsilon() + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Rescales the weights incident to each unit so that their L2 norm lies in `[min_value, max_value]`.

    The new norm is `rate * clip(norm, min_value, max_value) + (1 - rate) * norm`: `rate=1` enforces the bounds
    strictly, a smaller rate moves the norms towards them gradually.

    Args:
        min_value: The smallest norm allowed.
        max_value: The largest norm allowed.
        rate: Rate of enforcement, in `[0, 1]`.
        axis: Axis (int or list of ints) along which norms are computed, in Keras layout (see `MaxNorm`).
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _as_tensor(w)
        norms = _norms(w, self.axis)
        desired = self.rate * torch.clamp(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (backend.epsilon() + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm = maxnorm = MaxNorm
non_neg = nonneg = NonNeg
unit_norm = unitnorm = UnitNorm
min_max_norm = MinMaxNorm

_CLASSES = (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
_ALL_OBJECTS = {
    "Constraint": Constraint, "MaxNorm": MaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm,
    "max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm,
    "maxnorm": MaxNorm, "nonneg": NonNeg, "unitnorm": UnitNorm,
}


def serialize(constraint):
    """The tf-keras 2.21 config dict of a constraint (a plain function becomes its name)."""
    return generic_utils.serialize_with_module(constraint, "keras.constraints", _CLASSES)

def deserialize(config, custom_objects=None):
    """Builds a constraint from a name or a `{'class_name', 'config'}` dict (any Keras 2 version's form)."""
    return generic_utils.deserialize_keras_object(config, module_objects=_ALL_OBJECTS,
                                                  custom_objects=custom_objects,
                                                  printable_module_name="constraint")


def get(identifier):
    """Resolves a constraint from a name, a config dict, a class, an instance or a function.

    Args:
        identifier: `'max_norm'`, `'MaxNorm'`, `'non_neg'`, ..., a config dict such as
            `{'class_name': 'MaxNorm', 'config': {'max_value': 3, 'axis': 0}}`, a constraint class
            (instantiated) or instance, a function `f(w) -> tensor`, or None.

    Returns:
        A constraint instance or the given function; None for None.

    Raises:
        ValueError: for an unknown name or an identifier of another type.
    """
    return generic_utils.get_from_identifier(identifier, deserialize, "constraint")

def _norms(w, axis):
    dims = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return torch.sqrt(torch.sum(torch.square(w), dim=dims, keepdim=True))


def _as_tensor(w):
    return w if isinstance(w, torch.Tensor) else torch.as_tensor(np.asarray(w))
