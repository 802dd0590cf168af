"""Batches from arrays: in-memory NumPy/torch, and out-of-core memmaps, h5py Datasets and HDF5Matrix.

Who owns which argument: batch_size, shuffle (True / False / 'batch'), steps_per_epoch, class_weight and
sample_weight are applied here; the loop only asks for one epoch's batches.

An epoch is a *plan*: the (start, stop, indices-or-None) of each batch, a function of (seed, epoch), so a
resumed run (BackupAndRestore) and every rank of a distributed run agree on it. In-memory data is wrapped once
as torch tensors (no copy) and each batch is one gather (or a free slice when the order is contiguous).
Out-of-core data is an indexed source like a `Sequence`: its batches are read by the data pipeline's workers
(one thread by default, `workers=N` threads, or processes with `use_multiprocessing=True` for memmaps), so
reading the next batches from disk overlaps the current step. A plain HDF5 dataset of a read-only file is read
through a memmap of its bytes (`_file_view`), like a .npy file. With shuffle='batch' each read is one contiguous
slice; with shuffle=True the indices of a batch are sorted before reading, since h5py needs increasing indices
and sorted reads are far faster on disk. Memory never grows with the data set size.
"""
import math
import mmap
import os

import numpy as np
import torch

from fitgen.data import structure
from fitgen.data.data_adapter import DataAdapter
from fitgen.data.batch import BatchFinisher, as_tensor
from fitgen.data.pipeline import IndexedSource, Prefetcher
from fitgen.data.weights import apply_class_weights, check_classes_present


# Batches of out-of-core arrays read ahead of the step: enough to hide the disk behind the steps, few enough that
# peak memory stays a handful of batches whatever the file size.
READ_AHEAD = 2


def _in_memory(array):
    return isinstance(array, torch.Tensor) or (type(array) is np.ndarray)


def _wrap(array):
    if isinstance(array, torch.Tensor):
        return array
    # float64 data is cast per batch (BatchFinisher), so the data set is never copied whole.
    if not array.flags.writeable:
        array = np.array(array)  # torch cannot alias read-only memory safely
    return torch.from_numpy(np.ascontiguousarray(array))


def _file_view(array):
    """A contiguous, uncompressed h5py Dataset of a file opened read-only, as a read-only memmap of its bytes.

    Its batches are then read as a memmap's are (one `pread` each with the GIL released, process workers
    allowed: no h5py handle crosses a fork), instead of through h5py's global lock. Anything else (chunked or
    compressed data, a file open for writing whose bytes may not be flushed, or read while a writer appends
    (SWMR), other drivers, a user block) is returned as it is and read by h5py.
    """
    if not (type(array).__module__ or "").startswith("h5py") or type(array).__name__ != "Dataset":
        return array
    try:
        file = array.file
        plain = (array.chunks is None and array.external is None and file.mode == "r" and not file.swmr_mode
                 and file.driver == "sec2" and file.userblock_size == 0 and array.dtype.kind in "biuf"
                 and array.dtype.fields is None)
        offset = array.id.get_offset() if plain else None
    except (AttributeError, TypeError, ValueError):
        return array
    if offset is None or not array.shape or array.size == 0:
        return array
    return np.memmap(file.filename, dtype=array.dtype, mode="r", offset=offset, shape=array.shape)


def _is_hdf5(array):
    module = type(array).__module__ or ""
    return module.startswith("h5py") or type(array).__name__ == "HDF5Matrix"


