"""Batches from arrays: in-memory NumPy/torch, and out-of-core memmaps, h5py Datasets and HDF5Matrix.

Who owns which argument: batch_size, shuffle (True / False / 'batch'), steps_per_epoch, class_weight and
sample_weight are applied here; the loop only asks for one epoch's batches.

In-memory data is wrapped once as torch tensors (no copy) and each batch is one gather (or a free slice when
the order is contiguous). Out-of-core data is read batch by batch: with shuffle='batch' each read is one
contiguous slice; with shuffle=True the indices of a batch are sorted before reading, since h5py needs
increasing indices and sorted reads are far faster on disk. Memory never grows with the data set size.
"""
import math

import numpy as np
import torch

from fitgen import backend
from fitgen.data import structure


def _in_memory(array):
    return isinstance(array, torch.Tensor) or (type(array) is np.ndarray)


def _to_tensor(array):
    if isinstance(array, torch.Tensor):
        return array
    # float64 data is cast per batch (in _take), so the data set is never copied whole.
    if not array.flags.writeable:
        array = np.array(array)  # torch cannot alias read-only memory safely
    return torch.from_numpy(np.ascontiguousarray(array))


class ArrayAdapter:
    """One epoch of batches at a time from aligned lists of arrays (x, y and sample-weight per output)."""

    def __init__(self, x_list, y_list, sw_list, batch_size=32, shuffle=True, steps=None, class_weights=None,
                 device=None):
        self.num_samples = structure.num_samples(next(a for a in x_list if a is not None))
        if steps is not None and batch_size is None:
            batch_size = max(1, math.ceil(self.num_samples / steps))
        self.batch_size = batch_size or 32
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"`shuffle` must be True, False or 'batch'. Received: shuffle={shuffle!r}")
        self.shuffle = shuffle
        self.steps = steps
        self.device = device or backend.get_device()
        self.class_weights = class_weights  # list per output: (table tensor, keys) or None
        arrays = [x_list, y_list, sw_list]
        self.in_memory = all(_in_memory(a) for group in arrays for a in group if a is not None)
        convert = _to_tensor if self.in_memory else (lambda a: a)
        self.x = [None if a is None else convert(a) for a in x_list]
        self.y = [None if a is None else convert(a) for a in y_list]
        self.sw = [None if a is None else convert(a) for a in sw_list]
        # Epoch e's order comes from (seed, e): a resumed run (BackupAndRestore) replays the same batches.
        self.seed = int(np.random.randint(0, 2 ** 31 - 1))
        if class_weights:
            for table_and_keys, y in zip(class_weights, self.y):
                if table_and_keys is not None and y is not None:
                    _check_classes_present(y, table_and_keys[1])
        self._table_on_device = None

    def on_epoch_end(self):
        pass

    def close(self):
        pass

    def num_batches(self):
        if self.steps is not None:
            return self.steps
        return math.ceil(self.num_samples / self.batch_size)

    def _epoch_order(self, epoch):
        """This epoch's sample order as a torch index tensor (None: natural order, batches are slices)."""
        n = self.num_samples
        rng = np.random.default_rng([self.seed, epoch])
        if self.shuffle is True:
            return torch.from_numpy(rng.permutation(n))
        if self.shuffle == "batch":
            return torch.from_numpy(_batch_shuffle(n, self.batch_size, rng))
        return None

    def _slices(self, epoch):
        """(start, stop, indices-or-None) for each batch of this epoch."""
        if self.steps is None:
            order = self._epoch_order(epoch)
            for start in range(0, self.num_samples, self.batch_size):
                stop = min(start + self.batch_size, self.num_samples)
                yield _batch_spec(order, start, stop, self.shuffle == "batch")
            return
        # steps_per_epoch with arrays (tf-keras): batches continue where the previous epoch stopped. Batch i of
        # epoch e is batch e * steps + i of an endless series of passes, so a resumed run finds it again.
        per_pass = math.ceil(self.num_samples / self.batch_size)
        orders = {}
        for i in range(self.steps):
            pass_number, position = divmod(epoch * self.steps + i, per_pass)
            if pass_number not in orders:
                orders = {pass_number: self._epoch_order(pass_number)}
            start = position * self.batch_size
            yield _batch_spec(orders[pass_number], start, min(start + self.batch_size, self.num_samples),
                              self.shuffle == "batch")

    def epoch_batches(self, epoch=0, skip=0):
        """Yields (x_list, y_list, sample_weight_list) of torch tensors on the device, for one epoch.

        `skip` drops the epoch's first batches without reading them (resuming mid-epoch).
        """
        for position, (start, stop, indices) in enumerate(self._slices(epoch)):
            if position >= skip:
                yield self.get_batch(start, stop, indices)

    def get_batch(self, start, stop, indices=None):
        x = [self._take(a, start, stop, indices) for a in self.x]
        y = [self._take(a, start, stop, indices) for a in self.y]
        sw = [self._take(a, start, stop, indices, weights=True) for a in self.sw]
        if self.class_weights:
            sw = apply_class_weights(self.class_weights, y, sw)
        return x, y, sw

    def _take(self, array, start, stop, indices, weights=False):
        if array is None:
            return None
        if self.in_memory:
            batch = array[start:stop] if indices is None else array.index_select(0, indices)
        else:
            # A read-only memmap slice is copied (one batch): torch must not alias read-only memory.
            batch = torch.from_numpy(np.require(_read(array, start, stop, indices), requirements=("C", "W")))
            if batch.dim() == 1:
                batch = batch.reshape(-1, 1) if not weights else batch
        return finish_batch(batch, self.device, weights)


