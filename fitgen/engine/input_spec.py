"""`InputSpec`: what a layer accepts (rank, dtype, shape, sizes of given axes), checked on every call.

A layer sets `self.input_spec` (one `InputSpec`, or a list with one entry per input, None entries unchecked);
`Layer.__call__` then checks real and symbolic inputs against it before `call` runs, so a wrong input fails
with the layer's name, the expectation and what was received, instead of deep inside a torch kernel.
"""
import numpy as np


class InputSpec:
    """Specifies the rank, dtype and shape of every input to a layer (`keras.engine.InputSpec`).

    A None entry in a shape is compatible with any size; a None shape with any shape.

    Args:
        dtype: expected dtype name of the input, e.g. 'float32'.
        shape: expected shape including the batch axis, None for unchecked axes; sets `ndim`.
        ndim: expected rank.
        max_ndim: largest accepted rank.
        min_ndim: smallest accepted rank.
        axes: dict mapping an axis (may be negative) to its required size, e.g. `{-1: 16}`.
        allow_last_axis_squeeze: accept a trailing axis of size 1 more or less than the spec (tf-keras).
        name: the input's key when inputs come as a dict (tf-keras).
        optional: a None input is accepted (tf-keras).

    Example:

    ```python
    class MyLayer(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = InputSpec(ndim=3)   # (batch, timesteps, features) only
    ```
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = _dtype_name(dtype) if dtype is not None else None
        if shape is not None:
            shape = tuple(None if d is None else int(d) for d in shape)
            ndim = len(shape)
        self.shape = shape
        self.ndim = ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name = name
        self.optional = optional
        try:
            self.axes = {int(axis): value for axis, value in (axes or {}).items()}
        except (ValueError, TypeError, AttributeError):
            raise TypeError(f"Argument `axes` of InputSpec must be a dict with integer keys. Received: axes={axes!r}")
        rank_bound = self.ndim if self.ndim is not None else self.max_ndim
        if self.axes and rank_bound is not None and max(self.axes) > rank_bound - 1:
            raise ValueError(f"Axis {max(self.axes)} of InputSpec `axes` is greater than the maximum allowed value "
                             f"{rank_bound - 1} for inputs of rank {rank_bound}.")

    def __repr__(self):
        fields = [(name, getattr(self, name)) for name in ("dtype", "shape", "ndim", "max_ndim", "min_ndim", "axes")]
        return "InputSpec(" + ", ".join(f"{name}={value}" for name, value in fields if value) + ")"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _dtype_name(dtype):
    if isinstance(dtype, str):
        return dtype
    text = str(dtype)
    if text.startswith("torch."):
        return text[len("torch."):]
    return np.dtype(dtype).name


def _flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in _flatten(structure[key])]
    return [structure]


def _shape_of(x):
    return tuple(None if d is None else int(d) for d in x.shape)


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Raises ValueError (TypeError for a non-tensor input) when `inputs` break `input_spec`."""
    if not input_spec:
        return
    specs = _flatten(input_spec)
    if isinstance(inputs, dict) and all(getattr(spec, "name", None) for spec in specs):
        names = [spec.name for spec in specs]
        missing = [name for name in names if name not in inputs]
        if missing:
            raise ValueError(f'Missing data for input "{missing[0]}" of layer "{layer_name}". Received keys '
                             f"{list(inputs)}; expected keys {names}.")
        inputs = [inputs[name] for name in names]
    inputs = _flatten(inputs)
    if len(inputs) != len(specs):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received {len(inputs)} input '
                         f"tensors. Inputs received: {inputs}")
    for index, (x, spec) in enumerate(zip(inputs, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        if not hasattr(x, "shape"):
            raise TypeError(f"Inputs to a layer should be tensors. Got {x!r} (of type {type(x).__name__}) as input "
                            f'{index} of layer "{layer_name}".')
        _check_one(index, x, spec, layer_name)


def _check_one(index, x, spec, layer_name):
    shape = _shape_of(x)
    ndim = len(shape)
    where = f'Input {index} of layer "{layer_name}" is incompatible with the layer'
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        raise ValueError(f"{where}: expected ndim={spec.ndim}, found ndim={ndim}. Full shape received: {shape}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(f"{where}: expected max_ndim={spec.max_ndim}, found ndim={ndim}. Full shape received: "
                         f"{shape}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(f"{where}: expected min_ndim={spec.min_ndim}, found ndim={ndim}. Full shape received: "
                         f"{shape}")
    if spec.dtype is not None:
        dtype = _dtype_name(x.dtype)
        if dtype != spec.dtype:
            raise ValueError(f"{where}: expected dtype={spec.dtype}, found dtype={dtype}")
    for axis, value in spec.axes.items():
        if value is None or not -ndim <= axis < ndim:
            continue
        if shape[axis] not in (value, None):
            raise ValueError(f"{where}: expected axis {axis} of input shape to have value {value}, but received "
                             f"input with shape {shape}")
    if spec.shape is not None:
        expected, actual = list(spec.shape), list(shape)
        if spec.allow_last_axis_squeeze:
            actual = actual[:-1] if actual and actual[-1] == 1 else actual
            expected = expected[:-1] if expected and expected[-1] == 1 else expected
        for want, got in zip(expected, actual):
            if want is not None and got is not None and want != got:
                raise ValueError(f"{where}: expected shape={spec.shape}, found shape={shape}")
