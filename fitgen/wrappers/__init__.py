"""Wrappers that let fitgen models be used by other libraries (Keras 2's `keras.wrappers`)."""
from fitgen.wrappers import scikit_learn

__all__ = ["scikit_learn"]
