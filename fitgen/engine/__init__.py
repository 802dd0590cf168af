"""Keras 2's `keras.engine` names: `Input`, `InputLayer`, `InputSpec`, `Layer`, `Model`, `get_source_inputs`.

Loaded on first use: the engine's own modules import each other through this package, so importing them
here eagerly would make cycles.
"""
import importlib

_NAMES = {"Input": "fitgen.engine.input_layer", "InputLayer": "fitgen.engine.input_layer",
          "InputSpec": "fitgen.engine.input_spec", "Layer": "fitgen.engine.base_layer",
          "Model": "fitgen.engine.model", "get_source_inputs": "fitgen.utils.layer_utils"}


def __getattr__(name):
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'fitgen.engine' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_NAMES))
