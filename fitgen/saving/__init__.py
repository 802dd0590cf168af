"""Saving and loading in Keras 2's HDF5 format (fitgen's files and Keras's own), and atomic file writes."""
from fitgen.saving.atomic import atomic_write
from fitgen.saving.hdf5_format import load_model
from fitgen.saving.hdf5_format import load_weights
from fitgen.saving.hdf5_format import save_model
from fitgen.saving.hdf5_format import save_weights
from fitgen.saving.serialization import clone_model
from fitgen.saving.serialization import deserialize_layer
from fitgen.saving.serialization import model_from_json

__all__ = ["atomic_write", "save_model", "load_model", "save_weights", "load_weights", "model_from_json",
           "deserialize_layer", "clone_model"]
