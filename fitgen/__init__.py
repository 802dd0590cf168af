"""fitgen: the Keras 2 training API rebuilt on PyTorch.

`import fitgen` gives the Keras 2 namespaces (`fitgen.layers`, `fitgen.models`, `fitgen.optimizers`,
`fitgen.callbacks`, `fitgen.backend`, `fitgen.utils`, ...) and `fitgen.Input`, `fitgen.Model`,
`fitgen.Sequential`; `fitgen.preprocessing`, `fitgen.datasets`, `fitgen.wrappers` and `fitgen.applications`
load on first use.
"""
import importlib

from fitgen import (activations, backend, callbacks, constraints, initializers, layers, losses, metrics, models,
                    optimizers, regularizers, utils)
from fitgen.engine.input_layer import Input
from fitgen.engine.model import Model
from fitgen.engine.sequential import Sequential

__version__ = "0.1.0"

_LAZY = ("preprocessing", "datasets", "wrappers", "distribute", "saving", "applications")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"fitgen.{name}")
    raise AttributeError(f"module 'fitgen' has no attribute {name!r}")
