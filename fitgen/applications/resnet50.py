"""Keras 2's `keras.applications.resnet50` module: ResNet50 with its `preprocess_input` and `decode_predictions`
(the same objects as in `fitgen.applications.resnet`)."""
from fitgen.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "decode_predictions", "preprocess_input"]
