"""`BackendOp`: the layer a backend function becomes when it is called on symbolic tensors (`K.mean(inputs)`).

Like tf-keras's TFOpLambda, each call makes one layer (named after the function: `K.mean`, `K.mean_1`,
`operators.multiply`, `losses.binary_crossentropy`) holding the registered function's name; its node stores the
call's other arguments, so a model containing such layers is saved (`.h5`, `to_json`) and loaded back with the
function resolved from fitgen's whitelist only.

Output shapes are found by running the function on placeholder data twice, with different sizes for the free
axes (batch included): axes that change are None. Small results (e.g. `K.shape(x)`) keep their placeholder
values, so an op fed by them (`K.reshape(y, (K.shape(x)[0], -1))`) sees consistent sizes.
"""
import torch

from fitgen import backend
from fitgen.backend import dispatch
from fitgen.engine import keras_tensor
from fitgen.engine.base_layer import Layer

_BATCH_SIZES = (2, 4)
_FREE_SIZES = (3, 5)
_KEEP_VALUES = 64


class BackendOp(Layer):
    """A functional-graph layer that calls one registered fitgen function (see `fitgen.backend.dispatch`).

    Args:
        function: the registered name, e.g. `'K.mean'`, `'operators.add'`, `'losses.binary_crossentropy'`.

    Raises:
        ValueError: if `function` is not a registered fitgen function.
    """

    def __init__(self, function, **kwargs):
        name = kwargs.pop("name", None) or backend.unique_object_name(function)
        super().__init__(name=name, **kwargs)
        self.function = function
        dispatch.resolve(function)  # fails now, not at the first call, for a function that is not registered
        self.built = True

    def call(self, inputs, arguments=None):
        # Resolved by name at each call (a dict lookup): the layer holds no function object, so it pickles.
        values = inputs if isinstance(inputs, list) else [inputs]
        return dispatch.resolve(self.function)(**dispatch.fill_tensors(arguments or {}, values))

    def __call__(self, inputs, *args, **kwargs):
        if type(inputs) is not torch.Tensor and keras_tensor.is_symbolic(inputs):
            return self._call_symbolic(inputs, kwargs.get("arguments") or {})
        return super().__call__(inputs, *args, **kwargs)

    def _call_symbolic(self, inputs, arguments):
        tensors = keras_tensor.flatten(inputs)
        runs = []
        with torch.no_grad(), backend.device_scope("cpu"):
            for run in range(2):
                values = [_concrete(t, run) for t in tensors]
                try:
                    runs.append(self.call(values if isinstance(inputs, list) else values[0], arguments))
                except Exception as error:
                    shapes = [t.shape for t in tensors]
                    error.args = (f"{self.function} on symbolic inputs of shapes {shapes}: "
                                  f"{error.args[0] if error.args else error}",) + tuple(error.args[1:])
                    raise
        for leaf in keras_tensor.flatten(runs[0]):
            if not isinstance(leaf, torch.Tensor):
                raise TypeError(f"{self.function} returned {type(leaf).__name__} for symbolic inputs; only functions "
                                "returning tensors can be part of a functional graph.")
        shapes = keras_tensor._zip_structures(runs[0], runs[1], _free_axes(self.function))
        dtypes = keras_tensor._zip_structures(runs[0], runs[1], lambda a, b: str(a.dtype).replace("torch.", ""))
        outputs = keras_tensor.record_node(self, inputs, (), {"arguments": arguments}, shapes, dtypes)
        for tensor, first, second in zip(keras_tensor.flatten(outputs), keras_tensor.flatten(runs[0]),
                                         keras_tensor.flatten(runs[1])):
            if first.numel() <= _KEEP_VALUES and second.numel() <= _KEEP_VALUES:
                tensor._inferred_values = (first, second)
        return outputs

    def get_config(self):
        config = super().get_config()
        config["function"] = self.function
        return config


def _free_axes(function):
    def shape(a, b):
        if a.dim() != b.dim():
            raise ValueError(f"{function}: the rank of its result depends on the input sizes "
                             f"({tuple(a.shape)} vs {tuple(b.shape)}); it cannot be a functional-graph op.")
        return tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
    return shape


def _concrete(tensor, run):
    """The placeholder value of a symbolic tensor for inference run `run` (0 or 1)."""
    known = getattr(tensor, "_inferred_values", None)
    if known is not None:
        return known[run]
    shape = tuple((_BATCH_SIZES[run] if i == 0 else _FREE_SIZES[run]) if d is None else d
                  for i, d in enumerate(tensor.shape))
    dtype = backend.torch_dtype(tensor.dtype)
    if dtype.is_floating_point:
        generator = torch.Generator().manual_seed(run)
        return torch.rand(shape, generator=generator, dtype=dtype) * 0.5 + 0.25
    return torch.zeros(shape, dtype=dtype)
