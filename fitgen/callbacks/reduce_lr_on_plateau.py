"""`ReduceLROnPlateau`: multiplies the learning rate by `factor` after `patience` epochs without improvement."""
import warnings

import numpy as np

from fitgen import backend
from fitgen.callbacks import monitor as monitor_lib
from fitgen.callbacks.callback import Callback

_MISSING = ("Learning rate reduction is conditioned on metric `%s` which is not available. Available metrics "
            "are: %s")


class ReduceLROnPlateau(Callback):
    """Reduce the learning rate when a metric has stopped improving.

    Every epoch end also writes the current learning rate to `logs['lr']` (so History records it).

    Args:
        monitor: the logged quantity to watch.
        factor: new_lr = lr * factor (must be < 1).
        patience: epochs without improvement before the rate is reduced.
        verbose: 1 prints a line at each reduction.
        mode: 'min', 'max' or 'auto' (max when 'acc' is in the monitor name). Unknown modes warn and fall back
            to 'auto'.
        min_delta: the change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: lower bound of the learning rate.
        epsilon: Keras 2.1 name of `min_delta` (deprecated).

    Raises:
        ValueError: when `factor >= 1.0`.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0, **kwargs):
        super().__init__()
        if "epsilon" in kwargs:
            min_delta = kwargs.pop("epsilon")
            warnings.warn("`epsilon` argument is deprecated and will be removed, use `min_delta` instead.",
                          stacklevel=2)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments of ReduceLROnPlateau: {sorted(kwargs)}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Got {factor}")
        self.monitor = monitor
        self.factor = factor
        self.min_lr = min_lr
        self.min_delta = min_delta
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.mode = monitor_lib.resolve_mode(mode, monitor, "acc", "Learning rate reduction")
        self._reset()

    def _reset(self):
        self.best = monitor_lib.worst_value(self.mode)
        self.cooldown_counter = 0
        self.wait = 0

    def _improved(self, current):
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["lr"] = _current_lr(self.model)
        current = monitor_lib.monitor_value(logs, self.monitor, _MISSING)
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = np.float32(backend.get_value(self.model.optimizer.lr))
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    backend.set_value(self.model.optimizer.lr, new_lr)
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.",
                              flush=True)
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def get_state(self):
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def set_state(self, state):
        self.best = state["best"]
        self.wait = state["wait"]
        self.cooldown_counter = state["cooldown_counter"]


def _current_lr(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "lr"):
        raise ValueError('Optimizer must have a "lr" attribute.')
    return float(np.float32(backend.get_value(optimizer.lr)))
