"""`multi_gpu_model`: Keras 2's data parallelism on the GPUs of one machine, done with DDP processes.

Keras 2 built N replicas in one TensorFlow graph, split every batch into N slices and merged the outputs.
fitgen gets the same numbers from torch's own engine: `fit` starts one process per GPU
(fresh interpreters started with subprocess), each trains its slice of every global batch under
DistributedDataParallel (nccl), and rank 0 sends the final weights, optimizer state and history back,
where they are loaded into the template model. `batch_size` is the GLOBAL batch, as in Keras 2: global
batch k is the same as a single-device fit's batch k, split near-equally across the replicas.

Everything but `fit`/`fit_generator` (compile, evaluate, predict, save, summary, weights...) acts on the
template model in this process: its weights are the replicas' weights after each fit.
NOTE: the model, the data and the callbacks are pickled to each replica process; callbacks run there
(rank 0 writes files), so callback objects in this process do not see the replicas' events.
"""
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

from fitgen import backend
from fitgen.callbacks.history import History
from fitgen.distribute import context as context_module
from fitgen.distribute.context import current

_TRANSIENT = ("_train_step", "history")


def _available_devices():
    return ["/cpu:0"] + [f"/gpu:{i}" for i in range(torch.cuda.device_count())]


def _target_gpu_ids(gpus, available):
    if not gpus:
        gpus = len([name for name in available if "gpu" in name])
    if isinstance(gpus, (list, tuple)):
        if len(gpus) <= 1:
            raise ValueError("For multi-gpu usage to be effective, call `multi_gpu_model` with `len(gpus) >= 2`. "
                             f"Received: `gpus={gpus}`")
        ids = [int(i) for i in gpus]
    else:
        if gpus <= 1:
            raise ValueError("For multi-gpu usage to be effective, call `multi_gpu_model` with `gpus >= 2`. "
                             f"Received: `gpus={gpus}`")
        ids = list(range(gpus))
    target = ["/cpu:0"] + [f"/gpu:{i}" for i in ids]
    for device in target:
        if device not in available:
            raise ValueError(f"To call `multi_gpu_model` with `gpus={gpus}`, we expect the following devices to be "
                             f"available: {target}. However this machine only has: {available}. "
                             "Try reducing `gpus`.")
    return ids


def multi_gpu_model(model, gpus=None, cpu_merge=True, cpu_relocation=False):
    """Replicates a model on several GPUs of this machine (Keras 2's data parallelism).

    Args:
        model: a fitgen model (the template: it holds the trained weights after each fit).
        gpus: number of GPUs (>= 2), or a list of GPU ids; None uses every visible GPU.
        cpu_merge, cpu_relocation: accepted for Keras 2 compatibility; with DDP there is no merge step.

    Returns:
        A model-like object: `compile`, `fit`, `fit_generator`, `evaluate`, `predict`, `save`... `fit` trains
        on the GPUs with `batch_size` as the global batch (split across replicas).

    Raises:
        ValueError: fewer than 2 GPUs asked for, or this machine lacks one of them (Keras 2's message).

    Under torchrun the script is already data-parallel (one process per GPU, `batch_size` per process):
    the model is returned unchanged, with a warning.
    """
    if current() is not None:
        warnings.warn("multi_gpu_model under torch.distributed: the script already trains data-parallel, one "
                      "process per GPU, so the model is returned unchanged (batch_size is per process).",
                      stacklevel=2)
        return model
    available = _available_devices()
    return MultiGpuModel(model, _target_gpu_ids(gpus, available))


