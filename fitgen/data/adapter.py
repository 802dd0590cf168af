"""Picks the adapter for whatever the user passed as data.

Every adapter offers the same three things to the loop: `num_batches()` (None when unknown),
`epoch_batches(epoch)` yielding `(x_list, y_list, sample_weight_list)` of torch tensors on the device, and
`on_epoch_end()` / `close()`. Arrays (numpy, torch, memmap, h5py, HDF5Matrix) go to `ArrayAdapter`; a
`Sequence`, a generator, a torch Dataset or DataLoader go to the streaming adapters (stream.py).
"""
import inspect

import torch

from fitgen.data import structure
from fitgen.data.arrays import ArrayAdapter, validation_split_arrays
from fitgen.data.sequence import Sequence


def is_streaming(data):
    """True for data that yields batches itself: generators, iterators, Sequences, torch Datasets/DataLoaders."""
    if isinstance(data, Sequence) or inspect.isgenerator(data):
        return True
    if isinstance(data, (torch.utils.data.Dataset, torch.utils.data.DataLoader)) and not isinstance(data, torch.Tensor):
        return True
    if hasattr(data, "__next__") and not structure.is_array_like(data):
        return True
    return getattr(data, "shardable", False) and hasattr(data, "__iter__")


def array_adapter(model, x, y, sample_weight, batch_size, shuffle, steps, class_weight, check_targets=True):
    x_list = structure.align(x, model.input_names, "x")
    structure.check_input_shapes(model, x_list)
    y_list = structure.align(y, model.output_names, "y", allow_missing=True) if y is not None \
        else [None] * len(model.output_names)
    sw_list = sample_weight_list(model, sample_weight)
    structure.check_lengths(x_list, y_list, sw_list)
    if check_targets and y is not None:
        structure.check_target_shapes(model, model._output_specs, y_list)
        check_sample_weights(model._output_specs, y_list, sw_list)
        check_sparse_labels(model._output_specs, y_list)
    class_weights = class_weight_list(model, class_weight)
    return ArrayAdapter(x_list, y_list, sw_list, batch_size=batch_size, shuffle=shuffle, steps=steps,
                        class_weights=class_weights, device=model._device())


def sample_weight_list(model, sample_weight):
    names = model.output_names
    if sample_weight is None:
        return [None] * len(names)
    if isinstance(sample_weight, (list, tuple)) and not structure.is_array_like(sample_weight):
        if len(names) == 1 and len(sample_weight) != 1 and not hasattr(sample_weight[0], "shape"):
            return [structure.as_array(sample_weight, "sample_weight")]
        if len(sample_weight) != len(names):
            raise ValueError(f"Provided `sample_weight` was a list of {len(sample_weight)} elements, but the model "
                             f"has {len(names)} outputs {names}. You should provide one `sample_weight` array per "
                             "model output.")
    return structure.align(sample_weight, names, "sample_weight", allow_missing=True)


def check_sample_weights(specs, y_list, sw_list):
    for spec, y, sw in zip(specs, y_list, sw_list):
        if sw is None or y is None:
            continue
        shape = tuple(sw.shape)
        if spec.temporal:
            if len(shape) != 2:
                raise ValueError(f"Found a sample_weight array of shape {shape} for output {spec.name!r}. In order "
                                 'to use timestep-wise sample weighting (sample_weight_mode="temporal"), you should '
                                 "pass a 2D sample_weight array of shape (samples, timesteps).")
            if len(y.shape) < 3:
                raise ValueError(f'Found a target of shape {tuple(y.shape)} for output {spec.name!r}: timestep-wise '
                                 'sample weighting (sample_weight_mode="temporal") is restricted to outputs that are '
                                 "at least 3D, i.e. that have a time dimension.")
        elif len(shape) == 2 and shape[1] != 1:
            raise ValueError(f"Found a sample_weight array with shape {shape} for output {spec.name!r}. In order to "
                             "use timestep-wise sample weights, you should specify sample_weight_mode=\"temporal\" "
                             "in compile(). If you just mean to use sample-wise weights, make sure your "
                             "sample_weight array is 1D.")
        elif len(shape) > 2:
            raise ValueError(f"Found a sample_weight array with shape {shape} for an input with shape "
                             f"{tuple(y.shape)}. sample_weight cannot be broadcast.")
        if shape[0] != y.shape[0] or (spec.temporal and shape[1] != y.shape[1]):
            raise ValueError(f"Found a sample_weight array with shape {shape} for an input with shape "
                             f"{tuple(y.shape)}. sample_weight cannot be broadcast.")


def check_sparse_labels(specs, y_list):
    """sparse_categorical_crossentropy needs integer labels; a float array must hold whole numbers."""
    import numpy as np
    for spec, y in zip(specs, y_list):
        if y is None or structure.loss_kind(spec.loss_fn) != "sparse_categorical_crossentropy":
            continue
        sample = y[: min(len(y), 100000)]
        sample = sample.numpy() if isinstance(sample, torch.Tensor) else np.asarray(sample)
        if sample.dtype.kind == "f" and not np.all(np.isfinite(sample) & (np.mod(sample, 1) == 0)):
            raise ValueError(f"Output {spec.name!r} uses sparse_categorical_crossentropy, which expects integer "
                             "class indices, but `y` holds non-integral values (e.g. "
                             f"{sample[np.mod(sample, 1) != 0][:3].tolist()}). Pass integer labels, or one-hot "
                             "targets with categorical_crossentropy.")


def class_weight_list(model, class_weight):
    """One (table, keys) per output from `class_weight` (a dict, or a dict of dicts keyed by output name)."""
    if class_weight is None:
        return None
    names = model.output_names
    if isinstance(class_weight, dict) and class_weight and all(k in names for k in class_weight) \
            and all(isinstance(v, dict) for v in class_weight.values()):
        per_output = [class_weight.get(n) for n in names]
    elif len(names) == 1:
        per_output = [class_weight]
    else:
        raise ValueError("`class_weight` for a model with several outputs must be a dict keyed by output name "
                         f"({names}), each value a {{class index: weight}} dict. Received: {class_weight!r}")
    tables = []
    for name, weights, spec in zip(names, per_output, model._output_specs):
        if weights is None:
            tables.append(None)
            continue
        table, keys = structure.class_weight_table(weights)
        num_classes = _num_classes(model, spec)
        bad = sorted(k for k in keys if num_classes is not None and k >= num_classes)
        if bad:
            raise ValueError(f"`class_weight` has keys {bad} that are not classes of output {name!r}, which has "
                             f"{num_classes} classes (valid keys: 0..{num_classes - 1}).")
        tables.append((table, keys))
    return tables


def _num_classes(model, spec):
    if model.outputs is None:
        return None
    last = model.outputs[spec.index].shape[-1]
    if last is None:
        return None
    return 2 if last == 1 else int(last)


def split_for_validation(model, x, y, sample_weight, validation_split):
    x_list = structure.align(x, model.input_names, "x")
    y_list = structure.align(y, model.output_names, "y", allow_missing=True)
    sw_list = sample_weight_list(model, sample_weight)
    structure.check_lengths(x_list, y_list, sw_list)
    return validation_split_arrays(x_list, y_list, sw_list, validation_split)
