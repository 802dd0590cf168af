"""Custom-object registry and (de)serialisation of Keras objects ({'class_name', 'config'} dicts).

Every `get()` in fitgen (losses, metrics, activations, optimizers, initializers, ...) and the model loader
resolve names here: custom_objects first, then the global registry (`custom_object_scope`), then the
module's own objects.
"""
import base64
import inspect
import marshal
import re
import sys
import threading
import types

from fitgen.utils.progbar import Progbar

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


def func_dump(fn):
    """`(base64 marshalled code, defaults, closure values)`, the form tf-keras writes for a lambda."""
    code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")
    closure = tuple(cell.cell_contents for cell in fn.__closure__) if fn.__closure__ else None
    return code, fn.__defaults__, closure


def func_load(code, defaults=None, closure=None, globs=None):
    """Rebuilds a function from `func_dump`'s output (runs bytecode: only for trusted files)."""
    if isinstance(code, (list, tuple)):
        code, defaults, closure = code
    defaults = tuple(defaults) if isinstance(defaults, list) else defaults
    try:
        raw = base64.decodebytes(code.encode("ascii"))
        code_object = marshal.loads(raw)
    except (ValueError, EOFError, TypeError) as error:
        raise ValueError(f"Cannot load the Lambda layer's function: its bytecode was written by another Python "
                         f"version than {sys.version.split()[0]} or is damaged ({error}). Rebuild the model "
                         f"in code, or pass the function through `custom_objects`.") from None
    cells = tuple(types.CellType(value) for value in closure) if closure is not None else None
    return types.FunctionType(code_object, globs if globs is not None else {}, code_object.co_name, defaults,
                              cells)


# ------------------------------------------------------------- small helpers Keras 2 code imports from here

def getargspec(fn):
    """The full argument spec of `fn` (`inspect.getfullargspec`), as Keras 2's helper returned it."""
    return inspect.getfullargspec(fn)


def has_arg(fn, name, accept_all=False):
    """Whether `fn` can be called with the keyword argument `name` (with `accept_all`, also through **kwargs)."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    if accept_all and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return True
    parameter = parameters.get(name)
    return parameter is not None and parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                         inspect.Parameter.KEYWORD_ONLY)


def to_list(x, allow_tuple=False):
    """`x` as a list: a list stays itself (a tuple too with `allow_tuple`), anything else is wrapped."""
    if isinstance(x, list) or (allow_tuple and isinstance(x, tuple)):
        return list(x)
    return [x]


def unpack_singleton(x):
    """The only element of a one-element list or tuple; anything else unchanged."""
    return x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else x


def object_list_uid(object_list):
    """A string naming the objects of a list by identity (Keras 2 used it as a cache key)."""
    return ", ".join(str(abs(id(x))) for x in to_list(object_list, allow_tuple=True))


def is_all_none(iterable_or_element):
    return all(x is None for x in to_list(iterable_or_element, allow_tuple=True))


def slice_arrays(arrays, start=None, stop=None):
    """Rows `start:stop` (or the rows listed in `start`) of an array or of each array of a list; None stays."""
    def take(array):
        if array is None:
            return None
        if hasattr(start, "__len__"):
            return array[list(start) if isinstance(array, list) else start]
        return array[start:stop]

    if arrays is None:
        return [None]
    if isinstance(arrays, list):
        return [take(array) for array in arrays]
    return take(arrays)


def transpose_shape(shape, target_format, spatial_axes):
    """A channels_last shape in `target_format`: 'channels_first' moves the last axis before `spatial_axes`."""
    if target_format == "channels_last":
        return shape
    if target_format != "channels_first":
        raise ValueError(f'The `data_format` argument must be one of "channels_first", "channels_last". '
                         f"Received: {target_format!r}")
    reordered = tuple(shape[:spatial_axes[0]]) + (shape[-1],) + tuple(shape[axis] for axis in spatial_axes)
    return list(reordered) if isinstance(shape, list) else reordered


def __getattr__(name):
    # Keras 2 scripts import Progbar from keras.utils.generic_utils (loaded lazily: progbar is heavier).
    if name == "Progbar":
        return Progbar
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
