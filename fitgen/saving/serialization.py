"""Model and layer configs in Keras 2's JSON form: `get_config`/`from_config`, `to_json`/`model_from_json`,
`clone_model`.

Configs are written as tf-keras 2.21 writes them into `.h5` files (so tf-keras reads fitgen's files) and read in
every Keras 2 form (Keras 2.2.4's `Model`, tf-keras's `Functional`, bare-list Sequential configs), ignoring
entries that only mattered to Keras itself.
"""
import contextlib
import importlib
import inspect
import json

import fitgen
from fitgen.engine.base_layer import Layer
from fitgen.engine.input_layer import InputLayer
from fitgen.engine.keras_tensor import KerasTensor, map_structure
from fitgen.engine.model import Model
from fitgen.engine.sequential import Sequential
from fitgen.layers import core
from fitgen.saving import graph_config
from fitgen.saving.keras_compat import translate_layer_entry
from fitgen.utils import generic_utils

# Where layer classes are looked up by name: the public namespace first, then the defining modules (so loading
# works whatever the namespace exports).
_LAYER_MODULES = ("fitgen.layers", "fitgen.layers.core", "fitgen.layers.convolutional", "fitgen.layers.pooling",
                  "fitgen.layers.merge", "fitgen.layers.noise", "fitgen.layers.normalization",
                  "fitgen.layers.embeddings", "fitgen.layers.masking", "fitgen.layers.recurrent",
                  "fitgen.layers.wrappers", "fitgen.layers.reshaping", "fitgen.layers.advanced_activations",
                  "fitgen.layers.torch_module", "fitgen.backend.op_layer", "fitgen.applications.inception_resnet_v2")
# Base classes that are not layers a config names.
_NOT_LISTED = {"Layer", "Conv", "SeparableConv", "Pooling", "GlobalPooling", "RNNBase", "Wrapper", "Merge"}


def keras_version():
    """The `keras_version` fitgen writes: its own version (any value but "1" tells Keras "Keras 2 layout")."""
    return str(fitgen.__version__)


# ------------------------------------------------------------------------------------------------ layers
def _engine_classes():
    return {"InputLayer": InputLayer, "Sequential": Sequential, "Model": Model, "Functional": Model}


def layer_classes():
    """{class name: class} of every layer (and model) class a config may name, built-ins only."""
    found = {}
    for module_name in _LAYER_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, value in vars(module).items():
            if (not name.startswith("_") and isinstance(value, type) and issubclass(value, Layer)
                    and name not in _NOT_LISTED and name not in found):
                found[name] = value
    found.update(_engine_classes())
    return found


def _find_class(class_name, registered_name, custom_objects):
    objects = dict(generic_utils.get_custom_objects())
    objects.update(custom_objects or {})
    for key in (class_name, registered_name):
        if key and key in objects:
            return objects[key], False
    builtins = layer_classes()
    bare = class_name.split(">", 1)[-1]
    if bare in objects:
        return objects[bare], False
    if bare in builtins:
        return builtins[bare], True
    supported = sorted(name for name in builtins if name not in ("Functional",))
    raise ValueError(f"Unknown layer: {class_name!r}. fitgen cannot build this layer class from the config. "
                     f"Supported layer classes: {', '.join(supported)}. For a custom layer, pass it as "
                     f"`custom_objects={{'{class_name}': {bare}}}`.")


def deserialize_layer(config, custom_objects=None):
    """Builds a layer (or model) from its `{"class_name", "config"}` dict.

    Class names resolve in `custom_objects`, then the global custom objects (`custom_object_scope`,
    `get_custom_objects()`), then fitgen's layers plus `Sequential`, `Model` and `Functional`.

    Args:
        config: the `{"class_name", "config"}` dict (tf-keras's extra keys `module`, `registered_name`,
            `build_config` are accepted).
        custom_objects: dict of custom layers, functions, losses... by name.

    Returns:
        The layer or model.

    Raises:
        ValueError: for a malformed config, or an unknown class name (the message lists the supported ones).
    """
    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A layer config must be a dict with 'class_name' and 'config'. Received: {config!r}")
    class_name, inner = translate_layer_entry(config["class_name"], config.get("config") or {})
    cls, builtin = _find_class(class_name, config.get("registered_name"), custom_objects)
    with generic_utils.CustomObjectScope(custom_objects or {}):
        own_from_config = getattr(getattr(cls, "from_config", None), "__func__", None)
        if isinstance(cls, type) and issubclass(cls, Model) and own_from_config is Model.from_config.__func__:
            return model_from_config_dict(cls, inner, custom_objects)
        return _from_config(cls, inner, custom_objects, builtin)


