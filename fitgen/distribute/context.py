"""The process group fitgen trains in: found, or created from torchrun's environment, once per process.

`current()` is the only question the engine asks. It returns None for a plain single process (the common
case costs one dict lookup and one `is_initialized()` call), or a `DistributedContext` when either

* the user already called `torch.distributed.init_process_group` with more than one process, or
* the process was started by torchrun (or anything that sets RANK, WORLD_SIZE, MASTER_ADDR and
  MASTER_PORT the same way) with WORLD_SIZE > 1: fitgen then creates the group itself, nccl when CUDA is
  available (each process on cuda:LOCAL_RANK), gloo otherwise.

Collectives time out after FITGEN_DIST_TIMEOUT seconds (default 1800, torch's own default), so a rank
that dies leaves the others with an error instead of a hang. `is_chief()` is True on rank 0 and in any
non-distributed process: file writers (checkpoints, CSV and TensorBoard logs, the progress bar) guard
their output with it.
"""
import atexit
import datetime
import os
import warnings

import torch
import torch.distributed as dist

from fitgen import backend

TIMEOUT_ENV = "FITGEN_DIST_TIMEOUT"
_DEFAULT_TIMEOUT = 1800.0
_EXIT_BARRIER_SECONDS = 10.0
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")

_state = {"context": None, "group_key": None}


def _timeout(seconds=None):
    if seconds is None:
        raw = os.environ.get(TIMEOUT_ENV)
        try:
            seconds = float(raw) if raw else _DEFAULT_TIMEOUT
        except ValueError:
            raise ValueError(f"{TIMEOUT_ENV} must be a number of seconds. Received: {TIMEOUT_ENV}={raw!r}") from None
    if not seconds > 0:
        raise ValueError(f"The process-group timeout must be a positive number of seconds. Received: {seconds!r}")
    return datetime.timedelta(seconds=seconds)


def _launched_by_torchrun():
    return all(name in os.environ for name in _TORCHRUN_VARS) and int(os.environ["WORLD_SIZE"]) > 1


class DistributedContext:
    """This process's place in the group: rank, world size, device, and the collectives fitgen uses.

    Attributes:
        rank: global rank (0 is the chief, the only writer of files and console output).
        world_size: number of processes.
        local_rank: rank on this machine (picks the GPU).
        device: the torch device this rank trains on.
        backend: 'nccl' or 'gloo'.
    """

    def __init__(self, rank, world_size, local_rank, device, backend_name):
        self.rank = rank
        self.world_size = world_size
        self.local_rank = local_rank
        self.device = device
        self.backend = backend_name
        self.padding = False  # set by the sharded adapter while a stand-in batch runs
        # Collectives on nccl need CUDA tensors; gloo takes CPU ones.
        self.comm_device = device if backend_name == "nccl" else torch.device("cpu")

    @property
    def is_chief(self):
        return self.rank == 0

    def all_reduce_sum(self, tensor):
        """Sums `tensor` over all ranks (returns a new tensor on the original device)."""
        work = tensor.to(self.comm_device).clone()
        dist.all_reduce(work, op=dist.ReduceOp.SUM)
        return work.to(tensor.device)

    def any(self, flag):
        """True on every rank when `flag` is True on at least one (one tiny collective)."""
        value = torch.tensor([1.0 if flag else 0.0], device=self.comm_device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def broadcast_int(self, value, src=0):
        """Rank `src`'s integer, on every rank (agreeing on seeds)."""
        holder = torch.tensor([int(value)], dtype=torch.int64, device=self.comm_device)
        dist.broadcast(holder, src=src)
        return int(holder.item())

    def all_gather_object(self, obj):
        """A list of every rank's `obj`, in rank order (pickled; for predictions and small results)."""
        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, obj)
        return gathered

    def barrier(self):
        dist.barrier()

    def __repr__(self):
        return (f"DistributedContext(rank={self.rank}, world_size={self.world_size}, "
                f"local_rank={self.local_rank}, device={self.device}, backend={self.backend!r})")


