"""Keras 2 backend configuration and variables that user code calls (`from keras import backend as K`).

fitgen has one backend, PyTorch; these functions keep Keras 2 scripts working: `K.get_value(model.optimizer.lr)`,
`K.set_value(...)`, `K.epsilon()`, `K.image_data_format()`, `K.clear_session()`.

As Keras 2 does at import, the user's `keras.json` (in `$KERAS_HOME`, else `~/.keras`) sets the initial
`floatx`, `epsilon` and `image_data_format`; a missing file changes nothing and an unreadable one is ignored.
Unlike Keras, fitgen never writes that file: it belongs to Keras (a `"backend"` entry there is Keras's
business), and a library import should not create files in the user's home.
"""
import collections
import json
import os
import random
import threading
import warnings

import numpy as np
import torch

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_NAME_COUNTERS = collections.defaultdict(int)
_NAME_LOCK = threading.Lock()
_DEVICE = None
# The learning phase of the code running now, set by fitgen's steps and layer calls (engine/call_context.py).
PHASE = [0]
_UID_COUNTERS = collections.defaultdict(int)
_SCOPE = threading.local()


def floatx():
    """Returns the default float type as a string, `'float32'`."""
    return _FLOATX


def set_floatx(value):
    global _FLOATX
    if value not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"Unknown floatx type: {value!r}. Expected one of float16, bfloat16, float32, float64.")
    _FLOATX = value


def epsilon():
    """The fuzz factor used in numeric expressions (Keras default 1e-7)."""
    return _EPSILON


def set_epsilon(value):
    global _EPSILON
    _EPSILON = float(value)


def image_data_format():
    """The default `data_format` of image layers: `'channels_last'` (Keras's default) or `'channels_first'`.

    Layers built with `data_format=None` take this value when they are created; keras.json's
    `image_data_format` sets it at import, `set_image_data_format` afterwards.
    """
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format):
    """Sets the default `data_format` of the image layers created afterwards.

    Args:
        data_format: `'channels_last'` (`(N, H, W, C)`) or `'channels_first'` (`(N, C, H, W)`).

    Raises:
        ValueError: for any other value.
    """
    global _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Unknown `data_format`: {data_format!r}. Expected one of 'channels_last', "
                         f"'channels_first'.")
    _IMAGE_DATA_FORMAT = str(data_format)


def normalize_data_format(value):
    """'channels_last' or 'channels_first' (case-insensitive); None means `image_data_format()`.

    Raises:
        ValueError: for any other value, naming the argument.
    """
    if value is None:
        value = image_data_format()
    data_format = value.lower() if isinstance(value, str) else value
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f'The `data_format` argument must be one of "channels_first", "channels_last". '
                         f"Received: data_format={value!r}")
    return data_format


def keras_config_path():
    """Where Keras 2 keeps its user settings: `$KERAS_HOME/keras.json`, else `~/.keras/keras.json`."""
    folder = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(os.path.expanduser(folder), "keras.json")


def _load_keras_config(path):
    """Applies `floatx`, `epsilon` and `image_data_format` of the keras.json at `path`, as Keras 2 does.

    A missing file changes nothing; a file that is not a JSON object is ignored (Keras ignores bad JSON).
    A value Keras would reject is reported with a warning and left at its default (Keras's import would fail
    on an assertion instead).
    """
    if not os.path.exists(path):
        return
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    setters = (("floatx", set_floatx), ("epsilon", _set_config_epsilon),
               ("image_data_format", set_image_data_format))
    for key, setter in setters:
        if key in config:
            try:
                setter(config[key])
            except (TypeError, ValueError) as error:
                warnings.warn(f"Ignoring {key}={config[key]!r} in {path}: {error}", stacklevel=2)


def _set_config_epsilon(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"epsilon must be a float. Received: {value!r}")
    set_epsilon(value)


def backend():
    return "pytorch"


# Keras dtype (name, NumPy dtype or type, torch dtype) -> torch dtype: metrics, losses and batches ask every step,
# and NumPy's name lookup costs microseconds each time.
_TORCH_DTYPES = {}


def torch_dtype(dtype=None):
    """The torch dtype for a Keras dtype name (None means floatx())."""
    if dtype is None:
        dtype = _FLOATX
    try:
        return _TORCH_DTYPES[dtype]
    except (KeyError, TypeError):  # TypeError: an unhashable argument, resolved (or rejected) below uncached
        pass
    if isinstance(dtype, torch.dtype):
        return dtype
    name = np.dtype(dtype).name if not isinstance(dtype, str) or dtype != "bfloat16" else dtype
    result = torch.bfloat16 if name == "bfloat16" else getattr(torch, name)
    try:
        _TORCH_DTYPES[dtype] = result
    except TypeError:
        pass
    return result


def unique_object_name(prefix, zero_based=True):
    """`dense`, `dense_1`, ... as tf.keras names layers (zero_based=False gives `input_1`, `input_2`, ...)."""
    with _NAME_LOCK:
        count = _NAME_COUNTERS[prefix]
        _NAME_COUNTERS[prefix] += 1
    if zero_based:
        return prefix if count == 0 else f"{prefix}_{count}"
    return f"{prefix}_{count + 1}"


def get_uid(prefix=""):
    """1, 2, 3, ... for each `prefix`: Keras 2's per-session counter (`K.get_uid('dense')`)."""
    with _NAME_LOCK:
        _UID_COUNTERS[prefix] += 1
        return _UID_COUNTERS[prefix]


def reset_uids():
    with _NAME_LOCK:
        _NAME_COUNTERS.clear()
        _UID_COUNTERS.clear()


