"""`ProgbarLogger`: prints 'Epoch i/N' and Keras's progress bar (verbose=1) or one line per epoch (verbose=2)."""
import time

from fitgen.callbacks.callback import Callback
from fitgen.utils.progbar import Progbar

# Keys in logs that describe the batch or the pipeline rather than the model.
_HIDDEN = ("batch", "size")


class ProgbarLogger(Callback):
    """Callback that prints metrics to stdout.

    Args:
        count_mode: 'steps' (what fitgen counts; 'samples' is accepted for Keras 2 compatibility and counts
            steps too).
        stateful_metrics: names shown as their last value rather than averaged (every model metric already
            is a running mean over the epoch).
    """

    # Receives a zero-argument callable instead of a logs dict at batch end: materialising the logs costs a
    # device sync, and the bar only needs them when it redraws (at most ~10 times a second).
    _lazy_batch_logs = True

    def __init__(self, count_mode="steps", stateful_metrics=None):
        super().__init__()
        if count_mode not in ("steps", "samples"):
            raise ValueError(f"Unknown `count_mode`: {count_mode!r}. Expected 'steps' or 'samples'.")
        self.stateful_metrics = set(stateful_metrics or ())
        self.progbar = None
        self.verbose = 1
        self.epochs = 1
        self._mode = "train"

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)

    def _new_bar(self, target):
        self.progbar = Progbar(target=target, verbose=self.verbose, unit_name="step", interval=0.1)
        self._seen = 0
        self._last_draw = 0.0

    def _wants_update(self, current):
        # Checked before materialising logs: a redraw costs a device sync, so at most ~10 per second.
        now = time.monotonic()
        if now - self._last_draw < 0.1 and (self.progbar.target is None or current < self.progbar.target):
            return False
        self._last_draw = now
        return True

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)
        self._mode = "train"
        self._new_bar(self.params.get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        self._batch_update(batch, logs)

    def _in_fit(self):
        return self.trainer_state is not None and self.trainer_state.in_fit

    def on_test_begin(self, logs=None):
        if self._in_fit():
            return
        self._mode = "test"
        self._new_bar(self.params.get("steps"))

    def on_test_batch_end(self, batch, logs=None):
        if self._in_fit() or self.progbar is None:
            return
        self._batch_update(batch, logs)

    def on_test_end(self, logs=None):
        if self._in_fit() or self.progbar is None:
            return
        self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._mode = "predict"
        self._new_bar(self.params.get("steps"))

    def on_predict_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self.progbar is not None and self._wants_update(self._seen):
            self.progbar.update(self._seen, finalize=False)

    def on_predict_end(self, logs=None):
        if self.progbar is not None:
            self.progbar.update(self._seen, finalize=True)

    def _batch_update(self, batch, logs):
        self._seen = batch + 1
        if self.verbose != 1 or not self._wants_update(self._seen):
            return
        logs = logs() if callable(logs) else (logs or {})
        self._update(self._seen, _visible(logs), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def _finish(self, logs):
        logs = logs or {}
        extra = None
        state = self.trainer_state
        if self._mode == "train" and state is not None and state.data_wait is not None:
            extra = f" - data {100 * state.data_wait:.0f}%"
        target = self.progbar.target if self.progbar.target is not None else self._seen
        self._update(target if self._seen >= (target or 0) else self._seen, _visible(logs), finalize=True,
                     extra=extra)

    def _update(self, current, values, **kwargs):
        # Every value fitgen logs is already a running mean over the epoch: the bar shows it as-is.
        self.progbar.stateful_metrics.update(name for name, _ in values)
        self.progbar.update(current, values, **kwargs)


def _visible(logs):
    return [(k, v) for k, v in logs.items() if k not in _HIDDEN]
