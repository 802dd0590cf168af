"""Reading the pickled batches of the CIFAR archives (the python versions from cs.toronto.edu)."""
import os
import pickle

import numpy as np

from fitgen import backend


def load_batch(fpath, label_key="labels"):
    """Parses one CIFAR batch file into `(data, labels)` with data of shape `(n, 3, 32, 32)`.

    The batches are Python 2 pickles of a dict with bytes keys; unpickling is acceptable only because
    `get_file` verified the archive against its published hash first.
    """
    with open(fpath, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    batch = {key.decode("utf8") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    data = batch["data"]
    return data.reshape(data.shape[0], 3, 32, 32), batch[label_key]


def load_split(folder, batch_names, label_key="labels"):
    """Concatenates batches into uint8 images and `(n, 1)` labels, in `image_data_format()` layout."""
    parts = [load_batch(os.path.join(folder, name), label_key=label_key) for name in batch_names]
    x = np.concatenate([data for data, _ in parts]).astype("uint8", copy=False)
    y = np.concatenate([np.asarray(labels) for _, labels in parts])
    y = np.reshape(y, (len(y), 1))
    if backend.image_data_format() == "channels_last":
        x = x.transpose(0, 2, 3, 1)
    return x, y
