"""One mechanism that lets every backend function (and loss, metric and activation function) take symbolic tensors.

`@keras_op("K.mean")` registers a function under a name and wraps it: called on torch tensors it runs as written;
called with a `KerasTensor` anywhere in its arguments it records a node of a `BackendOp` layer (tf-keras's
TFOpLambda idea), whose output shape and dtype come from running the function on placeholder data. The registry
is also the whitelist from which a saved model's op layers find their function again: nothing else is ever
resolved by name, nothing is unpickled or evaluated.
"""
import functools
import importlib
import inspect

from fitgen.engine.keras_tensor import KerasTensor

_OPS = {}
# Modules that register ops, imported when a saved model names one of their functions before they were loaded.
_PROVIDERS = {"K": "fitgen.backend", "operators": "fitgen.backend.operators", "losses": "fitgen._losses.functions",
              "metrics": "fitgen._metrics.functions", "activations": "fitgen.activations"}
TENSOR_MARKER = "__keras_tensor__"


def keras_op(name):
    """Decorator: registers `fn` as `name` and makes it record an op layer when given symbolic tensors."""

    def decorate(fn):
        signature = inspect.signature(fn)
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
            raise TypeError(f"keras_op {name!r}: functions with *args/**kwargs cannot be recorded as op layers.")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if _any_symbolic(args) or (kwargs and _any_symbolic(kwargs.values())):
                return _record(name, signature, args, kwargs)
            return fn(*args, **kwargs)

        wrapper.keras_op_name = name
        wrapper.raw_function = fn
        _OPS[name] = wrapper
        return wrapper

    return decorate


def _any_symbolic(values):
    for value in values:
        kind = type(value)
        if kind is KerasTensor:
            return True
        if (kind is list or kind is tuple) and _any_symbolic(value):
            return True
        if kind is dict and _any_symbolic(value.values()):
            return True
    return False


def resolve(name):
    """The raw function registered as `name` (importing its module if needed).

    Raises:
        ValueError: for a name that no fitgen module registers (op layers resolve only registered functions).
    """
    if name not in _OPS and isinstance(name, str) and "." in name:
        module = _PROVIDERS.get(name.split(".", 1)[0])
        if module is not None:
            importlib.import_module(module)
    if name not in _OPS:
        raise ValueError(f"Unknown backend op {name!r}: an op layer can only call a fitgen backend, operator, loss, "
                         f"metric or activation function registered with `keras_op`. Known ops include "
                         f"{sorted(_OPS)[:12]} ... ({len(_OPS)} in all).")
    return _OPS[name].raw_function


def registered_names():
    return sorted(_OPS)


def split_tensors(structure, tensors):
    """`structure` with each KerasTensor replaced by `{TENSOR_MARKER: i}`; the tensors are appended to `tensors`."""
    if type(structure) is KerasTensor:
        for i, known in enumerate(tensors):
            if known is structure:
                return {TENSOR_MARKER: i}
        tensors.append(structure)
        return {TENSOR_MARKER: len(tensors) - 1}
    if isinstance(structure, (list, tuple)):
        return type(structure)(split_tensors(s, tensors) for s in structure)
    if isinstance(structure, dict):
        return {k: split_tensors(v, tensors) for k, v in structure.items()}
    return structure


def fill_tensors(structure, values):
    """The inverse of `split_tensors`: markers become `values[i]`."""
    if isinstance(structure, dict):
        if len(structure) == 1 and TENSOR_MARKER in structure:
            return values[structure[TENSOR_MARKER]]
        return {k: fill_tensors(v, values) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(fill_tensors(s, values) for s in structure)
    return structure


def _record(name, signature, args, kwargs):
    from fitgen.backend.op_layer import BackendOp
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as error:
        raise TypeError(f"{name}: {error}") from None
    tensors = []
    arguments = split_tensors(dict(bound.arguments), tensors)
    layer = BackendOp(function=name)
    return layer(tensors[0] if len(tensors) == 1 else tensors, arguments=arguments)
