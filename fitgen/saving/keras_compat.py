"""Reading what every Keras 2 release (and Keras 1) wrote into HDF5 files, and writing what they all read.

- Strings: Keras 2.2.4 stores UTF-8 bytes (fixed- or variable-length), tf-keras Python str; both decode here.
- Attribute arrays larger than the HDF5 object-header limit are split into `name0`, `name1`, ... .
- Full-model files keep the weights one group deeper (`model_weights`) than weights files.
- Keras 1 files (no `keras_version`) store some weights in other layouts, and CuDNNLSTM/CuDNNGRU weights are
  laid out for cuDNN: converted here to the layout the receiving layer expects (cuDNN weights into an
  LSTM/GRU and back).
- Keras-internal config entries fitgen has no use for (dtype policies) are translated.
"""
import json

import numpy as np

# HDF5 refuses attributes larger than its object header (64 KiB); Keras splits bigger arrays below this.
HDF5_OBJECT_HEADER_LIMIT = 64512


# ------------------------------------------------------------------------------------------- attributes
def decode(value):
    """str from an attribute value that may be bytes, numpy bytes, or a 0-d array of either."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8")
    return value


def read_string_attr(attrs, name):
    """The attribute `name` as str, or None when absent."""
    if name not in attrs:
        return None
    return decode(attrs[name])


def read_json_attr(attrs, name, path):
    """The JSON document stored in attribute `name` (None when absent).

    Raises:
        ValueError: naming `path` when the attribute is not valid JSON.
    """
    text = read_string_attr(attrs, name)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError) as error:
        raise ValueError(f"The file {path!r} has a damaged `{name}` attribute: it is not valid JSON ({error}).") \
            from None


def load_attributes(group, name):
    """The list of strings stored as attribute `name` of `group`, joining Keras's chunks `name0`, `name1`..."""
    if name in group.attrs:
        values = group.attrs[name]
        return [decode(v) for v in np.atleast_1d(values) if not isinstance(v, float)]
    data, chunk = [], 0
    while f"{name}{chunk}" in group.attrs:
        data.extend(decode(v) for v in np.atleast_1d(group.attrs[f"{name}{chunk}"]))
        chunk += 1
    return data


def has_attributes(group, name):
    return name in group.attrs or f"{name}0" in group.attrs


def save_attributes(group, name, data):
    """Stores a list of strings as attribute `name`, in chunks when it exceeds the HDF5 header limit.

    Written as tf-keras does (UTF-8 bytes, an empty float array for an empty list) so every Keras reads it.

    Raises:
        ValueError: if one single string is larger than the limit (no chunking can store it).
    """
    encoded = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in data]
    too_long = [s for s in encoded if len(s) > HDF5_OBJECT_HEADER_LIMIT]
    if too_long:
        raise ValueError(f"Cannot store attribute {name!r}: the names {too_long[:3]} are longer than "
                         f"{HDF5_OBJECT_HEADER_LIMIT} bytes, the HDF5 attribute size limit.")
    if not encoded:
        group.attrs[name] = np.asarray([])
        return
    chunks = 1
    while True:
        parts = [list(part) for part in np.array_split(np.array(encoded, dtype=object), chunks)]
        # Sized as Keras sizes them (fixed-length strings of the longest name), so Keras reads our chunks.
        if all(len(part) * max(len(s) for s in part) <= HDF5_OBJECT_HEADER_LIMIT for part in parts if part):
            break
        chunks += 1
    if chunks == 1:
        group.attrs[name] = encoded
        return
    for index, part in enumerate(parts):
        group.attrs[f"{name}{index}"] = part


def weights_root(f):
    """The group holding `layer_names` and the per-layer groups: the file itself, or its `model_weights`."""
    if has_attributes(f, "layer_names"):
        return f
    if "model_weights" in f and has_attributes(f["model_weights"], "layer_names"):
        return f["model_weights"]
    return None


