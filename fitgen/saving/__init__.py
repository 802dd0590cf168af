"""Saving and loading in Keras 2's HDF5 format (fitgen's files and Keras's own), and atomic file writes."""
from fitgen.saving.atomic import atomic_write
from fitgen.saving.hdf5_format import load_model, load_weights, save_model, save_weights
from fitgen.saving.serialization import clone_model, deserialize_layer, model_from_json

__all__ = ["atomic_write", "clone_model", "deserialize_layer", "load_model", "load_weights", "model_from_json",
           "save_model", "save_weights"]
