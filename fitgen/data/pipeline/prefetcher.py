"""Prefetcher: the one coordinator between a batch source, its workers and the training loop.

NOTE [ fitgen prefetch shutdown ]

Data flow (one Prefetcher per fit, workers started once and reused across epochs):

    epoch order (seeded)   indices ──► workers (inline | N threads | N processes)
                                          │ process workers write each batch once into a
                                          ▼ shared-memory slot (shm.py); only its layout is piped
    jobs deque (yield order) ◄── results (worker_id, task_id, status, payload), any order
          │ head job ready?  in order, exactly once; `timeout` bounds the wait; dead workers are
          ▼ seen at once through their sentinels (faults.py), restarted, their batch retried once
    consumer / device.py ──► numpy views of the slot (or tensors already on the device)
          │ the slot returns to the free pool when the consumer asks for the next batch
          ▼ (on CUDA: when the host→device copy's event has completed)

At most (max_queue_size + workers) batches exist at once: dispatch needs a free slot. Shutdown, on
close(), on any error escaping the consumer's loop (the engine closes us in a `finally`/`with`), on
KeyboardInterrupt, or from a finalizer if nobody closed us: (1) workers get `None` and exit; (2) after a
short grace, processes still busy in user code are terminated, then killed; threads stuck in user code
are daemons and are left (Python cannot stop them); (3) pipes close; (4) every slot is unlinked and the
/dev/shm prefix of this Prefetcher is swept, catching a segment a dead worker created. Workers ignore
SIGINT and exit when the parent dies (their pipe closes or their parent pid changes).
"""
import collections
import os
import pickle
import secrets
import time
import warnings
import weakref

import numpy as np

from fitgen.data.generator import GeneratorSource
from fitgen.data.pipeline import faults
from fitgen.data.pipeline import shm
from fitgen.data.pipeline import workers as _workers
from fitgen.data.pipeline.sources import SequenceSource

_POLL = 1.0  # seconds between liveness checks while waiting without a timeout


class _Job:
    __slots__ = ("task_id", "worker_id", "index", "label", "epoch", "slot", "message", "stale", "attempts")

    def __init__(self, task_id, worker_id, index, label, epoch, slot):
        self.task_id, self.worker_id, self.index, self.label = task_id, worker_id, index, label
        self.epoch, self.slot, self.message, self.stale, self.attempts = epoch, slot, None, False, 0


