"""Custom-object registry and (de)serialisation of Keras objects ({'class_name', 'config'} dicts).

Every `get()` in fitgen (losses, metrics, activations, optimizers, initializers, ...) and the model loader
resolve names here: custom_objects first, then the global registry (`custom_object_scope`), then the
module's own objects.
"""
import inspect
import re
import threading

_GLOBAL_CUSTOM_OBJECTS = {}
_SCOPE = threading.local()


def get_custom_objects():
    """The global dict of custom objects, as in Keras 2: `get_custom_objects()['MyLayer'] = MyLayer`."""
    return _GLOBAL_CUSTOM_OBJECTS


class CustomObjectScope:
    """Within `with CustomObjectScope({'MyLayer': MyLayer}):` the names resolve during deserialisation."""

    def __init__(self, *args):
        self.custom_objects = args
        self._backup = None

    def __enter__(self):
        self._backup = dict(_GLOBAL_CUSTOM_OBJECTS)
        for objects in self.custom_objects:
            _GLOBAL_CUSTOM_OBJECTS.update(objects or {})
        return self

    def __exit__(self, *exc):
        _GLOBAL_CUSTOM_OBJECTS.clear()
        _GLOBAL_CUSTOM_OBJECTS.update(self._backup)


def custom_object_scope(*args):
    return CustomObjectScope(*args)


def register_keras_serializable(package="Custom", name=None):
    """Decorator registering a class or function under `package>name` and its bare name."""
    def decorator(obj):
        registered = name or obj.__name__
        _GLOBAL_CUSTOM_OBJECTS[f"{package}>{registered}"] = obj
        _GLOBAL_CUSTOM_OBJECTS.setdefault(registered, obj)
        return obj
    return decorator


def to_snake_case(name):
    """`Conv2DTranspose` -> `conv2d_transpose`, `BatchNormalization` -> `batch_normalization`, as Keras names."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    if insecure[0] != "_":
        return insecure
    return "private" + insecure


def get_registered_name(obj):
    for key, value in _GLOBAL_CUSTOM_OBJECTS.items():
        if value is obj:
            return key
    return getattr(obj, "__name__", type(obj).__name__)


def serialize_keras_object(instance):
    """A function becomes its name; an object with get_config becomes {'class_name', 'config'}."""
    if instance is None:
        return None
    if hasattr(instance, "get_config"):
        return {"class_name": type(instance).__name__, "config": instance.get_config()}
    if hasattr(instance, "__name__"):
        return instance.__name__
    raise ValueError(f"Cannot serialize {instance!r}: it has neither get_config() nor a __name__.")


def serialize_with_module(obj, module, builtin_classes):
    """tf-keras 2.21's `{'module', 'class_name', 'config', 'registered_name'}` form of a built-in object.

    Every Keras 2 reader accepts it (they only look at 'class_name' and 'config'); a plain function becomes
    its name; user classes record their own module and registered name.
    """
    if obj is None:
        return None
    if not hasattr(obj, "get_config"):
        if hasattr(obj, "__name__"):
            return obj.__name__
        raise ValueError(f"Cannot serialize {obj!r}: it has neither get_config() nor a __name__.")
    cls = type(obj)
    if cls in builtin_classes:
        return {"module": module, "class_name": cls.__name__, "config": obj.get_config(), "registered_name": None}
    return {"module": cls.__module__, "class_name": cls.__name__, "config": obj.get_config(),
            "registered_name": get_registered_name(cls)}


def get_from_identifier(identifier, deserialize, kind, factories=()):
    """The `get()` of initializers, regularizers and constraints: a name, config dict, class or instance,
    a callable, or None. Classes named by a string (and the `factories` given) are called to make one."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        obj = deserialize(identifier)
        return obj() if isinstance(obj, type) or any(obj is f for f in factories) else obj
    if callable(identifier):
        return identifier() if isinstance(identifier, type) else identifier
    raise ValueError(f"Could not interpret {kind} identifier: expected a name, a config dict or a callable. "
                     f"Received: {identifier!r}")


def _lookup(name, module_objects, custom_objects):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _GLOBAL_CUSTOM_OBJECTS:
        return _GLOBAL_CUSTOM_OBJECTS[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    # tf-keras 2.11+ writes new-style optimizers as 'Custom>Adam' and registered objects as 'Package>Name'.
    if ">" in name:
        return _lookup(name.split(">", 1)[1], module_objects, custom_objects)
    return None


def deserialize_keras_object(identifier, module_objects=None, custom_objects=None,
                             printable_module_name="object"):
    """Builds the object a name or {'class_name', 'config'} dict names.

    Raises:
        ValueError: `Unknown <printable_module_name>: <name>` when nothing of that name is known, listing the
            names that are.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        if "class_name" not in identifier or "config" not in identifier:
            raise ValueError(f"Improper config format for {printable_module_name}: expected a dict with "
                             f"'class_name' and 'config'. Received: {identifier!r}")
        class_name = identifier["class_name"]
        cls = _lookup(class_name, module_objects, custom_objects)
        if cls is None:
            raise ValueError(_unknown_message(printable_module_name, class_name, module_objects))
        config = identifier["config"]
        if hasattr(cls, "from_config"):
            params = inspect.signature(cls.from_config).parameters
            if "custom_objects" in params:
                merged = dict(_GLOBAL_CUSTOM_OBJECTS)
                merged.update(custom_objects or {})
                return cls.from_config(config, custom_objects=merged)
            with CustomObjectScope(custom_objects or {}):
                return cls.from_config(config)
        with CustomObjectScope(custom_objects or {}):
            return cls(**config)
    if isinstance(identifier, str):
        obj = _lookup(identifier, module_objects, custom_objects)
        if obj is None:
            raise ValueError(_unknown_message(printable_module_name, identifier, module_objects))
        return obj
    raise ValueError(f"Could not interpret serialized {printable_module_name}: {identifier!r}")


def _unknown_message(kind, name, module_objects):
    known = sorted(k for k in (module_objects or {}) if not k.startswith("_"))
    hint = f" Accepted names: {', '.join(known)}." if known else ""
    return (f"Unknown {kind}: {name!r}. Please ensure this object is passed to the `custom_objects` argument "
            f"or registered with `custom_object_scope`.{hint}")


def __getattr__(name):
    # Keras 2 scripts import Progbar from keras.utils.generic_utils (loaded lazily: progbar is heavier).
    if name == "Progbar":
        from fitgen.utils.progbar import Progbar
        return Progbar
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
