"""`get`, `serialize`, `deserialize`: optimizers by name, config dict or instance, as `keras.optimizers` does.

Accepted configs: fitgen's and tf-keras 2.21's (`{"class_name": "Custom>Adam", "config": {...}}` in .h5 files,
`{"module": "keras.optimizers", "class_name": "Adam", ...}` from `serialize`) and Keras 2.2 / 2.3 ones
(`{"class_name": "SGD", "config": {"lr": 0.01, "decay": 0.0, ...}}`).
"""
from fitgen.optimizers.adadelta import Adadelta
from fitgen.optimizers.adagrad import Adagrad
from fitgen.optimizers.adam import Adam
from fitgen.optimizers.adamax import Adamax
from fitgen.optimizers.nadam import Nadam
from fitgen.optimizers.optimizer import Optimizer
from fitgen.optimizers.rmsprop import RMSprop
from fitgen.optimizers.sgd import SGD
from fitgen.utils import generic_utils

_BUILTINS = (SGD, RMSprop, Adagrad, Adadelta, Adam, Adamax, Nadam)
_BY_LOWER_NAME = {cls.__name__.lower(): cls for cls in _BUILTINS}
_MODULE_OBJECTS = dict({cls.__name__: cls for cls in _BUILTINS}, Optimizer=Optimizer)
# Optimizers wrapping another one, by every class name Keras versions wrote for them; their modules register
# them (`register_wrapper`), since they import this one. Value: (class, name in .h5 files, serialize module).
_WRAPPERS = {}


def register_wrapper(cls, names, file_name, module):
    """Lets `serialize`/`deserialize` handle `cls` (e.g. LossScaleOptimizer) under each of `names`."""
    for name in names:
        _WRAPPERS[name] = (cls, file_name, module)


def serialize(optimizer, use_legacy_format=False):
    """The optimizer as a config dict.

    Args:
        optimizer: A fitgen optimizer.
        use_legacy_format: If True, the form tf-keras 2.21 writes into an .h5 file's `training_config`
            (`{"class_name": "Custom>Adam", "config": {...}}`); otherwise the form of tf-keras's
            `keras.optimizers.serialize` (`{"module": "keras.optimizers", "class_name": "Adam", ...}`).
    """
    cls = type(optimizer)
    wrapper = next((entry for entry in _WRAPPERS.values() if entry[0] is cls), None)
    if wrapper is not None:
        if use_legacy_format:
            return {"class_name": wrapper[1], "config": optimizer.get_config()}
        return {"module": wrapper[2], "class_name": cls.__name__, "config": optimizer.get_config(),
                "registered_name": None}
    builtin = cls in _BUILTINS
    if use_legacy_format:
        name = f"Custom>{cls.__name__}" if builtin else generic_utils.get_registered_name(cls)
        return {"class_name": name, "config": optimizer.get_config()}
    return {"module": "keras.optimizers" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": optimizer.get_config(),
            "registered_name": None if builtin else generic_utils.get_registered_name(cls)}


def deserialize(config, custom_objects=None):
    """An optimizer from a `{"class_name", "config"}` dict (any Keras 2 era); custom_objects are looked up first.

    Raises:
        ValueError: for an unknown class name, listing the accepted ones.
    """
    if isinstance(config, dict) and "class_name" in config:
        class_name = config["class_name"]
        inner = config.get("config") or {}
        known = class_name in (custom_objects or {}) or class_name in generic_utils.get_custom_objects()
        builtin = _BY_LOWER_NAME.get(str(class_name).split(">", 1)[-1].lower())
        if builtin is not None and not known:
            return builtin.from_config(inner, custom_objects=custom_objects)
        wrapper = _WRAPPERS.get(str(class_name).split(">", 1)[-1])
        if wrapper is not None and not known:
            return wrapper[0].from_config(inner, custom_objects=custom_objects)
        config = {"class_name": class_name, "config": inner}
    return generic_utils.deserialize_keras_object(config, module_objects=_MODULE_OBJECTS,
                                                  custom_objects=custom_objects, printable_module_name="optimizer")


def get(identifier):
    """An optimizer from a name ('adam', case-insensitive), a config dict, or an optimizer instance.

    Raises:
        ValueError: for an unknown name (listing the accepted ones), a `torch.optim` optimizer, or anything else.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if _is_torch_optimizer(identifier):
        raise ValueError("fitgen models are compiled with fitgen optimizers (Keras 2 update rules), not torch.optim "
                         "ones. Use e.g. `fitgen.optimizers.Adam(learning_rate=1e-3)` or the name 'adam'. "
                         f"Received: optimizer={identifier!r}")
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _BY_LOWER_NAME.get(identifier.lower())
        if cls is not None:
            return cls()
        custom = generic_utils.get_custom_objects().get(identifier)
        if isinstance(custom, type) and issubclass(custom, Optimizer):
            return custom()
        raise ValueError(f"Unknown optimizer: {identifier!r}. Accepted names: "
                         f"{', '.join(sorted(_BY_LOWER_NAME))} (case-insensitive), a config dict, or an optimizer "
                         "instance.")
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. Expected a name such as 'adam', a "
                     "config dict, or a fitgen optimizer instance.")


def _is_torch_optimizer(identifier):
    try:
        import torch.optim
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    base = torch.optim.Optimizer
    return isinstance(identifier, base) or (isinstance(identifier, type) and issubclass(identifier, base))
