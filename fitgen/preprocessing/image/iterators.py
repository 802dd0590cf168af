"""Keras 2's image iterators as fitgen Sequences: `Iterator`, `NumpyArrayIterator`, `DirectoryIterator`.

NOTE [ fitgen image iterator seeding ]
Keras seeds the global `np.random` with `seed + total_batches_seen` at every batch, which is only
reproducible when one thread asks for the batches in order. fitgen derives the same numbers from the
position instead: batch `idx` of epoch `e` draws from `RandomState(seed + e * len(self) + idx)`, and the
order of epoch `e` is `RandomState(seed + e * len(self)).permutation(n)` (batch 0 of the epoch continues
that stream after the permutation, as Keras's first batch does). A single-threaded first epoch therefore
gives Keras's exact order and parameters, and any worker, thread or process, produces the same batch for
the same (epoch, idx). Without a seed, draws come from the global `np.random` (as in Keras), which
fitgen's process workers reseed per batch.

Decoding and augmentation happen in `__getitem__`, that is in the workers. An iterator holds only plain
data (file names, labels, the index array), so it pickles for process workers; the lock of the legacy
`next()` API is left out of the pickle.
"""
import math
import os
import threading
import warnings

import numpy as np

from fitgen import backend
from fitgen.data.sequence import Sequence
from fitgen.preprocessing.image import io as image_io

_batch_local = threading.local()


def _batch_rng():
    """The random source for the batch being built in this thread (global np.random when unseeded)."""
    return getattr(_batch_local, "rng", None) or np.random


def _seeded(seed):
    return np.random.RandomState(seed % 2 ** 32)


class Iterator(Sequence):
    """Base class for image data iterators: a `Sequence` of `ceil(n / batch_size)` batches.

    Subclasses implement `_get_batches_of_transformed_samples(index_array)`. `on_epoch_end()` advances
    the epoch and reshuffles; iterating the object directly (`next(it)`, `for batch in it`) loops forever
    over the data as Keras's iterators do.

    Args:
        n: number of samples.
        batch_size: samples per batch.
        shuffle: reshuffle the order every epoch.
        seed: makes the order and the random augmentation reproducible (see the module notes).
    """

    white_list_formats = image_io.WHITE_LIST_FORMATS

    def __init__(self, n, batch_size, shuffle, seed):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
        self.n = int(n)
        self.batch_size = int(batch_size)
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.batch_index = 0
        self.total_batches_seen = 0
        self._lock = threading.Lock()
        self.index_array = self._epoch_order(0)

    def _epoch_order(self, epoch, rng=None):
        if not self.shuffle:
            return np.arange(self.n)
        if rng is None:
            rng = np.random if self.seed is None else _seeded(self.seed + epoch * len(self))
        return rng.permutation(self.n)

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, idx):
        if not 0 <= idx < len(self):
            raise ValueError(f"Asked to retrieve element {idx}, but the Sequence has length {len(self)}")
        rng = None
        if self.seed is not None:
            rng = _seeded(self.seed + self.epoch * len(self) + idx)
            if idx == 0 and self.shuffle:
                rng.permutation(self.n)  # the epoch's order came first out of this stream
        index_array = self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)]
        return self._build_batch(index_array, rng)

    def on_epoch_end(self):
        self.epoch += 1
        self.index_array = self._epoch_order(self.epoch)

    def get_epoch_state(self):
        """What process workers need after `on_epoch_end`: the epoch number and its order."""
        return self.epoch, self.index_array

    def set_epoch_state(self, state):
        self.epoch, self.index_array = state

    def reset(self):
        self.batch_index = 0

    def _build_batch(self, index_array, rng):
        previous, _batch_local.rng = getattr(_batch_local, "rng", None), rng
        try:
            return self._get_batches_of_transformed_samples(index_array)
        finally:
            _batch_local.rng = previous

    # Keras's endless iteration (`next(it)`, `for x, y in it`), kept for scripts written against it.
    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self):
        """Returns the next batch, looping over the data forever and reshuffling at every wrap."""
        with self._lock:
            rng = None if self.seed is None else _seeded(self.seed + self.total_batches_seen)
            if self.batch_index == 0:
                self.index_array = self._epoch_order(self.epoch, rng)
            current = (self.batch_index * self.batch_size) % self.n if self.n else 0
            if self.n > current + self.batch_size:
                self.batch_index += 1
            else:
                self.batch_index = 0
            self.total_batches_seen += 1
            index_array = self.index_array[current:current + self.batch_size]
        return self._build_batch(index_array, rng)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _get_batches_of_transformed_samples(self, index_array):
        """Builds the batch for the sample indices `index_array`."""
        raise NotImplementedError(f"{type(self).__name__} must implement _get_batches_of_transformed_samples")

    def _save_batch(self, batch_x, index_array, hash_range):
        rng = _batch_rng()
        for i, j in enumerate(index_array):
            img = image_io.array_to_img(batch_x[i], self.data_format, scale=True)
            fname = f"{self.save_prefix}_{j}_{rng.randint(hash_range)}.{self.save_format}"
            img.save(os.path.join(self.save_to_dir, fname))


