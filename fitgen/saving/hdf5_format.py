"""Keras 2's HDF5 files: `model.save`, `load_model`, `save_weights`, `load_weights`.

Layout (tf-keras 2.21's legacy `.h5`, which every Keras 2 reads):

```
/ attrs: keras_version, backend, model_config (JSON), training_config (JSON)
/model_weights  attrs: layer_names, backend, keras_version
    /<layer>    attrs: weight_names (e.g. "dense/kernel:0"); datasets at <layer>/<weight name>
    /top_level_model_weights  attrs: weight_names = []
/optimizer_weights  attrs: weight_names ("iteration:0", "Adam/m/dense/kernel:0", ...); one dataset each
```

A weights file has the `model_weights` layout at its root. Every write goes through `atomic_write`, so an
interrupted save leaves the previous file intact. Reading errors name the file and what is wrong with it.
"""
import json
import os
import warnings

import h5py
import numpy as np

from fitgen.saving import keras_compat, serialization
from fitgen.saving import training_config as training_config_module
from fitgen.saving.atomic import atomic_write

_BACKEND = "tensorflow"  # the kernel conventions (channels_last, cross-correlation) of the stored arrays


# ------------------------------------------------------------------------------------------------- save
def save_model(model, filepath, overwrite=True, include_optimizer=True, save_format=None, **kwargs):
    """Saves architecture, weights, training configuration and optimizer state to one HDF5 file.

    Args:
        model: a Sequential or functional fitgen model.
        filepath: path of the `.h5` file, or an open `h5py.File`.
        overwrite: False asks before replacing an existing file.
        include_optimizer: also store the training configuration and the optimizer state.
        save_format: None, 'h5' or 'hdf5' (fitgen writes only Keras 2's HDF5 format).

    Raises:
        NotImplementedError: for a subclassed model (it has no config; use `save_weights`).
        ValueError: for a model that is not built yet, or an unsupported `save_format`.
    """
    _check_format(save_format, kwargs)
    _require_built(model, "save")
    metadata = {"keras_version": serialization.keras_version(), "backend": _BACKEND,
                "model_config": {"class_name": serialization.class_name_of(model), "config": model.get_config()}}
    if include_optimizer:
        config = training_config_module.training_config(model)
        if config is not None:
            metadata["training_config"] = config

    def write(f):
        for key, value in metadata.items():
            f.attrs[key] = json.dumps(value, default=_json_default).encode("utf-8") \
                if isinstance(value, dict) else value
        write_weights_group(f.create_group("model_weights"), model)
        if include_optimizer and model.optimizer is not None and model.optimizer.built:
            _write_optimizer_weights(f, model.optimizer)
        f.flush()

    _write_file(filepath, overwrite, write)


def save_weights(model, filepath, overwrite=True, save_format=None, **kwargs):
    """Saves every layer's weights in Keras 2's HDF5 layout (`layer_names`, one group per layer).

    fitgen always writes the classic layout, whatever the file name. tf-keras reads a file whose name ends in
    `.weights.h5` in Keras 3's format instead: for files meant for tf-keras, use another name (e.g. `.h5`).
    """
    _check_format(save_format, kwargs)
    _require_built(model, "save the weights of")
    _write_file(filepath, overwrite, lambda f: write_weights_group(f, model))


def write_weights_group(group, model):
    """Writes `model`'s weights into `group` (a file root or `model_weights`) as tf-keras does."""
    version = serialization.keras_version()
    names = [layer.name for layer in model.layers]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"Cannot save the weights of model {model.name!r}: layer names must be unique, but "
                         f"{duplicated} appear more than once.")
    keras_compat.save_attributes(group, "layer_names", names)
    group.attrs["backend"] = _BACKEND.encode("utf-8")
    group.attrs["keras_version"] = version.encode("utf-8")
    for layer in sorted(model.layers, key=lambda layer: layer.name):
        layer_group = group.create_group(layer.name)
        weights = layer.trainable_weights + layer.non_trainable_weights
        _write_arrays(layer_group, [w.name for w in weights], [w.numpy() for w in weights])
    keras_compat.save_attributes(group.create_group("top_level_model_weights"), "weight_names", [])


