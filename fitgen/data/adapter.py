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
from fitgen.data.checks import BatchPlan
from fitgen.data.generator import GeneratorSource
from fitgen.data.pipeline import SequenceSource
from fitgen.data.sequence import Sequence
from fitgen.data.stream import StreamAdapter, peek_generator
from fitgen.data.torch_data import DataLoaderSource, DatasetSource
from fitgen.data.weights import class_weight_list, sample_weight_list

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
        model._prepare_for(build_sample(model, x))
        if role in _STEP_OF_ROLE:
            require_targets(model, y, _STEP_OF_ROLE[role], _entry(role))
        adapter = array_adapter(model, x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, steps=steps,
                                class_weight=class_weight, check_targets=check_targets, role=role, **stream_kwargs)
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
        check_sequence_length(x)
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


def build_sample(model, x):
    """What a model not built yet is built from: nested Python lists of numbers become one array first (the
    first row of a list of rows is not a sample of the data's shape)."""
    if model.built_for_data() or not isinstance(x, (list, tuple)) or not x or structure.is_list_of_arrays(x):
        return x
    return structure.as_array(x, "x")


def check_sequence_length(sequence):
    """A Sequence's `__len__` must give its number of batches: a non-negative int."""
    length = type(sequence).__len__(sequence)
    if isinstance(length, (bool, np.bool_)) or not isinstance(length, (int, np.integer)):
        raise TypeError(f"`len()` of the Sequence {type(sequence).__name__} returned {length!r} of type "
                        f"{type(length).__name__}: `__len__` must return the number of batches as an int (e.g. "
                        "`math.ceil(len(self.x) / self.batch_size)`).")
    if length < 0:
        raise ValueError(f"`len()` of the Sequence {type(sequence).__name__} returned {length}: `__len__` must "
                         "return the number of batches, 0 or more.")


def _entry(role):
    return {"training": "fit", "validation": "validation_data"}.get(role, role)


# The step whose built-in form needs targets, per role with targets (a model's own step may not).
_STEP_OF_ROLE = {"training": "train_step", "evaluate": "test_step"}


def _needs_targets(model, step="test_step"):
    return any(spec.loss_fn is not None for spec in model._output_specs or []) and not model._overrides(step)


def require_targets(model, y, step, entry):
    """ValueError when `y` is missing although the model's built-in `step` needs it (it was compiled with a loss)."""
    if y is None and _needs_targets(model, step):
        raise ValueError("Target data is missing. Your model was compiled with a loss, and therefore expects "
                         f"target data `y` to be provided in `{entry}()`.")


# Names of (inputs, targets, sample weights) in the messages of each role.
ARGUMENTS = {"validation": ("x_val", "y_val", "val_sample_weight")}


def array_adapter(model, x, y, sample_weight, batch_size, shuffle, steps, class_weight, check_targets=True,
                  role="training", **read_kwargs):
    """The ArrayAdapter of aligned, checked arrays (see `checks.BatchPlan.check`)."""
    x_name, y_name, sw_name = ARGUMENTS.get(role, ("x", "y", "sample_weight"))
    if x is None:
        raise ValueError(f"`{x_name}` is None: `{_entry(role)}` needs input data (one array per model input).")
    x_list = structure.align(x, model.input_names, x_name, kind="input")
    y_list = structure.align(y, model.output_names, y_name, allow_missing=True, kind="output") if y is not None \
        else [None] * len(model.output_names)
    sw_list = sample_weight_list(model, sample_weight, sw_name)
    structure.check_lengths(x_list, y_list, sw_list)
    BatchPlan(model, (x_name, y_name, sw_name), check_targets=check_targets).check(x_list, y_list, sw_list)
    class_weights = class_weight_list(model, class_weight)
    return ArrayAdapter(x_list, y_list, sw_list, batch_size=batch_size, shuffle=shuffle, steps=steps,
                        class_weights=class_weights, finisher=BatchFinisher(model), **read_kwargs)


def split_for_validation(model, x, y, sample_weight, validation_split, validation_data=None):
    """(x, y, sample_weight, validation_data) with Keras's `validation_split` applied: the last fraction of the
    arrays becomes the validation data, unless `validation_data` is given (then the split is ignored, as in
    Keras). Only arrays can be split."""
    if data_kind(x) != "arrays":
        raise ValueError("`validation_split` is only supported for NumPy arrays, torch tensors and array-likes; it "
                         f"cannot split data of type {type(x).__name__}. Pass `validation_data` instead.")
    if validation_data is not None:
        return x, y, sample_weight, validation_data
    model._prepare_for(build_sample(model, x))
    x_list = structure.align(x, model.input_names, "x")
    y_list = structure.align(y, model.output_names, "y", allow_missing=True)
    sw_list = sample_weight_list(model, sample_weight)
    structure.check_lengths(x_list, y_list, sw_list)
    (x, y, sample_weight), validation = validation_split_arrays(x_list, y_list, sw_list, validation_split)
    return x, y, sample_weight, validation


def validation_adapter(model, validation_data, batch_size, validation_steps, **read_kwargs):
    """The adapter of fit's `validation_data`: (x_val, y_val[, sample_weight_val]) arrays, or batches."""
    if isinstance(validation_data, (tuple, list)) and data_kind(validation_data) == "arrays" \
            and not structure.is_array_like(validation_data):
        if len(validation_data) not in (2, 3):
            raise ValueError("When passing validation_data, it must contain 2 (x_val, y_val) or 3 (x_val, y_val, "
                             f"val_sample_weights) items, however it contains {len(validation_data)} items.")
        x_val, y_val = validation_data[0], validation_data[1]
        sw_val = validation_data[2] if len(validation_data) == 3 else None
        if x_val is None:
            raise ValueError("`validation_data` has no inputs: its first item (x_val) is None. Pass "
                             "(x_val, y_val) or (x_val, y_val, val_sample_weight).")
        if y_val is None and _needs_targets(model):
            raise ValueError("`validation_data` has no targets: its second item (y_val) is None, but the model "
                             "was compiled with a loss. Pass (x_val, y_val) or (x_val, y_val, val_sample_weight).")
        return get_adapter(model, x_val, y_val, sw_val, role="validation", batch_size=batch_size, shuffle=False,
                           steps=validation_steps, **read_kwargs)
    return get_adapter(model, validation_data, role="validation", steps=validation_steps, shuffle=False,
                       **read_kwargs)
