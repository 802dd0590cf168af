"""The exact hook sequence and logs keys a callback sees in fit and fit_generator, with validation."""
import pytest
from cb_models import ArraySequence, tiny_data, tiny_model

from fitgen.callbacks.callback import Callback

_BATCH = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
          "on_test_batch_end", "on_epoch_begin", "on_epoch_end")
_LOGS_ONLY = ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end")


def _recorder(hook):
    base = getattr(Callback, hook)
    if hook in _BATCH:
        def method(self, index, logs=None):
            self.calls.append((hook, index, sorted(logs)))
            base(self, index, logs)  # keeps on_train_batch_* -> on_batch_* of the base class
    else:
        def method(self, logs=None):
            self.calls.append((hook, None, sorted(logs or {})))
    return method


class Probe(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []


for _hook in _BATCH + _LOGS_ONLY:
    setattr(Probe, _hook, _recorder(_hook))

TRAIN_BATCH = ["acc", "batch", "loss", "size"]
BEGIN = ["batch", "size"]


def _expected(epochs, train_batches, val_batches, epoch_keys):
    calls = [("on_train_begin", None, [])]
    for epoch in range(epochs):
        calls.append(("on_epoch_begin", epoch, []))
        for batch in range(train_batches):
            calls += [("on_train_batch_begin", batch, BEGIN), ("on_batch_begin", batch, BEGIN),
                      ("on_train_batch_end", batch, TRAIN_BATCH), ("on_batch_end", batch, TRAIN_BATCH)]
        calls.append(("on_test_begin", None, []))
        for batch in range(val_batches):
            calls += [("on_test_batch_begin", batch, BEGIN), ("on_test_batch_end", batch, TRAIN_BATCH)]
        calls.append(("on_test_end", None, ["acc", "loss"]))
        calls.append(("on_epoch_end", epoch, epoch_keys))
    calls.append(("on_train_end", None, epoch_keys))
    return calls


def test_fit_arrays_hook_order_and_logs():
    x, y = tiny_data(12)
    model = tiny_model()
    probe = Probe()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x[:8], y[:8]), callbacks=[probe])
    assert probe.calls == _expected(2, 3, 2, ["acc", "loss", "val_acc", "val_loss"])
    assert probe.model is model
    assert probe.params["epochs"] == 2 and probe.params["steps"] == 3


@pytest.mark.parametrize("api", ["fit_generator", "fit"])
def test_sequence_hook_order_and_logs(api):
    x, y = tiny_data(12)
    model = tiny_model()
    probe = Probe()
    getattr(model, api)(ArraySequence(x, y, 4), epochs=2, verbose=0, validation_data=ArraySequence(x, y, 6),
                        callbacks=[probe])
    epoch_keys = [k for k in probe.calls[-1][2] if k == "data_wait"]  # fitgen's pipeline statistic, if logged
    assert probe.calls == _expected(2, 3, 2, sorted(["acc", "loss", "val_acc", "val_loss"] + epoch_keys))


def test_stop_training_in_batch_hook_skips_rest_of_epoch():
    x, y = tiny_data(16)
    model = tiny_model()

    class StopAtBatch1(Probe):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            if batch == 1:
                self.model.stop_training = True

    probe = StopAtBatch1()
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[probe])
    batches = [c[1] for c in probe.calls if c[0] == "on_train_batch_end"]
    assert batches == [0, 1]
    assert history.epoch == [0]
    assert [c[0] for c in probe.calls][-2:] == ["on_epoch_end", "on_train_end"]


def test_a_raising_callback_stops_fit_and_is_named():
    x, y = tiny_data(8)
    model = tiny_model()

    class Exploding(Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise ZeroDivisionError("boom")

    after = Probe()
    with pytest.raises(ZeroDivisionError, match="boom") as info:
        model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[Exploding(), after])
    assert any("Exploding" in note for note in getattr(info.value, "__notes__", []))
    assert [c for c in after.calls if c[0] == "on_epoch_begin"] == [("on_epoch_begin", 0, [])]
