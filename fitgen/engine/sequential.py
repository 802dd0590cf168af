"""`Sequential`: a linear stack of layers, built from the first layer's input shape or from the first data."""
import warnings

import numpy as np
from torch import nn

from fitgen.backend import common as backend  # configuration only: the engine never needs the ops
from fitgen.engine.base_layer import Layer
from fitgen.engine.input_layer import Input, InputLayer
from fitgen.engine.keras_tensor import KerasTensor
from fitgen.engine.model import Model
from fitgen.layers.embeddings import Embedding


class Sequential(Model):
    """A linear stack of layers.

    ```python
    model = Sequential([Dense(32, input_shape=(500,)), Dense(10, activation="softmax")])
    # or
    model = Sequential()
    model.add(Dense(32, input_dim=500))
    model.add(Dense(10, activation="softmax"))
    ```

    Without an input shape on the first layer the model is built when it first sees data (fit, predict,
    or a call).
    """

    def __init__(self, layers=None, name=None):
        super().__init__(name=name or backend.unique_object_name("sequential"))
        self._stack = nn.ModuleList()
        self._input_tensor = None
        self._stack_outputs = []  # symbolic output after each stacked layer, once the input is known
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._stack)

    def add(self, layer):
        """Adds a layer on top of the stack (or sets the input with `model.add(Input(...))`)."""
        if isinstance(layer, KerasTensor):
            origin = layer._keras_history[0]
            if not isinstance(origin, InputLayer) or self._stack:
                raise TypeError("The only symbolic tensor a Sequential model accepts in `add` is an `Input(...)`, "
                                "as its first element.")
            self._input_tensor = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError("The added layer must be an instance of class Layer (fitgen.layers). "
                            f"Received: layer={layer!r} of type {type(layer).__name__}.")
        if isinstance(layer, InputLayer):
            if self._stack:
                raise ValueError("An InputLayer can only be the first layer of a Sequential model.")
            self._input_tensor = layer._inbound_nodes[0].output_structure
            return
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(f'All layers added to a Sequential model should have unique names. Name "{layer.name}" '
                             "is already the name of a layer in this model.")
        if not self._stack and self._input_tensor is None:
            batch_shape, dtype = _declared_input(layer)
            if batch_shape is not None:
                self._input_tensor = Input(batch_shape=batch_shape, dtype=dtype, name=f"{layer.name}_input")
        self._stack.append(layer)
        if self._input_tensor is not None:
            self._extend_graph(self._stack[len(self._stack_outputs):])

    def pop(self):
        """Removes the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        del self._stack[len(self._stack) - 1]
        self._stack_outputs = self._stack_outputs[:len(self._stack)]
        if self._stack_outputs:
            self._init_graph(self._input_tensor, self._stack_outputs[-1])
            del self._graph_layers
        else:
            self._graph = None

    def _extend_graph(self, new_layers):
        # Each layer is called once on the previous output, so every layer has exactly one node here.
        x = self._stack_outputs[-1] if self._stack_outputs else self._input_tensor
        for layer in new_layers:
            x = layer(x)
            if isinstance(x, (list, tuple)):
                raise ValueError("All layers in a Sequential model should have a single output tensor. For "
                                 f"multi-output layers, use the functional API. Layer {layer.name} has "
                                 f"{len(x)} outputs.")
            self._stack_outputs.append(x)
        self._init_graph(self._input_tensor, x)
        # The graph's layer list includes the InputLayer; Sequential lists only the stacked layers.
        del self._graph_layers

    def _ensure_built(self, sample_inputs):
        """Builds the graph from the first data if the first layer had no input shape."""
        if self._graph is not None:
            return
        if not self._stack:
            raise ValueError("You must add at least one layer to a Sequential model before using it.")
        if isinstance(sample_inputs, dict):
            raise ValueError("Please do not pass a dictionary as model inputs to a Sequential model that is not "
                             "built yet: give the first layer an `input_shape`.")
        sample = sample_inputs[0] if isinstance(sample_inputs, (list, tuple)) else sample_inputs
        shape = (None,) + tuple(np.shape(sample)[1:]) if not hasattr(sample, "shape") else \
            (None,) + tuple(sample.shape[1:])
        dtype = _data_dtype(sample, self._stack[0])
        self._input_tensor = Input(batch_shape=shape, dtype=dtype, name=f"{self._stack[0].name}_input")
        self._extend_graph(self._stack)

    def _forward(self, inputs):
        if self._graph is not None and self._graph.extra_outputs:
            return self._run_graph(inputs)  # symbolic losses/metrics are computed by the graph
        x = inputs[0]
        for layer in self._modules["_stack"]._modules.values():  # plain dict walk: this runs every step
            x = layer(x)
        return [x]

    def call(self, inputs, training=None, mask=None):
        if self._graph is None:
            self._ensure_built(inputs)
        x = inputs[0] if isinstance(inputs, (list, tuple)) and len(inputs) == 1 else inputs
        for layer in self._stack:
            x = layer(x)
        return x

    def build(self, input_shape=None):
        if input_shape is not None and self._graph is None:
            self._input_tensor = Input(batch_shape=tuple(input_shape), name=f"{self._stack[0].name}_input")
            self._extend_graph(self._stack)
        self.built = True

    def predict_proba(self, x, batch_size=32, verbose=0, steps=None):
        """Keras 2.2 Sequential API: `predict`, warning when outputs are not probabilities."""
        preds = self.predict(x, batch_size=batch_size, verbose=verbose, steps=steps)
        if preds.min() < 0. or preds.max() > 1.:
            warnings.warn("Network returning invalid probability values. The last layer might not normalize "
                          "predictions into probabilities (like softmax or sigmoid would).", stacklevel=2)
        return preds

    def predict_classes(self, x, batch_size=32, verbose=0, steps=None):
        """Keras 2.2 Sequential API: argmax of `predict`, or `(proba > 0.5)` as int32 (N, 1) for one unit."""
        proba = self.predict(x, batch_size=batch_size, verbose=verbose, steps=steps)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")


def _declared_input(layer):
    """(batch input shape, dtype) a first layer declares; a nested model declares its own input, or its first
    layer's (as Keras finds it), so `Sequential([Sequential([Dense(4, input_shape=(3,))])])` is built at once."""
    while isinstance(layer, Model):
        if layer._graph is not None and len(layer.inputs) == 1:
            return layer.inputs[0].shape, layer.inputs[0].dtype
        if layer._graph is not None or not layer.layers:
            return None, None
        layer = layer.layers[0]
    if layer._batch_input_shape is None:
        return None, None
    return layer._batch_input_shape, _input_dtype(layer)


def _input_dtype(layer):
    from_config = getattr(layer, "input_dtype", None)
    return from_config or backend.floatx()


def _data_dtype(sample, first_layer):
    """The input dtype a model built from its first data takes: integer only for ids that feed an Embedding;
    any other first layer gets floatx (Keras 2 built such models on floatx placeholders), so uint8 images
    and integer features are cast to floats rather than reaching a Dense layer as integers."""
    dtype = getattr(sample, "dtype", None)
    if dtype is None or not isinstance(first_layer, Embedding):
        return backend.floatx()
    name = str(dtype).replace("torch.", "")
    if "int" in name or name == "bool":
        return "int64"
    return backend.floatx()