def file_keras_version(group):
    """The writer's Keras version; "1" when absent (Keras 1 did not record it), as Keras itself assumes."""
    return read_string_attr(group.attrs, "keras_version") or "1"


# ------------------------------------------------------------------------------------------ configs
def translate_layer_entry(class_name, config):
    """(class_name, config) with Keras-only forms replaced by what fitgen's layers accept: dtype policies
    (`{"class_name": "Policy", "config": {"name": "mixed_float16"}}`) become the variable dtype name."""
    if not isinstance(config, dict):
        return class_name, config  # e.g. Keras <= 2.1's Sequential config, a bare list of layers
    config = dict(config)
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        name = (dtype.get("config") or {}).get("name", "float32")
        config["dtype"] = "float32" if str(name).startswith("mixed_") else name
    return class_name, config


# ------------------------------------------------------------------------------------------ weights
def preprocess_weights(layer, values, keras_version):
    """Converts saved arrays of one layer to the layout `layer` expects (Keras 1 and cuDNN layouts).

    Args:
        layer: the fitgen layer that receives the arrays.
        values: the arrays in file order (trainable then non-trainable).
        keras_version: the writer's version string ("1" for Keras 1 files).
    """
    values = list(values)
    kind = type(layer).__name__
    if kind == "Bidirectional" and hasattr(layer, "forward_layer"):
        half = len(values) // 2
        return (preprocess_weights(layer.forward_layer, values[:half], keras_version)
                + preprocess_weights(layer.backward_layer, values[half:], keras_version))
    if kind == "TimeDistributed" and hasattr(layer, "layer"):
        return preprocess_weights(layer.layer, values, keras_version)
    if hasattr(layer, "layers") and getattr(layer, "_graph", None) is not None:
        return _preprocess_nested_model(layer, values, keras_version)
    if keras_version == "1":
        values = _from_keras1(layer, kind, values)
    if kind in ("LSTM", "GRU") and len(values) == 3:
        values = _from_cudnn(layer, kind, values)
    if kind in ("CuDNNLSTM", "CuDNNGRU") and len(values) == 3:
        values = _to_cudnn(kind, values)
    return values


def _preprocess_nested_model(model, values, keras_version):
    n_trainable = len(model.trainable_weights)
    trainable, non_trainable = values[:n_trainable], values[n_trainable:]
    new_trainable, new_non_trainable = [], []
    for sublayer in model.layers:
        t, n = len(sublayer.trainable_weights), len(sublayer.non_trainable_weights)
        if t + n == 0:
            continue
        converted = preprocess_weights(sublayer, trainable[:t] + non_trainable[:n], keras_version)
        new_trainable.extend(converted[:t])
        new_non_trainable.extend(converted[t:])
        trainable, non_trainable = trainable[t:], non_trainable[n:]
    return new_trainable + trainable + new_non_trainable + non_trainable


def _from_keras1(layer, kind, values):
    if kind == "Conv1D" and values and values[0].ndim == 4:
        kernel = values[0]
        size, filters = layer.kernel_size[0], layer.filters
        if kernel.shape[:2] != (size, 1) or kernel.shape[3] != filters:
            kernel = np.transpose(kernel, (2, 3, 1, 0))  # (filters, in, length, 1) -> (length, 1, in, filters)
        values[0] = kernel[:, 0, :, :]
    elif kind == "Conv2DTranspose" and values:
        values[0] = np.transpose(values[0], (0, 1, 3, 2))
    elif kind in ("GRU", "LSTM", "SimpleRNN") and len(values) in (9, 12):
        # Keras 1 kept one (kernel, recurrent kernel, bias) triple per gate.
        order = {9: (0, 1, 2), 12: (0, 2, 1, 3)}[len(values)]  # LSTM gates were i, c, f, o; Keras 2: i, f, c, o
        gates = [values[3 * g:3 * g + 3] for g in order]
        values = [np.concatenate([g[i] for g in gates], axis=-1) for i in range(3)]
    return values


