"""Boston housing price regression (Keras 2's `keras.datasets.boston_housing`)."""
import numpy as np

from fitgen.utils.data_utils import get_file

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
_FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113, cache_dir=None):
    """Loads the Boston housing dataset: 506 samples of 13 features, targets in thousands of dollars.

    The samples are shuffled with `np.random.RandomState(seed)` before the split, as Keras does, so the
    same `seed` gives the same split as Keras.

    Args:
        path: file name of the dataset in the cache (relative to `~/.fitgen/datasets`).
        test_split: fraction of the data kept as the test set, in `[0, 1)`.
        seed: random seed for shuffling the data before the split.
        cache_dir: base folder of the cache instead of `~/.fitgen` (see `get_file`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float64 arrays; `x` of shape `(n, 13)`, `y` of shape `(n,)`
        (404 training and 102 test samples by default).

    Raises:
        ValueError: if `test_split` is not in `[0, 1)`.
    """
    if not 0 <= test_split < 1:
        raise ValueError(f"`test_split` must be in [0, 1). Received: test_split={test_split!r}.")
    path = get_file(path, origin=_ORIGIN, file_hash=_FILE_HASH, cache_dir=cache_dir)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    split = int(len(x) * (1 - test_split))
    return (np.array(x[:split]), np.array(y[:split])), (np.array(x[split:]), np.array(y[split:]))
