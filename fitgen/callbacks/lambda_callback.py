"""`LambdaCallback`: a callback made of plain functions, one per hook."""
from fitgen.callbacks.callback import Callback

_EPOCH_HOOKS = ("on_epoch_begin", "on_epoch_end")
_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end",
                "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")
_LOGS_HOOKS = ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin",
               "on_predict_end")
_ALL_HOOKS = _EPOCH_HOOKS + _BATCH_HOOKS + _LOGS_HOOKS


class LambdaCallback(Callback):
    r"""Callback for creating simple, custom callbacks on-the-fly.

    The functions are called positionally: `on_epoch_begin/end(epoch, logs)`, `on_batch_begin/end(batch, logs)`,
    `on_train_begin/end(logs)`. `on_batch_*` fire for training batches only (through `on_train_batch_*`).
    Other hooks (`on_train_batch_end`, `on_test_begin`, `on_predict_batch_end`, ...) may be passed as keyword
    arguments too; any other keyword argument becomes an attribute of the callback.

    Args:
        on_epoch_begin: called at the beginning of every epoch.
        on_epoch_end: called at the end of every epoch.
        on_batch_begin: called at the beginning of every training batch.
        on_batch_end: called at the end of every training batch.
        on_train_begin: called at the beginning of training.
        on_train_end: called at the end of training.

    Example:

    ```python
    print_batch = LambdaCallback(on_batch_begin=lambda batch, logs: print(batch))
    model.fit(x, y, callbacks=[print_batch])
    ```
    """

    # Batch logs come as a callable and are materialised only for hooks that were given a function.
    _lazy_batch_logs = True

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None, **kwargs):
        super().__init__()
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_batch_begin": on_batch_begin,
                     "on_batch_end": on_batch_end, "on_train_begin": on_train_begin, "on_train_end": on_train_end}
        for name in list(kwargs):
            if name in _ALL_HOOKS:
                given[name] = kwargs.pop(name)
        for name, function in given.items():
            if function is not None and not callable(function):
                raise TypeError(f"LambdaCallback's `{name}` must be callable. Received: {name}={function!r}")
        self._functions = {name: function for name, function in given.items() if function is not None}
        self.__dict__.update(kwargs)

    def _batch(self, hook, batch, logs):
        function = self._functions.get(hook)
        if function is not None:
            function(batch, logs() if callable(logs) else logs)

    def _logs_only(self, hook, logs):
        function = self._functions.get(hook)
        if function is not None:
            function(logs)

    def on_epoch_begin(self, epoch, logs=None):
        if "on_epoch_begin" in self._functions:
            self._functions["on_epoch_begin"](epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if "on_epoch_end" in self._functions:
            self._functions["on_epoch_end"](epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        self._batch("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._batch("on_batch_end", batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        if "on_train_batch_begin" in self._functions:
            self._batch("on_train_batch_begin", batch, logs)
        else:
            self._batch("on_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if "on_train_batch_end" in self._functions:
            self._batch("on_train_batch_end", batch, logs)
        else:
            self._batch("on_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._batch("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._logs_only("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._logs_only("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._logs_only("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._logs_only("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._logs_only("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._logs_only("on_predict_end", logs)
