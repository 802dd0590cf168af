"""PyTorch data as fitgen batch sources: a map-style Dataset batched by fitgen, a DataLoader passed through.

`DatasetSource` makes an `IndexedSource` of a `torch.utils.data.Dataset` (anything with `__len__` and
`__getitem__` returning one sample), so fitgen's own workers, shared-memory transport and exactly-once
ordering apply. `DataLoaderSource` leaves the batching and the workers to the DataLoader and only
iterates it, one pass per epoch.
"""
import math

import numpy as np

from fitgen.data.pipeline.shm import map_structure, to_numpy_leaf
from fitgen.data.pipeline.sources import IndexedSource, StreamSource


def collate(samples):
    """Stacks samples into one batch along a new first axis, keeping their structure.

    Samples may be arrays, tensors or numbers, or tuples/lists/dicts of them, e.g. `(x, y)`,
    `(x, y, sample_weight)` or `({'input_1': x1, 'input_2': x2}, y)`.

    Raises:
        ValueError: when samples differ in structure or keys.
    """
    first = samples[0]
    if isinstance(first, dict):
        for sample in samples:
            if not isinstance(sample, dict) or sample.keys() != first.keys():
                raise ValueError("All samples of a batch must be dicts with the same keys. "
                                 f"Expected keys: {sorted(first)}. Received: {_describe(sample)}")
        return {key: collate([sample[key] for sample in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        for sample in samples:
            if not isinstance(sample, (tuple, list)) or len(sample) != len(first):
                raise ValueError("All samples of a batch must have the same structure. Expected a "
                                 f"{type(first).__name__} of length {len(first)}. Received: {_describe(sample)}")
        return tuple(collate([sample[i] for sample in samples]) for i in range(len(first)))
    return np.stack([np.asarray(to_numpy_leaf(sample)) for sample in samples])


def _describe(sample):
    if isinstance(sample, dict):
        return f"dict with keys {sorted(sample)}"
    if isinstance(sample, (tuple, list)):
        return f"{type(sample).__name__} of length {len(sample)}"
    return type(sample).__name__


class DatasetSource(IndexedSource):
    """A torch map-style Dataset, batched by fitgen.

    Args:
        dataset: a `torch.utils.data.Dataset` (or any object with `__len__` and `__getitem__`) whose items
            are single samples: an array/tensor, `(x, y)`, `(x, y, sample_weight)` or dicts.
        batch_size: samples per batch; the last batch may be smaller.
        shuffle: draw a new sample order every epoch (seeded by `seed`, reproducible).
        seed: seed of the sample order; None draws one from NumPy's global RNG.
        collate_fn: turns a list of samples into one batch (default: `collate`, stacking into NumPy).

    Process workers learn the new order after each epoch from a small state (the epoch count), not
    from a pickle of the whole dataset.
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, seed=None, collate_fn=None):
        if int(batch_size) < 1:
            raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size}")
        self.dataset, self.batch_size, self.shuffle = dataset, int(batch_size), bool(shuffle)
        self.seed = int(np.random.randint(0, 2 ** 31 - 1)) if seed is None else int(seed)
        self.collate_fn = collate_fn or collate
        self.changes_on_epoch_end = self.shuffle
        self._epoch = 0
        self._order = None

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def _sample_order(self):
        if not self.shuffle:
            return None
        if self._order is None or len(self._order) != len(self.dataset):
            self._order = np.random.default_rng([self.seed, self._epoch]).permutation(len(self.dataset))
        return self._order

    def get_batch(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} is out of range for {len(self)} batches.")
        order = self._sample_order()
        stop = min((index + 1) * self.batch_size, len(self.dataset))
        positions = range(index * self.batch_size, stop)
        samples = [self.dataset[int(order[p]) if order is not None else p] for p in positions]
        return self.collate_fn(samples)

    def on_epoch_end(self):
        self.set_epoch_state(self._epoch + 1)

    def get_epoch_state(self):
        return self._epoch

    def set_epoch_state(self, state):
        self._epoch, self._order = state, None

    def __getstate__(self):
        return dict(self.__dict__, _order=None)  # recomputed from (seed, epoch): cheap to send


class DataLoaderSource(StreamSource):
    """A torch DataLoader passed through: its batches, its workers; one pass over it per epoch.

    The stream chains passes over the loader, so with `steps_per_epoch = len(loader)` (the default the
    engine takes from `num_batches`) each epoch is exactly one pass and the loader's own sampler
    reshuffles as usual. The loader parallelises itself, so the Prefetcher iterates it in the caller's
    thread.

    Args:
        loader: a `torch.utils.data.DataLoader` (any re-iterable of batches).
        as_numpy: convert CPU tensors in each batch to NumPy arrays (views, no copy), like every other
            fitgen source; False leaves tensors as the loader made them (e.g. pinned or on a GPU).
    """

    runs_own_workers = True

    def __init__(self, loader, as_numpy=True):
        self.loader, self.as_numpy = loader, bool(as_numpy)
        self.keeps_tensors = not self.as_numpy
        try:
            self.num_batches = len(loader)
        except TypeError:  # an IterableDataset without __len__
            self.num_batches = None

    def stream(self):
        while True:
            produced = False
            for batch in self.loader:
                produced = True
                yield map_structure(_cpu_numpy, batch) if self.as_numpy else batch
            if not produced:
                return


def _cpu_numpy(value):
    if hasattr(value, "device") and getattr(value.device, "type", "cpu") != "cpu":
        return value
    return to_numpy_leaf(value)
