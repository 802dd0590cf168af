"""Keras 2's preprocessing layers that models carry inside them: `Rescaling` and `Normalization`.

They are exported from `fitgen.layers` (as `keras.layers.Rescaling`); EfficientNet's first layers use both.
"""
from fitgen.layers.preprocessing.image_preprocessing import Rescaling
from fitgen.layers.preprocessing.normalization import Normalization

__all__ = ["Normalization", "Rescaling"]
