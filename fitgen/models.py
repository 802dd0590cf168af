"""Keras 2 models namespace: `from fitgen.models import Sequential, Model, load_model`."""
from fitgen.engine.model import Model
from fitgen.engine.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved by `model.save()` (fitgen or Keras 2 HDF5 file); see fitgen.saving."""
    from fitgen.saving.hdf5_format import load_model as _load_model
    return _load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    model.save(filepath, overwrite=overwrite, include_optimizer=include_optimizer)


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """Rebuilds an (uncompiled) model from `model.to_json()` output, fitgen's or Keras 2's."""
    from fitgen.saving.serialization import model_from_json as _model_from_json
    return _model_from_json(json_string, custom_objects=custom_objects, safe_mode=safe_mode)


def model_from_yaml(yaml_string, custom_objects=None):
    """Refused, as tf-keras 2.x refuses it: building a model from YAML can execute arbitrary code.

    Raises:
        RuntimeError: always; use `model.to_json()` and `model_from_json()`.
    """
    raise RuntimeError("Method `model_from_yaml()` has been removed due to security risk of arbitrary code "
                       "execution (tf-keras 2.x removed it too). Please use `Model.to_json()` and "
                       "`model_from_json()` instead.")


def model_from_config(config, custom_objects=None):
    from fitgen.saving.serialization import deserialize_layer
    return deserialize_layer(config, custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model of the same architecture with freshly initialised weights."""
    from fitgen.saving.serialization import clone_model as _clone
    return _clone(model, input_tensors=input_tensors, clone_function=clone_function)
