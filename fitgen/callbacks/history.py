"""`History`: records every epoch's logs; `fit` always attaches one and returns it."""
from fitgen.callbacks.callback import Callback
from fitgen.callbacks.logs import MetricLogs


class History(Callback):
    """Records events into a `History` object: `history.history['loss']`, `history.epoch`, `history.params`."""

    def __init__(self):
        super().__init__()
        self.history = MetricLogs()  # answers to 'acc' and 'accuracy' alike (see logs.py)
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        context = getattr(self.model, "_fit_context", None)
        if context is not None and context.data_wait is not None:
            # fitgen records how much of each epoch waited for data (streaming input only).
            self.history.setdefault("data_wait", []).append(context.data_wait)
        if self.model is not None:
            self.model.history = self
