"""User data -> lists aligned with the model's inputs and outputs, with Keras 2's checks and messages.

Who owns what: this module validates and routes (dicts by layer name, lists by position, one array for one
input); adapters (arrays.py, the Sequence/generator adapters) turn the result into batches; the engine never
looks at user data structures directly.
"""
import numpy as np
import torch

from fitgen.utils.generic_utils import to_snake_case


def is_array_like(value):
    """numpy arrays, memmaps, torch tensors, h5py Datasets, HDF5Matrix: anything with shape and slicing."""
    return hasattr(value, "shape") and hasattr(value, "__getitem__") and not isinstance(value, (str, bytes))


def as_array(value, argument):
    """A user value as a numeric array-like: pandas -> numpy, nested Python lists -> numpy, 1-D -> (n, 1).

    `argument` names the value in messages (`x`, `y['out']`, `sample_weight`...).

    Raises:
        TypeError: strings, complex numbers, Python objects or datetimes instead of numbers, or a value of no
            array kind.
        ValueError: a single number instead of one entry per sample, or ragged sequences (with a pointer to
            `pad_sequences`).
    """
    if type(value) is np.ndarray and value.ndim > 1 and value.dtype.kind in "biuf":
        return value  # the common case, first: streams convert every batch
    if value is None:
        return None
    if hasattr(value, "values") and hasattr(value, "iloc"):  # pandas DataFrame / Series
        value = value.values
    if isinstance(value, (str, bytes)):
        raise TypeError(f"`{argument}` must be an array of numbers, but received a {type(value).__name__}: "
                        f"{_short(value)}.")
    if isinstance(value, torch.Tensor) or is_array_like(value):
        if len(value.shape) == 0:
            raise ValueError(f"`{argument}` must be an array with one entry per sample, but received a 0-d array "
                             f"({_short(value)}).")
        if isinstance(value, np.ndarray) and value.dtype.kind == "O":
            value = _numeric_from_objects(value, argument)
        check_numeric(value, argument)
        if len(value.shape) == 1 and isinstance(value, (np.ndarray, torch.Tensor)):
            return value.reshape(-1, 1)
        return value
    if isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError:  # NumPy refuses ragged nested lists
            raise _ragged(argument, value) from None
        if array.dtype.kind == "O":
            array = _numeric_from_objects(array, argument)
        check_numeric(array, argument)
        return array.reshape(-1, 1) if array.ndim == 1 else array
    if isinstance(value, (bool, int, float, complex, np.generic)):
        raise ValueError(f"`{argument}` must be an array with one entry per sample, but received the single "
                         f"number {value!r}.")
    raise TypeError(f"Unrecognized data type for `{argument}`: expected a NumPy array, a torch tensor, an h5py "
                    f"Dataset, a list of those or a dict keyed by layer name. Received: {type(value).__name__}")


_KIND_NAMES = {"c": "complex numbers", "U": "strings", "S": "bytes strings", "M": "datetimes",
               "m": "timedeltas", "V": "structured records", "O": "Python objects"}


def check_numeric(array, argument):
    """TypeError unless `array` holds bools, integers or real floats (what a model can be fed)."""
    if isinstance(array, torch.Tensor):
        if array.is_complex():
            raise TypeError(f"`{argument}` holds complex numbers (dtype {array.dtype}); fitgen models take real "
                            "numbers. Pass the real part (or the magnitude) explicitly if that is what you mean.")
        return
    dtype = getattr(array, "dtype", None)
    kind = np.dtype(dtype).kind if dtype is not None else "f"
    if kind in "biuf":
        return
    hint = {"c": " Pass the real part (or the magnitude) explicitly if that is what you mean.",
            "U": " Turn text into integer ids first (e.g. fitgen.preprocessing.text.Tokenizer).",
            "S": " Turn text into integer ids first (e.g. fitgen.preprocessing.text.Tokenizer)."}.get(kind, "")
    raise TypeError(f"`{argument}` holds {_KIND_NAMES.get(kind, 'values of dtype ' + str(dtype))} (dtype "
                    f"{dtype}), but a model takes numbers (bool, integer or float arrays).{hint}")


def _numeric_from_objects(array, argument):
    """An object array of plain numbers (e.g. a mixed pandas frame's `.values`) as a numeric array, the way
    Keras 2 fed it; anything else is refused naming what it holds."""
    try:
        converted = np.array(array.tolist())
    except ValueError:
        raise _ragged(argument, array.tolist()) from None
    if converted.dtype.kind not in "biuf":
        if any(isinstance(v, (list, tuple, np.ndarray)) for v in array.flat):
            raise _ragged(argument, array.tolist())
        odd = next((v for v in array.flat if not isinstance(v, (bool, int, float, np.number, np.bool_))), None)
        raise TypeError(f"`{argument}` is an array of Python objects (dtype object) holding "
                        f"{type(odd).__name__} values such as {_short(odd)}; a model takes numbers (bool, integer "
                        "or float arrays).")
    return converted


