"""Keras 2's enqueuers (`keras.utils.OrderedEnqueuer`, `GeneratorEnqueuer`) on fitgen's data pipeline.

Keras 2 scripts that drive their own loop use them as

```python
enqueuer = OrderedEnqueuer(sequence, use_multiprocessing=True)
enqueuer.start(workers=4, max_queue_size=10)
batches = enqueuer.get()
for _ in range(steps):
    x, y = next(batches)
    ...
enqueuer.stop()
```

Both run on a `fitgen.data.pipeline.Prefetcher`, the producer that serves `fit_generator`, so they keep its
guarantees: a Sequence's batches arrive in order, each index exactly once per epoch, whatever the number of
workers, and `on_epoch_end` runs in this process after each epoch; a plain generator runs in one producer and
is never duplicated; a worker process that dies is restarted and its batch retried once; errors arrive with
the worker's traceback and the batch index; `stop()` (or garbage collection of an enqueuer nobody stopped)
leaves no thread, process or shared-memory segment behind.

Unlike Keras 2, batches are produced when `get()`'s generator is advanced (up to `max_queue_size` ahead of
the consumer), not by a background thread started in `start()`.
"""
import warnings

import numpy as np

from fitgen.data.generator import GeneratorSource
from fitgen.data.pipeline import Prefetcher


class SequenceEnqueuer:
    """Base class of the enqueuers: `start`, `get`, `stop`, `is_running` (Keras 2's interface).

    Args:
        sequence: the data source (a `fitgen.utils.Sequence`, or for `GeneratorEnqueuer` a generator).
        use_multiprocessing: produce batches in worker processes instead of threads.
    """

    def __init__(self, sequence, use_multiprocessing=False):
        self.sequence = sequence
        self.use_multiprocessing = bool(use_multiprocessing)
        self._prefetcher = None
        self._epoch = 0
        self.workers = 0

    def is_running(self):
        """True between `start()` and `stop()`."""
        return self._prefetcher is not None

    def start(self, workers=1, max_queue_size=10):
        """Starts the workers (a running enqueuer is stopped and started afresh).

        Args:
            workers: number of producers; 0 produces in the consumer's thread.
            max_queue_size: how many batches may be produced ahead of the consumer.
        """
        if workers is None or int(workers) < 0:
            raise ValueError(f"`workers` must be an integer >= 0. Received: workers={workers!r}")
        self.stop()
        self.workers = int(workers)
        self._epoch = 0
        self._prefetcher = self._make_prefetcher(self.workers, max_queue_size)
        self._prefetcher.start()

    def stop(self, timeout=None):
        """Stops the workers and frees their shared memory; a generator from `get()` then ends.

        `timeout` is accepted for Keras 2 compatibility: stopping is always bounded (workers busy in user
        code are terminated after a short grace; threads stuck there are daemons).
        """
        prefetcher, self._prefetcher = self._prefetcher, None
        if prefetcher is not None:
            prefetcher.close()

    def get(self):
        """A generator of batches (see the subclass); raises RuntimeError if the enqueuer is not running."""
        raise NotImplementedError

    def _make_prefetcher(self, workers, max_queue_size):
        raise NotImplementedError

    def _running_prefetcher(self):
        if self._prefetcher is None:
            raise RuntimeError(f"{type(self).__name__}.get() needs a running enqueuer: call start() first.")
        return self._prefetcher

    def _batches(self, prefetcher, forever):
        """Yields the batches of `prefetcher`'s epochs (one epoch unless `forever`) until it is stopped; an
        error stops the enqueuer, as in Keras 2. A `get()` generator merely dropped leaves it running."""
        try:
            while True:
                epoch, self._epoch = self._epoch, self._epoch + 1
                for batch in prefetcher.iter_epoch(epoch):
                    # Process workers hand over views of shared memory reused after this batch: copy, so a
                    # batch the caller keeps stays valid, as Keras 2's batches did.
                    yield _copy_arrays(batch) if prefetcher.use_multiprocessing else batch
                    if self._prefetcher is not prefetcher:
                        return  # stopped (or restarted) while the caller held this batch
                if not forever:
                    return
        except (Exception, KeyboardInterrupt):
            if self._prefetcher is prefetcher:
                self.stop()
            raise

    def __del__(self):
        # The Prefetcher's own finalizer frees everything too; stopping here makes it prompt.
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


