"""`BackupAndRestore`: makes a killed `fit` resumable, exactly, from its last backup.

NOTE [ fitgen exact resume ]
A backup holds everything the next step depends on: weights, optimizer state (slots, iterations, lr), the
epoch and the number of batches already done in it, the data seed (epoch e's order is a function of
(seed, e)), the epoch's running metric sums, every other callback's `get_state()`, the RNG states (Python,
NumPy, torch CPU/CUDA, and the generators of seeded random layers).

When: the state is captured at the *start* of the next unit of work (`on_epoch_begin` of the next epoch, or
`on_train_batch_begin` of the next batch with an integer `save_freq`), never at the end of the last one, so
that every callback has finished its end-of-epoch/batch hook whatever its place in the list. The resumed run
re-enters at that same point: `on_train_begin` restores weights, optimizer and the callbacks listed before
this one (their `on_train_begin` already ran) and asks the trainer to resume (`trainer_state.request_resume`); the
callbacks listed after this one are restored at the resumed `on_epoch_begin`, after their own
`on_train_begin` reset and before their `on_epoch_begin`; the RNG states are restored at the very point
they were captured. Writes are atomic (temporary file, fsync, os.replace), so a kill during a write keeps
the previous backup.
"""
import os
import random

import numpy as np
import torch

from fitgen.callbacks.callback import Callback
from fitgen.distribute.context import is_chief

_FORMAT = 1
_FILE_NAME = "training_state.pt"


