"""`Input` and `InputLayer`: the entry points of a functional model."""
from fitgen.backend import common as backend  # configuration only: the engine never needs the ops
from fitgen.engine.base_layer import Layer
from fitgen.engine.keras_tensor import KerasTensor, Node


class InputLayer(Layer):
    """The layer behind `Input()`: no weights; it only names and shapes a model input."""

    def __init__(self, input_shape=None, batch_size=None, dtype=None, name=None, batch_input_shape=None,
                 sparse=False, ragged=False, **kwargs):
        for ignored in ("optional", "type_spec"):
            kwargs.pop(ignored, None)
        if batch_input_shape is None:
            if input_shape is None:
                raise ValueError("An InputLayer needs `input_shape` or `batch_input_shape`. Received neither.")
            batch_input_shape = (batch_size,) + tuple(input_shape)
        super().__init__(name=name or backend.unique_object_name("input", zero_based=False), dtype=dtype,
                         batch_input_shape=tuple(batch_input_shape), **kwargs)
        self.sparse = sparse
        self.built = True
        tensor = KerasTensor(self._batch_input_shape, self.dtype, self, 0, 0, name=self.name)
        self._inbound_nodes.append(Node(self, [], (), {}, tensor))

    def get_config(self):
        return {"batch_input_shape": list(self._batch_input_shape), "dtype": self.dtype, "sparse": self.sparse,
                "ragged": False, "name": self.name}


def Input(shape=None, batch_size=None, name=None, dtype=None, sparse=False, tensor=None, batch_shape=None,
          **kwargs):
    """A symbolic model input, as `keras.Input` / `keras.layers.Input`.

    Args:
        shape: the shape of one sample, without the batch axis, e.g. `(784,)` or `(None, 16)`.
        batch_size: optional fixed batch size.
        name: the input's name; dict data passed to `fit` is routed by it (default `input_1`, `input_2`, ...).
        dtype: e.g. 'float32' (default floatx()) or 'int32' for token ids.
        batch_shape: the full shape including the batch axis (instead of `shape`).

    Returns:
        A `KerasTensor` to call layers on.
    """
    if tensor is not None:
        raise ValueError("fitgen's Input does not wrap an existing tensor; pass `shape` (and `dtype`).")
    if shape is None and batch_shape is None:
        raise ValueError("Please provide to Input a `shape` or a `batch_shape` argument. Note that `shape` does "
                         "not include the batch dimension.")
    if isinstance(shape, int):
        shape = (shape,)
    layer = InputLayer(input_shape=shape, batch_size=batch_size, name=name, dtype=dtype, sparse=sparse,
                       batch_input_shape=batch_shape, **kwargs)
    return layer._inbound_nodes[0].output_structure
