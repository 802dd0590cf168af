"""Layer wrappers: `Bidirectional` (an RNN run both ways) and `TimeDistributed` (a layer at every timestep)."""
import importlib
import inspect

import torch

from fitgen.engine.base_layer import Layer
from fitgen.utils import generic_utils

# Where a nested layer's class is looked up when a wrapper is rebuilt from its config; `fitgen.layers`
# (the public namespace) first, the defining modules after it.
_LAYER_MODULES = ("fitgen.layers", "fitgen.layers.core", "fitgen.layers.recurrent", "fitgen.layers.normalization",
                  "fitgen.layers.embeddings", "fitgen.layers.masking", "fitgen.layers.wrappers")
_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def serialize_layer(layer):
    """`{"module", "class_name", "config", "registered_name"}` of a layer, as tf-keras 2.21 nests it."""
    cls = type(layer)
    builtin = cls.__module__.startswith("fitgen.layers")
    return {"module": "keras.layers" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": layer.get_config(),
            "registered_name": None if builtin else generic_utils.get_registered_name(cls)}


def deserialize_layer(config, custom_objects=None):
    """Rebuilds a layer from `{"class_name", "config"}` (custom objects first, then fitgen's layers).

    Raises:
        ValueError: for a class name that is neither a custom object nor a fitgen layer.
    """
    if isinstance(config, Layer):
        return config
    if isinstance(config, dict) and "class_name" in config:
        # The saving module's lookup: custom objects, the registry, fitgen's layers, dropping Keras-only keys.
        from fitgen.saving.serialization import deserialize_layer as _deserialize
        return _deserialize(config, custom_objects=custom_objects)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A nested layer config must be a dict with 'class_name' and 'config'. Received: {config!r}")
    class_name = config["class_name"]
    objects = dict(generic_utils.get_custom_objects())
    objects.update(custom_objects or {})
    cls = objects.get(class_name) or objects.get(config.get("registered_name") or "")
    for module_name in _LAYER_MODULES:
        if cls is not None:
            break
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        candidate = getattr(module, class_name, None)
        cls = candidate if isinstance(candidate, type) and issubclass(candidate, Layer) else None
    if cls is None:
        raise ValueError(f"Unknown layer: {class_name!r}. Please ensure this object is passed to the "
                         "`custom_objects` argument.")
    inner = config.get("config", {})
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(inner, custom_objects=custom_objects)
    return cls.from_config(inner)


def _accepts(layer, argument):
    return argument in inspect.signature(layer.call).parameters


class Wrapper(Layer):
    """Base of the layer wrappers: holds the wrapped `layer` and nests its config as tf-keras does."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            # ValueError, not TypeError: Keras 2 raises ValueError here and user code may catch it.
            raise ValueError(f"Please initialize `{type(self).__name__}` layer with a `fitgen.layers.Layer` "  # noqa: TRY004
                             f"instance. Received: {layer!r}")
        super().__init__(**kwargs)

    def get_config(self):
        config = super().get_config()
        config["layer"] = serialize_layer(self.layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"], custom_objects)
        return cls(**config)


class TimeDistributed(Wrapper):
    """Applies `layer` to every temporal slice of an input, as `keras.layers.TimeDistributed`.

    The time axis (axis 1) is folded into the batch (a zero-copy reshape), the layer runs once on
    (batch * timesteps, ...) and the result is unfolded. The weights are the wrapped layer's, shared by
    all timesteps.

    Args:
        layer: a `Layer` instance, e.g. `Dense(8)` or `Conv2D(...)`.

    Input shape: (batch, timesteps, ...). Output shape: (batch, timesteps) + the layer's per-sample output.
    """

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        self.layer = layer
        self.supports_masking = True

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 3:
            raise ValueError("`TimeDistributed` Layer should be passed an `input_shape` with at least 3 "
                             f"dimensions, received: {input_shape}")
        self.layer._maybe_build((input_shape[0],) + input_shape[2:])
        self.built = True

    def call(self, inputs, training=None, mask=None):
        batch, steps = inputs.shape[0], inputs.shape[1]
        folded = inputs.reshape((batch * steps,) + tuple(inputs.shape[2:]))
        outputs = self.layer(folded, training=training)
        return outputs.reshape((batch, steps) + tuple(outputs.shape[1:]))

    def compute_mask(self, inputs, mask=None):
        """The input's (batch, timesteps) mask applies to every output timestep."""
        return mask

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        child = self.layer.compute_output_shape((input_shape[0],) + input_shape[2:])
        return (input_shape[0], input_shape[1]) + tuple(child[1:])


