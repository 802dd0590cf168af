"""`CSVLogger`: one CSV row per epoch (epoch, then the sorted log keys), flushed as it is written."""
import collections.abc
import csv
import os

import numpy as np

from fitgen.callbacks.callback import Callback
from fitgen.distribute.context import is_chief


class CSVLogger(Callback):
    """Callback that streams epoch results to a CSV file.

    The columns are fixed at the first epoch: 'epoch' then the sorted log keys (and, when no 'val_' key is
    there yet, a 'val_' twin of each, for validation that starts later). A missing value is written as 'NA'.
    Every row is flushed to the OS as soon as it is written, so a crash keeps all finished epochs.

    Args:
        filename: path of the CSV file, e.g. 'run/log.csv' (missing folders are created).
        separator: the one-character delimiter.
        append: continue an existing file (e.g. when resuming with `initial_epoch`): its header is kept and
            its columns are reused; False overwrites the file.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        self.keys = None
        self.writer = None
        self.append_header = True
        self._active = is_chief()  # under torchrun only rank 0 writes the file
        if not self._active:
            return
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as existing:
                header = existing.readline()
            if header.strip():
                self.append_header = False
                # Reuse the existing columns so resumed rows line up with the earlier ones.
                columns = next(csv.reader([header], delimiter=self.sep))
                if columns and columns[0] == "epoch":
                    self.keys = columns[1:]
        folder = os.path.dirname(self.filename)
        if folder:
            os.makedirs(folder, exist_ok=True)
        # Open from on_train_begin to on_train_end: rows are streamed, one per epoch.
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not getattr(self, "_active", True):
            return
        if self.csv_file is None:
            raise RuntimeError(f"CSVLogger({self.filename!r}) received on_epoch_end before on_train_begin: the file "
                               "is not open.")
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(key.startswith("val_") for key in self.keys):
                self.keys.extend("val_" + key for key in list(self.keys))
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, delimiter=self.sep,
                                         lineterminator="\n", extrasaction="ignore")
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _format(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()
        os.fsync(self.csv_file.fileno())

    def get_state(self):
        # The rows so far: a resumed run (BackupAndRestore) puts them back, dropping rows of epochs it redoes.
        content = ""
        if self.csv_file is not None:
            self.csv_file.flush()
            with open(self.filename, newline="") as handle:
                content = handle.read()
        return {"keys": self.keys, "content": content}

    def set_state(self, state):
        self.keys = None if state["keys"] is None else list(state["keys"])
        self.writer = None
        self.append_header = not state["content"].strip()
        if self.csv_file is not None:
            self.csv_file.truncate(0)
            self.csv_file.seek(0)
            self.csv_file.write(state["content"])
            self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None


def _format(value):
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, collections.abc.Iterable):
        return f"[{', '.join(map(str, value))}]"
    return value