def clear_session():
    """Resets layer naming (the next Dense is `dense` again) and the learning phase, as Keras's does."""
    reset_uids()
    from fitgen.backend import control_ops
    control_ops.reset_learning_phase()


def get_device():
    """The device fitgen puts models and batches on: cuda when available, unless `set_device` said otherwise."""
    global _DEVICE
    if _DEVICE is None:
        if torch.cuda.is_available():
            import os
            # Under torchrun each process owns the GPU of its LOCAL_RANK.
            _DEVICE = torch.device("cuda", int(os.environ.get("LOCAL_RANK", torch.cuda.current_device())))
        else:
            _DEVICE = torch.device("cpu")
    return _DEVICE


def set_device(device):
    """Chooses the device for models built or compiled after this call (e.g. `'cpu'`, `'cuda:1'`)."""
    global _DEVICE
    _DEVICE = torch.device(device)


def creation_device():
    """Where backend functions that take no tensor (`K.zeros`, `K.random_normal`, `K.variable`) put their result.

    The model device (`get_device()`), except inside `device_scope` (shape inference runs layers on CPU
    placeholders, and a `K.random_normal` there must land beside them).
    """
    device = getattr(_SCOPE, "device", None)
    return device if device is not None else get_device()


class device_scope:
    """Within the block, `creation_device()` is `device`."""

    def __init__(self, device):
        self.device = None if device is None else torch.device(device)

    def __enter__(self):
        self.previous = getattr(_SCOPE, "device", None)
        _SCOPE.device = self.device
        return self.device

    def __exit__(self, *exc):
        _SCOPE.device = self.previous


class Variable:
    """A mutable value that `get_value`/`set_value` act on, like a Keras 2 backend variable.

    Optimizers hold their learning rate in one, so `K.set_value(model.optimizer.lr, 1e-4)` works as in
    Keras 2. Arithmetic and `float()` read the current value.
    """

    def __init__(self, value, dtype=None, name=None):
        self.name = name
        self._dtype = np.dtype(dtype or (floatx() if isinstance(value, float) else np.asarray(value).dtype))
        self._value = np.asarray(value, dtype=self._dtype).copy()

    @property
    def dtype(self):
        return self._dtype.name

    @property
    def shape(self):
        return self._value.shape

    def numpy(self):
        return self._value.copy()

    def assign(self, value):
        value = value.numpy() if hasattr(value, "numpy") else value
        new = np.asarray(value, dtype=self._dtype)
        if new.shape != self._value.shape:
            raise ValueError(f"Cannot assign a value of shape {new.shape} to variable {self.name!r} of shape "
                             f"{self._value.shape}.")
        self._value = new.copy()

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._value, dtype=dtype)

    def __repr__(self):
        return f"<fitgen.Variable {self.name!r} value={self._value!r}>"

    def _binary(op):
        def method(self, other):
            return op(self._value.item() if self._value.ndim == 0 else self._value, _plain(other))
        return method

    import operator as _op
    __add__ = _binary(_op.add)
    __radd__ = _binary(lambda a, b: b + a)
    __sub__ = _binary(_op.sub)
    __rsub__ = _binary(lambda a, b: b - a)
    __mul__ = _binary(_op.mul)
    __rmul__ = _binary(lambda a, b: b * a)
    __truediv__ = _binary(_op.truediv)
    __rtruediv__ = _binary(lambda a, b: b / a)
    __pow__ = _binary(_op.pow)
    __lt__ = _binary(_op.lt)
    __le__ = _binary(_op.le)
    __gt__ = _binary(_op.gt)
    __ge__ = _binary(_op.ge)
    __eq__ = _binary(_op.eq)
    __ne__ = _binary(_op.ne)
    __hash__ = object.__hash__
    del _binary, _op


def _plain(value):
    if isinstance(value, Variable):
        return value.numpy().item() if value.shape == () else value.numpy()
    return value


def get_value(x):
    """The value of a variable, weight or tensor as NumPy (a Python number stays one).

    Raises:
        TypeError: for a symbolic KerasTensor (it has no value; call the model or `K.function`).
    """
    if isinstance(x, Variable):
        return x.numpy()
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if getattr(x, "_keras_history", None) is not None:
        raise TypeError(f"{x!r} is a symbolic tensor of the functional API: it has no value until the model runs. "
                        "Call the model (or `K.function([inputs], [tensor])`) on data to get its value.")
    if hasattr(x, "numpy"):
        return x.numpy()
    return x


def batch_get_value(xs):
    return [get_value(x) for x in xs]


def set_value(x, value):
    """Sets a variable (`K.variable`, an optimizer's `lr`, a layer weight, a torch tensor) in place.

    Raises:
        ValueError: if `value` does not have the variable's shape.
        TypeError: for anything that holds no value.
    """
    if isinstance(x, Variable):
        x.assign(value)
    elif isinstance(x, torch.Tensor):
        value = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
        if tuple(value.shape) != tuple(x.shape):
            raise ValueError(f"set_value: the value has shape {tuple(value.shape)}, the variable "
                             f"{getattr(x, 'name', '')!r} has shape {tuple(x.shape)}.")
        with torch.no_grad():
            x.copy_(value.to(device=x.device, dtype=x.dtype))
    elif hasattr(x, "assign") and hasattr(x, "numpy"):
        x.assign(value)
    else:
        raise TypeError("set_value expects a backend variable, a layer weight or a torch tensor. "
                        f"Received: {type(x).__name__}")


def batch_set_value(tuples):
    for x, value in tuples:
        set_value(x, value)


def set_random_seed(seed):
    """Seeds Python's `random`, NumPy and torch, so weight initialisation and shuffling repeat."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


_load_keras_config(keras_config_path())
