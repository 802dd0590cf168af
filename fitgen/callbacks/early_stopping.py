"""`EarlyStopping`: stops training when the monitored value stops improving (tf-keras 2.21 rules)."""
from fitgen.callbacks import monitor as monitor_lib
from fitgen.callbacks.callback import Callback

_MISSING = "Early stopping conditioned on metric `%s` which is not available. Available metrics are: %s"


class EarlyStopping(Callback):
    """Stop training when a monitored metric has stopped improving.

    Each evaluated epoch first counts as a wait; an improvement (by more than `min_delta`, and beating
    `baseline` when one is given) resets the wait. Training stops once `wait >= patience` (never on the first
    epoch).

    Args:
        monitor: the logged quantity to watch, e.g. 'val_loss'.
        min_delta: the smallest change that counts as an improvement (its sign is ignored).
        patience: epochs without improvement after which training stops.
        verbose: 1 prints "Epoch N: early stopping" and the restore message.
        mode: 'min', 'max' or 'auto' (max when the name ends with 'acc', 'accuracy' or 'auc'). An unknown mode
            warns and falls back to 'auto'.
        baseline: a value the monitor must beat for the wait to reset.
        restore_best_weights: at the end of training, set the weights of the best epoch (tf-keras 2.21: also
            when training ran all its epochs, as long as an epoch was evaluated).
        start_from_epoch: epochs ignored before monitoring starts (a warm-up).
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.mode = monitor_lib.resolve_mode(mode, monitor, "suffix", "EarlyStopping")
        self.monitor_op = monitor_lib.compare_op(self.mode)
        # Stored signed, as Keras does: the improvement test subtracts it from the current value.
        self.min_delta = abs(min_delta) if self.mode == "max" else -abs(min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.best = monitor_lib.worst_value(self.mode)
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = monitor_lib.worst_value(self.mode)
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = monitor_lib.monitor_value(logs, self.monitor, _MISSING)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # The first evaluated epoch is the fallback "best", so there is always something to restore.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.", flush=True)
            self.model.set_weights(self.best_weights)

    def _is_improvement(self, value, reference):
        return bool(self.monitor_op(value - self.min_delta, reference))

    def get_monitor_value(self, logs):
        return monitor_lib.monitor_value(logs, self.monitor, _MISSING)

    def get_state(self):
        return {"wait": self.wait, "stopped_epoch": self.stopped_epoch, "best": self.best,
                "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def set_state(self, state):
        self.wait = state["wait"]
        self.stopped_epoch = state["stopped_epoch"]
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.best_weights = state["best_weights"]
