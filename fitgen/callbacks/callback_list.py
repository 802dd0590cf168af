"""`CallbackList`: calls each hook on every callback that overrides it, in Keras's order.

Order: user callbacks, then History, then ProgbarLogger (tf-keras), so the bar sees keys that callbacks add
(e.g. 'lr'). Hooks nobody overrides are never called, so unused hooks cost nothing per batch.
"""
from fitgen.callbacks.callback import Callback
from fitgen.callbacks.history import History
from fitgen.callbacks.progbar_logger import ProgbarLogger

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
          "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
          "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end")
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _name_callback(error, callback, hook):
    """Re-raised errors keep their type; a note names the callback and hook (shown in the traceback)."""
    note = f"Raised by callback {type(callback).__name__} in {hook}."
    if hasattr(error, "add_note") and note not in getattr(error, "__notes__", ()):
        error.add_note(note)


def _overrides(callback, hook):
    method = getattr(type(callback), hook, None)
    if method is not getattr(Callback, hook):
        return True
    alias = _ALIASES.get(hook)
    return alias is not None and getattr(type(callback), alias) is not getattr(Callback, alias)


def callbacks_list(callbacks, argument="callbacks"):
    """The `callbacks` argument as a list of Callback instances (None: none; one Callback alone is accepted, as
    tf-keras does).

    Raises:
        TypeError: something that is not a list/tuple of Callbacks, naming it (and its position in the list).
    """
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"`{argument}` must be a list of fitgen.callbacks.Callback instances. Received: "
                        f"{callbacks!r} of type {type(callbacks).__name__}")
    for index, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(f"Each entry of `{argument}` must be a fitgen.callbacks.Callback. Received: {callback!r} "
                            f"of type {type(callback).__name__} at `{argument}[{index}]`.")
    return list(callbacks)


class CallbackList:
    """The callbacks of one fit/evaluate/predict call."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, trainer_state=None,
                 **params):
        self.callbacks = callbacks_list(callbacks)
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if add_history and self.history is None:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger(count_mode="steps"))
        self.model = model
        if model is not None:
            self.set_model(model)
        self.set_params(params)
        self.trainer_state = trainer_state
        for callback in self.callbacks:
            callback.set_trainer_state(trainer_state)
        self._by_hook = {hook: [c for c in self.callbacks if _overrides(c, hook)] for hook in _HOOKS}

    def append(self, callback):
        self.callbacks.append(callback)
        callback.set_trainer_state(self.trainer_state)
        self._by_hook = {hook: [c for c in self.callbacks if _overrides(c, hook)] for hook in _HOOKS}

    def set_model(self, model):
        self.model = model
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params):
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def wants(self, hook):
        return bool(self._by_hook[hook])

    def _call(self, hook, *args):
        for callback in self._by_hook[hook]:
            try:
                getattr(callback, hook)(*args)
            except Exception as error:
                _name_callback(error, callback, hook)
                raise

    def _call_batch(self, hook, batch, logs):
        """`logs` may be a callable producing the dict; it is materialised once, only if someone reads it."""
        callbacks = self._by_hook[hook]
        if not callbacks:
            return
        materialised = None
        for callback in callbacks:
            if callable(logs) and not getattr(callback, "_lazy_batch_logs", False):
                if materialised is None:
                    materialised = logs()
                value = materialised
            else:
                value = logs
            try:
                getattr(callback, hook)(batch, value)
            except Exception as error:
                _name_callback(error, callback, hook)
                raise

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs or {})

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs or {})

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs or {})

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs or {})

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs or {})

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs or {})

    def on_batch_begin(self, mode, batch, logs=None):
        self._call_batch(f"on_{mode}_batch_begin", batch, logs if logs is not None else {})

    def on_batch_end(self, mode, batch, logs=None):
        self._call_batch(f"on_{mode}_batch_end", batch, logs if logs is not None else {})
