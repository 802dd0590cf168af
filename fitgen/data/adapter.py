"""`get_adapter`: the one place that decides what kind of data a user passed, and builds its adapter.

Every front door (fit, evaluate, predict, the *_generator aliases, validation_data, *_on_batch) calls it.
The kinds, in the order they are recognised:

| kind | examples | adapter (source) |
|---|---|---|
| DataLoader | `torch.utils.data.DataLoader(...)` | StreamAdapter (DataLoaderSource: its own batches, workers) |
| iterable dataset | `torch.utils.data.IterableDataset` | StreamAdapter (GeneratorSource, iterated once per fit) |
| map-style dataset | `torch.utils.data.Dataset` with `__len__` | StreamAdapter (DatasetSource: `batch_size`, `shuffle`) |
| Sequence | `fitgen.utils.Sequence`; any `__getitem__` + `__len__` + `on_epoch_end` | StreamAdapter (SequenceSource) |
| arrays | NumPy, torch tensors, lists/dicts of them, pandas, memmap, h5py, HDF5Matrix | ArrayAdapter |
| generator | generators, iterators, `ShardableIterable`s, other iterables of batches | StreamAdapter (GeneratorSource) |

Anything else is refused with a TypeError naming what was received and these kinds.
"""
import inspect

import numpy as np
import torch

from fitgen.data import structure
from fitgen.data.arrays import ArrayAdapter, validation_split_arrays
from fitgen.data.batch import BatchFinisher
from fitgen.data.generator import GeneratorSource
from fitgen.data.pipeline import SequenceSource
from fitgen.data.sequence import Sequence
from fitgen.data.stream import StreamAdapter, peek_generator
from fitgen.data.torch_data import DataLoaderSource, DatasetSource

ACCEPTED = ("a NumPy array or torch tensor (or a list/dict of them, or an h5py Dataset, HDF5Matrix or memmap), "
            "a fitgen.utils.Sequence, a generator or iterator yielding batches, a torch Dataset or a DataLoader")


def data_kind(data):
    """'dataloader', 'dataset', 'sequence', 'arrays' or 'generator' for user data; TypeError for anything else."""
    if isinstance(data, torch.utils.data.DataLoader):
        return "dataloader"
    if isinstance(data, torch.utils.data.IterableDataset):
        return "generator"
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.Tensor):
        return "dataset" if hasattr(data, "__len__") else "generator"
    if isinstance(data, Sequence) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")
                                      and hasattr(data, "on_epoch_end") and not hasattr(data, "shape")):
        return "sequence"
    if isinstance(data, (np.ndarray, torch.Tensor, list, tuple, dict, int, float, bool, np.generic)) \
            or structure.is_array_like(data) or hasattr(data, "iloc"):
        return "arrays"
    if inspect.isgenerator(data) or hasattr(data, "__next__") or hasattr(data, "__iter__"):
        if isinstance(data, (str, bytes)):
            raise _unrecognised(data)
        return "generator"
    raise _unrecognised(data)


def _unrecognised(data, argument="x"):
    return TypeError(f"Unrecognized data type for `{argument}`: received {type(data).__name__}. Expected {ACCEPTED}.")


def is_streaming(data):
    """True for data that yields batches itself (anything but arrays)."""
    return data_kind(data) != "arrays"


