"""Worker bodies (module-level `_thread_loop` / `_process_loop`, as in torch's _utils/worker.py) and the
parent-side handles that start, feed, poll and stop them.

Only prefetcher.py decides what to ask for and in which order; this module moves tasks and results.
Messages (see NOTE [ fitgen prefetch shutdown ] in prefetcher.py):

    parent -> worker   (task_id, epoch, index, ticket)   index None = "next item of the stream";
                                                          ticket = shared-memory slot (processes only)
                       ("state", how, payload)            the source changed in on_epoch_end
                       None                               exit
    worker -> parent   (worker_id, task_id, status, payload)   status: "ok" | "err" | "end"
"""
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import random
import sys
import threading
import time

import numpy as np

from fitgen.data.pipeline import faults
from fitgen.data.pipeline import shm

_STREAM_KEY = 2 ** 32  # keeps stream seeds apart from (epoch, index) batch seeds
_JOIN_GRACE = 0.5


class WorkerInfo:
    """What `get_worker_info()` returns inside a worker.

    Attributes:
        id: the worker's number, 0 .. num_workers - 1.
        num_workers: how many workers share the source.
        seed: this worker's seed for the current epoch, derived from the Prefetcher's seed.
        epoch: the epoch whose batches the worker is producing.
        source: the worker's copy of the batch source.
    """

    def __init__(self, worker_id, num_workers, base_seed, source, epoch=0):
        self.id, self.num_workers, self.source = worker_id, num_workers, source
        self._base_seed = base_seed
        self.epoch = None
        self.set_epoch(epoch)

    def set_epoch(self, epoch):
        if epoch != self.epoch:
            self.epoch = epoch
            self.seed = derive_seed([self._base_seed, epoch, _STREAM_KEY + self.id])

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, epoch={self.epoch})"


_process_info = None
_thread_local = threading.local()


def get_worker_info():
    """Inside a fitgen worker (thread or process): its `WorkerInfo`; in the main thread: None.

    A shardable iterable calls this in `__iter__` to take its share, like torch's get_worker_info.
    """
    info = getattr(_thread_local, "info", None)
    return info if info is not None else _process_info


def derive_seed(key):
    state = np.random.SeedSequence([int(k) for k in key]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 32) | int(state[1])


def reseed(seed):
    """Seeds numpy, random and (if the worker imported it) torch: different per batch, reproducible."""
    np.random.seed(seed % 2 ** 32)
    random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


class _WorkerState:
    def __init__(self, worker_id, num_workers, source, base_seed, where, reseeds):
        self.info = WorkerInfo(worker_id, num_workers, base_seed, source)
        self.source, self.base_seed, self.where, self.reseeds = source, base_seed, where, reseeds
        self.iterator = None

    def produce(self, epoch, index):
        self.info.set_epoch(epoch)
        if index is not None:
            if self.reseeds and not getattr(self.source, "deterministic", False):
                reseed(derive_seed([self.base_seed, epoch, index]))
            return self.source.get_batch(index)
        if self.iterator is None:
            if self.reseeds:
                reseed(derive_seed([self.base_seed, _STREAM_KEY + self.info.id]))
            self.iterator = iter(self.source.stream())
        return next(self.iterator)

    def execute(self, task, slots=None):
        task_id, epoch, index, ticket = task
        try:
            batch = self.produce(epoch, index)
            if slots is None:
                keep = getattr(self.source, "keeps_tensors", False)
                payload = batch if keep else shm.map_structure(shm.to_numpy_leaf, batch)
            else:
                payload = slots.write(ticket, batch, index)
        except StopIteration:
            if index is not None:  # a Sequence raising StopIteration is an error, not an end
                return (self.info.id, task_id, "err",
                        faults.WorkerError(RuntimeError("__getitem__ raised StopIteration"), index, self.where))
            return (self.info.id, task_id, "end", None)
        except Exception as error:
            return (self.info.id, task_id, "err", faults.WorkerError(error, index, self.where))
        return (self.info.id, task_id, "ok", payload)

    def close(self):
        # Closing a generator of ours runs its `finally` blocks (a DataLoader iterator shuts its workers down);
        # the user's own generator is only let go, never closed.
        iterator, self.iterator = self.iterator, None
        if hasattr(iterator, "close") and not getattr(self.source, "borrowed", False):
            iterator.close()

    def apply_state(self, how, payload):
        if how == "pickle":
            self.source = self.info.source = pickle.loads(payload)
        else:
            self.source.set_epoch_state(payload)