class Bidirectional(Wrapper):
    """Runs a recurrent layer forwards and a copy of it backwards and merges the two outputs.

    As `keras.layers.Bidirectional` (tf-keras 2.21): the two copies are rebuilt from `layer`'s config and
    named `forward_<name>` / `backward_<name>`; the weights are the forward layer's then the backward
    layer's. With `return_sequences`, the backward output is reversed back to the input's time order.

    Args:
        layer: an RNN layer (`SimpleRNN`, `LSTM`, `GRU`, ...) used as the template of both directions.
        merge_mode: 'concat' (default), 'sum', 'mul', 'ave' or None (a list `[forward, backward]`).
        weights: optional initial weights, forward ones then backward ones.
        backward_layer: optional layer for the backward direction (its `go_backwards` should be True).

    Call arguments: as the wrapped layer's; `initial_state` lists the forward states then the backward ones.
    `return_state` gives `[output] + forward_states + backward_states`.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"`backward_layer` need to be a `fitgen.layers.Layer` instance. "
                             f"Received: {backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode!r}. Merge mode should be one of "
                             '{"sum", "mul", "ave", "concat", None}')
        explicit_trainable = "trainable" in kwargs
        super().__init__(layer, **kwargs)
        # The template is not a sub-module: only the two rebuilt copies own weights.
        object.__setattr__(self, "layer", layer)
        self.forward_layer = self._recreate(layer)
        if backward_layer is None:
            self.backward_layer = self._recreate(layer, go_backwards=True)
        else:
            self.backward_layer = backward_layer
            self._backward_layer_config = serialize_layer(backward_layer)
        self.forward_layer.name = "forward_" + self.forward_layer.name
        self.backward_layer.name = "backward_" + self.backward_layer.name
        self._verify_layer_config()
        for sub in (self.forward_layer, self.backward_layer):
            # As tf-keras: masked steps of a bidirectional sequence output are zeros.
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = bool(getattr(sub, "return_sequences", False))
        self.merge_mode = merge_mode
        if weights:
            half = len(weights) // 2
            self.forward_layer._initial_weights = list(weights[:half])
            self.backward_layer._initial_weights = list(weights[half:])
        self.stateful = getattr(layer, "stateful", False)
        self.return_sequences = getattr(layer, "return_sequences", False)
        self.return_state = getattr(layer, "return_state", False)
        self.supports_masking = True
        if not explicit_trainable and not layer.trainable:
            self.trainable = False

    @staticmethod
    def _recreate(layer, go_backwards=False):
        config = layer.get_config()
        if go_backwards:
            config["go_backwards"] = not config.get("go_backwards", False)
        return type(layer).from_config(config)

    def _verify_layer_config(self):
        forward, backward = self.forward_layer, self.backward_layer
        if getattr(forward, "go_backwards", False) == getattr(backward, "go_backwards", False):
            raise ValueError("Forward layer and backward layer should have different `go_backwards` value. "
                             f"forward_layer.go_backwards = {getattr(forward, 'go_backwards', False)}, "
                             f"backward_layer.go_backwards = {getattr(backward, 'go_backwards', False)}")
        for attribute in ("stateful", "return_sequences", "return_state"):
            if getattr(forward, attribute, None) != getattr(backward, attribute, None):
                raise ValueError("Forward layer and backward layer are expected to have the same value for "
                                 f"attribute {attribute!r}, got {getattr(forward, attribute, None)!r} for forward "
                                 f"layer and {getattr(backward, attribute, None)!r} for backward layer")

    def build(self, input_shape):
        self.forward_layer._maybe_build(tuple(input_shape))
        self.backward_layer._maybe_build(tuple(input_shape))
        self.built = True

    def call(self, inputs, training=None, mask=None, initial_state=None):
        mask = getattr(inputs, "_keras_mask", None) if mask is None else mask
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        y = self._run(self.forward_layer, inputs, training, mask, forward_state)
        y_rev = self._run(self.backward_layer, inputs, training, mask, backward_state)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            time_axis = 0 if getattr(self.forward_layer, "time_major", False) else 1
            y_rev = torch.flip(y_rev, dims=(time_axis,))
        if self.merge_mode == "concat":
            output = torch.cat([y, y_rev], dim=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = [y, y_rev]
        if self.return_state:
            return (output if isinstance(output, list) else [output]) + states
        return output

    @staticmethod
    def _run(layer, inputs, training, mask, initial_state):
        kwargs = {"training": training}
        if _accepts(layer, "mask"):
            kwargs["mask"] = mask
        if initial_state is not None:
            kwargs["initial_state"] = initial_state
        return layer(inputs, **kwargs)

    def reset_states(self, states=None):
        """Resets both directions of a stateful layer (`states`: forward ones then backward ones)."""
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
            return
        half = len(states) // 2
        self.forward_layer.reset_states(states[:half])
        self.backward_layer.reset_states(states[half:])

    def compute_mask(self, inputs, mask=None):
        """The input mask on the sequence output(s) when `return_sequences`; states carry none."""
        if isinstance(mask, list):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state or self.merge_mode is None:
            return masks  # one per output; the states after them get none
        return output_mask

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(tuple(input_shape))
        state_shapes = []
        if self.return_state:
            shape, state_shapes = shape[0], list(shape[1:])
        shape = tuple(shape)
        if self.merge_mode == "concat":
            output = shape[:-1] + (shape[-1] * 2,)
        elif self.merge_mode is None:
            output = [shape, shape]
        else:
            output = shape
        if self.return_state:
            return (output if isinstance(output, list) else [output]) + state_shapes + list(state_shapes)
        return output

    def get_config(self):
        config = super().get_config()
        config["merge_mode"] = self.merge_mode
        if hasattr(self, "_backward_layer_config"):
            config["backward_layer"] = self._backward_layer_config
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config.pop("num_constants", None)
        config["layer"] = deserialize_layer(config["layer"], custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"], custom_objects)
        return cls(**config)
