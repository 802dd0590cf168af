"""Symbolic tensors, graph nodes and `Input`: what the functional API records when layers are called.

A `KerasTensor` holds a shape (batch axis None) and dtype, and remembers which layer call (node) made it.
Output shapes come from the layer's `compute_output_shape`; the default runs the layer once on small
placeholder data (twice, with two sizes, to tell which free axes stay free), as Keras infers shapes for
Lambda layers.

Python operators on KerasTensors (`x * 2`, `1 - x`, `x[:, 0]`) record op layers through `fitgen.backend.operators`,
as backend functions called on them do (`fitgen.backend.dispatch`).
"""
import numpy as np
import torch

from fitgen.backend import common as backend  # configuration only: the engine never needs the ops
from fitgen.engine.call_context import collect_losses


class KerasTensor:
    """A symbolic tensor of the functional API: `Input((784,))`, `Dense(10)(x)`."""

    def __init__(self, shape, dtype="float32", layer=None, node_index=0, tensor_index=0, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self._keras_history = (layer, node_index, tensor_index)
        self.name = name or (f"{layer.name}/output_{tensor_index}" if layer is not None else "tensor")

    @property
    def node(self):
        layer, node_index, _ = self._keras_history
        return layer._inbound_nodes[node_index]

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def _keras_shape(self):
        """Keras 2's static shape attribute (batch axis None): a read-only alias of `shape`."""
        return self.shape

    def __repr__(self):
        return f"<KerasTensor shape={self.shape} dtype={self.dtype} (created by layer '{self._keras_history[0].name}')>"

    def __len__(self):
        raise TypeError("A symbolic KerasTensor has no length; use `.shape`.")

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor cannot be used as a Python bool.")

    def __iter__(self):
        raise TypeError("A symbolic KerasTensor is not iterable; index it (`x[:, 0]`) or use backend functions.")

    # Python operators record op layers (`inputs * 2`, `x[:, 0]`), as tf-keras allows in a functional graph.
    # `==` and `!=` stay identity comparisons (the engine compares tensors); use K.equal / K.not_equal.
    __array_ufunc__ = None  # numpy scalars and arrays defer to the reflected operators below

    def __getitem__(self, key):
        from fitgen.backend import operators
        return operators.getitem(self, operators.encode_key(key))

    def __neg__(self):
        from fitgen.backend import operators
        return operators.negative(self)

    def __abs__(self):
        from fitgen.backend import operators
        return operators.absolute(self)

    def __invert__(self):
        from fitgen.backend import operators
        return operators.invert(self)

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other


def _operator(name):
    def method(self, other):
        from fitgen.backend import operators
        return getattr(operators, name)(self, other)
    method.__name__ = name
    return method


for _dunder, _name in (("add", "add"), ("radd", "radd"), ("sub", "subtract"), ("rsub", "rsubtract"),
                       ("mul", "multiply"), ("rmul", "rmultiply"), ("truediv", "truediv"), ("rtruediv", "rtruediv"),
                       ("floordiv", "floordiv"), ("rfloordiv", "rfloordiv"), ("mod", "mod"), ("rmod", "rmod"),
                       ("pow", "power"), ("rpow", "rpower"), ("matmul", "matmul"), ("rmatmul", "rmatmul"),
                       ("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal"),
                       ("and", "logical_and"), ("rand", "rlogical_and"), ("or", "logical_or"),
                       ("ror", "rlogical_or"), ("xor", "logical_xor"), ("rxor", "rlogical_xor")):
    setattr(KerasTensor, f"__{_dunder}__", _operator(_name))
del _dunder, _name


class Node:
    """One call of a layer on symbolic inputs: the inputs (any nesting), extra call arguments, outputs."""

    def __init__(self, layer, input_structure, args, kwargs, output_structure):
        self.layer = layer
        self.input_structure = input_structure
        self.args = args
        self.kwargs = kwargs
        self.output_structure = output_structure
        # Tensors passed as call arguments (e.g. `initial_state=[h, c]`) are inputs of the node too.
        extra = [t for t in flatten(list(args)) + flatten(dict(kwargs)) if isinstance(t, KerasTensor)]
        self.inbound_tensors = flatten(input_structure) + extra
        self.outputs = flatten(output_structure)

    @property
    def input_tensors(self):
        return self.input_structure

    @property
    def output_tensors(self):
        return self.output_structure

    @property
    def parent_nodes(self):
        return [t.node for t in self.inbound_tensors if t._keras_history[0] is not None]


def flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in flatten(structure[key])]
    return [structure]


