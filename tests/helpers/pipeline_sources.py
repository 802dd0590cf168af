"""Batch sources for pipeline tests: counting, faulty at batch k, slow, random, shardable.

Module-level classes so process workers (fork or spawn) can use them.
"""
import os
import random
import signal
import threading
import time

import numpy as np
import torch

from fitgen.data.generator import ShardableIterable
from fitgen.data.pipeline import get_worker_info
from fitgen.data.sequence import Sequence


class CountingSequence(Sequence):
    """Batch i = (x filled with i, y = [i, pid]); counts __getitem__ calls made in this process."""

    def __init__(self, length=10, shape=(4, 3), dtype=np.float32):
        self.length, self.shape, self.dtype = length, shape, dtype
        self.calls = []
        self._lock = threading.Lock()

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        with self._lock:
            self.calls.append(index)
        return np.full(self.shape, index, self.dtype), np.array([index, os.getpid()])


class EpochSequence(Sequence):
    """on_epoch_end bumps `epoch` and records the pid that ran it; batches report the epoch they saw."""

    def __init__(self, length=4):
        self.length, self.epoch, self.end_pids = length, 0, []

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        return np.array([index, self.epoch, os.getpid()])

    def on_epoch_end(self):
        self.epoch += 1
        self.end_pids.append(os.getpid())


class GrowingSequence(Sequence):
    """Batch i has i + 1 rows: slots must grow as batches get bigger."""

    def __init__(self, length=6, width=1000):
        self.length, self.width = length, width

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        return {"x": np.full((index + 1, self.width), index, np.float64), "n": index, "tag": f"b{index}"}


class RandomSequence(Sequence):
    """Batches drawn from the global RNGs of numpy, random and torch (augmentation-like)."""

    def __len__(self):
        return 6

    def __getitem__(self, index):
        import torch
        return np.concatenate([np.random.rand(3), [random.random()], torch.rand(1).numpy()])


class FaultySequence(Sequence):
    """Fails at batch `fail_at`: 'raise', 'exit' (os._exit(3)), 'kill' (SIGKILL self), 'hang'.

    With `once_marker` (a path), a kill/exit happens only the first time (the marker file remembers it
    across processes), so a retried batch succeeds. 'hang' waits on `release` (thread tests) or
    sleeps (process tests; close() terminates the worker).
    """

    def __init__(self, length=8, fail_at=3, mode="raise", once_marker=None, release=None):
        self.length, self.fail_at, self.mode = length, fail_at, mode
        self.once_marker, self.release = once_marker, release

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        if index == self.fail_at and self._should_fail():
            if self.mode == "raise":
                raise ValueError(f"bad sample in batch {index}")
            if self.mode == "exit":
                os._exit(3)
            if self.mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.mode == "hang":
                if self.release is not None:
                    self.release.wait(10)
                else:
                    time.sleep(60)
        return np.full((2, 2), index, np.float32)

    def _should_fail(self):
        if self.once_marker is None:
            return True
        try:
            fd = os.open(self.once_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.close(fd)
        return True


class CustomError(Exception):
    """An exception type only tests know, to check the type survives the trip from a worker."""


def raising_generator(fail_at, error=ValueError):
    for i in range(100):
        if i == fail_at:
            raise error(f"generator broke at item {i}")
        yield np.full((2,), i)


def counting_generator(limit=None, shape=(3,)):
    """Yields (x filled with i, i) forever or `limit` times; a plain, thread-unsafe generator."""
    i = 0
    while limit is None or i < limit:
        yield np.full(shape, i, np.float32), i
        i += 1


def dying_generator(die_at):
    for i in range(100):
        if i == die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        yield np.full((2,), i)


def random_generator():
    while True:
        yield np.random.rand(4)


class ShardedRange(ShardableIterable):
    """Items 0..n-1 split among workers by get_worker_info(); records the worker ids it saw."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        worker = -1 if info is None else info.id
        for i in range(start, self.n, step):
            yield np.array([i, worker])


class ObjectSequence(Sequence):
    def __len__(self):
        return 3

    def __getitem__(self, index):
        return np.array([object(), object()], dtype=object)


class SlowSequence(Sequence):
    """Each batch costs `delay` seconds of sleeping (for overlap checks)."""

    def __init__(self, length=8, delay=0.01):
        self.length, self.delay = length, delay

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        time.sleep(self.delay)
        return np.full((2,), index)


class Samples(torch.utils.data.Dataset):
    """A map-style torch Dataset of aligned (x[i], y[i]) samples."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], self.y[index]
