"""Shared-memory batch slots: a process worker writes a batch once, the trainer reads it in place.

A slot is one POSIX shared-memory segment named ``fitgen_<pid>_<token>_<slot>_<generation>``. The parent
owns every slot and its name; a worker that needs more bytes than the slot holds creates the next
generation itself and reports the new name, and the parent unlinks the old one. Only the small layout
(dtypes, shapes, offsets, inline scalars) crosses the pipe. See NOTE [ fitgen prefetch shutdown ] in
prefetcher.py for when slots are released and unlinked.

Segments are opened with ``_posixshmem`` (what ``multiprocessing.shared_memory`` uses) rather than through
``SharedMemory`` itself, because before Python 3.13 that class registers every segment with the
multiprocessing resource tracker, a helper process that would outlive the fit and unlink segments that
other processes still use.
"""
import errno
import mmap
import os

import numpy as np

try:
    import _posixshmem
except ImportError:  # pragma: no cover - non-POSIX platforms
    _posixshmem = None

PREFIX = "fitgen_"
ALIGN = 64
_DEV_SHM = "/dev/shm"



class ArrayRef:
    """Where one array of a batch lies in its slot (a plain class: a namedtuple would look like data)."""

    __slots__ = ("dtype", "shape", "offset")

    def __init__(self, dtype, shape, offset):
        self.dtype, self.shape, self.offset = dtype, shape, offset

    def __reduce__(self):
        return (ArrayRef, (self.dtype, self.shape, self.offset))


# ---------------------------------------------------------------- segments

def create_segment(name, size):
    """Creates (or replaces a stale) segment of `size` bytes and returns a writable mapping."""
    size = max(int(size), 1)
    flags = os.O_CREAT | os.O_EXCL | os.O_RDWR
    try:
        fd = _shm_open(name, flags)
    except FileExistsError:  # left by a worker that died after creating it: ours by name, replace it
        unlink_segment(name)
        fd = _shm_open(name, flags)
    try:
        os.ftruncate(fd, size)
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


def attach_segment(name):
    fd = _shm_open(name, os.O_RDWR)
    try:
        return mmap.mmap(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def unlink_segment(name):
    try:
        if _posixshmem is not None:
            _posixshmem.shm_unlink("/" + name)
        else:
            os.unlink(os.path.join(_DEV_SHM, name))
    except FileNotFoundError:
        pass
    except OSError as error:  # pragma: no cover
        if error.errno != errno.ENOENT:
            raise


def sweep_segments(prefix):
    """Unlinks every segment whose name starts with `prefix` (e.g. one a dead worker created)."""
    try:
        names = os.listdir(_DEV_SHM)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix):
            unlink_segment(name)


def _shm_open(name, flags):
    if _posixshmem is not None:
        return _posixshmem.shm_open("/" + name, flags, mode=0o600)
    return os.open(os.path.join(_DEV_SHM, name), flags, 0o600)  # pragma: no cover


def close_quietly(mapping):
    """Closes a mapping unless numpy views still use it (then the last view's death frees it)."""
    try:
        mapping.close()
    except BufferError:
        pass


# ---------------------------------------------------------------- batch layout