def _write_optimizer_weights(f, optimizer):
    names = [_clean_name(n) for n in optimizer.weight_names()]
    _write_arrays(f.create_group("optimizer_weights"), names, optimizer.get_weights())


def _clean_name(name):
    # Variable names already end in ':0'; never write 'kernel:0:0'.
    return name[:-2] if name.endswith(":0:0") else name


def _write_arrays(group, names, values):
    unique = []
    for name in names:
        candidate, k = name, 1
        while candidate in unique:
            stem, _, suffix = name.rpartition(":")
            candidate = f"{stem}_{k}:{suffix}" if stem else f"{name}_{k}"
            k += 1
        unique.append(candidate)
    keras_compat.save_attributes(group, "weight_names", unique)
    for name, value in zip(unique, values):
        group.create_dataset(name, data=np.asarray(value))


def _write_file(filepath, overwrite, write):
    if isinstance(filepath, (h5py.File, h5py.Group)):
        write(filepath)
        return
    path = os.fspath(filepath)
    if not overwrite and os.path.isfile(path) and not ask_to_proceed_with_overwrite(path):
        return
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
        write(f)


def ask_to_proceed_with_overwrite(filepath):
    """Asks on the console whether to overwrite `filepath` (Keras 2's `overwrite=False`); True for yes."""
    answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
    if answer == "n":
        return False
    print("[TIP] Next time specify overwrite=True!")
    return True


def _check_format(save_format, kwargs):
    unknown = set(kwargs) - {"options", "signatures", "save_traces"}
    if unknown:
        raise TypeError(f"Unrecognized keyword arguments: {sorted(unknown)}")
    if save_format not in (None, "h5", "hdf5", "keras"):
        raise ValueError(f"fitgen saves models only in Keras 2's HDF5 format. Expected save_format=None or 'h5'; "
                         f"received save_format={save_format!r}.")


def _require_built(model, action):
    if not model.built or (model._graph is None and not model.weights):
        raise ValueError(f"Cannot {action} model {model.name!r}: it is not built yet (it has no weights). Give the "
                         "first layer an `input_shape`, or call the model on data (fit/predict) first.")


def _json_default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if callable(obj) and hasattr(obj, "__name__"):
        return obj.__name__
    if hasattr(obj, "get_config"):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    raise TypeError(f"Not JSON serializable: {obj!r}")


