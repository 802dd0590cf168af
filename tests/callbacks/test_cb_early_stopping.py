"""EarlyStopping inside fit: stopping, restore_best_weights (tf-keras 2.21), messages, warnings, state."""
import numpy as np
import pytest
from cb_models import tiny_data, tiny_model

from fitgen.callbacks.early_stopping import EarlyStopping
from fitgen.callbacks.lambda_callback import LambdaCallback


def _scripted_losses(values):
    """A callback placed first that overwrites val_loss with scripted values."""
    return LambdaCallback(on_epoch_end=lambda epoch, logs: logs.__setitem__("val_loss", values[epoch]))


def test_stops_after_patience_and_restores_best_weights(capsys):
    x, y = tiny_data(8)
    model = tiny_model()
    snapshots = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights()))
    stopper = EarlyStopping(patience=2, verbose=1, restore_best_weights=True)
    history = model.fit(x, y, batch_size=4, epochs=10, verbose=0, validation_data=(x, y),
                        callbacks=[_scripted_losses([0.9, 0.5, 0.6, 0.7, 0.1]), record, stopper])
    assert history.epoch == [0, 1, 2, 3]
    assert stopper.stopped_epoch == 3 and stopper.best == 0.5 and stopper.best_epoch == 1
    for expected, actual in zip(snapshots[1], model.get_weights()):
        np.testing.assert_array_equal(expected, actual)
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping\n" in out
    assert "Restoring model weights from the end of the best epoch: 2.\n" in out


def test_restores_best_weights_even_when_all_epochs_ran():
    # tf-keras 2.21: restoring happens at on_train_end whenever a best snapshot exists.
    x, y = tiny_data(8)
    model = tiny_model()
    snapshots = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights()))
    stopper = EarlyStopping(patience=5, restore_best_weights=True)
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, validation_data=(x, y),
              callbacks=[_scripted_losses([0.9, 0.2, 0.6]), record, stopper])
    assert stopper.stopped_epoch == 0
    for expected, actual in zip(snapshots[1], model.get_weights()):
        np.testing.assert_array_equal(expected, actual)


def test_missing_monitor_warns_and_does_not_stop():
    x, y = tiny_data(8)
    model = tiny_model()
    with pytest.warns(RuntimeWarning, match="Early stopping conditioned on metric `val_loss` which is not "
                                            "available. Available metrics are: loss,acc"):
        history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[EarlyStopping()])
    assert history.epoch == [0, 1]


@pytest.mark.parametrize("monitor, mode", [("val_acc", "max"), ("val_accuracy", "max"), ("auc", "max"),
                                           ("val_loss", "min"), ("acc_top", "min")])
def test_auto_mode_uses_tf_keras_suffix_rule(monitor, mode):
    assert EarlyStopping(monitor=monitor).mode == mode


def test_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(RuntimeWarning, match="EarlyStopping mode bigger is unknown, fallback to auto mode."):
        stopper = EarlyStopping(monitor="val_acc", mode="bigger")
    assert stopper.mode == "max"


def test_min_delta_sign_is_ignored():
    assert EarlyStopping(min_delta=-0.1).min_delta == -0.1
    assert EarlyStopping(min_delta=-0.1, mode="max").min_delta == 0.1


def test_state_round_trip():
    stopper = EarlyStopping(restore_best_weights=True)
    stopper.on_train_begin()
    stopper.wait, stopper.best, stopper.best_epoch, stopper.best_weights = 2, 0.3, 4, [np.ones(2)]
    other = EarlyStopping(restore_best_weights=True)
    other.set_state(stopper.get_state())
    assert (other.wait, other.best, other.best_epoch) == (2, 0.3, 4)
    np.testing.assert_array_equal(other.best_weights[0], np.ones(2))