def to_numpy_leaf(value):
    """torch tensors become numpy arrays (CPU tensors without a copy); everything else is unchanged."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


def map_structure(fn, batch):
    """Applies `fn` to every leaf of nested tuples, lists, namedtuples and dicts, keeping the containers."""
    if isinstance(batch, dict):
        items = [(key, map_structure(fn, value)) for key, value in batch.items()]
        return dict(items) if type(batch) is dict else type(batch)(items)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(map_structure(fn, value) for value in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(map_structure(fn, value) for value in batch)
    return fn(batch)


_INLINE_TYPES = (bool, int, float, complex, str, bytes, type(None), np.generic)


def plan_layout(batch, index):
    """Returns (layout, arrays, nbytes): the batch with arrays replaced by ArrayRefs at aligned offsets.

    Raises TypeError naming the batch index for leaves that cannot cross a process boundary in place.
    """
    arrays = []
    total = 0

    def leaf(value):
        nonlocal total
        value = to_numpy_leaf(value)
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise TypeError(
                    f"Batch {index} holds a NumPy array of dtype {value.dtype} (Python objects), which process "
                    "workers cannot place in shared memory. Expected numeric, boolean or fixed-width string "
                    f"arrays. Received: array of shape {value.shape} and dtype {value.dtype}.")
            ref = ArrayRef(value.dtype.str if value.dtype.names is None else value.dtype.descr,
                           value.shape, total)
            arrays.append((ref, value))
            total += -(-value.nbytes // ALIGN) * ALIGN
            return ref
        if isinstance(value, _INLINE_TYPES):
            return value
        raise TypeError(
            f"Batch {index} holds a value of type {type(value).__name__} that process workers cannot transport. "
            "Expected nested tuples, lists or dicts of NumPy arrays, torch tensors, numbers or strings. "
            f"Received: {type(value).__name__}.")

    layout = map_structure(leaf, batch)
    return layout, arrays, total


def write_arrays(mapping, arrays):
    for ref, value in arrays:
        destination = np.ndarray(ref.shape, np.dtype(ref.dtype), buffer=mapping, offset=ref.offset)
        np.copyto(destination, value, casting="no")
        del destination


def read_batch(layout, mapping):
    """The batch of `layout` with every array a zero-copy view of `mapping`."""
    def leaf(value):
        if isinstance(value, ArrayRef):
            return np.ndarray(value.shape, np.dtype(value.dtype), buffer=mapping, offset=value.offset)
        return value
    return map_structure(leaf, layout)


def grown_capacity(needed, current):
    # Grow geometrically so slowly growing batches do not reallocate every time; round to whole pages.
    size = max(needed, int(current * 1.25))
    return -(-size // mmap.PAGESIZE) * mmap.PAGESIZE


# ---------------------------------------------------------------- parent side

class Slot:
    __slots__ = ("id", "name", "capacity", "generation")

    def __init__(self, slot_id):
        self.id, self.name, self.capacity, self.generation = slot_id, None, 0, 0

    def ticket(self, prefix):
        """What a worker needs to write into this slot (a new generation's name if it must grow)."""
        return (self.id, self.name, self.capacity, f"{prefix}{self.id}_{self.generation + 1}")


class SlotPool:
    """The parent's slots: at most `limit` of them, created lazily, reused, unlinked at close."""

    def __init__(self, prefix, limit):
        self.prefix, self.limit = prefix, limit
        self._slots = []
        self._free = []
        self._mappings = {}  # name -> mmap, mapped once and reused (no page faults after warm-up)

    def __len__(self):
        return len(self._slots)

    def acquire(self):
        if self._free:
            return self._free.pop()
        if len(self._slots) < self.limit:
            slot = Slot(len(self._slots))
            self._slots.append(slot)
            return slot
        return None

    def release(self, slot):
        self._free.append(slot)

    def adopt(self, slot, meta):
        """Records the segment a worker wrote `slot` into: a grown one replaces (and unlinks) the old.

        Must run for every result, also one that is discarded: a worker that grew a slot caches the new
        name, and handing out the old name again would make two segments pass for one slot.
        """
        name, capacity, _ = meta
        if name != slot.name:
            if slot.name is not None:
                self._forget(slot.name)
            slot.name, slot.capacity = name, capacity
            slot.generation += 1

    def view(self, slot, meta):
        """Maps the batch a worker wrote into `slot`, as zero-copy NumPy views."""
        self.adopt(slot, meta)
        name, _, layout = meta
        mapping = self._mappings.get(name)
        if mapping is None and name is not None:
            mapping = self._mappings[name] = attach_segment(name)
        return read_batch(layout, mapping)

    def mapping_of(self, slot):
        return self._mappings.get(slot.name)

    def _forget(self, name):
        # Views of the old segment may still be alive: drop our mapping without closing it.
        self._mappings.pop(name, None)
        unlink_segment(name)

    def close(self):
        for slot in self._slots:
            if slot.name is not None:
                unlink_segment(slot.name)
        self._mappings.clear()
        sweep_segments(self.prefix)
        self._slots, self._free = [], []


class WorkerSlots:
    """A worker's side: one mapping per slot id, replaced when the parent reports a new generation."""

    def __init__(self):
        self._mapped = {}  # slot id -> (name, mmap)

    def write(self, ticket, batch, index):
        slot_id, name, capacity, next_name = ticket
        layout, arrays, nbytes = plan_layout(batch, index)
        if nbytes == 0:
            return (name, capacity, layout)
        if nbytes > capacity:
            capacity = grown_capacity(nbytes, capacity)
            self._drop(slot_id)
            name = f"{next_name}_{os.getpid()}"  # unique even if a lost result left the parent behind
            mapping = create_segment(name, capacity)
            self._mapped[slot_id] = (name, mapping)
        else:
            mapping = self._mapping(slot_id, name)
        write_arrays(mapping, arrays)
        return (name, capacity, layout)

    def _mapping(self, slot_id, name):
        cached = self._mapped.get(slot_id)
        if cached is not None and cached[0] == name:
            return cached[1]
        self._drop(slot_id)
        mapping = attach_segment(name)
        self._mapped[slot_id] = (name, mapping)
        return mapping

    def _drop(self, slot_id):
        cached = self._mapped.pop(slot_id, None)
        if cached is not None:
            close_quietly(cached[1])

    def close(self):
        for slot_id in list(self._mapped):
            self._drop(slot_id)
