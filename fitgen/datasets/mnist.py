"""MNIST handwritten digits (Keras 2's `keras.datasets.mnist`)."""
import numpy as np

from fitgen.utils.data_utils import get_file

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
_FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path="mnist.npz", cache_dir=None):
    """Loads the MNIST dataset: 60,000 28x28 grayscale training images of the 10 digits and 10,000 test images.

    Args:
        path: file name of the dataset in the cache (relative to `~/.fitgen/datasets`).
        cache_dir: base folder of the cache instead of `~/.fitgen` (see `get_file`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes `(60000, 28, 28)`, `(60000,)`,
        `(10000, 28, 28)` and `(10000,)`; pixel values in 0..255, labels in 0..9.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = fitgen.datasets.mnist.load_data()
    assert x_train.shape == (60000, 28, 28)
    ```
    """
    path = get_file(path, origin=_ORIGIN, file_hash=_FILE_HASH, cache_dir=cache_dir)
    with np.load(path, allow_pickle=False) as f:
        x_train, y_train = f["x_train"], f["y_train"]
        x_test, y_test = f["x_test"], f["y_test"]
    return (x_train, y_train), (x_test, y_test)
