"""Batches onto the training device: zero-copy on CPU; on CUDA, pinned host memory and an asynchronous
host->device copy of batch k+1 on a side stream while step k runs (torch's pin_memory thread, without
the thread: the copy engine does the work, the host only enqueues it).

See NOTE [ fitgen prefetch shutdown ] in prefetcher.py: a host slot is released only after the event
recorded behind its copy has completed, never while the DMA engine may still read it.
"""
import collections

import numpy as np

from fitgen.data.pipeline import shm


def _tensor_leaf(value, device, non_blocking, pin):
    import torch
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "USOV":  # strings and records have no tensor form: left as NumPy
            return value
        if not value.flags.writeable:  # torch.from_numpy warns on read-only arrays; copy once instead
            value = value.copy()
        value = torch.from_numpy(value)
    if isinstance(value, torch.Tensor):
        if value.device == device:
            return value
        if pin and value.device.type == "cpu" and not value.is_pinned():
            value = value.pin_memory()  # a copy into page-locked memory, so the next copy can be async
        return value.to(device, non_blocking=non_blocking)
    return value


def to_device(batch, device, non_blocking=True):
    """The batch with every array a torch tensor on `device` (CPU arrays become tensors without a copy).

    Args:
        batch: nested tuples/lists/dicts of NumPy arrays, tensors, numbers or strings.
        device: a torch device or its name.
        non_blocking: let host->device copies run asynchronously (only effective from pinned memory).
    """
    import torch
    device = torch.device(device)
    return shm.map_structure(lambda value: _tensor_leaf(value, device, non_blocking, pin=False), batch)


class DeviceFeeder:
    """Turns the Prefetcher's host batches into device batches, one batch ahead on CUDA."""

    def __init__(self, device, slots=None):
        import torch
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self._slots = slots
        self._registered = {}  # segment name -> (mapping, address): page-locked in place, no extra copy
        self._stream = torch.cuda.Stream(self.device) if self.cuda else None

    def iterate(self, host, hold, release):
        if not self.cuda:
            for batch, job in host:
                hold(job)
                yield to_device(batch, self.device)
                release(job)
            return
        yield from self._iterate_cuda(host, hold, release)

    def _iterate_cuda(self, host, hold, release):
        import torch
        current = torch.cuda.current_stream(self.device)
        in_copy = collections.deque()  # (event, job, host batch) until the copy has finished
        ahead = None
        try:
            for batch, job in host:
                hold(job)
                pinned = self._pin_slot(job)
                with torch.cuda.stream(self._stream):
                    # Copies of k+1 may overwrite memory that step k-1 freed: order them after it.
                    self._stream.wait_stream(current)
                    on_device = shm.map_structure(
                        lambda value: _tensor_leaf(value, self.device, True, pin=not pinned), batch)
                    event = torch.cuda.Event()
                    event.record(self._stream)
                in_copy.append((event, job, batch))
                if ahead is not None:
                    yield self._hand_over(ahead, current)
                self._release_finished(in_copy, release, block=False)
                ahead = (on_device, event)
            if ahead is not None:
                yield self._hand_over(ahead, current)
        finally:
            self._release_finished(in_copy, release, block=True)

    def _hand_over(self, ahead, current):
        import torch
        on_device, event = ahead
        current.wait_event(event)  # the step's kernels wait for the copy on the GPU; no host sync

        def mark(value):
            if isinstance(value, torch.Tensor) and value.device.type == "cuda":
                value.record_stream(current)  # allocated on the side stream, used on the current one
            return value
        return shm.map_structure(mark, on_device)

    @staticmethod
    def _release_finished(in_copy, release, block):
        while in_copy and (block or in_copy[0][0].query()):
            event, job, _ = in_copy.popleft()
            event.synchronize()
            release(job)

    def _pin_slot(self, job):
        """Page-locks the job's shared-memory slot in place (once per segment); False if no slot."""
        if self._slots is None or job.slot is None:
            return False
        import torch
        mapping = self._slots.mapping_of(job.slot)
        if mapping is None:
            return False
        name = job.slot.name
        if name not in self._registered:
            address = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
            result = torch.cuda.cudart().cudaHostRegister(address, len(mapping), 0)
            if int(getattr(result, "value", result)) != 0:  # e.g. not supported: fall back to pin_memory()
                return False
            self._registered[name] = (mapping, address)
        return True

    def close(self):
        if not self.cuda:
            return
        import torch
        self._stream.synchronize()
        for mapping, address in self._registered.values():
            torch.cuda.cudart().cudaHostUnregister(address)
        self._registered.clear()
