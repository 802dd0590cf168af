"""User data -> lists aligned with the model's inputs and outputs, with Keras 2's checks and messages.

Who owns what: this module validates and routes (dicts by layer name, lists by position, one array for one
input); adapters (arrays.py, the Sequence/generator adapters) turn the result into batches; the engine never
looks at user data structures directly.
"""
import numpy as np
import torch


def is_array_like(value):
    """numpy arrays, memmaps, torch tensors, h5py Datasets, HDF5Matrix: anything with shape and slicing."""
    return hasattr(value, "shape") and hasattr(value, "__getitem__") and not isinstance(value, (str, bytes))


def as_array(value, argument):
    """A user value as an array-like: pandas -> numpy, nested Python lists -> numpy; others untouched."""
    if value is None:
        return None
    if hasattr(value, "values") and hasattr(value, "iloc"):  # pandas DataFrame / Series
        value = value.values
    if isinstance(value, torch.Tensor) or is_array_like(value):
        if getattr(value, "ndim", len(getattr(value, "shape", ()))) == 1 and isinstance(value, (np.ndarray, torch.Tensor)):
            return value.reshape(-1, 1)
        return value
    if isinstance(value, (list, tuple)) or np.isscalar(value):
        array = np.asarray(value)
        if array.dtype == object:
            raise ValueError(f"`{argument}` could not be converted to a numeric array: its elements have different "
                             f"shapes or types. Received: {type(value).__name__} of length {len(value)}")
        return array.reshape(-1, 1) if array.ndim == 1 else array
    raise ValueError(f"Unrecognized data type for `{argument}`: expected a NumPy array, a torch tensor, an h5py "
                     f"Dataset, a list of those or a dict keyed by layer name. Received: {type(value).__name__}")


def align(data, names, argument, allow_missing=False):
    """Routes `data` to one entry per name: dict by name, list/tuple by position, a single value for one name.

    Raises:
        ValueError: dict keys that name nothing (listing the names that exist), missing names, or a list whose
            length is not the number of names.
    """
    kind = "input" if argument in ("x", "inputs") else "output"
    if data is None:
        return [None] * len(names)
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
    if isinstance(data, (list, tuple)) and len(names) == 1 and data and not _is_list_of_arrays(data):
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


def _is_list_of_arrays(data):
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
    from fitgen.utils.generic_utils import to_snake_case
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


def class_weight_table(class_weight, argument="class_weight"):
    """A dense lookup table (float32 tensor) from a {class: weight} dict."""
    if not isinstance(class_weight, dict) or not class_weight:
        raise ValueError(f"`{argument}` must be a dict mapping class indices to weights. Received: {class_weight!r}")
    keys = []
    for key in class_weight:
        if isinstance(key, (bool, np.bool_)) or not float(key).is_integer() or float(key) < 0:
            raise ValueError(f"`{argument}` keys must be non-negative integer class indices. Received key: {key!r}")
        keys.append(int(key))
    table = torch.ones(max(keys) + 1, dtype=torch.float32)
    for key, value in class_weight.items():
        table[int(key)] = float(value)
    return table, set(keys)


def class_ids(y):
    """Class index per sample (or per timestep) as tf-keras: argmax of one-hot, else the rounded label."""
    if y.dim() >= 2 and y.shape[-1] > 1:
        return y.argmax(dim=-1)
    ids = y.reshape(y.shape[:-1]) if y.dim() >= 2 else y
    return torch.round(ids.float()).long() if ids.is_floating_point() else ids.long()
