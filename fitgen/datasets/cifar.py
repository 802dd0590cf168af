"""Keras 2's `keras.datasets.cifar`: `load_batch`, the reader of one pickled CIFAR batch file."""
from fitgen.datasets._cifar import load_batch  # noqa: F401
