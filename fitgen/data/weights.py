"""`sample_weight` and `class_weight`: routed to the model's outputs, checked against the targets, and applied.

Every adapter goes through here: arrays once for the whole data set, streams batch by batch. Messages name the
argument, the output and what was expected, as Keras 2's `standardize_sample_or_class_weights` and
`standardize_weights` did.
"""
import math
import numbers

import numpy as np
import torch

from fitgen.data import structure


def sample_weight_list(model, sample_weight, argument="sample_weight"):
    """`sample_weight` (an array, a list per output, or a dict by output name) as one entry per output."""
    names = model.output_names
    if sample_weight is None:
        return [None] * len(names)
    if isinstance(sample_weight, (list, tuple)) and not structure.is_array_like(sample_weight):
        if len(names) == 1 and len(sample_weight) != 1 and not hasattr(sample_weight[0], "shape"):
            return [structure.as_array(sample_weight, argument)]
        if len(sample_weight) != len(names):
            raise ValueError(f"Provided `{argument}` was a list of {len(sample_weight)} elements, but the model "
                             f"has {len(names)} outputs {names}. You should provide one `{argument}` array per "
                             "model output.")
    return structure.align(sample_weight, names, argument, allow_missing=True, kind="output")


def check_sample_weights(specs, y_list, sw_list, argument="sample_weight"):
    """Each output's weights against its targets: (samples,) weights, or (samples, timesteps) when temporal."""
    for spec, y, sw in zip(specs, y_list, sw_list):
        if sw is None or y is None:
            continue
        shape = tuple(sw.shape)
        if spec.temporal:
            if len(shape) != 2:
                raise ValueError(f"Found a `{argument}` array of shape {shape} for output {spec.name!r}. In order "
                                 'to use timestep-wise sample weighting (sample_weight_mode="temporal"), you should '
                                 "pass a 2D sample_weight array of shape (samples, timesteps).")
            if len(y.shape) < 3:
                raise ValueError(f'Found a target of shape {tuple(y.shape)} for output {spec.name!r}: timestep-wise '
                                 'sample weighting (sample_weight_mode="temporal") is restricted to outputs that are '
                                 "at least 3D, i.e. that have a time dimension.")
        elif len(shape) == 2 and shape[1] != 1:
            raise ValueError(f"Found a `{argument}` array with shape {shape} for output {spec.name!r}. In order to "
                             "use timestep-wise sample weights, you should specify sample_weight_mode=\"temporal\" "
                             "in compile(). If you just mean to use sample-wise weights, make sure your "
                             "sample_weight array is 1D.")
        elif len(shape) > 2:
            raise ValueError(f"Found a `{argument}` array with shape {shape} for an input with shape "
                             f"{tuple(y.shape)}. sample_weight cannot be broadcast.")
        if shape[0] != y.shape[0] or (spec.temporal and shape[1] != y.shape[1]):
            raise ValueError(f"Found a `{argument}` array with shape {shape} for an input with shape "
                             f"{tuple(y.shape)}. sample_weight cannot be broadcast.")


def class_weight_list(model, class_weight):
    """One (table, keys) per output from `class_weight` (a dict, or a dict of dicts keyed by output name)."""
    if class_weight is None or (isinstance(class_weight, dict) and not class_weight):
        return None  # Keras 2 reads an empty dict as no class weights
    names = model.output_names
    if not isinstance(class_weight, dict):
        raise TypeError("`class_weight` must be a dict mapping class indices to weights (or, for a model with "
                        f"several outputs, a dict of such dicts keyed by output name). Received: {class_weight!r} "
                        f"of type {type(class_weight).__name__}")
    if class_weight and all(k in names for k in class_weight) and all(isinstance(v, dict)
                                                                       for v in class_weight.values()):
        per_output = [class_weight.get(n) for n in names]
    elif len(names) == 1:
        per_output = [class_weight]
    else:
        raise ValueError("`class_weight` for a model with several outputs must be a dict keyed by output name "
                         f"({names}), each value a {{class index: weight}} dict. Received: {class_weight!r}")
    tables = []
    for name, weights, spec in zip(names, per_output, model._output_specs):
        if weights is None or (isinstance(weights, dict) and not weights):
            tables.append(None)
            continue
        table, keys = class_weight_table(weights)
        num_classes = _num_classes(model, spec)
        bad = sorted(k for k in keys if num_classes is not None and k >= num_classes)
        if bad:
            raise ValueError(f"`class_weight` has keys {bad} that are not classes of output {name!r}, which has "
                             f"{num_classes} classes (valid keys: 0..{num_classes - 1}).")
        tables.append((table, keys))
    return tables