def _check_subset(subset):
    if subset not in (None, "training", "validation"):
        raise ValueError(f'`subset` must be "training", "validation" or None. Received: subset={subset!r}')


class NumpyArrayIterator(Iterator):
    """Iterator over images in a numpy array, augmented by an `ImageDataGenerator` (see its `flow`)."""

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False, sample_weight=None, seed=None,
                 data_format=None, save_to_dir=None, save_prefix="", save_format="png", subset=None,
                 ignore_class_split=False, dtype=None):
        self.dtype = dtype or backend.floatx()
        data_format = data_format or backend.image_data_format()
        if isinstance(x, (tuple, list)):
            x_misc = [np.asarray(a) for a in (x[1] if isinstance(x[1], list) else [x[1]])]
            x = x[0]
            for extra in x_misc:
                if len(x) != len(extra):
                    raise ValueError("All of the arrays in `x` should have the same length. Found a pair with: "
                                     f"len(x[0]) = {len(x)}, len(x[?]) = {len(extra)}")
        else:
            x_misc = []
        if y is not None and len(x) != len(y):
            raise ValueError("`x` (images tensor) and `y` (labels) should have the same length. Found: "
                             f"x.shape = {np.shape(x)}, y.shape = {np.shape(y)}")
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError("`x` (images tensor) and `sample_weight` should have the same length. Found: "
                             f"x.shape = {np.shape(x)}, sample_weight.shape = {np.shape(sample_weight)}")
        _check_subset(subset)
        if subset is not None:
            split_idx = int(len(x) * image_data_generator._validation_split)
            if (y is not None and not ignore_class_split
                    and not np.array_equal(np.unique(y[:split_idx]), np.unique(y[split_idx:]))):
                raise ValueError("Training and validation subsets have different number of classes after the "
                                 "split. If your numpy arrays are sorted by the label, you might want to shuffle "
                                 "them (or pass ignore_class_split=True).")
            part = slice(None, split_idx) if subset == "validation" else slice(split_idx, None)
            x, x_misc = x[part], [extra[part] for extra in x_misc]
            y = None if y is None else y[part]
            sample_weight = None if sample_weight is None else sample_weight[part]
        self.x = np.asarray(x, dtype=self.dtype)
        self.x_misc = x_misc
        if self.x.ndim != 4:
            raise ValueError(f"Input data in `NumpyArrayIterator` should have rank 4. You passed an array with "
                             f"shape {self.x.shape}")
        channels_axis = 3 if data_format == "channels_last" else 1
        if self.x.shape[channels_axis] not in (1, 3, 4):
            warnings.warn(f'NumpyArrayIterator is set to use the data format convention "{data_format}" (channels '
                          f'on axis {channels_axis}), i.e. expected either 1, 3, or 4 channels on axis '
                          f'{channels_axis}. However, it was passed an array with shape {self.x.shape} '
                          f'({self.x.shape[channels_axis]} channels).', stacklevel=2)
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.image_data_generator = image_data_generator
        self.data_format = data_format
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        super().__init__(self.x.shape[0], batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array):
        batch_x = self.x[index_array]
        if self.image_data_generator is not None:
            batch_x = self.image_data_generator._augment_batch(batch_x, _batch_rng())
        if self.save_to_dir:
            self._save_batch(batch_x, index_array, 10 ** 4)
        misc = [extra[index_array] for extra in self.x_misc]
        output = ([batch_x] + misc if misc else batch_x,)
        if self.y is None:
            return output[0]
        output += (self.y[index_array],)
        if self.sample_weight is not None:
            output += (self.sample_weight[index_array],)
        return output
