"""ModelCheckpoint: decisions, messages, file names, batch-level saving, atomic writes, and real files."""
import os

import numpy as np
import pytest
from cb_models import tiny_data, tiny_model

from fitgen.callbacks.model_checkpoint import ModelCheckpoint


class FakeModel:
    """Records saves and writes a small file, like model.save would."""

    def __init__(self, fail_after_bytes=None):
        self.saves = []
        self.fail_after_bytes = fail_after_bytes
        self.stop_training = False
        self.content = b"v1"

    def _write(self, kind, path):
        self.saves.append((kind, path))
        with open(path, "wb") as handle:
            if self.fail_after_bytes is not None:
                handle.write(self.content[: self.fail_after_bytes])
                raise OSError("disk full")
            handle.write(self.content)

    def save(self, path, overwrite=True):
        self._write("save", path)

    def save_weights(self, path, overwrite=True):
        self._write("save_weights", path)


def _drive(callback, values, monitor="val_acc"):
    model = FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"loss": 1.0, monitor: value})
    callback.on_train_end()
    return model


def test_seed_line_saves_best_every_second_epoch(tmp_path, capsys):
    path = str(tmp_path / "best.h5")
    checkpoint = ModelCheckpoint(path, monitor="val_acc", verbose=1, save_best_only=True, mode="max", period=2)
    model = _drive(checkpoint, [0.5, 0.52341, 0.9, 0.61234, 0.7, 0.61234])
    # Checked at epochs 2, 4, 6 only: 0.52341 (improves on -inf), 0.61234 (improves), 0.61234 (tie: no save).
    assert len(model.saves) == 2 and all(kind == "save" for kind, _ in model.saves)
    assert checkpoint.best == pytest.approx(0.61234)
    assert os.path.exists(path)
    out = capsys.readouterr().out
    assert f"\nEpoch 2: val_acc improved from -inf to 0.52341, saving model to {path}\n" in out
    assert f"\nEpoch 4: val_acc improved from 0.52341 to 0.61234, saving model to {path}\n" in out
    assert "\nEpoch 6: val_acc did not improve from 0.61234\n" in out
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".partial")]


def test_seed_line_in_fit_with_acc_metric(tmp_path, capsys):
    x, y = tiny_data(16)
    model = tiny_model(metrics=["acc"])
    calls = []
    model.save = lambda path, overwrite=True: (calls.append(path), open(path, "wb").close())
    path = str(tmp_path / "weights.best.hdf5")
    checkpoint = ModelCheckpoint(path, monitor="val_acc", verbose=1, save_best_only=True, mode="max", period=2)
    history = model.fit(x, y, batch_size=4, epochs=4, verbose=0, validation_data=(x, y), callbacks=[checkpoint])
    assert len(history.history["val_acc"]) == 4
    assert 1 <= len(calls) <= 2 and os.path.exists(path)
    assert "Epoch 2: val_acc improved from -inf to" in capsys.readouterr().out


def test_filepath_is_formatted_with_one_based_epoch_and_logs(tmp_path):
    checkpoint = ModelCheckpoint(str(tmp_path / "sub" / "w.{epoch:02d}-{val_loss:.2f}.h5"), save_weights_only=True)
    model = _drive(checkpoint, [0.123, 0.456], monitor="val_loss")
    assert [kind for kind, _ in model.saves] == ["save_weights", "save_weights"]
    assert sorted(os.listdir(tmp_path / "sub")) == ["w.01-0.12.h5", "w.02-0.46.h5"]


def test_missing_placeholder_raises_key_error_naming_key_and_available(tmp_path):
    checkpoint = ModelCheckpoint(str(tmp_path / "w.{epoch}-{val_acc:.2f}.h5"))
    checkpoint.set_model(FakeModel())
    with pytest.raises(KeyError) as info:
        checkpoint.on_epoch_end(0, {"loss": 0.3, "acc": 0.5})
    message = info.value.args[0]
    assert "placeholder 'val_acc' is not in the logs" in message
    assert message.endswith("Available keys: acc, epoch, loss.")


def test_missing_monitor_with_save_best_only_warns_and_skips(tmp_path):
    checkpoint = ModelCheckpoint(str(tmp_path / "w.h5"), monitor="val_acc", save_best_only=True)
    model = FakeModel()
    checkpoint.set_model(model)
    with pytest.warns(RuntimeWarning, match="Can save best model only with val_acc available, skipping."):
        checkpoint.on_epoch_end(0, {"loss": 0.3})
    assert model.saves == []


@pytest.mark.parametrize("monitor, expected", [("val_acc", "max"), ("val_accuracy", "max"), ("acc", "max"),
                                               ("fmeasure_x", "max"), ("val_loss", "min"), ("mae", "min")])
