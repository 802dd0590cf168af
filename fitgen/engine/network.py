"""Keras 2's `keras.engine.network`: `Network` (a graph of layers; in fitgen the functional `Model`, which
adds training to it) and `get_source_inputs`."""
from fitgen.engine.model import Model as Network  # noqa: F401
from fitgen.utils.layer_utils import get_source_inputs  # noqa: F401
