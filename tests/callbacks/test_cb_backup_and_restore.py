"""BackupAndRestore: a killed fit, run again, ends with exactly the weights of an uninterrupted run.

The model has Dropout and the data is shuffled, so equality needs the RNG states and the data order restored;
killing mid-epoch (with an integer save_freq) also needs the batch position and the running metric sums.
"""
import json
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest
from cb_models import ArraySequence, tiny_data, tiny_model

from fitgen import backend
from fitgen.callbacks.backup_and_restore import BackupAndRestore
from fitgen.callbacks.callback import Callback
from fitgen.callbacks.csv_logger import CSVLogger
from fitgen.callbacks.early_stopping import EarlyStopping

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = r'''
import json, os, sys
import numpy as np
sys.path.insert(0, {root!r})
sys.path.insert(0, {here!r})
from fitgen import backend
from fitgen.callbacks.backup_and_restore import BackupAndRestore
from fitgen.callbacks.callback import Callback
from fitgen.callbacks.early_stopping import EarlyStopping
from cb_models import ArraySequence, tiny_data, tiny_model

data_kind, backup_dir, out, kill = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "kill"
backend.set_random_seed(1234)
model = tiny_model(dropout=0.5, optimizer="adam", units=8)
x, y = tiny_data(20)


class KillAt(Callback):
    """Dies like a killed process: no cleanup, no on_train_end."""
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_end(self, batch, logs=None):
        if kill and self.epoch == 2 and batch == 3:
            os._exit(17)


class FirstBatch(Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if not hasattr(self, "first"):
            self.first = [self.epoch, batch]
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


first = FirstBatch()
stopper = EarlyStopping(monitor="loss", patience=100)
callbacks = [first, BackupAndRestore(backup_dir, save_freq=2), stopper, KillAt()]
if data_kind == "arrays":
    history = model.fit(x, y, batch_size=4, epochs=4, shuffle=True, verbose=0, callbacks=callbacks)
else:
    history = model.fit(ArraySequence(x, y, 4), epochs=4, shuffle=True, verbose=0, callbacks=callbacks)
np.savez(out + ".npz", *model.get_weights())
with open(out + ".json", "w") as handle:
    json.dump({{"history": history.history, "epochs": history.epoch, "first": first.first,
               "stopper_wait": stopper.wait, "backup_left": os.path.exists(backup_dir)}}, handle)
'''


def _run(script, data_kind, backup_dir, out, kill):
    result = subprocess.run([sys.executable, str(script), data_kind, str(backup_dir), str(out),
                             "kill" if kill else "run"], capture_output=True, text=True, timeout=120, check=False)
    return result


def _load(out):
    with np.load(str(out) + ".npz") as arrays:
        weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    with open(str(out) + ".json") as handle:
        return weights, json.load(handle)


@pytest.mark.parametrize("data_kind", ["arrays", "sequence"])
def test_killed_fit_resumes_mid_epoch_to_identical_weights(tmp_path, data_kind, monkeypatch):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(root=ROOT, here=os.path.dirname(os.path.abspath(__file__))))
    # The uninterrupted reference runs the same script in this process; the killed and resumed runs are
    # separate processes, as after a real crash.
    monkeypatch.setattr(sys, "argv", [str(script), data_kind, str(tmp_path / "backup_ref"), str(tmp_path / "ref"),
                                      "run"])
    runpy.run_path(str(script), run_name="__main__")
    killed = _run(script, data_kind, tmp_path / "backup", tmp_path / "out", kill=True)
    assert killed.returncode == 17, killed.stderr
    assert os.path.exists(tmp_path / "backup" / "training_state.pt")
    resumed = _run(script, data_kind, tmp_path / "backup", tmp_path / "out", kill=False)
    assert resumed.returncode == 0, resumed.stderr

    ref_weights, ref_info = _load(tmp_path / "ref")
    weights, info = _load(tmp_path / "out")
    # 5 batches per epoch, a backup every 2 batches: the last one before the kill (epoch 2, after batch 3)
    # was taken when batch 2 of epoch 2 was about to run.
    assert info["first"] == [2, 2]
    assert info["epochs"] == [2, 3] and ref_info["epochs"] == [0, 1, 2, 3]
    for expected, actual in zip(ref_weights, weights):
        assert np.array_equal(expected, actual)
    # The resumed epoch's logs include the batches run before the kill (restored running sums).
    assert info["history"]["loss"] == ref_info["history"]["loss"][2:]
    assert info["history"]["acc"] == ref_info["history"]["acc"][2:]
    assert info["stopper_wait"] == ref_info["stopper_wait"]
    assert not info["backup_left"] and not ref_info["backup_left"]


class _Interrupt(Callback):
    def __init__(self, epoch):
        super().__init__()
        self.at = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def _fresh_model():
    backend.clear_session()
    backend.set_random_seed(99)
    return tiny_model(dropout=0.3, optimizer="adam")