class Prefetcher:
    """Produces a source's batches ahead of the training loop, in order, with bounded memory.

    Args:
        source: an `IndexedSource` (e.g. `SequenceSource(sequence)`) or a `StreamSource` (e.g.
            `GeneratorSource(generator)`). A bare Sequence or iterable is wrapped for you.
        workers: 0 runs everything in the caller's thread; N runs N producers. A plain generator always
            runs in one producer (it cannot be split without duplicating data).
        use_multiprocessing: producers are processes (batches travel through shared memory) instead of
            threads.
        max_queue_size: batches produced ahead of the consumer (at least 1).
        shuffle: for an indexed source, a new batch order every epoch, seeded from (seed, epoch).
        seed: base seed for the shuffle order and for process workers' RNGs (reseeded per batch from
            (seed, epoch, index)). None draws one from NumPy's global RNG, so
            `fitgen.backend.set_random_seed` makes runs repeat.
        timeout: seconds the consumer may wait for one batch before TimeoutError (None: no limit).
        device: None yields NumPy arrays; a torch device yields tensors on it (CUDA: pinned, copied
            asynchronously one batch ahead, see device.py).
        name: names threads and processes (`fitgen-train-worker-0`).
        start_method: multiprocessing start method; default 'fork' where available, else 'spawn'.

    Batches are yielded by `iter_epoch`; their arrays may be views of shared memory that stay valid
    until the consumer asks for the next batch ("release on next()"): copy what must outlive the step.
    """

    def __init__(self, source, workers=1, use_multiprocessing=False, max_queue_size=10, shuffle=False,
                 seed=None, timeout=None, device=None, name="train", start_method=None):
        self._source = as_source(source)
        self._indexed = hasattr(self._source, "get_batch")
        workers = int(workers)
        if workers < 0:
            raise ValueError(f"`workers` must be >= 0. Received: workers={workers}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"`timeout` must be a positive number of seconds or None. Received: timeout={timeout}")
        if not self._indexed:
            if getattr(self._source, "runs_own_workers", False):
                workers = 0
            elif not getattr(self._source, "shardable", False) and workers > 1:
                warnings.warn(
                    f"fitgen runs a Python generator in a single producer, not in {workers} workers: copies of "
                    "a generator would yield every batch several times and threads sharing one would collide. "
                    "For parallel loading use a fitgen.utils.Sequence, or a fitgen.data.generator."
                    "ShardableIterable that takes its share through get_worker_info().", stacklevel=2)
                workers = 1
        self.workers = workers
        self.use_multiprocessing = bool(use_multiprocessing) and workers > 0
        self.shuffle, self.timeout, self.name = bool(shuffle), timeout, name
        self.max_queue_size = max(1, int(max_queue_size or 1))
        self.seed = int(np.random.randint(0, 2 ** 31 - 1)) if seed is None else int(seed)
        self._max_in_flight = 1 if workers == 0 else self.max_queue_size + workers - 1
        self._start_method = start_method
        self._device = device
        self._feeder = None
        self._pool = self._slots = self._finalizer = None
        self._started = self._closed = False
        self.exhausted = False
        self._jobs = collections.deque()
        self._by_task = {}
        self._load = []
        self._ended_workers = set()
        self._next_task = 0
        self._stream_position = 0
        self._round_robin = 0
        self._generation = 0
        self._held = []
        self._pending_epoch_end = False
        self._order_position = 0
        self.restarts = 0
        self._reset_stats()

    # ------------------------------------------------------------ lifecycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def start(self):
        """Starts the workers (once per fit; later calls do nothing)."""
        if self._closed:
            raise RuntimeError("This Prefetcher is closed; create a new one for a new fit.")
        if self._started:
            return
        self._started = True
        size = self.workers if (self._indexed or getattr(self._source, "shardable", False)) else min(self.workers, 1)
        if self.workers == 0:
            self._pool = _workers.InlinePool(self._source, self.seed)
        elif not self.use_multiprocessing:
            self._pool = _workers.ThreadPool(size, self._source, self.seed, self.name)
        else:
            prefix = f"{shm.PREFIX}{os.getpid()}_{secrets.token_hex(3)}_"
            lookahead = 1 if self._device is not None else 0
            self._slots = shm.SlotPool(prefix, self._max_in_flight + 1 + lookahead)
            method = self._start_method or _default_start_method()
            self._pool = _workers.ProcessPool(size, self._source, self.seed, self.name, method, prefix)
        self._finalizer = weakref.finalize(self, _shutdown, self._pool, self._slots)
        self._load = [0] * self._pool.size
        if self._device is not None:
            from fitgen.data.pipeline.device import DeviceFeeder
            self._feeder = DeviceFeeder(self._device, self._slots)
        self._pool.start()

    def close(self):
        """Stops workers and frees shared memory; prompt, ordered and idempotent."""
        if self._closed:
            return
        self._closed = True
        self._jobs.clear()
        self._by_task.clear()
        self._held = []
        try:
            if self._feeder is not None:
                self._feeder.close()
        finally:
            if self._finalizer is not None:
                self._finalizer()

    # ------------------------------------------------------------ epochs

    def iter_epoch(self, epoch, steps=None, order=None):
        """Iterates one epoch's batches in order.

        Indexed source: `steps` (default `len(source)`) batches of this epoch's order (a seeded
        permutation when shuffling, else 0, 1, ...); beyond `len(source)` the next pass's order follows.
        `order` replaces that order with the given batch indices (any picklable keys the source's
        `get_batch` understands, e.g. a rank's share of the indices, or the sample slices of an array
        source); errors then name a batch by its position in `order` unless the key is an int.
        Once the epoch is consumed (or, if it was abandoned, before the next one starts),
        `source.on_epoch_end()` runs here, and process workers receive its new state: the result of
        `get_epoch_state()` if the source has it, else a pickle of the source (a cost per epoch per
        worker), or, for unpicklable sources under 'fork', fresh workers.

        Stream: the next `steps` items (None: until it ends) of the one stream; when it runs out the
        iterator ends early and `exhausted` becomes True.
        """
        self.start()
        self._generation += 1
        self._finish_previous_epoch()
        self._reset_stats()
        self._order_position = 0
        if self._indexed:
            if order is None:
                length = len(self._source)
                steps = length if steps is None else int(steps)
                order = self.epoch_order(epoch, length, steps)
            else:
                order = iter(order)
            self._pending_epoch_end = True
        else:
            order = None
        host = self._iter_host(self._generation, epoch, steps, order)
        if self._feeder is not None:
            return self._feeder.iterate(host, self._hold, self._release)
        return self._iter_cpu(host)

    def _iter_cpu(self, host):
        for batch, job in host:
            self._hold(job)
            yield batch
            self._release(job)

    def _iter_host(self, generation, epoch, steps, order):
        if not self._indexed and self.exhausted:
            return
        yielded = 0
        while steps is None or yielded < steps:
            job = self._next_job(epoch, order, None if steps is None else steps - yielded)
            if job is None:
                break
            self.batches += 1
            yield self._materialize(job), job
            if generation != self._generation:
                return  # a newer epoch took over; it cleans up after this one
            yielded += 1
        if self._indexed and generation == self._generation:
            self._end_epoch()

    def epoch_order(self, epoch, length, steps):
        """Batch indices of epoch `epoch`: `steps` of them over passes of a seeded permutation (or 0, 1, ...)."""
        produced, pass_number = 0, 0
        while produced < steps and length > 0:
            if self.shuffle:
                order = np.random.default_rng([self.seed, epoch, pass_number]).permutation(length)
            else:
                order = range(length)
            for index in order:
                if produced >= steps:
                    return
                produced += 1
                yield int(index)
            pass_number += 1

    def _finish_previous_epoch(self):
        for job in list(self._held):
            self._release(job)
        if self._indexed:
            for job in self._jobs:  # an abandoned epoch's batches: drop them as they arrive
                job.stale = True
                if job.message is not None:
                    self._release(job)
            self._jobs.clear()
            if self._pending_epoch_end:
                self._drain_stale()
                self._end_epoch()

    def _end_epoch(self):
        self._pending_epoch_end = False
        self._source.on_epoch_end()
        if self.use_multiprocessing and getattr(self._source, "changes_on_epoch_end", True):
            self._send_state()

    def _send_state(self):
        if hasattr(self._source, "get_epoch_state"):
            self._pool.send_state("epoch", self._source.get_epoch_state())
            return
        try:
            payload = pickle.dumps(self._source, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            if self._pool._context.get_start_method() != "fork":
                raise TypeError(
                    f"{type(self._source).__name__}.on_epoch_end changed the source, and process workers can only "
                    f"see the change through a pickle of it, which failed: {error}. Make the source picklable, "
                    "or define get_epoch_state()/set_epoch_state().") from error
            self._drain_stale()
            for worker_id in range(self._pool.size):  # fork copies the changed source into new workers
                self._pool.restart(worker_id)
                self.restarts += 1
            return
        self._pool.send_state("pickle", payload)

    # ------------------------------------------------------------ dispatch and collection

    def _dispatch(self, epoch, order, remaining):
        while len(self._jobs) < self._max_in_flight:
            if remaining is not None and not self._indexed and len(self._jobs) >= remaining:
                return
            worker_id = self._choose_worker()
            if worker_id is None:
                return
            slot = None
            if self._slots is not None:
                slot = self._slots.acquire()
                if slot is None:
                    return
            if self._indexed:
                index = next(order, None)
                if index is None:
                    if slot is not None:
                        self._slots.release(slot)
                    return
                label = index if isinstance(index, (int, np.integer)) else self._order_position
                self._order_position += 1
            else:
                index, label = None, self._stream_position
                self._stream_position += 1
            job = _Job(None, worker_id, index, label, epoch, slot)
            self._jobs.append(job)
            self._submit(job)

    def _choose_worker(self):
        if self._indexed:
            return min(range(len(self._load)), key=self._load.__getitem__)
        active = [w for w in range(len(self._load)) if w not in self._ended_workers]
        if not active:
            return None
        self._round_robin += 1
        return active[(self._round_robin - 1) % len(active)]

    def _submit(self, job):
        job.task_id = self._next_task
        self._next_task += 1
        self._by_task[job.task_id] = job
        self._load[job.worker_id] += 1
        ticket = job.slot.ticket(self._slots.prefix) if job.slot is not None else None
        self._pool.submit(job.worker_id, (job.task_id, job.epoch, job.index, ticket))

    def _next_job(self, epoch, order, remaining):
        """The next batch's job, in order; None once a stream has ended."""
        started = time.monotonic()
        try:
            while True:
                self._dispatch(epoch, order, remaining)
                if not self._jobs:
                    if not self._indexed:
                        self.exhausted = True
                    return None
                job = self._jobs[0]
                if job.message is None:
                    self._collect(job, started)
                    continue
                self._jobs.popleft()
                status, payload = job.message[2], job.message[3]
                if status == "ok":
                    return job
                self._release(job)
                if status == "end":
                    self._ended_workers.add(job.worker_id)
                    continue
                payload.index = job.label
                payload.reraise()
        finally:
            self.wait_time += time.monotonic() - started

    def _collect(self, job, started):
        wait = _POLL
        if self.timeout is not None:
            wait = self.timeout - (time.monotonic() - started)
            if wait <= 0:
                raise faults.batch_timeout_error(job.label, self.timeout)
        messages, deaths = self._pool.poll(min(wait, _POLL))
        for message in messages:
            self._arrive(message)
        for worker_id, exitcode in deaths:
            self._handle_death(worker_id, exitcode)

    def _arrive(self, message):
        job = self._by_task.pop(message[1], None)
        if job is None:
            return
        self._load[job.worker_id] -= 1
        job.message = message
        if job.slot is not None and message[2] == "ok":
            self._slots.adopt(job.slot, message[3])
        if job.stale:
            self._release(job)

    def _handle_death(self, worker_id, exitcode):
        lost = sorted((job for job in self._by_task.values() if job.worker_id == worker_id),
                      key=lambda job: job.task_id)
        if not self._indexed:
            label = lost[0].label if lost else self._stream_position
            raise faults.worker_died_error(worker_id, exitcode, label, False, "stream")
        for job in lost:
            del self._by_task[job.task_id]
        self._load[worker_id] = 0
        live = [job for job in lost if not job.stale]
        for job in lost:
            if job.stale:
                self._release(job)
        if live:
            live[0].attempts += 1  # the batch it was working on; the rest were only queued
            if live[0].attempts > 1:
                raise faults.worker_died_error(worker_id, exitcode, live[0].label, True, "indexed")
            warnings.warn(f"fitgen data pipeline: worker process {worker_id} died "
                          f"({faults.describe_exit(exitcode)}) while producing batch {live[0].label}; "
                          "restarting it and retrying the batch once.", RuntimeWarning, stacklevel=2)
        self._pool.restart(worker_id)
        self.restarts += 1
        for job in live:
            self._submit(job)

    def _drain_stale(self):
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while self._by_task:
            if deadline is not None and time.monotonic() > deadline:
                raise faults.batch_timeout_error(next(iter(self._by_task.values())).label, self.timeout)
            messages, deaths = self._pool.poll(_POLL)
            for message in messages:
                self._arrive(message)
            for worker_id, exitcode in deaths:
                self._handle_death(worker_id, exitcode)

    def _materialize(self, job):
        payload = job.message[3]
        if job.slot is None:
            return payload
        return self._slots.view(job.slot, payload)

    def _hold(self, job):
        self._held.append(job)

    def _release(self, job):
        if job in self._held:
            self._held.remove(job)
        if job.slot is not None and self._slots is not None:
            slot, job.slot = job.slot, None
            self._slots.release(slot)

    # ------------------------------------------------------------ statistics

    def _reset_stats(self):
        self.wait_time = 0.0
        self.batches = 0
        self._epoch_started = time.monotonic()

    def epoch_stats(self):
        """{'data_wait': seconds blocked waiting, 'batches': n, 'elapsed': seconds, ...} for this epoch."""
        return {"data_wait": self.wait_time, "batches": self.batches,
                "elapsed": time.monotonic() - self._epoch_started, "workers": self.workers,
                "use_multiprocessing": self.use_multiprocessing, "restarts": self.restarts,
                "slots": len(self._slots) if self._slots is not None else 0}


def _shutdown(pool, slots):
    try:
        if pool is not None:
            pool.close()
    finally:
        if slots is not None:
            slots.close()


def _default_start_method():
    import multiprocessing
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def as_source(source):
    """An IndexedSource/StreamSource as is; a bare Sequence or iterable wrapped in the matching source."""
    if hasattr(source, "get_batch") or hasattr(source, "stream"):
        return source
    if hasattr(source, "__getitem__") and hasattr(source, "__len__"):
        return SequenceSource(source)
    if hasattr(source, "__iter__") or hasattr(source, "__next__"):
        return GeneratorSource(source)
    raise TypeError("Prefetcher expects an IndexedSource, a StreamSource, a Sequence or an iterable. "
                    f"Received: {type(source).__name__}")