def get_adapter(model, x, y=None, sample_weight=None, *, role="training", batch_size=None, shuffle=False,
                steps=None, class_weight=None, workers=1, use_multiprocessing=False, max_queue_size=10,
                timeout=None, check_targets=True):
    """The adapter for `x` (and `y`, `sample_weight`), with the model built from the data if it was not yet.

    Args:
        role: 'training', 'validation', 'evaluate' or 'predict'; names the arguments in messages.
        batch_size, shuffle, steps, class_weight: as `fit` takes them (batch_size only for arrays and map-style
            Datasets: other kinds make their own batches).
        workers, use_multiprocessing, max_queue_size, timeout: how streams and out-of-core arrays are read.
        check_targets: check `y` against the model's outputs and losses (arrays).

    Raises:
        TypeError: data of no accepted kind.
        ValueError: arguments that do not apply to the kind of data, or data that does not fit the model.
    """
    if x is None:
        raise ValueError(f"`{_entry(role)}` needs input data: pass `x` (and `y`), or a generator / Sequence as `x`.")
    kind = data_kind(x)
    stream_kwargs = dict(workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
                         timeout=timeout)
    if kind == "arrays":
        model._prepare_for(x)
        adapter = array_adapter(model, x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, steps=steps,
                                class_weight=class_weight, check_targets=check_targets, **stream_kwargs)
        model._prepare_for(None)
        return adapter
    for name, value in (("y", y), ("sample_weight", sample_weight)):
        if value is not None:
            raise ValueError(f"`{name}` argument is not supported when data is a generator, Sequence or torch data: "
                             f"the data must yield (x, y) or (x, y, sample_weight). Received: {name} of type "
                             f"{type(value).__name__}")
    if batch_size is not None and kind != "dataset":
        raise ValueError("The `batch_size` argument must not be specified when using a generator, Sequence or "
                         "DataLoader as input: the data decides the batch size. Received: "
                         f"batch_size={batch_size} with data of type {type(x).__name__}")
    peeked = None
    if kind == "sequence":
        source = SequenceSource(x)
    elif kind == "dataset":
        source = DatasetSource(x, batch_size=batch_size or 32, shuffle=bool(shuffle))
    elif kind == "dataloader":
        source = DataLoaderSource(x)
    else:
        if inspect.isgenerator(x) or hasattr(x, "__next__"):
            peeked, x = peek_generator(x, model)
        source = GeneratorSource(x)
    adapter = StreamAdapter(model, source, steps=steps, shuffle=shuffle, role=role, class_weight=class_weight,
                            inputs_only=role == "predict", peeked=peeked, **stream_kwargs)
    if not model.built_for_data():
        sample = adapter.sample_inputs()
        if sample is not None:
            model._prepare_for(sample)
            adapter.finisher = BatchFinisher(model)
    model._prepare_for(None)
    return adapter


def _entry(role):
    return {"training": "fit", "validation": "validation_data"}.get(role, role)


def array_adapter(model, x, y, sample_weight, batch_size, shuffle, steps, class_weight, check_targets=True,
                  **read_kwargs):
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
                        class_weights=class_weights, finisher=BatchFinisher(model), **read_kwargs)


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
    if data_kind(x) != "arrays":
        raise ValueError("`validation_split` is only supported for NumPy arrays, torch tensors and array-likes; it "
                         f"cannot split data of type {type(x).__name__}. Pass `validation_data` instead.")
    model._prepare_for(x)
    x_list = structure.align(x, model.input_names, "x")
    y_list = structure.align(y, model.output_names, "y", allow_missing=True)
    sw_list = sample_weight_list(model, sample_weight)
    structure.check_lengths(x_list, y_list, sw_list)
    return validation_split_arrays(x_list, y_list, sw_list, validation_split)


def validation_adapter(model, validation_data, batch_size, validation_steps, **read_kwargs):
    """The adapter of fit's `validation_data`: (x_val, y_val[, sample_weight_val]) arrays, or batches."""
    if isinstance(validation_data, (tuple, list)) and data_kind(validation_data) == "arrays" \
            and not structure.is_array_like(validation_data):
        if len(validation_data) not in (2, 3):
            raise ValueError("When passing validation_data, it must contain 2 (x_val, y_val) or 3 (x_val, y_val, "
                             f"val_sample_weights) items, however it contains {len(validation_data)} items.")
        x_val, y_val = validation_data[0], validation_data[1]
        sw_val = validation_data[2] if len(validation_data) == 3 else None
        return get_adapter(model, x_val, y_val, sw_val, role="validation", batch_size=batch_size, shuffle=False,
                           steps=validation_steps, **read_kwargs)
    return get_adapter(model, validation_data, role="validation", steps=validation_steps, shuffle=False,
                       **read_kwargs)