def test_auto_mode_follows_keras_name_rule(monitor, expected):
    assert ModelCheckpoint("w.h5", monitor=monitor).mode == expected


def test_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(RuntimeWarning, match="ModelCheckpoint mode maximum is unknown, fallback to auto mode."):
        checkpoint = ModelCheckpoint("w.h5", monitor="val_acc", mode="maximum")
    assert checkpoint.mode == "max"


def test_min_mode_and_initial_value_threshold(tmp_path):
    checkpoint = ModelCheckpoint(str(tmp_path / "w.h5"), monitor="val_loss", save_best_only=True,
                                 initial_value_threshold=0.5)
    model = _drive(checkpoint, [0.6, 0.4, 0.45, 0.3], monitor="val_loss")
    assert len(model.saves) == 2 and checkpoint.best == pytest.approx(0.3)


def test_save_without_best_only_overwrites_every_period(tmp_path, capsys):
    path = str(tmp_path / "w.h5")
    checkpoint = ModelCheckpoint(path, verbose=1, period=3)
    model = _drive(checkpoint, [0.1] * 7, monitor="val_loss")
    assert len(model.saves) == 2
    out = capsys.readouterr().out
    assert f"\nEpoch 3: saving model to {path}\n" in out and f"\nEpoch 6: saving model to {path}\n" in out


def test_integer_save_freq_counts_batches_across_epochs(tmp_path):
    x, y = tiny_data(12)
    model = tiny_model()
    saved = []
    model.save_weights = lambda path, overwrite=True: (saved.append(os.path.basename(path)),
                                                       open(path, "wb").close())
    pattern = str(tmp_path / "w-{epoch}-{batch}.h5")
    checkpoint = ModelCheckpoint(pattern, save_weights_only=True, save_freq=2)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[checkpoint])
    # 3 batches per epoch; every 2nd batch overall: epoch 1 batch 2, epoch 2 batch 1, epoch 2 batch 3.
    assert sorted(os.listdir(tmp_path)) == ["w-1-2.h5", "w-2-1.h5", "w-2-3.h5"]
    assert [s.endswith(n) for s, n in zip(saved, ["w-1-2.h5", "w-2-1.h5", "w-2-3.h5"])] == [True] * 3


def test_bad_save_freq_is_rejected():
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("w.h5", save_freq="batch")


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    from fitgen.models import load_model
    from fitgen.saving import hdf5_format
    path = tmp_path / "w.h5"
    model = tiny_model()
    checkpoint = ModelCheckpoint(str(path))
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"val_loss": 1.0})
    before = path.read_bytes()
    original, calls = hdf5_format._write_arrays, []

    def failing(group, names, values):
        calls.append(names)
        if len(calls) == 2:  # after the first layer's arrays: the new file is half written
            raise OSError("disk full (simulated)")
        return original(group, names, values)

    monkeypatch.setattr(hdf5_format, "_write_arrays", failing)
    model.set_weights([w + 1.0 for w in model.get_weights()])
    with pytest.raises(OSError, match="disk full"):
        checkpoint.on_epoch_end(1, {"val_loss": 0.5})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.h5"]
    load_model(str(path))


def test_directory_filepath_is_an_error(tmp_path):
    checkpoint = ModelCheckpoint(str(tmp_path))
    checkpoint.set_model(FakeModel())
    with pytest.raises(IOError, match="Please specify a non-directory filepath for ModelCheckpoint"):
        checkpoint.on_epoch_end(0, {"val_loss": 1.0})


def test_state_round_trip():
    checkpoint = ModelCheckpoint("w.h5", save_best_only=True)
    checkpoint.best, checkpoint.epochs_since_last_save = 0.25, 1
    other = ModelCheckpoint("w.h5", save_best_only=True)
    other.set_state(checkpoint.get_state())
    assert other.best == 0.25 and other.epochs_since_last_save == 1


def _saving_available():
    try:
        from fitgen.saving import hdf5_format
    except ImportError:
        return False
    return hasattr(hdf5_format, "save_model") and hasattr(hdf5_format, "load_weights")


@pytest.mark.skipif(not _saving_available(), reason="fitgen.saving.hdf5_format is not there yet")
@pytest.mark.parametrize("weights_only", [True, False])
def test_real_files_hold_the_best_weights(tmp_path, weights_only):
    x, y = tiny_data(16)
    model = tiny_model()
    path = str(tmp_path / "best.h5")
    checkpoint = ModelCheckpoint(path, monitor="loss", save_best_only=True, save_weights_only=weights_only)
    snapshots = []
    from fitgen.callbacks.lambda_callback import LambdaCallback
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append((logs["loss"], model.get_weights())))
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[checkpoint, record])
    best_loss, best_weights = min(snapshots, key=lambda item: item[0])
    assert checkpoint.best == pytest.approx(best_loss)
    fresh = tiny_model()
    fresh.load_weights(path)
    for expected, actual in zip(best_weights, fresh.get_weights()):
        np.testing.assert_array_equal(expected, actual)