def class_weight_table(class_weight, argument="class_weight"):
    """A dense lookup table (float32 tensor) and the set of keys from a {class index: weight} dict.

    Raises:
        TypeError: keys that are not integers, or weights that are not numbers.
        ValueError: an empty dict, negative or fractional keys, weights that are NaN or infinite.
    """
    if not isinstance(class_weight, dict):
        raise TypeError(f"`{argument}` must be a dict mapping class indices to weights. Received: {class_weight!r} "
                        f"of type {type(class_weight).__name__}")
    if not class_weight:
        raise ValueError(f"`{argument}` must map at least one class index to a weight. Received: {{}}")
    keys = []
    for key, value in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, numbers.Real):
            raise TypeError(f"`{argument}` keys must be integer class indices. Received key {key!r} of type "
                            f"{type(key).__name__}")
        if not float(key).is_integer() or key < 0:
            raise ValueError(f"`{argument}` keys must be non-negative integer class indices. Received key: {key!r}")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"`{argument}` weights must be numbers. Received {value!r} of type "
                            f"{type(value).__name__} for class {key!r}")
        if not math.isfinite(float(value)):
            raise ValueError(f"`{argument}` weights must be finite numbers. Received {value!r} for class {key!r}")
        keys.append(int(key))
    table = torch.ones(max(keys) + 1, dtype=torch.float32)
    for key, value in class_weight.items():
        table[int(key)] = float(value)
    return table, set(keys)


def _num_classes(model, spec):
    if model.outputs is None:
        return None
    last = model.outputs[spec.index].shape[-1]
    if last is None:
        return None
    return 2 if last == 1 else int(last)


def apply_class_weights(class_weights, y_list, sw_list):
    """Per output, the batch's sample weights multiplied by the weight of each sample's class."""
    out = []
    for table_and_keys, y, sw in zip(class_weights, y_list, sw_list):
        if table_and_keys is None or y is None:
            out.append(sw)
            continue
        table = table_and_keys[0]
        if table.device != y.device:
            table = table.to(y.device)
        ids = structure.class_ids(y)
        if ids.numel() and int(ids.max()) >= table.numel():
            missing = sorted(set(ids.unique().tolist()) - table_and_keys[1])
            raise ValueError(f"`class_weight` must contain all classes in the data. The classes {missing} exist in "
                             f"the data but not in `class_weight` (keys {sorted(table_and_keys[1])}).")
        weights = table[ids]
        out.append(weights if sw is None else _broadcast_mul(sw, weights))
    return out


def _broadcast_mul(sw, weights):
    while sw.dim() < weights.dim():
        sw = sw.unsqueeze(-1)
    return sw * weights


def check_classes_present(y, keys):
    """ValueError when `y` (labels or one-hot targets) holds classes that `class_weight` has no weight for."""
    sample = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y[: min(len(y), 100000)]))
    ids = set(structure.class_ids(sample).unique().tolist())
    missing = sorted(ids - keys)
    if missing:
        raise ValueError(f"`class_weight` must contain all classes in the data. The classes {missing} exist in the "
                         f"data but not in `class_weight` (keys {sorted(keys)}).")