class ArrayAdapter(DataAdapter):
    """One epoch of batches at a time from aligned lists of arrays (x, y and sample-weight per output).

    Args:
        x_list, y_list, sw_list: arrays aligned with the model's inputs, outputs and outputs (None: absent).
        batch_size: samples per batch (default 32, or ceil(samples / steps) with `steps`).
        shuffle: True, False or 'batch'.
        steps: batches per epoch; batches then continue across epochs, as tf-keras does.
        class_weights: per output, (table tensor, keys) or None.
        finisher: the `BatchFinisher` that casts and moves batches (default: float32 on the CPU).
        workers, use_multiprocessing, max_queue_size, timeout: how out-of-core arrays are read (see module).
    """

    indexed = True

    def __init__(self, x_list, y_list, sw_list, batch_size=32, shuffle=True, steps=None, class_weights=None,
                 device=None, finisher=None, workers=1, use_multiprocessing=False, max_queue_size=10,
                 timeout=None):
        self.num_samples = structure.num_samples(next(a for a in x_list if a is not None))
        if steps is not None and batch_size is None:
            batch_size = max(1, math.ceil(self.num_samples / steps))
        self.batch_size = batch_size or 32
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"`shuffle` must be True, False or 'batch'. Received: shuffle={shuffle!r}")
        self.shuffle = shuffle
        self.steps = steps
        self.finisher = finisher or BatchFinisher(device=device)
        self.class_weights = class_weights  # list per output: (table tensor, keys) or None
        arrays = [x_list, y_list, sw_list]
        self.in_memory = all(_in_memory(a) for group in arrays for a in group if a is not None)
        convert = _wrap if self.in_memory else _file_view
        self.x = [None if a is None else convert(a) for a in x_list]
        self.y = [None if a is None else convert(a) for a in y_list]
        self.sw = [None if a is None else convert(a) for a in sw_list]
        # Epoch e's order comes from (seed, e): a resumed run (BackupAndRestore) replays the same batches.
        self.seed = int(np.random.randint(0, 2 ** 31 - 1))
        if class_weights:
            for table_and_keys, y in zip(class_weights, self.y):
                if table_and_keys is not None and y is not None:
                    check_classes_present(y, table_and_keys[1])
        self._prefetcher = None
        if not self.in_memory and workers:
            # h5py handles are not fork-safe: HDF5 data read by h5py stays on threads; memmaps (and the plain
            # HDF5 datasets read through a file view) may use processes.
            processes = use_multiprocessing and not any(
                _is_hdf5(a) for g in (self.x, self.y, self.sw) for a in g if a is not None)
            casts = self.finisher.read_casts(self.x, self.y, self.sw)
            self._prefetcher = Prefetcher(_ArraySource(self, casts), workers=workers, use_multiprocessing=processes,
                                          max_queue_size=min(max_queue_size, READ_AHEAD), timeout=timeout,
                                          name="arrays")

    @property
    def device(self):
        return self.finisher.device

    @device.setter
    def device(self, value):
        self.finisher.device = value

    def close(self):
        if self._prefetcher is not None:
            self._prefetcher.close()

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

    def epoch_plan(self, epoch):
        """(start, stop, indices-or-None) for each batch of this epoch."""
        if self.steps is None:
            order = self._epoch_order(epoch)
            for start in range(0, self.num_samples, self.batch_size):
                stop = min(start + self.batch_size, self.num_samples)
                yield batch_spec(order, start, stop, self.shuffle == "batch")
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
            yield batch_spec(orders[pass_number], start, min(start + self.batch_size, self.num_samples),
                             self.shuffle == "batch")

    def epoch_batches(self, epoch=0, skip=0, plan=None):
        """Yields (x_list, y_list, sample_weight_list) of torch tensors on the device, for one epoch.

        `plan` replaces the epoch's own batch specs (a rank's share); `skip` drops its first batches without
        reading them (resuming mid-epoch).
        """
        specs = self.epoch_plan(epoch) if plan is None else iter(plan)
        for _ in range(skip):
            if next(specs, None) is None:
                return
        if self._prefetcher is None:
            for start, stop, indices in specs:
                yield self.get_batch(start, stop, indices)
            return
        for arrays in self._prefetcher.iter_epoch(epoch, order=specs):
            yield self._finish(*(list(map(_numpy_tensor, group)) for group in arrays))

    def get_batch(self, start, stop, indices=None):
        """One batch, read in the caller's thread."""
        if self.in_memory:
            groups = ([_take_in_memory(a, start, stop, indices) for a in group] for group in (self.x, self.y, self.sw))
        else:
            groups = ([_numpy_tensor(a) for a in group] for group in _read_groups(self, (start, stop, indices)))
        return self._finish(*groups)

    def _finish(self, x, y, sw):
        x, y, sw = self.finisher.finish(x, y, sw)
        if self.class_weights:
            sw = apply_class_weights(self.class_weights, y, sw)
        return x, y, sw

    def epoch_stats(self):
        if self._prefetcher is None:
            return {}
        stats = self._prefetcher.epoch_stats()
        return {"data_wait": min(1.0, stats["data_wait"] / max(stats["elapsed"], 1e-9))}


