"""`Model`: a functional graph (`Model(inputs, outputs)`) or a subclassed model (`class M(Model)`).

Training front doors (compile, fit, evaluate, predict, ...) come from `TrainingAPI` in training.py.
"""
import json

import torch
from torch import nn

from fitgen.backend import common as backend  # configuration only: the engine never needs the ops
from fitgen.distribute import is_chief
from fitgen.engine.base_layer import Layer
from fitgen.engine.functional import GraphNetwork
from fitgen.engine.keras_tensor import KerasTensor, _placeholder
from fitgen.engine.training import TrainingAPI


class Model(TrainingAPI, Layer):
    """A Keras 2 model: layers grouped into an object with training and inference features.

    Two ways to make one, as in Keras:

    ```python
    inputs = fitgen.Input(shape=(3,))
    x = fitgen.layers.Dense(4, activation="relu")(inputs)
    outputs = fitgen.layers.Dense(5, activation="softmax")(x)
    model = fitgen.models.Model(inputs=inputs, outputs=outputs)
    ```

    or by subclassing, defining layers in `__init__` and the forward pass in `call(inputs, training=None)`.
    """

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", kwargs.pop("input", args[0] if len(args) > 0 else None))
        outputs = kwargs.pop("outputs", kwargs.pop("output", args[1] if len(args) > 1 else None))
        name = kwargs.pop("name", None)
        if (inputs is None) != (outputs is None):
            raise ValueError("A functional Model needs both `inputs` and `outputs`. Received: "
                             f"inputs={inputs!r}, outputs={outputs!r}")
        default = "model" if type(self) is Model else None
        super().__init__(name=name or (backend.unique_object_name(default) if default else None), **kwargs)
        self._graph = None
        self._graph_losses = []   # symbolic tensors added with add_loss
        self._graph_metrics = []  # (symbolic tensor, name, aggregation) added with add_metric
        self._init_training_state()
        if inputs is not None:
            self._init_graph(inputs, outputs)

    def _init_graph(self, inputs, outputs):
        extras = list(self._graph_losses) + [tensor for tensor, _, _ in self._graph_metrics]
        self._graph = GraphNetwork(inputs, outputs, extras)
        self._nested_inputs = inputs
        self._nested_outputs = outputs
        self._graph_layers = nn.ModuleList(self._graph.layers)
        self.built = True
        self._input_device_checked = False

    # -------------------------------------------------------------------------------------- structure
    @property
    def layers(self):
        if self._graph is not None:
            return list(self._graph.layers)
        return [m for m in self.children() if isinstance(m, Layer)]

    @property
    def weights(self):
        """Every layer's weights in layer order (each layer: trainable then non-trainable), as Keras orders
        `model.get_weights()` and HDF5 files."""
        seen, out = set(), []
        for weight in self._layer_weights:
            seen.add(id(weight))
            out.append(weight)
        for layer in self.layers:
            for weight in layer.weights:
                if id(weight) not in seen:
                    seen.add(id(weight))
                    out.append(weight)
        return out

    @property
    def inputs(self):
        return list(self._graph.inputs) if self._graph is not None else None

    @property
    def outputs(self):
        return list(self._graph.outputs) if self._graph is not None else None

    @property
    def input_names(self):
        if self._graph is None:
            return ["input_1"]
        return [layer.name for layer in self._graph.input_layers]

    @property
    def output_names(self):
        if self._graph is None:
            return ["output_1"]
        names = []
        for layer in self._graph.output_layers:
            name, k = layer.name, 1
            while name in names:
                name, k = f"{layer.name}_{k}", k + 1
            names.append(name)
        return names

    @property
    def input(self):
        inputs = self.inputs
        if inputs is None:
            raise AttributeError(f"Model {self.name} has no defined inputs yet (it is not built).")
        return inputs[0] if len(inputs) == 1 else inputs

    @property
    def output(self):
        outputs = self.outputs
        if outputs is None:
            raise AttributeError(f"Model {self.name} has no defined outputs yet (it is not built).")
        return outputs[0] if len(outputs) == 1 else outputs

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs or []]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs or []]
        return shapes[0] if len(shapes) == 1 else shapes

    def get_layer(self, name=None, index=None):
        """The layer named `name`, or at position `index` of `model.layers`."""
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received both: "
                             f"name={name!r}, index={index!r}.")
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(self.layers)} layers.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}.")

    @property
    def stateful(self):
        """True when a layer of the model (a stateful RNN) carries states from batch to batch."""
        if "_stateful" in self.__dict__:  # set by a subclassed model
            return self.__dict__["_stateful"]
        return any(getattr(layer, "stateful", False) for layer in self.layers)

    @stateful.setter
    def stateful(self, value):
        self.__dict__["_stateful"] = value

    def reset_states(self):
        """Resets the states of every stateful layer (stateful RNNs, nested models), as Keras 2."""
        for layer in self.layers:
            if getattr(layer, "stateful", False) and hasattr(layer, "reset_states"):
                layer.reset_states()

    # -------------------------------------------------------------------------------------- running
    def call(self, inputs, training=None, mask=None):
        if self._graph is None:
            raise NotImplementedError(f"Model {self.name} has no graph: a subclassed model must implement "
                                      "`call(self, inputs, training=None)`.")
        outputs = self._run_graph(self._inputs_as_list(inputs))
        return outputs[0] if len(outputs) == 1 else outputs

    def _run_graph(self, inputs):
        values = self._graph.run(inputs)
        if not self._graph.extra_outputs:
            return values
        count = len(self._graph.outputs)
        extras = values[count:]
        losses = len(self._graph_losses)
        for value in extras[:losses]:
            self.add_loss(value)
        for (_, name, aggregation), value in zip(self._graph_metrics, extras[losses:]):
            self.add_metric(value, name=name, aggregation=aggregation)
        return values[:count]

    # ------------------------------------------------------------------------------- added losses/metrics
    def add_loss(self, losses, inputs=None, **kwargs):
        """Adds loss tensor(s) to the model's objective, as Keras's `Model.add_loss`.

        On a functional model, a symbolic tensor computed from the model's inputs (e.g. a VAE's KL term built
        with `fitgen.backend` ops) becomes part of the model: it is computed with every forward pass, added to
        the training loss (its mean when not a scalar), and saved with the model's config. Anything else is
        as `Layer.add_loss`.
        """
        items = losses if isinstance(losses, (list, tuple)) else [losses]
        symbolic = [loss for loss in items if isinstance(loss, KerasTensor)]
        if symbolic:
            self._extend_graph_extras(symbolic, "add_loss")
            self._graph_losses.extend(symbolic)
            self._init_graph(self._nested_inputs, self._nested_outputs)
        rest = [loss for loss in items if not isinstance(loss, KerasTensor)]
        if rest:
            super().add_loss(rest, inputs=inputs, **kwargs)

    def add_metric(self, value, name=None, aggregation="mean"):
        """Adds a metric tensor, logged under `name` as its running mean (tf.keras's `add_metric`).

        On a functional model a symbolic tensor becomes part of the model, as with `add_loss`.
        """
        if isinstance(value, KerasTensor):
            if not name:
                raise ValueError("Please provide a name for your metric, e.g. `model.add_metric(value, name='kl')`.")
            self._extend_graph_extras([value], "add_metric")
            self._graph_metrics.append((value, name, aggregation))
            self._init_graph(self._nested_inputs, self._nested_outputs)
            return
        super().add_metric(value, name=name, aggregation=aggregation)

    def _extend_graph_extras(self, tensors, method):
        if self._graph is None:
            raise ValueError(f"`{method}` with a symbolic tensor needs a functional model built from the inputs the "
                             f"tensor depends on; model {self.name!r} has no graph yet. Received: {tensors[0]!r}")
        GraphNetwork(self._nested_inputs, self._nested_outputs, tensors)  # raises when not computable from inputs
        self._train_step = None

    def _inputs_as_list(self, inputs):
        if isinstance(inputs, dict):
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise ValueError(f"No data provided for input {missing[0]!r}. Need data for each key in: "
                                 f"{self.input_names}")
            return [inputs[n] for n in self.input_names]
        if isinstance(inputs, (list, tuple)):
            return list(inputs)
        return [inputs]

    def _forward(self, inputs):
        """Runs the model on a list of torch tensors in input order; returns a list of output tensors."""
        if self._graph is not None:
            return self._run_graph(inputs)
        outputs = self(inputs[0] if len(inputs) == 1 else inputs)
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

    def _maybe_build(self, input_shape, device=None):
        # A model's layers build themselves on the first call; running it is what builds a subclassed model.
        self.built = True

    def build(self, input_shape=None):
        """Builds a subclassed model's weights by running it once on placeholder data of `input_shape`."""
        if self._graph is not None or input_shape is None:
            self.built = True
            return
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        self.built = True
        with torch.no_grad():
            was = self.training
            self.eval()
            self._forward([_placeholder(tuple(s), self.dtype, 3) for s in shapes])
            self.train(was)
        self.built = True

    def compute_output_shape(self, input_shape):
        if self._graph is not None:
            shapes = [tuple(s) for s in input_shape] if isinstance(input_shape, list) else [tuple(input_shape)]
            if shapes == [t.shape for t in self.inputs]:
                return self.output_shape
            outputs = self._graph.output_shapes(shapes)
            return outputs[0] if len(outputs) == 1 else outputs
        return super().compute_output_shape(input_shape)

    # -------------------------------------------------------------------------------------- summary
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False):
        """Prints the layer table, as Keras 2 does (`Model: "name"`, layers, output shapes, params)."""
        from fitgen.engine.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      show_trainable=show_trainable)

    # --------------------------------------------------------------------------------------- config
    def get_config(self):
        from fitgen.saving import serialization
        return serialization.model_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fitgen.saving import serialization
        return serialization.model_from_config_dict(cls, config, custom_objects)

    def to_json(self, **kwargs):
        """The model's architecture as a JSON string (`{"class_name", "config", "keras_version", "backend"}`)."""
        from fitgen.saving import serialization
        return json.dumps(serialization.model_json_dict(self), **kwargs)

    def save(self, filepath, overwrite=True, include_optimizer=True, **kwargs):
        """Saves architecture, weights, training config and optimizer state to one Keras 2 HDF5 file."""
        from fitgen.saving import hdf5_format
        if is_chief():  # under torchrun, rank 0 writes the one file
            hdf5_format.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer,
                                   **kwargs)

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """Saves all weights to an HDF5 file in Keras 2's layout (`layer_names`, per-layer groups)."""
        from fitgen.saving import hdf5_format
        if is_chief():  # under torchrun, rank 0 writes the one file
            hdf5_format.save_weights(self, filepath, overwrite=overwrite, **kwargs)

    def load_weights(self, filepath, by_name=False, skip_mismatch=False, **kwargs):
        """Loads weights saved by fitgen or Keras 2 (topologically, or by layer name with `by_name=True`)."""
        from fitgen.saving import hdf5_format
        return hdf5_format.load_weights(self, filepath, by_name=by_name, skip_mismatch=skip_mismatch, **kwargs)

