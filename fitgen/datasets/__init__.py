"""Keras 2's small reference data sets (`keras.datasets`), downloaded once through `fitgen.utils.data_utils.get_file`.

Files are cached in `~/.fitgen/datasets` (or `$FITGEN_HOME/datasets`); files that Keras already downloaded
to `~/.keras/datasets` are reused. Each module has Keras's `load_data(...)` with the same arguments,
shapes and dtypes.
"""
from fitgen.datasets import boston_housing
from fitgen.datasets import cifar10
from fitgen.datasets import cifar100
from fitgen.datasets import fashion_mnist
from fitgen.datasets import imdb
from fitgen.datasets import mnist
from fitgen.datasets import reuters

__all__ = ["boston_housing", "cifar10", "cifar100", "fashion_mnist", "imdb", "mnist", "reuters"]
