"""The last mile of every batch, whatever kind of data it came from: dtypes and the device.

Every adapter hands its batches to `BatchFinisher.finish` as lists aligned with the model's inputs, outputs
and sample weights. Each position takes the dtype the model wants there, as Keras casts its inputs:

* an input takes the dtype of the model input it feeds (`Input(dtype=...)`, floatx for a float input): uint8
  images become floats, float64 data becomes float32 (or float64 after `set_floatx('float64')`); integer data
  for an integer input (token ids for an Embedding) stays integer;
* a target takes the output's float type, except integer class labels of sparse losses and metrics;
* a sample weight takes floatx, (N, 1) weights become (N,).

A narrowing cast (float64 -> float32) runs before the copy to an accelerator, so half the bytes cross the bus;
a widening one (uint8 -> float32) runs after it, on the device.
"""
import numpy as np
import torch

from fitgen import backend
from fitgen.data import structure


def _keras_dtype(dtype):
    return None if dtype is None else backend.torch_dtype(dtype)


class BatchFinisher:
    """Casts and moves one batch's aligned lists for `model` (see the module notes).

    Args:
        model: the model the batches feed; None for a default of floatx floats and untouched integers.
        device: where batches go (default: the model's device, else fitgen's device).
    """

    def __init__(self, model=None, device=None):
        if device is None:
            device = model._device() if model is not None else backend.get_device()
        self.device = device
        self.floatx = backend.torch_dtype(backend.floatx())
        inputs = model.inputs if model is not None else None
        outputs = model.outputs if model is not None else None
        self.input_dtypes = [_keras_dtype(t.dtype) for t in inputs] if inputs else None
        self.output_dtypes = [_keras_dtype(t.dtype) for t in outputs] if outputs else None
        specs = (getattr(model, "_output_specs", None) or []) if model is not None else []
        self.sparse_targets = {spec.index for spec in specs if _wants_integer_labels(spec)}

    def finish(self, x_list, y_list, sw_list):
        """(x, y, sample_weight) lists of tensors (or None) in the model's dtypes, on the training device."""
        x = [None if t is None else self._move(t, self.input_dtype(i, t.dtype)) for i, t in enumerate(x_list)]
        y = [None if t is None else self._move(t, self.target_dtype(i, t.dtype)) for i, t in enumerate(y_list)]
        sw = [None if t is None else self._move(_flat_weights(t), self.floatx) for t in sw_list]
        return x, y, sw

    def input_dtype(self, index, dtype):
        """The dtype input `index` takes for data of torch `dtype`."""
        want = self.input_dtypes[index] if self.input_dtypes and index < len(self.input_dtypes) else None
        if want is None:  # a model without declared inputs (subclassed): floats become floatx, ints stay
            return self.floatx if dtype.is_floating_point else dtype
        if want.is_floating_point or dtype.is_floating_point:
            return want
        # integer data for an integer input: int32/int64 ids keep their width; narrower ones (uint8, bool...)
        # take the input's dtype, since torch's index ops read only int32 and int64
        return dtype if dtype in (torch.int32, torch.int64) else want

    def target_dtype(self, index, dtype):
        """The dtype target `index` takes for data of torch `dtype`."""
        if not dtype.is_floating_point and index in self.sparse_targets:
            return dtype
        want = self.output_dtypes[index] if self.output_dtypes and index < len(self.output_dtypes) else None
        if want is None or not want.is_floating_point:
            want = self.floatx
        return want

    def read_casts(self, x_list, y_list, sw_list):
        """Per position, the NumPy dtype a reader should cast to while reading (narrowing float casts only,
        e.g. float64 files read as float32 by the data workers), or None."""
        def cast(array, want):
            if array is None or np.dtype(array.dtype).kind != "f":
                return None
            target = np.dtype(str(want).replace("torch.", "")) if want != torch.bfloat16 else None
            if target is None or target.itemsize >= np.dtype(array.dtype).itemsize:
                return None
            return target

        def torch_of(array):
            return torch.from_numpy(np.empty(0, dtype=array.dtype)).dtype

        return ([None if a is None else cast(a, self.input_dtype(i, torch_of(a))) for i, a in enumerate(x_list)],
                [None if a is None else cast(a, self.target_dtype(i, torch_of(a))) for i, a in enumerate(y_list)],
                [None if a is None else cast(a, self.floatx) for a in sw_list])

    def _move(self, tensor, dtype):
        device = self.device
        if tensor.dtype == dtype:
            return to_device(tensor, device)
        if device.type == "cpu" or tensor.device == device:
            return tensor.to(dtype)
        if _itemsize(dtype) <= _itemsize(tensor.dtype):
            return to_device(tensor.to(dtype), device)  # narrowing: fewer bytes cross the bus
        return to_device(tensor, device).to(dtype)      # widening: cast on the device


def _wants_integer_labels(spec):
    """Outputs whose loss (or, without a loss, a metric) reads integer class indices."""
    if structure.loss_kind(spec.loss_fn) == "sparse_categorical_crossentropy":
        return True
    return spec.loss_fn is None and any("sparse" in getattr(m, "name", "") for m in spec.metrics)


def _flat_weights(tensor):
    return tensor.reshape(-1) if tensor.dim() == 2 and tensor.shape[1] == 1 else tensor


def _itemsize(dtype):
    return torch.empty((), dtype=dtype).element_size()


def to_device(tensor, device):
    """`tensor` on `device`; from the CPU to an accelerator through pinned memory, asynchronously."""
    if device.type == "cpu" or tensor.device == device:
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


def as_tensor(array):
    """A NumPy array, tensor or array-like batch as a CPU tensor, sharing memory where torch can."""
    if isinstance(array, torch.Tensor):
        return array
    if not isinstance(array, np.ndarray):
        array = np.asarray(array)
    if array.dtype == object:
        raise TypeError(f"A batch array has dtype object (shape {array.shape}); fitgen needs numeric arrays.")
    # torch can alias neither read-only memory nor negative strides (a generator's `x[:, ::-1]`): copy those.
    if not array.flags.writeable or any(stride < 0 for stride in array.strides):
        array = array.copy()
    return torch.from_numpy(array)