def _from_cudnn(layer, kind, values):
    kernel, recurrent, bias = values
    units = recurrent.shape[0]
    gates = 4 if kind == "LSTM" else 3
    if kind == "LSTM":
        if bias.shape != (2 * gates * units,):
            return values
        return [_per_gate(kernel, gates, _cudnn_input_kernel), _per_gate(recurrent, gates, np.transpose),
                bias[:gates * units] + bias[gates * units:]]
    if bias.shape == (2 * gates * units,) and getattr(layer, "reset_after", True):
        return [_per_gate(kernel, gates, _cudnn_input_kernel), _per_gate(recurrent, gates, np.transpose),
                bias.reshape(2, -1)]
    return values


def _to_cudnn(kind, values):
    """LSTM / GRU(reset_after=True) weights into a CuDNNLSTM / CuDNNGRU (Keras's conversion: the LSTM bias is
    split evenly between cuDNN's input and recurrent biases)."""
    kernel, recurrent, bias = values
    units = recurrent.shape[0]
    gates = 4 if kind == "CuDNNLSTM" else 3
    if bias.shape == (2 * gates * units,):
        return values  # already cuDNN's layout
    if kind == "CuDNNLSTM" and bias.shape == (gates * units,):
        bias = np.tile(0.5 * bias, 2)
    elif kind == "CuDNNGRU" and bias.shape == (2, gates * units):
        bias = bias.reshape(-1)
    else:
        raise ValueError(f"Cannot load weights with a bias of shape {bias.shape} into a {kind}: expected a "
                         f"{'(4 * units,) LSTM' if gates == 4 else '(2, 3 * units) GRU(reset_after=True)'} bias or "
                         f"the {kind}'s own ({2 * gates * units},).")
    return [_per_gate(kernel, gates, lambda k: k.T.reshape(k.shape)), _per_gate(recurrent, gates, np.transpose),
            bias]


def _per_gate(kernel, gates, fn):
    return np.hstack([fn(k) for k in np.hsplit(kernel, gates)])


def _cudnn_input_kernel(kernel):
    # cuDNN stores each gate's input kernel in Fortran order with the same shape.
    return kernel.T.reshape(kernel.shape, order="F")


# --------------------------------------------------------------------------------- optimizer weights
def convert_legacy_optimizer_weights(optimizer, names, values):
    """Maps Keras 2.2/2.3 optimizer state to fitgen's (tf-keras 2.21) layout, or None when not recognised.

    Keras 2.2 keeps `[iterations]` (not for RMSprop/Adagrad/Adadelta) then each slot for all variables
    (`m0, m1, ..., v0, v1, ...`, Adam adds `vhat` placeholders); tf-keras and fitgen keep `[iteration]` then
    the slots interleaved per variable (`m0, v0, m1, v1, ...`).
    """
    groups = optimizer._slot_specs()
    slot_names = [slot for group in groups for slot, _ in group]
    variables = optimizer._variables or []
    names, values = list(names), list(values)
    iteration = np.asarray(0, dtype=np.int64)
    if names and "iterations" in names[0]:
        iteration = np.asarray(values[0], dtype=np.int64).reshape(())
        names, values = names[1:], values[1:]
    # Nadam's running momentum product has no tf-keras counterpart (tf-keras recomputes it from the step).
    values = [v for n, v in zip(names, values) if "m_schedule" not in n]
    n = len(variables)
    if n == 0 or len(values) < len(slot_names) * n:
        return None
    by_slot = {slot: values[i * n:(i + 1) * n] for i, slot in enumerate(slot_names)}
    out = [iteration]
    for group in groups:
        for index, variable in enumerate(variables):
            for slot, _ in group:
                value = np.asarray(by_slot[slot][index])
                if value.shape != tuple(variable.shape):
                    return None
                out.append(value)
    return out
