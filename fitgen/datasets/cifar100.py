"""CIFAR-100 small images (Keras 2's `keras.datasets.cifar100`)."""
from fitgen.datasets._cifar import load_split
from fitgen.utils.data_utils import get_file

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
_FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
_DIRNAME = "cifar-100-python"


def load_data(label_mode="fine", cache_dir=None):
    """Loads CIFAR-100: 50,000 32x32 color training images and 10,000 test images in 100 classes.

    Args:
        label_mode: `'fine'` (100 classes) or `'coarse'` (20 superclasses).
        cache_dir: base folder of the cache instead of `~/.fitgen` (see `get_file`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape `(50000, 32, 32, 3)` and
        `(10000, 32, 32, 3)` (channels first with `image_data_format() == 'channels_first'`), and
        int64 labels of shape `(50000, 1)` and `(10000, 1)`.

    Raises:
        ValueError: for an unknown `label_mode`.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'`label_mode` must be one of "fine", "coarse". Received: label_mode={label_mode!r}.')
    path = get_file(_DIRNAME, origin=_ORIGIN, untar=True, file_hash=_FILE_HASH, cache_dir=cache_dir)
    label_key = label_mode + "_labels"
    x_train, y_train = load_split(path, ["train"], label_key=label_key)
    x_test, y_test = load_split(path, ["test"], label_key=label_key)
    return (x_train, y_train), (x_test, y_test)