def _from_config(cls, config, custom_objects, builtin):
    config = dict(config)
    takes_custom = "custom_objects" in _parameters(getattr(cls, "from_config", None))
    dropped = set()
    while True:
        try:
            if not hasattr(cls, "from_config"):
                return cls(**config)
            if takes_custom:
                return cls.from_config(config, custom_objects=custom_objects)
            return cls.from_config(config)
        except TypeError as error:
            key = _refused_key(error, config)
            # Only built-in layers get Keras-only keys removed: a custom layer's own errors stay its own.
            if key is None or not builtin or key in dropped:
                raise
            dropped.add(key)
            config.pop(key)


def _refused_key(error, config):
    message = str(error)
    for marker in ("Keyword argument not understood: ", "unexpected keyword argument "):
        if marker in message:
            key = message.split(marker, 1)[1].split()[0].strip("'\"(),")
            return key if key in config else None
    return None


def _parameters(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


def serialize_layer(layer):
    """The config entry of one layer, as tf-keras 2.21 writes it (`module`, `class_name`, `config`,
    `registered_name`, and `build_config` once the layer has been called).

    Raises:
        NotImplementedError: for a custom layer whose `__init__` takes arguments that its `get_config` (the
            base class's) cannot know about.
    """
    cls = type(layer)
    builtin = cls.__module__.startswith(("fitgen.layers", "fitgen.engine", "fitgen.backend"))
    if not builtin:
        _check_custom_get_config(layer)
    class_name = class_name_of(layer)
    registered_name = None if builtin else generic_utils.get_registered_name(cls)
    if registered_name and ">" in registered_name:
        # A registered class goes by its registered name ('Custom>CustomScaleLayer'), as tf-keras's .h5
        # writer names it; tf-keras's .h5 reader finds registered classes by that name only.
        class_name = registered_name
    entry = {"module": _module_name(layer, builtin), "class_name": class_name, "config": layer.get_config(),
             "registered_name": registered_name}
    shape = _build_input_shape(layer)
    if shape is not None:
        entry["build_config"] = {"input_shape": shape}
    return entry


def class_name_of(layer):
    """The class name a config records: "Functional" for a plain functional `Model`, as tf-keras writes."""
    if type(layer) is Model:
        return "Functional"
    return type(layer).__name__


def _module_name(layer, builtin):
    if not builtin:
        return type(layer).__module__
    return "keras.src.engine.functional" if isinstance(layer, Model) else "keras.layers"


def _build_input_shape(layer):
    if isinstance(layer, (InputLayer, Model)) or not layer._inbound_nodes:
        return None
    structure = layer._inbound_nodes[0].input_structure
    return map_structure(lambda t: list(t.shape) if isinstance(t, KerasTensor) else None, structure)


def _check_custom_get_config(layer):
    cls = type(layer)
    if isinstance(layer, Model) or cls.get_config is not Layer.get_config:
        return
    extra = [name for name, p in _parameters(cls.__init__).items()
             if name not in ("self", "name", "trainable", "dtype") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
             and p.default is inspect.Parameter.empty]
    if extra:
        raise NotImplementedError(f"Layer {cls.__name__} has arguments {extra} in `__init__` and therefore must "
                                  "override `get_config()` to be saved.")


# ------------------------------------------------------------------------------------------------ models
def model_config(model):
    """`model.get_config()`: Sequential `{"name", "layers"}` or functional `{"name", "trainable", "layers",
    "input_layers", "output_layers"}`, node indices counted as tf-keras counts them.

    Raises:
        NotImplementedError: for a subclassed model (its architecture is Python code, not a config).
    """
    if isinstance(model, Sequential):
        layers = []
        if model._input_tensor is not None:
            layers.append(serialize_layer(model._input_tensor._keras_history[0]))
        layers.extend(serialize_layer(layer) for layer in model.layers)
        return {"name": model.name, "layers": layers}
    if model._graph is None:
        raise NotImplementedError(
            f"Model {model.name!r} of class {type(model).__name__} is a subclassed model: its layers are connected "
            "in Python code, so it has no config. Save it with `save_weights()` and rebuild it in code, or "
            "override `get_config()` and `from_config()`.")
    return graph_config.functional_config(model, serialize_layer)


def model_from_config_dict(cls, config, custom_objects=None):
    """`Model.from_config`: a Sequential from a Sequential config, otherwise a functional model.

    Raises:
        ValueError: for a config that is neither form, or whose graph cannot be connected.
    """
    if isinstance(config, list) or (isinstance(config, dict) and "input_layers" not in config and "layers" in config):
        if not issubclass(cls, Sequential):
            cls = Sequential
        return _sequential_from_config(cls, config, custom_objects)
    if not isinstance(config, dict) or "layers" not in config:
        raise ValueError(f"Improper model config: expected a dict with 'layers' (and 'input_layers', "
                         f"'output_layers' for a functional model). Received: {str(config)[:200]}")
    with generic_utils.CustomObjectScope(custom_objects or {}):
        inputs, outputs, added = graph_config.reconstruct(config, custom_objects, deserialize_layer)
        if issubclass(cls, Sequential):
            cls = Model
        model = cls(inputs=inputs, outputs=outputs, name=config.get("name"))
        if added["losses"]:
            model.add_loss(added["losses"])
        for tensor, name, aggregation in added["metrics"]:
            model.add_metric(tensor, name=name, aggregation=aggregation)
    if config.get("trainable") is False:
        model.trainable = False
    return model


def _sequential_from_config(cls, config, custom_objects):
    if isinstance(config, list):  # Keras <= 2.1 stored a bare list of layer configs
        name, entries, build_shape = None, config, None
    else:
        name, entries, build_shape = config.get("name"), config["layers"], config.get("build_input_shape")
    model = cls(name=name)
    for entry in entries:
        model.add(deserialize_layer(entry, custom_objects))
    if model._graph is None and build_shape:
        model.build(tuple(build_shape))
    if not isinstance(config, list) and config.get("trainable") is False:
        model.trainable = False
    return model


def model_json_dict(model):
    """`{"class_name", "config", "keras_version", "backend"}`, the document `to_json()` writes."""
    return {"class_name": class_name_of(model), "config": model.get_config(), "keras_version": keras_version(),
            "backend": "tensorflow"}


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """An uncompiled model from `to_json()` output (fitgen's or any Keras 2's).

    Args:
        json_string: the JSON document.
        custom_objects: dict of custom layers and functions by name.
        safe_mode: refuse `Lambda` layers stored as Python bytecode (building them runs code from the
            document); pass False only for trusted documents.

    Raises:
        ValueError: for text that is not JSON or not a model document.
    """
    try:
        document = json.loads(json_string)
    except (TypeError, ValueError) as error:
        raise ValueError(f"model_from_json: the argument is not valid JSON ({error}).") from None
    if not isinstance(document, dict) or "class_name" not in document:
        raise ValueError("model_from_json: expected a JSON object with 'class_name' and 'config' (the output of "
                         f"`model.to_json()`). Received: {str(json_string)[:200]}")
    with lambda_safe_mode(safe_mode):
        return deserialize_layer(document, custom_objects=custom_objects)


@contextlib.contextmanager
def lambda_safe_mode(enabled):
    """Within the block, Lambda layers refuse (`enabled=True`) or accept marshalled Python bytecode."""
    previous = core.LAMBDA_SAFE_MODE
    core.LAMBDA_SAFE_MODE = bool(enabled)
    try:
        yield
    finally:
        core.LAMBDA_SAFE_MODE = previous


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and freshly initialised weights, as `keras.models.clone_model`.

    Args:
        model: a Sequential or functional model.
        input_tensors: optional symbolic tensors (from `Input`) to build the clone on.
        clone_function: `fn(layer) -> new layer` for every layer except inputs (default: a new layer from
            the layer's config).

    Raises:
        ValueError: for a subclassed model.
    """
    return graph_config.clone(model, input_tensors, clone_function or _clone_layer)


def _clone_layer(layer):
    return deserialize_layer({"class_name": type(layer).__name__, "config": layer.get_config()},
                             custom_objects={type(layer).__name__: type(layer)})