def test_epoch_backups_resume_in_process_after_an_exception(tmp_path):
    x, y = tiny_data(12)
    reference_model = _fresh_model()
    reference = reference_model.fit(x, y, batch_size=4, epochs=4, verbose=0, validation_data=(x, y),
                                    callbacks=[BackupAndRestore(str(tmp_path / "ref"))])
    model = _fresh_model()
    csv_path = tmp_path / "log.csv"
    callbacks = [CSVLogger(str(csv_path)), BackupAndRestore(str(tmp_path / "b"))]
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=4, epochs=4, verbose=0, validation_data=(x, y), callbacks=callbacks + [_Interrupt(3)])
    backend.set_random_seed(5)  # whatever happened in between, the backup's RNG states win
    history = model.fit(x, y, batch_size=4, epochs=4, verbose=0, validation_data=(x, y), callbacks=callbacks)
    assert history.epoch == [3]
    for expected, actual in zip(reference_model.get_weights(), model.get_weights()):
        assert np.array_equal(expected, actual)
    assert history.history["val_loss"] == reference.history["val_loss"][3:]
    # CSVLogger (listed before BackupAndRestore) keeps rows 0-2 from the first run and adds row 3.
    assert [line.split(",")[0] for line in csv_path.read_text().splitlines()] == ["epoch", "0", "1", "2", "3"]
    assert not os.path.exists(tmp_path / "b")


def test_callback_states_are_restored_on_both_sides_of_the_list(tmp_path):
    x, y = tiny_data(8)
    before, after = EarlyStopping(monitor="loss", patience=50), EarlyStopping(monitor="loss", patience=50)
    scripted = iter([5.0, 4.0, 6.0, 7.0, 8.0, 9.0])

    class Scripted(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["loss"] = next(scripted)

    model = _fresh_model()
    backup = BackupAndRestore(str(tmp_path / "b"), delete_checkpoint=False)
    callbacks = [Scripted(), before, backup, after]
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=4, epochs=6, verbose=0, callbacks=callbacks + [_Interrupt(4)])
    assert (before.wait, after.wait, before.best) == (2, 2, 4.0)
    history = model.fit(x, y, batch_size=4, epochs=6, verbose=0, callbacks=callbacks)
    assert history.epoch == [4, 5]
    assert (before.wait, after.wait, before.best, after.best) == (4, 4, 4.0, 4.0)
    # delete_checkpoint=False keeps a backup of the finished run: running again trains no more epochs.
    assert os.path.exists(tmp_path / "b" / "training_state.pt")
    assert model.fit(x, y, batch_size=4, epochs=6, verbose=0, callbacks=[backup]).epoch == []


def test_backup_write_is_atomic(tmp_path, monkeypatch):
    x, y = tiny_data(8)
    model = _fresh_model()
    backup = BackupAndRestore(str(tmp_path), delete_checkpoint=False)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[backup])
    path = tmp_path / "training_state.pt"
    before = path.read_bytes()

    import torch

    def broken_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        model.fit(x, y, batch_size=4, epochs=4, verbose=0, callbacks=[backup])
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["training_state.pt"]


def test_bad_arguments_and_mismatched_backup(tmp_path):
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore(str(tmp_path), save_freq=0)
    with pytest.raises(ValueError, match="save_before_preemption"):
        BackupAndRestore(str(tmp_path), save_before_preemption=True)
    x, y = tiny_data(8)
    model = _fresh_model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=4, epochs=3, verbose=0,
                  callbacks=[BackupAndRestore(str(tmp_path)), _Interrupt(2)])
    other = tiny_model(units=5)
    with pytest.raises(ValueError, match="does not fit this model"):
        other.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[BackupAndRestore(str(tmp_path))])


def test_sequence_resume_uses_the_same_batches(tmp_path):
    x, y = tiny_data(12)
    seen = []

    class Recording(ArraySequence):
        def __getitem__(self, index):
            seen.append(index)
            return super().__getitem__(index)

    model = _fresh_model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(Recording(x, y, 4), epochs=3, shuffle=True, verbose=0, workers=0,
                  callbacks=[BackupAndRestore(str(tmp_path)), _Interrupt(2)])
    first_run = list(seen)
    seen.clear()
    model.fit(Recording(x, y, 4), epochs=3, shuffle=True, verbose=0, workers=0,
              callbacks=[BackupAndRestore(str(tmp_path))])
    reference = _fresh_model()
    seen_reference = []

    class Recording2(Recording):
        def __getitem__(self, index):
            seen_reference.append(index)
            return ArraySequence.__getitem__(self, index)

    reference.fit(Recording2(x, y, 4), epochs=3, shuffle=True, verbose=0, workers=0)
    assert first_run + seen == seen_reference