# ------------------------------------------------------------------ Keras 2.2.4's test_ModelCheckpoint cases

def _keras224_model():
    from fitgen.layers import Dense
    from fitgen.models import Sequential
    model = Sequential([Dense(5, input_dim=4, activation="relu"), Dense(3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    return model


def _keras224_data():
    rng = np.random.RandomState(1337)
    x = rng.rand(30, 4).astype("float32")
    y = np.eye(3, dtype="float32")[rng.randint(0, 3, 30)]
    return x[:20], y[:20], x[20:], y[20:]


@pytest.mark.parametrize("monitor, mode, save_best_only", [
    ("val_loss", "auto", False), ("val_loss", "min", False), ("val_acc", "max", False), ("val_acc", "max", True),
    ("val_accuracy", "auto", True), ("val_loss", "min", True)])
def test_keras224_cases_write_the_checkpoint(tmp_path, monitor, mode, save_best_only):
    x, y, x_val, y_val = _keras224_data()
    model = _keras224_model()
    filepath = tmp_path / "checkpoint.h5"
    checkpoint = ModelCheckpoint(str(filepath), monitor=monitor, save_best_only=save_best_only, mode=mode)
    model.fit(x, y, batch_size=5, validation_data=(x_val, y_val), callbacks=[checkpoint], epochs=1, verbose=0)
    assert os.path.isfile(filepath)
    from fitgen.models import load_model
    np.testing.assert_allclose(load_model(str(filepath)).predict(x_val, verbose=0), model.predict(x_val, verbose=0),
                               rtol=1e-6)


def test_keras224_period_with_epoch_in_the_file_name(tmp_path):
    x, y, x_val, y_val = _keras224_data()
    model = _keras224_model()
    pattern = str(tmp_path / "checkpoint.{epoch:02d}.h5")
    checkpoint = ModelCheckpoint(pattern, monitor="val_acc", save_best_only=False, mode="auto", period=2)
    model.fit(x, y, batch_size=5, validation_data=(x_val, y_val), callbacks=[checkpoint], epochs=4, verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.02.h5", "checkpoint.04.h5"]


def test_keras224_save_weights_only_writes_a_weights_file(tmp_path):
    import h5py
    x, y, x_val, y_val = _keras224_data()
    model = _keras224_model()
    path = str(tmp_path / "weights.{epoch:02d}-{val_loss:.2f}.h5")
    model.fit(x, y, batch_size=5, validation_data=(x_val, y_val), epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(path, save_weights_only=True, save_best_only=True, monitor="val_loss")])
    files = sorted(os.listdir(tmp_path))
    assert files and all(f.startswith("weights.0") for f in files)
    last = str(tmp_path / files[-1])
    with h5py.File(last, "r") as f:
        assert "model_config" not in f.attrs and "layer_names" in f.attrs
    fresh = _keras224_model()
    fresh.load_weights(last)
    assert len(fresh.get_weights()) == 4


def test_keras224_missing_monitor_warns_once_per_epoch_and_saves_nothing(tmp_path):
    x, y, _, _ = _keras224_data()
    model = _keras224_model()
    checkpoint = ModelCheckpoint(str(tmp_path / "c.h5"), monitor="val_loss", save_best_only=True)
    with pytest.warns(RuntimeWarning, match="Can save best model only with val_loss available, skipping.") as caught:
        model.fit(x, y, batch_size=5, callbacks=[checkpoint], epochs=2, verbose=0)
    assert len([w for w in caught if "Can save best model" in str(w.message)]) == 2
    assert os.listdir(tmp_path) == []


def test_acc_and_accuracy_name_the_same_monitored_value(tmp_path):
    checkpoint = ModelCheckpoint(str(tmp_path / "w.h5"), monitor="val_acc", save_best_only=True)
    model = FakeModel()
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"loss": 0.3, "val_accuracy": 0.5})
    checkpoint.on_epoch_end(1, {"loss": 0.3, "val_accuracy": 0.4})
    assert len(model.saves) == 1 and checkpoint.best == 0.5
    other = ModelCheckpoint(str(tmp_path / "w.h5"), monitor="accuracy", save_best_only=True)
    other.set_model(FakeModel())
    other.on_epoch_end(0, {"acc": 0.7})
    assert other.best == 0.7
