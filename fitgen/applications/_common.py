"""What every application builder shares: argument checks, the input, the head and the weight files.

Weight files are Keras's own: `weights='imagenet'` fetches the published `.h5` file with `get_file` under
Keras's file name, URL and hash into the `models` cache (a copy Keras already downloaded to
`~/.keras/models` is used in place), then loads it topologically, as Keras does.
"""
import os

from fitgen import backend
from fitgen.applications import imagenet_utils
from fitgen.engine.input_layer import Input
from fitgen.engine.keras_tensor import KerasTensor
from fitgen.layers.core import Dense
from fitgen.layers.pooling import GlobalAveragePooling2D, GlobalMaxPooling2D
from fitgen.utils.data_utils import get_file
from fitgen.utils.layer_utils import get_source_inputs

KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"


def check_arguments(weights, include_top, classes):
    """tf-keras's checks of `weights` and `classes`, and fitgen's channels_last requirement."""
    if backend.image_data_format() != "channels_last":
        raise ValueError(f"fitgen.applications builds channels_last models (Keras's default image layout); "
                         f"backend.image_data_format() is {backend.image_data_format()!r}. Call "
                         f"fitgen.backend.set_image_data_format('channels_last') first.")
    named = weights is None or (isinstance(weights, str) and weights == "imagenet")
    if not (named or isinstance(weights, (str, os.PathLike)) and os.path.exists(weights)):
        detail = (" (no such file)" if isinstance(weights, (str, os.PathLike))
                  else f" (of type {type(weights).__name__})")
        raise ValueError(f"The `weights` argument should be either `None` (random initialization), `imagenet` "
                         f"(pre-training on ImageNet), or the path to the weights file to be loaded.  Received: "
                         f"weights={weights!r}{detail}")
    if isinstance(weights, str) and weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(f'If using `weights` as `"imagenet"` with `include_top` as true, `classes` should be '
                         f"1000.  Received: classes={classes}")


def check_kwargs(kwargs):
    if kwargs:
        raise ValueError(f"Unknown argument(s): {kwargs}")


def image_input(input_tensor, input_shape):
    """The model's image input: a new `Input(input_shape)`, or the symbolic `input_tensor` given."""
    if input_tensor is None:
        return Input(shape=input_shape)
    if not isinstance(input_tensor, KerasTensor):
        raise TypeError(f"`input_tensor` must be a symbolic tensor (the output of `fitgen.Input()` or of a layer "
                        f"called on one). Received: input_tensor of type {type(input_tensor).__name__}")
    return input_tensor


def model_inputs(input_tensor, img_input):
    """The inputs of the finished model: those `input_tensor` comes from, or the new input."""
    return get_source_inputs(input_tensor) if input_tensor is not None else img_input


def pooled(x, pooling, avg_name=None, max_name=None):
    """Global average or max pooling of a headless model (`pooling` 'avg' / 'max'), or x unchanged."""
    if pooling == "avg":
        return GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return GlobalMaxPooling2D(name=max_name)(x)
    return x


def classifier(x, classes, classifier_activation, weights, pool_name="avg_pool"):
    """Global average pooling and the `predictions` Dense layer of most applications."""
    x = GlobalAveragePooling2D(name=pool_name)(x)
    imagenet_utils.validate_activation(classifier_activation, weights)
    return Dense(classes, activation=classifier_activation, name="predictions")(x)


def fetch_weights(file_name, origin, file_hash=None):
    """The local path of a Keras weight file: cached, or downloaded (hash-checked) into the `models` cache.

    Raises:
        OSError: no cached copy and no download; the message names the file, its URL and where to put it.
        ValueError: the downloaded file does not match Keras's published hash.
    """
    try:
        return get_file(file_name, origin, cache_subdir="models", file_hash=file_hash)
    except OSError as error:
        keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
        raise OSError(
            f"Cannot load the ImageNet weights: the file {file_name!r} is not in the cache and could not be "
            f"downloaded from {origin}.\n{error}\nEither place the file (same name) in Keras's cache folder "
            f"{os.path.join(os.path.expanduser(keras_home), 'models')}, where fitgen looks too, or pass its path "
            f"as `weights='/path/to/{file_name}'`.") from error


def load_weights(model, weights, file_name=None, origin=None, file_hash=None):
    """Loads `weights` into the model: 'imagenet' (Keras's file `file_name` from `origin`), a path, or None."""
    if weights == "imagenet":
        model.load_weights(fetch_weights(file_name, origin, file_hash))
    elif weights is not None:
        model.load_weights(os.fspath(weights))
    return model


ARGS_DOC = """
    Args:
        include_top: whether to include the classifier at the top of the network.
        weights: None (random initialisation), 'imagenet' (Keras's ImageNet weights, downloaded once into
            the `models` cache, or read from `~/.keras/models` where Keras keeps them) or the path of a
            weights file to load (e.g. one Keras wrote; no network needed).
        input_tensor: optional symbolic tensor (output of `fitgen.Input()` or of a layer) to use as the image
            input.
        input_shape: optional shape tuple `(height, width, channels)`, only to be specified when
            `include_top` is False (otherwise the input shape has to be the default
            `({size}, {size}, 3)` with ImageNet weights). It should have exactly 3 channels with ImageNet
            weights, and width and height no smaller than {min_size}.
        pooling: feature extraction mode when `include_top` is False: None (the 4D output of the last
            convolutional block), 'avg' (global average pooling, a 2D output) or 'max' (global max pooling).
        classes: number of classes to classify images into, only with `include_top` True and no ImageNet
            weights (which need 1000).
        classifier_activation: activation of the top layer (a name or callable), ignored unless
            `include_top`; None returns the logits. With pretrained weights only None and 'softmax' are
            allowed.

    Returns:
        A `fitgen.Model`.

    Raises:
        ValueError: invalid `weights`, `classes`, `input_shape` or `classifier_activation`.
        OSError: ImageNet weights requested, not cached and not downloadable (the message names the file,
            its URL and where to put it).
"""


def docstring(summary, size, min_size, extra=""):
    """An application's docstring: its summary, then the shared argument descriptions."""
    return summary + "\n" + extra + ARGS_DOC.replace("{size}", str(size)).replace("{min_size}", str(min_size))