# ---------------------------------------------------------------- worker bodies

def _thread_loop(worker_id, num_workers, source, base_seed, tasks, results):
    _thread_local.info = None
    state = _WorkerState(worker_id, num_workers, source, base_seed, f"thread worker {worker_id}", reseeds=False)
    _thread_local.info = state.info
    try:
        while True:
            task = tasks.get()
            if task is None:
                return
            results.put(state.execute(task))
    finally:
        state.close()


def _process_loop(worker_id, num_workers, source, base_seed, conn, parent_pid, prefix):
    global _process_info
    faults.ignore_sigint()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)  # N workers x all cores of intra-op threads would oversubscribe the CPU
    state = _WorkerState(worker_id, num_workers, source, base_seed,
                         f"worker process {worker_id} (pid {os.getpid()})", reseeds=True)
    _process_info = state.info
    slots = shm.WorkerSlots()
    try:
        while True:
            if not conn.poll(0.5):
                if os.getppid() != parent_pid:  # orphaned: the trainer died without closing us
                    shm.sweep_segments(prefix)
                    return
                continue
            message = conn.recv()
            if message is None:
                return
            if message[0] == "state":
                state.apply_state(message[1], message[2])
                continue
            reply = state.execute(message, slots)
            try:
                conn.send(reply)
            except (pickle.PicklingError, AttributeError, TypeError):
                conn.send(reply[:3] + (reply[3].degraded(),))
    except (EOFError, BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        return
    finally:
        slots.close()
        state.close()


# ---------------------------------------------------------------- parent-side handles

class InlinePool:
    """workers=0: runs each task in the caller's thread when the caller polls for it."""

    size = 1
    kind = "inline"

    def __init__(self, source, base_seed):
        # Its WorkerInfo stays private: get_worker_info() is None in the main thread, as in torch.
        self._state = _WorkerState(0, 1, source, base_seed, "the main thread", reseeds=False)
        self._tasks = []

    def start(self):
        pass

    def submit(self, worker_id, task):
        self._tasks.append(task)

    def poll(self, timeout):
        if not self._tasks:
            return [], []
        return [self._state.execute(self._tasks.pop(0))], []

    def send_state(self, how, payload):
        pass

    def close(self):
        self._tasks = []
        self._state.close()


class ThreadPool:
    kind = "thread"

    def __init__(self, size, source, base_seed, name):
        self.size, self._source, self._base_seed, self._name = size, source, base_seed, name
        self._results = queue.Queue()
        self._tasks = [queue.SimpleQueue() for _ in range(size)]
        self._threads = []

    def start(self):
        for worker_id in range(self.size):
            thread = threading.Thread(
                target=_thread_loop, name=f"fitgen-{self._name}-worker-{worker_id}", daemon=True,
                args=(worker_id, self.size, self._source, self._base_seed, self._tasks[worker_id], self._results))
            thread.start()
            self._threads.append(thread)

    def submit(self, worker_id, task):
        self._tasks[worker_id].put(task)

    def poll(self, timeout):
        try:
            messages = [self._results.get(timeout=timeout)]
        except queue.Empty:
            return [], []
        while True:
            try:
                messages.append(self._results.get_nowait())
            except queue.Empty:
                return messages, []

    def send_state(self, how, payload):
        pass  # threads share the source object itself

    def close(self):
        for tasks in self._tasks:
            tasks.put(None)
        deadline = time.monotonic() + _JOIN_GRACE
        for thread in self._threads:
            # A thread stuck inside user code cannot be stopped; it is a daemon and is left behind.
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []


class ProcessPool:
    kind = "process"

    def __init__(self, size, source, base_seed, name, start_method, prefix):
        self.size, self._source, self._base_seed, self._name = size, source, base_seed, name
        self._context = multiprocessing.get_context(start_method)
        self._prefix = prefix
        self._processes = [None] * size
        self._conns = [None] * size

    def start(self):
        for worker_id in range(self.size):
            self._start_one(worker_id)

    def _start_one(self, worker_id):
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_process_loop, name=f"fitgen_{self._name}_worker_{worker_id}", daemon=True,
            args=(worker_id, self.size, self._source, self._base_seed, child_end, os.getpid(), self._prefix))
        try:
            process.start()
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            parent_end.close()
            child_end.close()
            raise TypeError(
                f"use_multiprocessing=True with the {self._context.get_start_method()!r} start method sends the "
                "data source to each worker by pickle, and this one cannot be pickled: "
                f"{type(self._source).__name__}: {error}. Use a picklable Sequence, the 'fork' start method "
                "(Linux), or use_multiprocessing=False.") from error
        child_end.close()
        self._processes[worker_id], self._conns[worker_id] = process, parent_end

    def restart(self, worker_id):
        # A live worker is restarted too (fork hands it a changed, unpicklable source): ask it to exit, and
        # do not count on its pipe closing, since workers forked later hold copies of this end.
        stopped = self._stop_one(worker_id, graceful=True)
        if stopped is not None:
            process, conn = stopped
            process.join(_JOIN_GRACE)
            if process.is_alive():
                process.kill()
                process.join()
            conn.close()
            process.close()
        self._start_one(worker_id)

    def submit(self, worker_id, task):
        self._conns[worker_id].send(task)

    def send_state(self, how, payload):
        for conn in self._conns:
            conn.send(("state", how, payload))

    def poll(self, timeout):
        """(messages, deaths): results ready within `timeout`, and (worker_id, exitcode) of dead workers."""
        by_handle = {}
        for worker_id, (process, conn) in enumerate(zip(self._processes, self._conns)):
            by_handle[conn] = worker_id
            by_handle[process.sentinel] = worker_id
        ready = multiprocessing.connection.wait(list(by_handle), timeout)
        messages, deaths = [], []
        for worker_id in sorted({by_handle[handle] for handle in ready}):
            messages.extend(self._drain(worker_id))
            process = self._processes[worker_id]
            if not process.is_alive():
                process.join(0)
                deaths.append((worker_id, process.exitcode))
        return messages, deaths

    def _drain(self, worker_id):
        conn, messages = self._conns[worker_id], []
        try:
            while conn.poll(0):
                messages.append(conn.recv())
        except (EOFError, OSError):
            pass
        return messages

    def _stop_one(self, worker_id, graceful):
        process, conn = self._processes[worker_id], self._conns[worker_id]
        if process is None:
            return
        if graceful and process.is_alive():
            try:
                conn.send(None)
            except OSError:
                pass
        self._processes[worker_id] = self._conns[worker_id] = None
        return process, conn

    def close(self):
        stopped = [self._stop_one(worker_id, graceful=True) for worker_id in range(self.size)]
        stopped = [item for item in stopped if item is not None]
        deadline = time.monotonic() + _JOIN_GRACE
        for process, _ in stopped:
            process.join(max(0.0, deadline - time.monotonic()))
        for process, conn in stopped:
            if process.is_alive():
                process.terminate()  # hung in user code: SIGTERM, then SIGKILL
                process.join(_JOIN_GRACE)
            if process.is_alive():
                process.kill()
                process.join()
            conn.close()
            process.close()