class MultiGpuModel:
    """What `multi_gpu_model` returns: `fit` on N replica processes, everything else on the template."""

    def __init__(self, model, gpu_ids, device_type="cuda"):
        self.__dict__["template"] = model
        self.__dict__["gpu_ids"] = list(gpu_ids)
        self.__dict__["device_type"] = device_type  # 'cpu' (gloo) serves tests on machines without GPUs

    def __getattr__(self, name):
        return getattr(self.__dict__["template"], name)

    def __setattr__(self, name, value):
        setattr(self.template, name, value)

    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        """Like `Model.fit`, on the replicas; `batch_size` (default 32) is the global batch."""
        return self._run("fit", dict(x=x, y=y, batch_size=batch_size, **kwargs))

    def fit_generator(self, generator, *args, **kwargs):
        """Like `Model.fit_generator`: each replica trains on whole batches of a Sequence (its share)."""
        return self._run("fit_generator", dict(generator=generator, **kwargs), args)

    def _run(self, method, kwargs, args=()):
        model = self.template
        # Cached step closures and the last fit's state do not pickle (and the replicas rebuild them).
        stash = {k: model.__dict__[k] for k in _TRANSIENT if k in model.__dict__}
        model.__dict__.update(dict.fromkeys(stash))
        try:
            payload = pickle.dumps((model, method, args, kwargs, np.random.get_state()),
                                   protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            model.__dict__.update(stash)
        with tempfile.TemporaryDirectory(prefix="fitgen-mgpu-") as folder:
            payload_path = os.path.join(folder, "payload.pkl")
            with open(payload_path, "wb") as f:
                f.write(payload)
            result_path = os.path.join(folder, "result.pkl")
            _run_replicas(self.gpu_ids, self.device_type, payload_path, result_path,
                          _main_path() if b"__main__" in payload else "")
            with open(result_path, "rb") as f:
                result = pickle.load(f)
        model.set_weights(result["weights"])
        if result["optimizer"] is not None and hasattr(model.optimizer, "set_weights"):
            model.optimizer.set_weights(result["optimizer"])
        history = History()
        history.set_model(model)
        history.epoch, history.history = result["epoch"], result["history"]
        history.params = result["params"]
        model.history = history
        return history


def _main_path():
    path = getattr(sys.modules["__main__"], "__file__", None)
    if not path:
        raise ValueError("multi_gpu_model: the model, data or callbacks use objects defined in `__main__`, which "
                         "replica processes cannot import from an interactive session. Define them in a module, "
                         "or run a script (with its training code under `if __name__ == '__main__':`).")
    return os.path.abspath(path)


def _run_replicas(gpu_ids, device_type, payload_path, result_path, main_path):
    """One fresh interpreter per replica. Unlike multiprocessing's spawn, the user's script is not re-run
    (Keras 2 scripts are rarely guarded by `if __name__ == '__main__':`) unless the payload needs objects
    defined in it. One failing replica stops them all."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    port = _free_port()
    procs = []
    try:
        for rank in range(len(gpu_ids)):
            command = [sys.executable, "-m", "fitgen.distribute._replica", str(rank),
                       ",".join(map(str, gpu_ids)), str(port), device_type, payload_path, result_path, main_path]
            procs.append(subprocess.Popen(command, env=env))
        while True:
            codes = [p.poll() for p in procs]
            failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                rank, code = failed[0]
                raise RuntimeError(f"multi_gpu_model: replica {rank} exited with code {code} (its traceback is "
                                   "printed above); the other replicas were stopped.")
            if all(c == 0 for c in codes):
                return
            time.sleep(0.05)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _replica_main(rank, world_size, gpu_ids, port, payload, device_type, result_path):
    """Body of replica `rank`: joins the group, trains its slices of each global batch, rank 0 reports."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if device_type == "cuda":
        device = torch.device("cuda", gpu_ids[rank])
        torch.cuda.set_device(device)
        backend.set_device(device)
        os.environ["LOCAL_RANK"] = str(gpu_ids[rank])
    else:
        backend.set_device("cpu")
    context = context_module.initialize("nccl" if device_type == "cuda" else "gloo")
    context.batch_size_is_global = True  # Keras 2: the batch is split across replicas
    model, method, args, kwargs, numpy_state = pickle.loads(payload)
    np.random.set_state(numpy_state)  # rank 0 then draws the shuffle seed this process's fit would draw
    history = getattr(model, method)(*args, **kwargs)
    if rank == 0:
        optimizer = model.optimizer.get_weights() if hasattr(model.optimizer, "get_weights") else None
        result = {"weights": model.get_weights(), "optimizer": optimizer, "history": history.history,
                  "epoch": history.epoch, "params": dict(history.params or {})}
        with open(result_path + ".tmp", "wb") as f:
            pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(result_path + ".tmp", result_path)

