"""Metric names of every Keras 2 release: `acc` and `accuracy`, `mae` and `mean_absolute_error`, ... Each value is
stored once, under the name written in compile; the other spelling finds it in History, logs, monitors,
checkpoint paths and CSV columns."""
import csv
import json
import os

import numpy as np
import pytest

from fitgen.callbacks import (Callback, CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint,
                              ReduceLROnPlateau)
from fitgen.callbacks.logs import MetricLogs, other_spellings
from fitgen.layers import Dense, Input
from fitgen.models import Model, Sequential


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)]
    return x, y


def _model(metrics):
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile("adam", "categorical_crossentropy", metrics=metrics)
    return model


def test_other_spellings_cover_prefixes():
    assert other_spellings("val_acc") == ["val_accuracy"]
    assert other_spellings("out_accuracy") == ["out_acc"]
    assert other_spellings("val_mean_absolute_error") == ["val_mae"]
    assert other_spellings("loss") == []


def test_metric_logs_resolve_without_listing_twice():
    logs = MetricLogs(loss=1.0, accuracy=0.5, val_mae=0.25)
    assert logs["acc"] == 0.5 and logs.get("val_mean_absolute_error") == 0.25
    assert "acc" in logs and "val_acc" not in logs
    assert list(logs) == ["loss", "accuracy", "val_mae"] and len(logs) == 3
    assert json.loads(json.dumps(logs)) == {"loss": 1.0, "accuracy": 0.5, "val_mae": 0.25}
    with pytest.raises(KeyError):
        logs["val_acc"]


@pytest.mark.parametrize("written,other", [("accuracy", "acc"), ("acc", "accuracy"),
                                           ("mae", "mean_absolute_error"), ("mean_squared_error", "mse")])
def test_history_answers_to_both_spellings_and_stores_one(written, other):
    x, y = _data()
    history = _model([written]).fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    assert list(history.history) == ["loss", written, "val_loss", "val_" + written]
    assert history.history[other] == history.history[written]
    assert history.history["val_" + other] == history.history["val_" + written]


@pytest.mark.parametrize("written,monitor", [("accuracy", "val_acc"), ("acc", "val_accuracy")])
def test_seed_checkpoint_line_saves_with_either_era(tmp_path, written, monitor):
    # The seed article: ModelCheckpoint(filepath, monitor='val_acc', save_best_only=True, mode='max').
    x, y = _data()
    path = str(tmp_path / ("weights.{epoch:02d}-{%s:.2f}.h5" % monitor))
    checkpoint = ModelCheckpoint(path, monitor=monitor, save_best_only=True, mode="max", verbose=0)
    with _no_warnings():
        _model([written]).fit(x, y, epochs=3, validation_split=0.25, callbacks=[checkpoint], verbose=0)
    files = sorted(os.listdir(tmp_path))
    assert files and all(f.startswith("weights.0") and f.endswith(".h5") for f in files)
    assert checkpoint.best > -np.inf


def test_early_stopping_and_plateau_monitor_the_other_spelling():
    x, y = _data()
    stop = EarlyStopping(monitor="val_acc", patience=0, mode="max")
    plateau = ReduceLROnPlateau(monitor="val_acc", patience=0, mode="max", factor=0.5, min_lr=0.0)
    seen = []
    watch = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((logs["val_acc"], logs["acc"])))
    model = _model(["accuracy"])
    with _no_warnings():
        model.fit(x, y, epochs=4, validation_split=0.25, callbacks=[stop, plateau, watch], verbose=0)
    assert seen and all(isinstance(v, float) for pair in seen for v in pair)
    assert stop.best == max(v for v, _ in seen[:len(seen)])


def test_csv_columns_hold_the_compiled_names_once(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    _model(["accuracy", "mae"]).fit(x, y, epochs=2, validation_split=0.25, verbose=0,
                                    callbacks=[CSVLogger(str(path))])
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["epoch", "accuracy", "loss", "mae", "val_accuracy", "val_loss", "val_mae"]
    assert len(rows) == 3


def test_csv_append_to_a_keras_2_2_file_with_acc_columns(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,acc,loss,val_acc,val_loss\n0,0.5,1.0,0.4,1.1\n")
    x, y = _data()
    _model(["accuracy"]).fit(x, y, epochs=1, validation_split=0.25, verbose=0,
                             callbacks=[CSVLogger(str(path), append=True)])
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["epoch", "acc", "loss", "val_acc", "val_loss"]
    assert len(rows) == 3 and "NA" not in rows[2]


def test_multi_output_names_and_batch_logs():
    a = Input((4,))
    out = Dense(3, activation="softmax", name="out")(a)
    aux = Dense(1, name="aux")(a)
    model = Model(a, [out, aux])
    model.compile("adam", ["categorical_crossentropy", "mse"], metrics={"out": "acc", "aux": "mae"})
    x, y = _data()
    seen = {}

    class Probe(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen["batch"] = (logs["out_accuracy"], logs["aux_mean_absolute_error"])

    history = model.fit(x, [y, y[:, :1]], epochs=1, verbose=0, callbacks=[Probe()])
    assert "out_acc" in list(history.history) and "aux_mae" in list(history.history)
    assert history.history["out_accuracy"] == history.history["out_acc"]
    assert all(np.isfinite(v) for v in seen["batch"])
    assert model.evaluate(x, [y, y[:, :1]], return_dict=True, verbose=0)["out_accuracy"] >= 0


class _no_warnings:
    def __enter__(self):
        import warnings
        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("error", RuntimeWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)
