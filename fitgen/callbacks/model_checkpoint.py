"""`ModelCheckpoint`: saves the model (or its weights) every `period` epochs or every `save_freq` batches,
optionally only when the monitored value improves. Each write goes to a temporary file in the target folder
that replaces the previous checkpoint only once complete, so an interrupted save never loses the last one.
"""
import os
import warnings

from fitgen.callbacks import monitor as monitor_lib
from fitgen.callbacks.callback import Callback
from fitgen.callbacks.logs import MetricLogs
from fitgen.distribute.context import is_chief


class ModelCheckpoint(Callback):
    """Save the model after every epoch (or every `save_freq` batches).

    Args:
        filepath: path of the file to write; may contain `str.format` placeholders filled with `epoch`
            (1-based), `batch` (1-based, batch-level saves only) and any key of the logs, e.g.
            `'weights.{epoch:02d}-{val_loss:.2f}.hdf5'`.
        monitor: the logged quantity `save_best_only` compares. 'acc' and 'accuracy' (with or without 'val_')
            name the same value, so a Keras 2.2 script's monitor='val_acc' works with metrics=['accuracy'].
        verbose: 1 prints a line for each decision ('improved', 'did not improve', 'saving model').
        save_best_only: save only when `monitor` strictly improves on the best value seen.
        save_weights_only: `model.save_weights(path)` instead of `model.save(path)`.
        mode: 'min', 'max' or 'auto' (max when 'acc' is in the monitor name or it starts with 'fmeasure',
            else min). An unknown mode warns and falls back to 'auto'.
        period: with `save_freq='epoch'`, the number of epochs between checks (Keras 2.2 argument).
        save_freq: 'epoch', or an integer number of batches (counted across epochs) between saves.
        options: accepted for tf-keras signatures; unused.
        initial_value_threshold: starting "best" value; only better values are saved.

    Raises:
        KeyError: when `filepath` names a key that is not in the logs (the message lists the keys that are).
        ValueError: for a `save_freq` that is neither 'epoch' nor a positive integer.

    Example:

    ```python
    checkpoint = ModelCheckpoint('best.h5', monitor='val_acc', verbose=1, save_best_only=True, mode='max',
                                 period=2)
    model.fit(x, y, validation_data=(x_val, y_val), epochs=10, callbacks=[checkpoint])
    ```
    """

    # Batch logs arrive as a callable: reading them costs a device sync, paid only on the batches that save.
    _lazy_batch_logs = True

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", period=1, save_freq="epoch", options=None, initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)
                                     or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' or a positive "
                             "integer (the number of batches between saves).")
        if not isinstance(period, int) or isinstance(period, bool) or period < 1:
            raise ValueError(f"Expected `period` to be a positive integer (epochs between saves). "
                             f"Received: period={period!r}")
        self.save_freq = save_freq
        self.period = period
        self.options = options
        self.mode = monitor_lib.resolve_mode(mode, monitor, "substring", "ModelCheckpoint")
        self.monitor_op = monitor_lib.compare_op(self.mode)
        self.initial_value_threshold = initial_value_threshold
        self.best = monitor_lib.worst_value(self.mode) if initial_value_threshold is None \
            else float(initial_value_threshold)
        self.epochs_since_last_save = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = -1
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        # A batch index not above the last one means a new epoch began.
        self._batches_seen_since_last_saving += batch + 1 if batch <= self._last_batch_seen \
            else batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            logs = logs() if callable(logs) else (logs or {})
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_since_last_save += 1
        if self.save_freq == "epoch" and self.epochs_since_last_save >= self.period:
            self.epochs_since_last_save = 0
            self._save(epoch, None, logs or {})

    def _save(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}", flush=True)
            self._write(filepath)
            return
        current = MetricLogs(logs).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", RuntimeWarning,
                          stacklevel=2)
            return
        current = monitor_lib.to_float(current)
        if self.monitor_op(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {filepath}", flush=True)
            self.best = current
            self._write(filepath)
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}", flush=True)

    def _get_file_path(self, epoch, batch, logs):
        values = MetricLogs(logs)  # '{val_acc:.2f}' also names a metric logged as 'val_accuracy'
        values["epoch"] = epoch + 1
        if batch is not None:
            values["batch"] = batch + 1
        try:
            return self.filepath.format_map(values)
        except KeyError as error:
            available = sorted(k for k in values if k != "size")
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: the placeholder '
                           f"{error} is not in the logs. Available keys: {', '.join(available)}.") from None

    def _write(self, filepath):
        if not is_chief():
            return  # under torchrun every rank decides alike; only rank 0 writes the file
        if os.path.isdir(filepath):
            raise OSError("Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an "
                          f"existing directory: {filepath}")
        os.makedirs(os.path.dirname(os.path.abspath(filepath)), exist_ok=True)
        # model.save / save_weights write atomically (temp file, fsync, rename): a failure keeps the old file.
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)

    def get_state(self):
        return {"best": self.best, "epochs_since_last_save": self.epochs_since_last_save,
                "batches_seen_since_last_saving": self._batches_seen_since_last_saving,
                "last_batch_seen": self._last_batch_seen}

    def set_state(self, state):
        self.best = state["best"]
        self.epochs_since_last_save = state["epochs_since_last_save"]
        self._batches_seen_since_last_saving = state["batches_seen_since_last_saving"]
        self._last_batch_seen = state["last_batch_seen"]
