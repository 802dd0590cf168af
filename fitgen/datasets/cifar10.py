"""CIFAR-10 small images (Keras 2's `keras.datasets.cifar10`)."""
from fitgen.datasets._cifar import load_split
from fitgen.utils.data_utils import get_file

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
_DIRNAME = "cifar-10-batches-py"


def load_data(cache_dir=None):
    """Loads CIFAR-10: 50,000 32x32 color training images and 10,000 test images in 10 classes.

    Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck.

    Args:
        cache_dir: base folder of the cache instead of `~/.fitgen` (see `get_file`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape `(50000, 32, 32, 3)` and
        `(10000, 32, 32, 3)` (`(n, 3, 32, 32)` with `image_data_format() == 'channels_first'`), and
        uint8 labels of shape `(50000, 1)` and `(10000, 1)`.
    """
    path = get_file(_DIRNAME, origin=_ORIGIN, untar=True, file_hash=_FILE_HASH, cache_dir=cache_dir)
    x_train, y_train = load_split(path, [f"data_batch_{i}" for i in range(1, 6)])
    x_test, y_test = load_split(path, ["test_batch"])
    return (x_train, y_train.astype("uint8")), (x_test, y_test.astype("uint8"))
