"""`History`: records every epoch's logs; `fit` always attaches one and returns it."""
from fitgen.callbacks.callback import Callback
from fitgen.callbacks.logs import MetricLogs


class History(Callback):
    """Records events into a `History` object: `history.history['loss']`, `history.epoch`, `history.params`.

    `history.history` holds exactly what Keras logged. fitgen's own per-epoch measurement, the share of each
    epoch spent waiting for data from a pipeline (streams and out-of-core arrays), is kept beside it in
    `history.data_wait`; `History(log_data_wait=True)` (passed in `callbacks`) also logs it as
    `history.history['data_wait']`.
    """

    def __init__(self, log_data_wait=False):
        super().__init__()
        self.history = MetricLogs()  # answers to 'acc' and 'accuracy' alike (see logs.py)
        self.epoch = []
        self.data_wait = []
        self.log_data_wait = log_data_wait

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        state = self.trainer_state
        if state is not None and state.data_wait is not None:
            self.data_wait.append(state.data_wait)
            if self.log_data_wait:
                self.history.setdefault("data_wait", []).append(state.data_wait)
        if self.model is not None:
            self.model.history = self
