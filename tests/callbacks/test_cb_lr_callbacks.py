"""LearningRateScheduler and ReduceLROnPlateau inside fit: the optimizer's rate, 'lr' in the logs, messages."""
import numpy as np
import pytest
import torch
from cb_models import tiny_data, tiny_model

from fitgen import backend
from fitgen.callbacks.lambda_callback import LambdaCallback
from fitgen.callbacks.learning_rate_scheduler import LearningRateScheduler
from fitgen.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau


def _lr(model):
    return float(np.float32(backend.get_value(model.optimizer.lr)))


def test_scheduler_two_argument_form_sets_rate_and_logs_it(capsys):
    x, y = tiny_data(8)
    model = tiny_model()
    seen = []
    probe = LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(_lr(model)))
    scheduler = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else 0.1, verbose=1)
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[scheduler, probe])
    assert seen == [pytest.approx(0.1), pytest.approx(0.05), pytest.approx(0.025)]
    assert history.history["lr"] == [float(np.float32(v)) for v in (0.1, 0.05, 0.025)]
    out = capsys.readouterr().out
    assert "\nEpoch 1: LearningRateScheduler setting learning rate to 0.1.\n" in out
    # As in tf-keras, the schedule receives the float32 rate widened to a Python float.
    assert "\nEpoch 3: LearningRateScheduler setting learning rate to 0.02500000037252903.\n" in out


def test_scheduler_keras_22_one_argument_form_and_absolute_epochs():
    x, y = tiny_data(8)
    model = tiny_model()
    epochs_seen = []

    def schedule(epoch):
        epochs_seen.append(epoch)
        return 0.01 * (epoch + 1)

    model.fit(x, y, batch_size=4, epochs=4, initial_epoch=2, verbose=0, callbacks=[LearningRateScheduler(schedule)])
    assert epochs_seen == [2, 3]
    assert _lr(model) == pytest.approx(0.04)


@pytest.mark.parametrize("value", [np.float32(0.2), np.float64(0.2), torch.tensor(0.2)])
def test_scheduler_accepts_numpy_and_tensor_floats(value):
    model = tiny_model()
    scheduler = LearningRateScheduler(lambda epoch, lr: value)
    scheduler.set_model(model)
    scheduler.on_epoch_begin(0)
    assert _lr(model) == pytest.approx(0.2)


@pytest.mark.parametrize("value", [1, "0.1", torch.tensor(1)])
def test_scheduler_rejects_non_float_output(value):
    model = tiny_model()
    scheduler = LearningRateScheduler(lambda epoch, lr: value)
    scheduler.set_model(model)
    with pytest.raises(ValueError, match="should be float"):
        scheduler.on_epoch_begin(0)


def test_scheduler_needs_an_optimizer_with_lr():
    class NoOptimizer:
        optimizer = None

    scheduler = LearningRateScheduler(lambda epoch: 0.1)
    scheduler.set_model(NoOptimizer())
    with pytest.raises(ValueError, match='Optimizer must have a "lr" attribute.'):
        scheduler.on_epoch_begin(0)


def test_reduce_lr_in_fit_logs_lr_and_reduces(capsys):
    x, y = tiny_data(8)
    model = tiny_model()
    backend.set_value(model.optimizer.lr, 0.01)
    scripted = LambdaCallback(on_epoch_end=lambda epoch, logs: logs.__setitem__("val_loss", 1.0))
    reducer = ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5, verbose=1)
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, validation_data=(x, y),
                        callbacks=[scripted, reducer])
    assert history.history["lr"] == [float(np.float32(v)) for v in (0.01, 0.01, 0.005)]
    assert _lr(model) == pytest.approx(0.0025)
    assert "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.004999999888241291.\n" in capsys.readouterr().out


def test_reduce_lr_arguments():
    with pytest.raises(ValueError, match="ReduceLROnPlateau does not support a factor >= 1.0. Got 1.5"):
        ReduceLROnPlateau(factor=1.5)
    with pytest.warns(UserWarning, match="`epsilon` argument is deprecated"):
        assert ReduceLROnPlateau(epsilon=0.01).min_delta == 0.01
    with pytest.warns(RuntimeWarning, match="Learning rate reduction mode up is unknown, fallback to auto mode."):
        assert ReduceLROnPlateau(monitor="val_acc", mode="up").mode == "max"
    assert ReduceLROnPlateau(monitor="val_top_k").mode == "min"


def test_reduce_lr_missing_monitor_warns_and_still_logs_lr():
    model = tiny_model()
    reducer = ReduceLROnPlateau(monitor="val_loss")
    reducer.set_model(model)
    logs = {"loss": 1.0}
    with pytest.warns(RuntimeWarning, match="Learning rate reduction is conditioned on metric `val_loss` which is "
                                            "not available. Available metrics are: loss,lr"):
        reducer.on_epoch_end(0, logs)
    assert logs["lr"] == pytest.approx(0.01)


def test_reduce_lr_state_round_trip():
    reducer = ReduceLROnPlateau()
    reducer.best, reducer.wait, reducer.cooldown_counter = 0.5, 3, 1
    other = ReduceLROnPlateau()
    other.set_state(reducer.get_state())
    assert (other.best, other.wait, other.cooldown_counter) == (0.5, 3, 1)
