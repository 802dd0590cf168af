"""Fashion-MNIST clothing images (Keras 2's `keras.datasets.fashion_mnist`)."""
import gzip
import os

import numpy as np

from fitgen.utils.data_utils import get_file

_ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
# Keras publishes no hashes for these files; a dict name -> sha256 here would enable the check.
_FILE_HASHES = {}
# IDX files: big-endian header of 8 bytes (labels) or 16 bytes (images) before the uint8 payload.
_LABEL_HEADER, _IMAGE_HEADER = 8, 16


def load_data(cache_dir=None):
    """Loads the Fashion-MNIST dataset: 60,000 28x28 grayscale images of 10 clothing classes, and 10,000 test images.

    Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
    8 Bag, 9 Ankle boot.

    Args:
        cache_dir: base folder of the cache instead of `~/.fitgen` (see `get_file`); the files go to
            its `datasets/fashion-mnist` subfolder, as in Keras.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes `(60000, 28, 28)`, `(60000,)`,
        `(10000, 28, 28)` and `(10000,)`.
    """
    subdir = os.path.join("datasets", "fashion-mnist")
    paths = [
        get_file(name, origin=_ORIGIN_FOLDER + name, file_hash=_FILE_HASHES.get(name), cache_dir=cache_dir,
                 cache_subdir=subdir)
        for name in _FILES
    ]
    y_train = _read_idx(paths[0], _LABEL_HEADER)
    x_train = _read_idx(paths[1], _IMAGE_HEADER).reshape(len(y_train), 28, 28)
    y_test = _read_idx(paths[2], _LABEL_HEADER)
    x_test = _read_idx(paths[3], _IMAGE_HEADER).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)


def _read_idx(path, header_size):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header_size)
