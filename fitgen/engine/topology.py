"""Keras 2.2's `keras.engine.topology` names, for scripts that import them from there."""
from fitgen.engine.base_layer import Layer  # noqa: F401
from fitgen.engine.input_layer import Input, InputLayer  # noqa: F401
from fitgen.engine.model import Model as Network  # noqa: F401