def finish_batch(tensor, device, weights=False):
    """A batch tensor as the step wants it: floats as float32, (N, 1) weights as (N,), on the device."""
    if tensor.is_floating_point() and tensor.dtype != torch.float32:
        tensor = tensor.to(torch.float32)
    if weights and tensor.dim() == 2 and tensor.shape[1] == 1:
        tensor = tensor.reshape(-1)
    return to_device(tensor, device)


def to_device(tensor, device):
    if device.type == "cpu" or tensor.device == device:
        return tensor
    # Pinned host memory lets the copy run asynchronously while the previous step computes.
    return tensor.pin_memory().to(device, non_blocking=True)


def _batch_spec(order, start, stop, contiguous=False):
    """(start, stop, None) for a run of consecutive samples (read as a slice), else (.., .., index tensor).

    With shuffle='batch' every chunk is consecutive by construction; a shuffled order is used as indices.
    """
    if order is None:
        return start, stop, None
    if contiguous:
        first = int(order[start])
        return first, first + stop - start, None
    return start, stop, order[start:stop]


def _read(array, start, stop, indices):
    if indices is None:
        return array[start:stop]
    idx = np.sort(indices.numpy())  # h5py needs increasing indices; sorted reads are faster on disk
    try:
        return array[idx]
    except TypeError as error:  # h5py and HDF5Matrix want increasing lists
        try:
            return array[list(idx)]
        except TypeError:
            raise TypeError('TypeError while preparing batch. If using HDF5 input data, pass shuffle="batch".') \
                from error


def _batch_shuffle(num_samples, batch_size, rng):
    """Keras 2's shuffle='batch': whole chunks of batch_size keep their order; chunks are permuted."""
    index = np.arange(num_samples)
    full = num_samples // batch_size
    head = index[:full * batch_size].reshape(full, batch_size)
    rng.shuffle(head)
    return np.concatenate([head.reshape(-1), index[full * batch_size:]])


def validation_split_arrays(x_list, y_list, sw_list, validation_split):
    """Keras's validation_split: the LAST fraction of the samples, taken before any shuffling."""
    if not 0. <= validation_split < 1.:
        raise ValueError(f"`validation_split` must be in [0, 1). Received: validation_split={validation_split}")
    arrays = [a for a in x_list + y_list + sw_list if a is not None]
    if not all(structure.is_array_like(a) or isinstance(a, torch.Tensor) for a in arrays):
        raise ValueError("`validation_split` is only supported for NumPy arrays, torch tensors and array-likes "
                         "(h5py, memmap); it cannot split a generator or Sequence.")
    n = structure.num_samples(arrays[0])
    split_at = int(n * (1. - validation_split))
    if split_at == 0 or split_at == n:
        raise ValueError(f"Training data contains {n} samples, which is not sufficient to split it into a "
                         f"validation and training set as specified by `validation_split={validation_split}`. "
                         "Either provide more data, or a different value for the `validation_split` argument.")

    def cut(group, lo, hi):
        return [None if a is None else a[lo:hi] for a in group]

    train = (cut(x_list, 0, split_at), cut(y_list, 0, split_at), cut(sw_list, 0, split_at))
    val = (cut(x_list, split_at, n), cut(y_list, split_at, n), cut(sw_list, split_at, n))
    return train, val


def apply_class_weights(class_weights, y_list, sw_list):
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


def _check_classes_present(y, keys):
    sample = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y[: min(len(y), 100000)]))
    ids = set(structure.class_ids(sample).unique().tolist())
    missing = sorted(ids - keys)
    if missing:
        raise ValueError(f"`class_weight` must contain all classes in the data. The classes {missing} exist in the "
                         f"data but not in `class_weight` (keys {sorted(keys)}).")