def _ragged(argument, value):
    lengths = sorted({len(v) for v in value if hasattr(v, "__len__")}) if isinstance(value, (list, tuple)) else []
    seen = f" (lengths {lengths[:5]})" if len(lengths) > 1 else ""
    return ValueError(f"`{argument}` holds sequences of different lengths{seen}, which do not form one array. "
                      "Pad them to a common length first, e.g. with "
                      "`fitgen.preprocessing.sequence.pad_sequences`.")


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def align(data, names, argument, allow_missing=False, kind=None):
    """Routes `data` to one entry per name: dict by name, list/tuple by position, a single value for one name.

    `kind` ('input' or 'output') says what the names are; by default 'input' for the arguments `x`/`inputs`.
    Inputs all need data; outputs may miss some when `allow_missing`.

    Raises:
        ValueError: dict keys that name nothing (listing the names that exist), missing names (or a None in
            a list of inputs), or a list whose length is not the number of names.
    """
    kind = kind or ("input" if argument in ("x", "inputs") else "output")
    if data is None:
        return [None] * len(names)
    arrays = _route(data, names, argument, allow_missing, kind)
    if kind == "input" and not allow_missing:
        for position, array in enumerate(arrays):
            if array is None:
                break
        else:
            return arrays
        missing = names[position]
        where = f"`{argument}['{missing}']`" if isinstance(data, dict) else \
            f"`{argument}[{position}]`" if isinstance(data, (list, tuple)) else f"`{argument}`"
        raise ValueError(f'No data provided for "{missing}": {where} is None. Need data for each input in: {names}')
    return arrays


def _route(data, names, argument, allow_missing, kind):
    if isinstance(data, dict):
        unknown = [k for k in data if k not in names]
        if unknown:
            raise ValueError(f"`{argument}` has keys {unknown} that name no model {kind}. The model's {kind} names "
                             f"are {names}.")
        missing = [n for n in names if n not in data]
        if missing and not allow_missing:
            raise ValueError(f'No data provided for "{missing[0]}" in `{argument}`. Need data for each key in: '
                             f"{names}")
        return [as_array(data.get(n), f"{argument}['{n}']") for n in names]
    if isinstance(data, (list, tuple)) and len(names) == 1 and data and not is_list_of_arrays(data):
        return [as_array(data, argument)]
    if isinstance(data, (list, tuple)):
        if len(data) != len(names):
            raise ValueError(
                f"Error when checking model {kind}: the list of arrays passed as `{argument}` is not the size the "
                f"model expected. Expected to see {len(names)} array(s) for {names}, but instead got a list of "
                f"{len(data)} arrays.")
        return [as_array(d, f"{argument}[{i}]") for i, d in enumerate(data)]
    if len(names) != 1:
        raise ValueError(f"The model has {len(names)} {kind}s {names}, but `{argument}` is a single array. Pass a "
                         f"list (in model {kind} order) or a dict keyed by {kind} name.")
    return [as_array(data, argument)]


def is_list_of_arrays(data):
    return all(isinstance(d, (np.ndarray, torch.Tensor)) or is_array_like(d) or hasattr(d, "iloc")
               or (isinstance(d, (list, tuple)) and d and isinstance(d[0], (list, tuple, np.ndarray)))
               or d is None for d in data)


def num_samples(array):
    return int(array.shape[0])


def check_lengths(x_list, y_list, sw_list):
    """Keras 2's sample-count checks (messages name both counts)."""
    def counts(arrays):
        return [num_samples(a) for a in arrays if a is not None]

    xs, ys, ws = counts(x_list), counts(y_list), counts(sw_list)
    if len(set(xs)) > 1:
        raise ValueError(f"All input arrays (x) should have the same number of samples. Got array shapes: "
                         f"{[tuple(a.shape) for a in x_list if a is not None]}")
    if len(set(ys)) > 1:
        raise ValueError(f"All target arrays (y) should have the same number of samples. Got array shapes: "
                         f"{[tuple(a.shape) for a in y_list if a is not None]}")
    if xs and ys and xs[0] != ys[0]:
        raise ValueError(f"Input arrays should have the same number of samples as target arrays. Found {xs[0]} "
                         f"input samples and {ys[0]} target samples (`x` and `y`).")
    if ws and ys and any(w != ys[0] for w in ws):
        raise ValueError(f"`sample_weight` arrays should have the same number of samples as target arrays. Got "
                         f"{ws} sample-weight samples and {ys[0]} target samples.")
    if xs and xs[0] == 0:
        raise ValueError("Expected input data to be non-empty: `x` has 0 samples.")


