"""`BaseLogger`: Keras 2.2's epoch averager, kept so Keras 2 code that imports or subclasses it runs.

`fit` does not attach it: fitgen's epoch logs are already running means (tf-keras 2.21 behaviour).
"""
from fitgen.callbacks.callback import Callback


class BaseLogger(Callback):
    """Callback that accumulates epoch averages of the batch logs.

    Each batch's values are weighted by its 'size'; at epoch end the averages of the keys in
    `params['metrics']` are written into the epoch logs (so 'batch' and 'size' never reach them).

    Args:
        stateful_metrics: names whose last batch value is reported instead of an average.
    """

    def __init__(self, stateful_metrics=None):
        super().__init__()
        self.stateful_metrics = set(stateful_metrics or ())
        self.seen = 0
        self.totals = {}

    def on_epoch_begin(self, epoch, logs=None):
        self.seen = 0
        self.totals = {}

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        size = logs.get("size", 0)
        self.seen += size * logs.get("num_steps", 1)
        for key, value in logs.items():
            if key in self.stateful_metrics:
                self.totals[key] = value
            else:
                self.totals[key] = self.totals.get(key, 0) + value * size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for key in self.params.get("metrics", ()):
            if key in self.totals and (self.seen or key in self.stateful_metrics):
                logs[key] = self.totals[key] if key in self.stateful_metrics else self.totals[key] / self.seen