def map_structure(fn, structure):
    if isinstance(structure, list):
        return [map_structure(fn, s) for s in structure]
    if isinstance(structure, tuple):
        return tuple(map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)


def is_symbolic(inputs):
    return any(isinstance(t, KerasTensor) for t in flatten(inputs))


def shape_of(inputs):
    """The shape (or nested shapes) of tensors, arrays or KerasTensors, as tuples."""
    if isinstance(inputs, (list, tuple)) and inputs and not isinstance(inputs[0], (int, type(None))):
        return [shape_of(t) for t in inputs]
    if isinstance(inputs, dict):
        return {k: shape_of(v) for k, v in inputs.items()}
    shape = getattr(inputs, "shape", None)
    return tuple(shape) if shape is not None else None


def device_of(inputs):
    for t in flatten(inputs):
        if isinstance(t, torch.Tensor):
            return t.device
    return None


def _placeholder(shape, dtype, free_size):
    concrete = tuple(2 if i == 0 else (free_size if d is None else d) for i, d in enumerate(shape))
    torch_dtype = backend.torch_dtype(dtype)
    if torch_dtype.is_floating_point:
        generator = torch.Generator().manual_seed(0)
        return torch.rand(concrete, generator=generator, dtype=torch_dtype) * 0.5 + 0.25
    return torch.zeros(concrete, dtype=torch_dtype)


def infer_output_spec(layer, input_specs, args=(), kwargs=None, dtypes=None):
    """(shapes, dtypes) of the layer's outputs for inputs of the given shapes, by running it twice.

    Axes that change between two placeholder sizes of the free (None) input axes are reported as None.
    """
    kwargs = dict(kwargs or {})
    if dtypes is None:
        dtypes = layer.dtype if _is_shape(input_specs) else _map_shapes(lambda s, d: layer.dtype, input_specs,
                                                                          _same_structure(input_specs))
    results = []
    was_training = layer.training
    layer.eval()
    device = next(iter(layer.parameters()), torch.zeros(())).device
    try:
        # Placeholder runs are not calls of the model: the losses they add are dropped. `device_scope`: tensors
        # a backend function creates (K.random_normal in a Lambda) land beside the placeholders.
        with torch.no_grad(), collect_losses(), backend.device_scope(device):
            for free_size in (3, 5):
                placeholders = _map_shapes(lambda s, d: _placeholder(s, d, free_size), input_specs, dtypes)
                placeholders = map_structure(lambda t: t.to(device), placeholders)

                def concrete(value, size=free_size, device=device):
                    if isinstance(value, KerasTensor):
                        return _placeholder(value.shape, value.dtype, size).to(device)
                    return value

                call_args = map_structure(concrete, tuple(args))
                call_kwargs = {k: map_structure(concrete, v) for k, v in kwargs.items()}
                call = layer.call if layer.built else layer
                out = call(placeholders, *call_args, **call_kwargs)
                results.append(out)
    finally:
        layer.train(was_training)

    def shape(a, b):
        return tuple(None if (i == 0 or x != y) else x for i, (x, y) in enumerate(zip(a.shape, b.shape)))

    def dtype(a, b):
        return str(a.dtype).replace("torch.", "")

    return _zip_structures(results[0], results[1], shape), _zip_structures(results[0], results[1], dtype)


def _same_structure(shapes):
    if _is_shape(shapes):
        return None
    if isinstance(shapes, dict):
        return {k: _same_structure(v) for k, v in shapes.items()}
    return [_same_structure(s) for s in shapes]


def _map_shapes(fn, shapes, dtypes):
    if isinstance(shapes, tuple) and all(d is None or isinstance(d, int) for d in shapes):
        return fn(shapes, dtypes)
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, shapes[k], dtypes[k]) for k in shapes}
    return [_map_shapes(fn, s, d) for s, d in zip(shapes, dtypes)]


def _zip_structures(a, b, fn):
    if _is_shape(a) or isinstance(a, torch.Tensor):
        return fn(a, b)
    if isinstance(a, (list, tuple)):
        return type(a)(_zip_structures(x, y, fn) for x, y in zip(a, b))
    if isinstance(a, dict):
        return {k: _zip_structures(a[k], b[k], fn) for k in a}
    return fn(a, b)