def check_input_shapes(model, x_list):
    """Each input's rank and fixed dimensions must match the model's declared input shape."""
    if model.inputs is None:
        return
    for tensor, name, array in zip(model.inputs, model.input_names, x_list):
        if array is None:
            continue
        _check_shape(tensor.shape, tuple(array.shape), f"input {name!r}", "Error when checking input")


def check_target_shapes(model, specs, y_list):
    if model.outputs is None:
        return
    for spec, tensor, array in zip(specs, model.outputs, y_list):
        if array is None or spec.loss_fn is None:
            continue
        expected = tuple(tensor.shape)
        kind = loss_kind(spec.loss_fn)
        if kind == "sparse_categorical_crossentropy":
            expected = expected[:-1] + (1,)
            if len(array.shape) == len(expected) - 1 or len(array.shape) == 1:
                continue
            if len(array.shape) == len(expected) and array.shape[-1] != 1:
                raise ValueError(
                    f"Error when checking target: output {spec.name!r} uses sparse_categorical_crossentropy, which "
                    f"expects integer class indices of shape {expected}, but got targets of shape "
                    f"{tuple(array.shape)}. One-hot targets need categorical_crossentropy.")
        elif kind is None:
            continue
        if kind == "categorical_crossentropy" and array.shape[-1] == 1 and expected[-1] not in (None, 1):
            raise ValueError(
                f"You are passing a target array of shape {tuple(array.shape)} while using as loss "
                f"`categorical_crossentropy`, which expects targets to be binary matrices (1s and 0s) of shape "
                f"(samples, classes) (output {spec.name!r} has shape {expected}). If your targets are integer "
                "classes, you can convert them via `fitgen.utils.to_categorical(y)`, or use the loss "
                "`sparse_categorical_crossentropy` instead, which expects integer targets.")
        _check_shape(expected, tuple(array.shape), f"target {spec.name!r}", "Error when checking target")


def loss_kind(fn):
    """The snake-case name of a built-in fitgen loss (function or class instance); None for user losses."""
    if fn is None:
        return None
    module = getattr(fn, "__module__", None) or type(fn).__module__
    if not str(module).startswith("fitgen"):
        return None
    name = getattr(fn, "__name__", None) or getattr(getattr(fn, "fn", None), "__name__", None)
    return name or to_snake_case(type(fn).__name__)


def _check_shape(expected, received, what, prefix):
    if len(received) == 1:
        received = received + (1,)  # Keras expands 1-D data to (samples, 1); out-of-core arrays per batch
    if len(expected) != len(received):
        raise ValueError(f"{prefix}: expected {what} to have {len(expected)} dimensions (shape {expected}), but got "
                         f"array with shape {received}.")
    for want, got in zip(expected[1:], received[1:]):
        if want is not None and want != got:
            raise ValueError(f"{prefix}: expected {what} to have shape {expected[1:]} but got array with shape "
                             f"{received[1:]} (full shape {received}).")


def unpack_batch(item, source="generator"):
    """A generator item -> (x, y, sample_weight), with Keras's message for anything else."""
    if isinstance(item, tuple) and item and not hasattr(item, "_fields"):
        if len(item) == 2:
            return item[0], item[1], None
        if len(item) == 3:
            return item
        if len(item) == 1:
            return item[0], None, None
    if isinstance(item, list) and len(item) in (2, 3):
        # Keras 2 accepted any sized container; a list of (x, y) is still read as a tuple.
        return tuple(item) + ((None,) if len(item) == 2 else ())
    raise ValueError(f"Output of {source} should be a tuple `(x, y, sample_weight)` or `(x, y)`. Found: "
                     f"{_describe(item)}")


def _describe(item):
    if item is None:
        return "None"
    if isinstance(item, (tuple, list)):
        return f"{type(item).__name__} of length {len(item)}: " + ", ".join(_describe(i) for i in item[:4])
    if hasattr(item, "shape"):
        return f"{type(item).__name__} of shape {tuple(item.shape)}"
    return f"{type(item).__name__}"


def class_ids(y):
    """Class index per sample (or per timestep) as tf-keras: argmax of one-hot, else the rounded label."""
    if y.dim() >= 2 and y.shape[-1] > 1:
        return y.argmax(dim=-1)
    ids = y.reshape(y.shape[:-1]) if y.dim() >= 2 else y
    return torch.round(ids.float()).long() if ids.is_floating_point() else ids.long()