class OrderedEnqueuer(SequenceEnqueuer):
    """Produces the batches of a `Sequence` in order, epoch after epoch, with `workers` threads or processes.

    Args:
        sequence: a `fitgen.utils.Sequence` (anything with `__len__` and `__getitem__`).
        use_multiprocessing: produce batches in worker processes (the Sequence is sent to them once; after
            `on_epoch_end`, its new state).
        shuffle: each epoch visits the batch indices in a new random order (seeded: `fitgen.backend.
            set_random_seed` makes it repeat).

    `get()` yields `len(sequence)` batches per epoch forever, calling `sequence.on_epoch_end()` between epochs.
    """

    def __init__(self, sequence, use_multiprocessing=False, shuffle=False):
        if not (hasattr(sequence, "__getitem__") and hasattr(sequence, "__len__")):
            raise TypeError("OrderedEnqueuer expects a Sequence (an object with __len__ and __getitem__). "
                            f"Received: {type(sequence).__name__}. Use GeneratorEnqueuer for a generator.")
        super().__init__(sequence, use_multiprocessing)
        self.shuffle = bool(shuffle)

    def _make_prefetcher(self, workers, max_queue_size):
        return Prefetcher(self.sequence, workers=workers, use_multiprocessing=self.use_multiprocessing,
                          max_queue_size=max_queue_size, shuffle=self.shuffle, name="enqueuer")

    def get(self):
        """Yields the Sequence's batches in order, `len(sequence)` per epoch, forever (until `stop()`)."""
        prefetcher = self._running_prefetcher()
        if len(self.sequence) == 0:
            return iter(())
        return self._batches(prefetcher, forever=True)


class GeneratorEnqueuer(SequenceEnqueuer):
    """Produces the items of a Python generator ahead of the consumer, in a thread or a process.

    Args:
        generator: a generator (or any iterator/iterable) yielding batches.
        use_multiprocessing: run the generator in a worker process (it is copied there when the process
            starts, so its items are produced in that process, not in the caller's copy).
        wait_time: accepted for Keras 2 compatibility; unused.
        seed: seeds NumPy, `random` and torch in the worker process.

    A plain generator always runs in one producer, whatever `workers` says: two copies of it would yield
    every batch twice, and two threads advancing it would collide (Keras 2 did both). For parallel loading,
    use a `Sequence` with `OrderedEnqueuer`. `get()` ends when the generator ends.
    """

    def __init__(self, generator, use_multiprocessing=False, wait_time=None, seed=None, **kwargs):
        generator = kwargs.pop("sequence", generator)
        seed = kwargs.pop("random_seed", seed)
        if kwargs:
            raise TypeError(f"GeneratorEnqueuer got unexpected keyword arguments: {sorted(kwargs)}")
        if wait_time is not None:
            warnings.warn("`wait_time` is not used anymore: fitgen's producers never poll.", DeprecationWarning,
                          stacklevel=2)
        if not (hasattr(generator, "__next__") or hasattr(generator, "__iter__")):
            raise TypeError(f"GeneratorEnqueuer expects a generator or iterator. Received: {type(generator).__name__}")
        super().__init__(generator, use_multiprocessing)
        self.seed = seed

    def _make_prefetcher(self, workers, max_queue_size):
        return Prefetcher(GeneratorSource(self.sequence), workers=workers,
                          use_multiprocessing=self.use_multiprocessing, max_queue_size=max_queue_size,
                          seed=self.seed, name="enqueuer")

    def get(self):
        """Yields the generator's items in order until it ends (or until `stop()`)."""
        return self._batches(self._running_prefetcher(), forever=False)


def _copy_arrays(batch):
    if isinstance(batch, np.ndarray):
        return batch.copy()
    if isinstance(batch, tuple):
        return tuple(_copy_arrays(item) for item in batch)
    if isinstance(batch, list):
        return [_copy_arrays(item) for item in batch]
    if isinstance(batch, dict):
        return {key: _copy_arrays(value) for key, value in batch.items()}
    return batch
