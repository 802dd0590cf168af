"""Keras 2's `keras.engine.topology` (kept by Keras 2.2 for older scripts): layers, nodes, networks and the
HDF5 weight helpers, under the names scripts import from there."""
from fitgen.engine.base_layer import InputSpec, Layer  # noqa: F401
from fitgen.engine.input_layer import Input, InputLayer  # noqa: F401
from fitgen.engine.keras_tensor import Node  # noqa: F401
from fitgen.engine.network import Network, get_source_inputs  # noqa: F401
from fitgen.engine.saving import (load_weights_from_hdf5_group, load_weights_from_hdf5_group_by_name,  # noqa: F401
                                  preprocess_weights_for_loading, save_weights_to_hdf5_group)