def _is_shape(value):
    return isinstance(value, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in value)


def call_symbolic(layer, inputs, args, kwargs):
    """Records `layer(inputs)` on KerasTensors as a node and returns the symbolic outputs."""
    input_shapes = map_structure(lambda t: t.shape, inputs)
    input_dtypes = map_structure(lambda t: t.dtype, inputs)
    kwargs = {k: v for k, v in kwargs.items() if not (k == "training" and not layer._call_accepts_training)}
    if not layer.built:
        layer._maybe_build(_shapes_arg(input_shapes))
    output_shapes, output_dtypes = _output_spec(layer, input_shapes, input_dtypes, args, kwargs)
    return record_node(layer, inputs, args, kwargs, output_shapes, output_dtypes)


def record_node(layer, inputs, args, kwargs, output_shapes, output_dtypes):
    """Appends a node for `layer(inputs, *args, **kwargs)` with outputs of the given shapes/dtypes; returns them."""
    node_index = len(layer._inbound_nodes)
    counter = iter(range(10 ** 6))

    def make(shape_and_dtype):
        shape, dtype = shape_and_dtype
        return KerasTensor(shape, dtype, layer, node_index, next(counter))

    pairs = _zip_structures(output_shapes, output_dtypes, lambda s, d: (s, d)) if not _is_shape(output_shapes) \
        else (output_shapes, output_dtypes)
    outputs = make(pairs) if _is_shape(output_shapes) else _map_pairs(make, pairs)
    layer._inbound_nodes.append(Node(layer, inputs, args, kwargs, outputs))
    return outputs


def _map_pairs(fn, pairs):
    if isinstance(pairs, tuple) and len(pairs) == 2 and _is_shape(pairs[0]):
        return fn(pairs)
    if isinstance(pairs, dict):
        return {k: _map_pairs(fn, v) for k, v in pairs.items()}
    return type(pairs)(_map_pairs(fn, p) for p in pairs) if isinstance(pairs, (list, tuple)) else fn(pairs)


def _shapes_arg(shapes):
    # Layers receive a plain tuple for one input and a list of tuples for several, as in Keras.
    return shapes if _is_shape(shapes) else (list(shapes) if isinstance(shapes, (list, tuple)) else shapes)


def output_spec(layer, inputs, args=(), kwargs=None):
    """(shapes, dtypes) of `layer(inputs, *args, **kwargs)` on symbolic tensors, without recording a node."""
    input_shapes = map_structure(lambda t: t.shape, inputs)
    input_dtypes = map_structure(lambda t: t.dtype, inputs)
    return _output_spec(layer, input_shapes, input_dtypes, args, kwargs or {})


def flatten_shapes(shapes):
    """A nested structure of shapes as a flat list of shape tuples."""
    if _is_shape(shapes):
        return [shapes]
    values = shapes.values() if isinstance(shapes, dict) else shapes
    return [leaf for item in values for leaf in flatten_shapes(item)]


def _output_spec(layer, input_shapes, input_dtypes, args, kwargs):
    own = not getattr(type(layer).compute_output_shape, "runs_placeholders", False)
    if own and not args and not kwargs:
        shapes = layer.compute_output_shape(_shapes_arg(input_shapes))
        shapes = _normalise_shapes(shapes)
        dtypes = map_structure(lambda _: _output_dtype(layer, input_dtypes), shapes) if not _is_shape(shapes) \
            else _output_dtype(layer, input_dtypes)
        return shapes, dtypes
    return infer_output_spec(layer, input_shapes, args, kwargs, dtypes=input_dtypes)


def _output_dtype(layer, input_dtypes):
    return getattr(layer, "output_dtype", None) or layer.dtype


def _normalise_shapes(shapes):
    if _is_shape(shapes):
        return tuple(None if d is None else int(d) for d in shapes)
    if isinstance(shapes, list) and shapes and all(d is None or isinstance(d, (int, np.integer)) for d in shapes):
        return tuple(shapes)
    if isinstance(shapes, dict):
        return {k: _normalise_shapes(v) for k, v in shapes.items()}
    return [_normalise_shapes(s) for s in shapes]