class BackupAndRestore(Callback):
    """Callback to back up and restore the training state.

    When `fit` is interrupted (the process killed, an exception) and the same `fit` call runs again with this
    callback, training continues from the last backup instead of epoch 0; on the CPU the result is
    bit-identical to an uninterrupted run, also mid-epoch (the batches done of that epoch are skipped with the
    same data order). The backup is deleted when `fit` completes (unless `delete_checkpoint=False`).

    Args:
        backup_dir: folder of the backup file; reserve it for this training run.
        save_freq: 'epoch' (a backup after each epoch) or an integer N (a backup every N training batches).
        delete_checkpoint: delete the backup when training finishes.
        save_before_preemption: accepted for tf-keras compatibility; only False is supported.

    Raises:
        ValueError: for a `save_freq` that is neither 'epoch' nor a positive integer.

    Example:

    ```python
    backup = BackupAndRestore(backup_dir='/tmp/backup')
    model.fit(x, y, epochs=10, callbacks=[backup])  # killed at epoch 4? run the same line again
    ```
    """

    # Never read the batch logs: do not make the engine materialise them for us.
    _lazy_batch_logs = True

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True, save_before_preemption=False):
        super().__init__()
        if save_before_preemption:
            raise ValueError("`save_before_preemption=True` is not supported by fitgen (it needs a cluster "
                             "preemption notice). Use save_freq='epoch' or an integer number of batches.")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)
                                     or save_freq < 1):
            raise ValueError("Expected `save_freq` to be 'epoch' or a positive integer (batches between backups). "
                             f"Received: save_freq={save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self.save_before_preemption = save_before_preemption
        self._reset_run()

    @property
    def backup_path(self):
        return os.path.join(self.backup_dir, _FILE_NAME)

    def _reset_run(self):
        self._others = []          # the other callbacks of this fit, in list order
        self._position = 0         # how many of them come before this one
        self._pending = False      # a unit of work finished since the last backup
        self._batches = 0
        self._current_epoch = 0
        self._restore = None       # what is left to restore, and when

    # ------------------------------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._reset_run()
        callbacks = self._state().callbacks
        mine = callbacks.index(self)
        self._others = callbacks[:mine] + callbacks[mine + 1:]
        self._position = mine
        if os.path.exists(self.backup_path):
            self._restore_begin(_load(self.backup_path))

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        restore = self._restore
        if restore is not None and epoch == restore["epoch"]:
            self._set_callback_states(restore["callbacks"], self._others[self._position:])
            if restore["step"] == 0:
                _set_rng_state(self.model, restore["rng"])
                self._restore = None
            return
        if self._pending:
            self._write(epoch, 0)

    def on_train_batch_begin(self, batch, logs=None):
        restore = self._restore
        if restore is not None:
            if batch == restore["step"]:
                _set_rng_state(self.model, restore["rng"])
            self._restore = None
            return
        if self._pending:
            self._write(self._current_epoch, batch)

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches >= self.save_freq:
            self._batches = 0
            self._pending = True

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if self.save_freq == "epoch":
            self._pending = True

    def on_train_end(self, logs=None):
        if not is_chief():
            pass  # rank 0 owns the backup file
        elif self.delete_checkpoint:
            _remove(self.backup_path)
            try:
                os.rmdir(self.backup_dir)
            except OSError:
                pass  # not empty or already gone: leave it
        elif self._pending:
            # Kept for later use: record the finished state, so a rerun continues after the last epoch.
            self._write(self._current_epoch, 0)
        self._reset_run()

    # ----------------------------------------------------------------------------------- backup
    def _state(self):
        state = self.trainer_state
        if state is None or not state.in_fit:
            raise RuntimeError("BackupAndRestore only works inside `fit` (it was called outside a fit).")
        return state

    def _write(self, epoch, step):
        context = self._state()
        state = {
            "format": _FORMAT,
            "epoch": epoch,
            "step": step,
            "weights": self.model.get_weights(),
            "optimizer": self.model.optimizer.state_dict(),
            "data_seed": context.data_seed,
            "metrics": context.metrics_state() if step else None,
            "callbacks": [(type(c).__name__, c.get_state()) for c in self._others],
            "rng": _get_rng_state(self.model),
        }
        self._pending = False
        if is_chief():  # every rank restores from the file; only rank 0 writes it
            _atomic_save(state, self.backup_path)

    def _restore_begin(self, state):
        if state.get("format") != _FORMAT:
            raise ValueError(f"The backup {self.backup_path!r} has format {state.get('format')!r}; this fitgen "
                             f"writes and reads format {_FORMAT}. Delete the backup folder to start afresh.")
        try:
            self.model.set_weights(state["weights"])
        except ValueError as error:
            raise ValueError(f"The backup in {self.backup_path!r} does not fit this model: {error} Delete the "
                             "backup folder, or restore with the model it was made with.") from error
        self.model.optimizer.load_state_dict(state["optimizer"])
        self._set_callback_states(state["callbacks"], self._others[:self._position])
        self._state().request_resume(state["epoch"], state["step"], state["data_seed"], state["metrics"])
        self._current_epoch = state["epoch"]
        self._restore = state

    def _set_callback_states(self, saved, callbacks):
        # Matched by class name and rank among callbacks of that class, so an added or removed callback
        # elsewhere in the list does not shift the others' states.
        saved_by_key = dict(zip(_keys(name for name, _ in saved), (state for _, state in saved)))
        keys = dict(zip(map(id, self._others), _keys(type(c).__name__ for c in self._others)))
        for callback in callbacks:
            state = saved_by_key.get(keys[id(callback)])
            if state:
                callback.set_state(state)


def _keys(names):
    seen = {}
    keys = []
    for name in names:
        keys.append((name, seen.get(name, 0)))
        seen[name] = seen.get(name, 0) + 1
    return keys


def _random_layers(model):
    """(position, module) of the layers that own seeded torch Generators, in a stable order."""
    return [(index, module) for index, module in enumerate(model.modules())
            if getattr(module, "seed", None) is not None and hasattr(module, "__dict__")]


def _get_rng_state(model):
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
             "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None, "layers": {}}
    for index, module in _random_layers(model):
        generators = module.__dict__.get("_generators") or {}
        if generators:
            state["layers"][index] = {str(device): gen.get_state() for device, gen in generators.items()}
    return state


def _set_rng_state(model, state):
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    modules = dict(_random_layers(model))
    for index, generators in state["layers"].items():
        module = modules.get(index)
        if module is None:
            continue
        table = module.__dict__.setdefault("_generators", {})
        for device_name, generator_state in generators.items():
            device = torch.device(device_name)
            generator = table.get(device)
            if generator is None:
                generator = torch.Generator(device=device).manual_seed(int(module.seed))
                table[device] = generator
            generator.set_state(generator_state)


def _atomic_save(state, path):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    partial = f"{path}.partial-{os.getpid()}"
    try:
        with open(partial, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        _remove(partial)
        raise
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)  # the rename itself survives a power cut
    except OSError:
        pass
    finally:
        os.close(fd)


def _load(path):
    try:
        # Our own file: it holds NumPy arrays and Python's random state, which weights_only loading rejects.
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise ValueError(f"Could not read the BackupAndRestore backup {path!r}: {error}. Delete the backup folder "
                         "to start training afresh.") from error


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
