"""Keras 2's `keras.engine.saving`: whole-model and weight saving, and the HDF5 group helpers Keras 2 code
calls directly (e.g. to copy weights between files). The implementations live in fitgen.saving.
"""
from fitgen.models import (load_model, model_from_config, model_from_json, model_from_yaml,  # noqa: F401
                           save_model)
from fitgen.saving import hdf5_format, keras_compat


class _Layers:
    """A list of layers seen as the model the hdf5_format helpers expect (`.layers`, `.name`)."""

    def __init__(self, layers):
        layers = list(getattr(layers, "layers", layers))
        self.layers = layers
        self.name = "layers"


def _path(group):
    return getattr(getattr(group, "file", None), "filename", "<HDF5 group>")


def save_weights_to_hdf5_group(group, layers):
    """Writes the weights of `layers` (a list of layers, or a model) into an open HDF5 group or file."""
    hdf5_format.write_weights_group(group, _Layers(layers))


def load_weights_from_hdf5_group(group, layers, reshape=False):
    """Loads weights saved by `save_weights_to_hdf5_group` into `layers`, layer by layer in order."""
    hdf5_format._load_topological(group, _Layers(layers), _path(group), reshape)


def load_weights_from_hdf5_group_by_name(group, layers, skip_mismatch=False, reshape=False):
    """Loads weights into the layers of `layers` whose names match saved layers."""
    hdf5_format._load_by_name(group, _Layers(layers), _path(group), skip_mismatch, reshape)


def preprocess_weights_for_loading(layer, weights, original_keras_version=None, original_backend=None,
                                   reshape=False):
    """Converts one layer's saved arrays (Keras 1 and cuDNN layouts) to the layout `layer` loads."""
    return keras_compat.preprocess_weights(layer, weights, str(original_keras_version or "2"))