class _ArraySource(IndexedSource):
    """Out-of-core arrays as an indexed source: `get_batch((start, stop, indices))` reads one batch, already
    cast where the cast narrows (float64 files become float32 batches in the worker)."""

    changes_on_epoch_end = False
    deterministic = True  # reading draws no random numbers; its keys are (start, stop, indices) specs

    def __init__(self, adapter, casts):
        self.x, self.y, self.sw = adapter.x, adapter.y, adapter.sw
        self.casts = casts
        self.num_batches = adapter.num_batches()

    def __len__(self):
        return self.num_batches

    def get_batch(self, spec):
        return _read_groups(self, spec, self.casts)


def _read_groups(owner, spec, casts=None):
    start, stop, indices = spec
    casts = casts or ([None] * len(owner.x), [None] * len(owner.y), [None] * len(owner.sw))
    return tuple([_take_out_of_core(a, start, stop, indices, weights, cast) for a, cast in zip(group, group_casts)]
                 for group, group_casts, weights in ((owner.x, casts[0], False), (owner.y, casts[1], False),
                                                     (owner.sw, casts[2], True)))


def _numpy_tensor(array):
    return None if array is None else as_tensor(array)


def _take_in_memory(array, start, stop, indices):
    if array is None:
        return None
    return array[start:stop] if indices is None else array.index_select(0, indices)


def _take_out_of_core(array, start, stop, indices, weights, cast=None):
    if array is None:
        return None
    batch = _read(array, start, stop, indices)
    if cast is not None:
        batch = batch.astype(cast)
    # A read-only memmap slice is copied (one batch): torch must not alias read-only memory.
    batch = np.require(batch, requirements=("C", "W"))
    if batch.ndim == 1 and not weights:
        batch = batch.reshape(-1, 1)
    return batch


def batch_spec(order, start, stop, contiguous=False):
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
        return _read_file_rows(array, start, stop) if _preadable(array) else array[start:stop]
    idx = np.sort(np.asarray(indices))  # h5py needs increasing indices; sorted reads are faster on disk
    try:
        return array[idx]
    except TypeError as error:  # h5py and HDF5Matrix want increasing lists
        try:
            return array[list(idx)]
        except TypeError:
            raise TypeError('TypeError while preparing batch. If using HDF5 input data, pass shuffle="batch".') \
                from error


def _preadable(array):
    # A shared (not copy-on-write) memmap whose rows are contiguous in its file.
    return isinstance(array, np.memmap) and getattr(array, "_mmap", None) is not None and \
        getattr(array, "mode", "c") in ("r", "r+", "w+", "readonly", "readwrite", "write") and \
        array.flags.c_contiguous and bool(getattr(array, "filename", None))


def _read_file_rows(array, start, stop):
    """Rows [start, stop) of a memmap, read with one `pread` into a new array.

    Touching a cold memmap faults its pages in one at a time while holding the GIL; one large read releases
    the GIL for its whole duration and lets the disk stream, so reader threads truly overlap the training step.
    """
    rows = array[start:stop]
    out = np.empty(rows.shape, rows.dtype)
    if out.nbytes == 0:
        return out
    mapped_at = np.frombuffer(array._mmap, dtype=np.uint8).__array_interface__["data"][0]
    mapping_offset = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY
    position = mapping_offset + rows.__array_interface__["data"][0] - mapped_at
    fd = os.open(array.filename, os.O_RDONLY)
    try:
        view, done = memoryview(out).cast("B"), 0
        while done < out.nbytes:
            read = os.preadv(fd, [view[done:]], position + done)
            if read <= 0:
                raise OSError(f"Short read from {array.filename!r}: {done} of {out.nbytes} bytes at {position}.")
            done += read
    finally:
        os.close(fd)
    return out


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
