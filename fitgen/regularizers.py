"""Weight regularizers with Keras 2 names, defaults and penalties (tf-keras 2.21), computed with torch.

A regularizer is called with a weight tensor and returns a 0-d tensor (on the weight's device, differentiable)
that the engine adds to the loss. Penalties are those of Keras: `l1 * sum(|x|)` and `l2 * sum(x**2)` (no 1/2).
"""
import math

import numpy as np
import torch

from fitgen import backend
from fitgen.utils import generic_utils


class Regularizer:
    """Base class of regularizers: `__call__(x)` returns the penalty for the weight tensor `x`.

    Any function `f(x) -> scalar tensor` is also accepted wherever a regularizer is.

    Example:

    >>> class HalfL2(Regularizer):
    ...     def __init__(self, l2=0.01):
    ...         self.l2 = l2
    ...     def __call__(self, x):
    ...         return 0.5 * self.l2 * torch.sum(torch.square(x))
    ...     def get_config(self):
    ...         return {"l2": self.l2}
    >>> float(HalfL2(1.0)(torch.ones(2, 2)))
    2.0
    """

    def __call__(self, x):
        return torch.zeros((), dtype=_as_tensor(x).dtype)

    def get_config(self):
        """Returns the constructor arguments as a JSON-serialisable dict (required for saving)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config().")

    @classmethod
    def from_config(cls, config):
        """Builds a regularizer from `get_config()`'s dict."""
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """Penalty `l1 * sum(|x|) + l2 * sum(x**2)`.

    Args:
        l1: L1 factor (None means 0).
        l2: L2 factor (None means 0).
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        x = _as_tensor(x)
        penalty = torch.zeros((), dtype=x.dtype, device=x.device)
        if self.l1:
            penalty = penalty + self.l1 * torch.sum(torch.abs(x))
        if self.l2:
            penalty = penalty + self.l2 * torch.sum(torch.square(x))
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """Penalty `l1 * sum(|x|)`.

    Args:
        l1: L1 factor (None means the default 0.01). Keras 2.2's keyword `l` is accepted too.
    """

    def __init__(self, l1=0.01, **kwargs):
        l1 = kwargs.pop("l", l1)
        if kwargs:
            raise TypeError(f"L1 got unexpected keyword arguments: {sorted(kwargs)}. Expected: l1.")
        self.l1 = _factor(0.01 if l1 is None else l1, "l1")

    def __call__(self, x):
        return self.l1 * torch.sum(torch.abs(_as_tensor(x)))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """Penalty `l2 * sum(x**2)`.

    Args:
        l2: L2 factor (None means the default 0.01). Keras 2.2's keyword `l` is accepted too.
    """

    def __init__(self, l2=0.01, **kwargs):
        l2 = kwargs.pop("l", l2)
        if kwargs:
            raise TypeError(f"L2 got unexpected keyword arguments: {sorted(kwargs)}. Expected: l2.")
        self.l2 = _factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        return self.l2 * torch.sum(torch.square(_as_tensor(x)))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2D weight towards mutual orthogonality.

    The penalty is `factor * 0.5 * sum(|P - diag(P)|) / (n * (n - 1) / 2)`, P being the matrix of dot products
    of the L2-normalised rows (`mode="rows"`) or columns (`mode="columns"`) and n their number.

    Args:
        factor: The regularization factor.
        mode: `"rows"` or `"columns"`.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError("Invalid value for argument `mode`: expected 'rows' or 'columns'. "
                             f"Received: mode={mode!r}")
        self.mode = mode

    def __call__(self, x):
        x = _as_tensor(x)
        if x.dim() != 2:
            raise ValueError(f"OrthogonalRegularizer expects a weight of rank 2. Received: shape={tuple(x.shape)}")
        if self.mode == "columns":
            x = x.T
        # Same normalisation as tf.math.l2_normalize: x / sqrt(max(sum(x**2), 1e-12)).
        x = x * torch.rsqrt(torch.clamp(torch.sum(torch.square(x), dim=1, keepdim=True), min=1e-12))
        product = x @ x.T
        size = x.shape[0]
        off_diagonal = product * (1.0 - torch.eye(size, dtype=x.dtype, device=x.device))
        pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * torch.sum(torch.abs(off_diagonal)) / pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def l1_l2(l1=0.01, l2=0.01):
    """An `L1L2` regularizer; unlike the class, both factors default to 0.01 (as in Keras 2)."""
    return L1L2(l1=l1, l2=l2)


l1 = L1
l2 = L2
orthogonal_regularizer = OrthogonalRegularizer

_CLASSES = (Regularizer, L1L2, L1, L2, OrthogonalRegularizer)
_ALL_OBJECTS = {
    "Regularizer": Regularizer, "L1L2": L1L2, "L1": L1, "L2": L2, "OrthogonalRegularizer": OrthogonalRegularizer,
    "l1": L1, "l2": L2, "l1_l2": l1_l2, "orthogonal_regularizer": OrthogonalRegularizer,
}


def serialize(regularizer):
    """The tf-keras 2.21 config dict of a regularizer (a plain function becomes its name)."""
    return generic_utils.serialize_with_module(regularizer, "keras.regularizers", _CLASSES)

def deserialize(config, custom_objects=None):
    """Builds a regularizer from a name or a `{'class_name', 'config'}` dict (any Keras 2 version's form)."""
    return generic_utils.deserialize_keras_object(config, module_objects=_ALL_OBJECTS,
                                                  custom_objects=custom_objects,
                                                  printable_module_name="regularizer")


def get(identifier):
    """Resolves a regularizer from a name, a config dict, a class, an instance or a function.

    Args:
        identifier: `'l1'`, `'l2'`, `'l1_l2'` (factors 0.01), `'L1L2'` (factors 0), a config dict such as
            `{'class_name': 'L2', 'config': {'l2': 0.01}}`, a regularizer class (instantiated) or instance,
            a function `f(x) -> scalar tensor`, or None.

    Returns:
        A regularizer instance or the given function; None for None.

    Raises:
        ValueError: for an unknown name or an identifier of another type.
    """
    return generic_utils.get_from_identifier(identifier, deserialize, "regularizer", factories=(l1_l2,))

def _factor(value, name):
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"Value {value!r} is not a valid regularization penalty number: expected an int or "
                         f"float for `{name}`.")
    if math.isinf(value) or math.isnan(value):
        raise ValueError(f"Value {value!r} is not a valid regularization penalty number for `{name}`: infinite "
                         "numbers and NaN are not valid values.")
    # tf-keras stores factors as float32 (cast_to_floatx), which is what its configs then show
    # (0.01 -> 0.009999999776482582); keeping the same value keeps saved configs identical.
    dtype = backend.floatx() if backend.floatx() in ("float32", "float64") else "float32"
    return float(np.asarray(value, dtype=dtype))


def _as_tensor(x):
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
