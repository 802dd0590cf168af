"""CSVLogger: columns, NA, separators, append when resuming, rows that survive a failure."""
import csv

import numpy as np
import pytest
from cb_models import tiny_data, tiny_model

from fitgen.callbacks.callback import Callback
from fitgen.callbacks.csv_logger import CSVLogger


def _rows(path, separator=","):
    with open(path, newline="") as handle:
        return list(csv.reader(handle, delimiter=separator))


def test_columns_are_epoch_then_sorted_keys(tmp_path):
    x, y = tiny_data(8)
    model = tiny_model()
    path = tmp_path / "log.csv"
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x, y),
                        callbacks=[CSVLogger(str(path))])
    rows = _rows(path)
    assert rows[0] == ["epoch", "acc", "loss", "val_acc", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1"]
    assert float(rows[2][2]) == pytest.approx(history.history["loss"][1])
    assert path.read_text().count("\r") == 0


def test_val_columns_reserved_and_na_when_validation_is_sparse(tmp_path):
    x, y = tiny_data(8)
    model = tiny_model()
    path = tmp_path / "log.csv"
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x, y), validation_freq=2,
              callbacks=[CSVLogger(str(path), separator=";")])
    rows = _rows(path, ";")
    assert rows[0] == ["epoch", "acc", "loss", "val_acc", "val_loss"]
    assert rows[1][3:] == ["NA", "NA"] and rows[2][3] != "NA"


def test_append_continues_file_without_second_header(tmp_path):
    x, y = tiny_data(8)
    path = tmp_path / "log.csv"
    model = tiny_model()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[CSVLogger(str(path), append=True)])
    model.fit(x, y, batch_size=4, epochs=4, initial_epoch=2, verbose=0, callbacks=[CSVLogger(str(path), append=True)])
    rows = _rows(path)
    assert rows[0] == ["epoch", "acc", "loss", "val_acc", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2", "3"]


def test_overwrite_without_append(tmp_path):
    x, y = tiny_data(8)
    path = tmp_path / "log.csv"
    path.write_text("old contents\n")
    model = tiny_model()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[CSVLogger(str(path))])
    assert _rows(path)[0][0] == "epoch" and len(_rows(path)) == 2


def test_rows_written_before_a_failure_are_kept(tmp_path):
    x, y = tiny_data(8)
    path = tmp_path / "sub" / "log.csv"

    class FailAtEpoch2(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("crash")

    model = tiny_model()
    logger = CSVLogger(str(path))
    with pytest.raises(RuntimeError, match="crash"):
        model.fit(x, y, batch_size=4, epochs=5, verbose=0, callbacks=[logger, FailAtEpoch2()])
    # Still open (on_train_end never ran), yet every finished row is on disk.
    assert [row[0] for row in _rows(path)[1:]] == ["0", "1", "2"]
    logger.on_train_end()


def test_iterables_and_strings_are_formatted(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(str(path))
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": np.float32(0.5), "vec": np.array([1, 2]), "note": "hi", "val_loss": np.array(1.5)})
    logger.on_train_end()
    rows = _rows(path)
    assert rows[0] == ["epoch", "loss", "note", "val_loss", "vec"]
    assert rows[1] == ["0", "0.5", "hi", "1.5", "[1, 2]"]


def test_state_restores_rows_up_to_the_backup(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(str(path))
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 1.0})
    state = logger.get_state()
    logger.on_epoch_end(1, {"loss": 2.0})
    logger.on_train_end()
    resumed = CSVLogger(str(path))
    resumed.on_train_begin()          # truncates, as a fresh run does
    resumed.set_state(state)          # then BackupAndRestore puts the backed-up rows back
    resumed.on_epoch_end(1, {"loss": 3.0})
    resumed.on_train_end()
    assert _rows(path) == [["epoch", "loss", "val_loss"], ["0", "1.0", "NA"], ["1", "3.0", "NA"]]