def initialize(backend_name=None, timeout=None):
    """Creates the process group from torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR/PORT).

    fit/evaluate/predict call this for you; call it yourself to create the group earlier (e.g. before
    building the model, so it is created directly on this rank's GPU).

    Args:
        backend_name: 'nccl' or 'gloo'; default nccl when CUDA is available, else gloo.
        timeout: seconds a collective may wait before failing; default FITGEN_DIST_TIMEOUT or 1800.

    Returns:
        The `DistributedContext`, or None when the environment describes a single process.

    Raises:
        ValueError: an unknown backend, or a non-positive timeout.
    """
    if dist.is_available() and dist.is_initialized():
        return current()
    if not (dist.is_available() and _launched_by_torchrun()):
        return None
    use_cuda = torch.cuda.is_available()
    backend_name = backend_name or ("nccl" if use_cuda else "gloo")
    if backend_name not in ("nccl", "gloo"):
        raise ValueError(f"Expected `backend_name` 'nccl' or 'gloo'. Received: backend_name={backend_name!r}")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    kwargs = {}
    if backend_name == "nccl":
        torch.cuda.set_device(local_rank)
        kwargs["device_id"] = torch.device("cuda", local_rank)
    dist.init_process_group(backend_name, timeout=_timeout(timeout), **kwargs)
    # A group fitgen created is fitgen's to destroy: left alive, gloo aborts the interpreter at exit.
    atexit.register(_destroy_at_exit)
    return current()


def _destroy_at_exit():
    if not dist.is_initialized():
        return
    if dist.get_backend() == "gloo":
        # Tearing gloo down while a peer still holds its connections can abort that peer ("terminate
        # called without an active exception"): meet first, briefly, then destroy. A dead peer fails it fast.
        try:
            dist.monitored_barrier(timeout=datetime.timedelta(seconds=_EXIT_BARRIER_SECONDS))
        except (RuntimeError, ValueError):  # a failed run exits anyway; its own error was already raised
            pass
    dist.destroy_process_group()


def current():
    """The `DistributedContext` of this process, or None when it is not part of a multi-process group.

    Creates the group from torchrun's environment on first use.
    """
    if not dist.is_available():
        return None
    if not dist.is_initialized():
        if _state["context"] is not None:
            _state["context"] = _state["group_key"] = None
        if _launched_by_torchrun():
            return initialize()
        return None
    key = id(dist.group.WORLD)
    if _state["group_key"] == key:
        return _state["context"]
    world_size = dist.get_world_size()
    context = None
    if world_size > 1:
        backend_name = dist.get_backend()
        local_rank = int(os.environ.get("LOCAL_RANK", str(dist.get_rank() % max(1, torch.cuda.device_count()))))
        if backend_name == "nccl":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
            backend.set_device(device)
        else:
            device = backend.get_device()
            if device.type == "cuda" and device.index is None:
                device = torch.device("cuda", local_rank)
                backend.set_device(device)
        context = DistributedContext(dist.get_rank(), world_size, local_rank, device, backend_name)
    _state["context"], _state["group_key"] = context, key
    return context


def get_rank():
    """This process's rank: 0 when not distributed (also inside data-loading workers of a rank)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0")) if "WORLD_SIZE" in os.environ else 0


def get_world_size():
    """Number of training processes: 1 when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_chief():
    """True on the process that writes files and console output: rank 0, or any non-distributed process."""
    return get_rank() == 0


def barrier():
    """Waits for every rank (no-op when not distributed)."""
    context = current()
    if context is not None:
        context.barrier()


_warned = set()


def warn_once(key, message):
    """A warning shown once per process, and only by the chief."""
    if key in _warned or not is_chief():
        return
    _warned.add(key)
    warnings.warn(message, stacklevel=3)