# ------------------------------------------------------------------------------------------------- load
def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved by fitgen's or Keras 2's `model.save()` (HDF5).

    Args:
        filepath: path of the `.h5` file, or an open `h5py.File`.
        custom_objects: dict of custom layers, losses, metrics, functions by name.
        compile: restore loss, metrics and optimizer (with its state) when the file has a training config.
        safe_mode: refuse `Lambda` layers stored as Python bytecode (loading them runs code from the file).
            Pass False only for files you trust.

    Returns:
        The model; compiled, with the optimizer state of the file, when `compile` and the file allows.

    Raises:
        OSError: the file does not exist or cannot be read.
        ValueError: the file is not an HDF5 model file, is damaged, lacks `model_config`, names unknown
            layers, or holds weights that do not fit the architecture.
    """
    with _open(filepath) as (f, path):
        config = keras_compat.read_json_attr(f.attrs, "model_config", path)
        if config is None:
            raise ValueError(f"No model config found in the file at {path}: it is not a full-model file (a weights "
                             "file? Build the model in code and use `model.load_weights`).")
        with serialization.lambda_safe_mode(safe_mode):
            model = serialization.deserialize_layer(config, custom_objects=custom_objects)
        root = keras_compat.weights_root(f)
        if root is None:
            raise ValueError(f"The file at {path} has a model config but no weights (`model_weights` group).")
        _load_topological(root, model, path)
        if compile:
            _compile_from_file(f, model, path, custom_objects)
    return model


def _compile_from_file(f, model, path, custom_objects):
    config = keras_compat.read_json_attr(f.attrs, "training_config", path)
    if config is None:
        warnings.warn("No training configuration found in save file: the model was *not* compiled. "
                      "Compile it manually.", stacklevel=3)
        return
    model.compile(**training_config_module.compile_args(config, model, custom_objects))
    if "optimizer_weights" not in f:
        return
    group = f["optimizer_weights"]
    names = keras_compat.load_attributes(group, "weight_names")
    values = [_read_dataset(group, name, path, "optimizer_weights") for name in names]
    optimizer = model.optimizer
    optimizer.build(model._collected_trainable_weights())
    if names and names[0] != "iteration:0":
        values = keras_compat.convert_legacy_optimizer_weights(optimizer, names, values)
    try:
        if values is None:
            raise ValueError("the saved layout is not one fitgen knows")
        optimizer.set_weights(values)
    except ValueError as error:
        warnings.warn(f"Error in loading the saved optimizer state ({error}). As a result, your model is "
                      "starting with a freshly initialized optimizer.", stacklevel=3)


def load_weights(model, filepath, by_name=False, skip_mismatch=False, reshape=False, **kwargs):
    """Loads weights from a fitgen or Keras 2 HDF5 file (weights file or full-model file).

    Args:
        model: the model to load into (built).
        filepath: the file, or an open `h5py.File`.
        by_name: False loads layer by layer in order (layers without weights skipped; names may differ);
            True loads each saved layer into the model layers of the same name.
        skip_mismatch: with `by_name`, skip (with a warning) layers whose weight count or shapes differ.
        reshape: accepted for Keras 2.2 compatibility; arrays of the right size but another shape are
            reshaped when True.

    Raises:
        ValueError: shape or count mismatches (naming the layer and both shapes), a file without weights,
            `skip_mismatch` without `by_name`, a model that is not built.
        OSError: the file does not exist or cannot be read.
    """
    unknown = set(kwargs) - {"options"}
    if unknown:
        raise TypeError(f"Unrecognized keyword arguments: {sorted(unknown)}")
    if skip_mismatch and not by_name:
        raise ValueError("When calling model.load_weights, skip_mismatch can only be set to True when by_name is "
                         "True.")
    _require_built(model, "load weights into")
    with _open(filepath) as (f, path):
        root = keras_compat.weights_root(f)
        if root is None:
            raise ValueError(f"The file at {path} holds no Keras weights (no `layer_names` attribute at its root or "
                             "in a `model_weights` group).")
        if by_name:
            _load_by_name(root, model, path, skip_mismatch, reshape)
        else:
            _load_topological(root, model, path, reshape)


def _load_topological(root, model, path, reshape=False):
    version = keras_compat.file_keras_version(root)
    layers = [layer for layer in model.layers if layer.weights]
    saved = [name for name in keras_compat.load_attributes(root, "layer_names")
             if keras_compat.load_attributes(_group(root, name, path), "weight_names")]
    if len(saved) != len(layers):
        raise ValueError(f"Layer count mismatch when loading weights from file {path}. Model expected {len(layers)} "
                         f"layers with weights ({[layer.name for layer in layers]}), found {len(saved)} saved layers "
                         f"with weights ({saved}).")
    pairs = []
    for k, (name, layer) in enumerate(zip(saved, layers)):
        weights = layer.trainable_weights + layer.non_trainable_weights
        values = keras_compat.preprocess_weights(layer, _read_layer(root, name, path), version)
        where = f"layer #{k} (named {layer.name!r} in the current model, {name!r} in the file {path})"
        if len(values) != len(weights):
            raise ValueError(f"Weight count mismatch for {where}: the layer expects {len(weights)} weight(s), the "
                             f"file has {len(values)}.")
        for weight, value in zip(weights, values):
            pairs.append((weight, _fit_shape(weight, value, where, reshape)))
    for weight, value in pairs:  # all checks passed: assign (a failed load leaves the model as it was)
        weight.assign(value)


def _load_by_name(root, model, path, skip_mismatch, reshape):
    version = keras_compat.file_keras_version(root)
    index = {}
    for layer in model.layers:
        index.setdefault(layer.name, []).append(layer)
    pairs = []
    for k, name in enumerate(keras_compat.load_attributes(root, "layer_names")):
        if name not in index:
            continue
        saved = _read_layer(root, name, path)
        for layer in index[name]:
            weights = layer.trainable_weights + layer.non_trainable_weights
            values = keras_compat.preprocess_weights(layer, list(saved), version)
            where = f"layer #{k} (named {layer.name!r}) of the file {path}"
            if len(values) != len(weights):
                message = (f"Weight count mismatch for {where}: the layer expects {len(weights)} weight(s), the "
                           f"file has {len(values)}.")
                if not skip_mismatch:
                    raise ValueError(message)
                warnings.warn(f"Skipping loading of weights: {message}", stacklevel=3)
                continue
            for weight, value in zip(weights, values):
                try:
                    pairs.append((weight, _fit_shape(weight, value, where, reshape)))
                except ValueError as error:
                    if not skip_mismatch:
                        raise
                    warnings.warn(f"Skipping loading of weight {weight.name}: {error}", stacklevel=3)
    for weight, value in pairs:
        weight.assign(value)


def _fit_shape(weight, value, where, reshape):
    if tuple(value.shape) == tuple(weight.shape):
        return value
    if reshape and value.size == int(np.prod(weight.shape)):
        return value.reshape(weight.shape)
    raise ValueError(f"Shape mismatch in {where} for weight {weight.name}: the weight has shape {tuple(weight.shape)}, "
                     f"the saved weight has shape {tuple(value.shape)}.")


def _group(root, name, path):
    try:
        return root[name]
    except (KeyError, OSError) as error:
        raise ValueError(f"The file at {path} lists layer {name!r} in `layer_names` but has no readable group for "
                         f"it ({error}).") from None


def _read_layer(root, name, path):
    group = _group(root, name, path)
    return [_read_dataset(group, weight_name, path, name)
            for weight_name in keras_compat.load_attributes(group, "weight_names")]


def _read_dataset(group, name, path, where):
    try:
        return np.asarray(group[name])
    except KeyError:
        raise ValueError(f"The file at {path} is incomplete: {where!r} lists the weight {name!r}, which is missing.") \
            from None
    except (OSError, RuntimeError, ValueError) as error:
        raise ValueError(f"The file at {path} is damaged: cannot read the weight {name!r} of {where!r} "
                         f"({error}).") from None


class _open:
    """`with _open(filepath) as (f, path)`: an h5py file (or the given one) with clear errors for bad files."""

    def __init__(self, filepath):
        self.filepath = filepath
        self.file = None

    def __enter__(self):
        if isinstance(self.filepath, (h5py.File, h5py.Group)):
            return self.filepath, getattr(self.filepath, "filename", str(self.filepath))
        path = os.fspath(self.filepath)
        if not os.path.exists(path):
            raise OSError(f"No file or directory found at {path}")
        if os.path.isdir(path):
            raise ValueError(f"{path} is a directory (a TensorFlow SavedModel?); fitgen reads Keras 2 HDF5 files "
                             "(`.h5`). Re-save the model with Keras as `model.save('model.h5')`.")
        self.file = _open_hdf5(path)
        self.file_path = path
        return self.file, path

    def __exit__(self, exc_type, exc, traceback):
        if self.file is not None:
            try:
                self.file.close()
            except (OSError, RuntimeError):
                pass
        if exc_type is not None and issubclass(exc_type, (OSError, RuntimeError)) and self.file is not None:
            # Raised by h5py while reading: the file is damaged; say which file, not only h5py's internals.
            raise ValueError(f"{self.file_path} is damaged or truncated: reading it failed ({exc}).") from exc
        return False


def _open_hdf5(path):
    try:
        with open(path, "rb") as raw:
            head = raw.read(8)
    except OSError as error:
        raise OSError(f"Cannot read {path}: {error}") from None
    if head.startswith(b"PK"):
        raise ValueError(f"{path} is a zip archive (the Keras 3 `.keras` format?), not a Keras 2 HDF5 file. Re-save "
                         "it with Keras as `model.save('model.h5')`.")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not an HDF5 file (no HDF5 signature): expected a Keras 2 `.h5` file written "
                         "by `model.save` or `save_weights`.")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path} is damaged or truncated and cannot be opened as HDF5 ({error}).") from None
