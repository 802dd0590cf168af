"""ImageNet helpers shared by the applications (`keras.applications.imagenet_utils` of tf-keras 2.21).

`preprocess_input` brings images in [0, 255] to what a network was trained on ('caffe': RGB->BGR and the
ImageNet mean pixel subtracted; 'tf': [-1, 1]; 'torch': [0, 1] then normalised per channel with ImageNet's
mean and standard deviation). `decode_predictions` turns a (samples, 1000) prediction array into
(class id, class name, score) tuples, with the class index Keras publishes (fetched once with `get_file` into
the `models` cache, where Keras keeps it too). `obtain_input_shape`, `correct_pad` and
`validate_activation` are the checks the model builders share.
"""
import json
import warnings

import numpy as np
import torch

from fitgen import activations, backend
from fitgen.engine.keras_tensor import KerasTensor
from fitgen.layers.core import Lambda
from fitgen.utils.data_utils import get_file

CLASS_INDEX = None
CLASS_INDEX_PATH = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

_MODES = ("caffe", "tf", "torch")
_CAFFE_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)

PREPROCESS_INPUT_DOC = """Preprocesses a tensor or NumPy array encoding a batch of images.

    Args:
        x: a floating point NumPy array or a torch tensor, 3D or 4D with 3 colour channels, with values in
            the range [0, 255]. A NumPy array of a float dtype is overwritten by the result (pass
            `numpy.copy(x)` to keep it); an integer array is converted to floatx() first. A symbolic tensor
            (`fitgen.Input`) gets a Lambda layer that does the same inside the model.
        data_format: 'channels_last' or 'channels_first' (default: `fitgen.backend.image_data_format()`).{mode}

    Returns:
        The preprocessed array or tensor.{ret}

    Raises:
        ValueError: for an unknown `data_format`{error}.
    """

_MODE_DOC = """
        mode: 'caffe' (default: RGB->BGR, then each channel zero-centred on the ImageNet mean, no scaling),
            'tf' (scaled to [-1, 1], sample-wise) or 'torch' (scaled to [0, 1], then each channel normalised
            with ImageNet's mean and standard deviation)."""
RET_DOC_CAFFE = """ The images are converted from RGB to BGR, then each colour channel is
        zero-centred with respect to the ImageNet dataset, without scaling."""
RET_DOC_TF = " The pixel values are scaled between -1 and 1, sample-wise."
RET_DOC_TORCH = """ The pixel values are scaled between 0 and 1 and each channel is normalised
        with respect to the ImageNet dataset."""


def preprocess_input(x, data_format=None, mode="caffe"):
    if mode not in _MODES:
        raise ValueError(f"Expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode}")
    if data_format is None:
        data_format = backend.image_data_format()
    elif data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"Expected data_format to be one of `channels_first` or `channels_last`. Received: "
                         f"data_format={data_format}")
    if isinstance(x, np.ndarray):
        return _preprocess_numpy_input(x, data_format, mode)
    if isinstance(x, KerasTensor):
        return Lambda(preprocess_tensor, arguments={"data_format": data_format, "mode": mode})(x)
    if not isinstance(x, torch.Tensor):
        return _preprocess_numpy_input(np.asarray(x), data_format, mode)
    return preprocess_tensor(x, data_format, mode)


preprocess_input.__doc__ = PREPROCESS_INPUT_DOC.format(mode=_MODE_DOC, ret="", error=" or `mode`")

_RET_DOCS = {"caffe": RET_DOC_CAFFE, "tf": RET_DOC_TF, "torch": RET_DOC_TORCH}


def preprocessing_for(mode, module):
    """The `preprocess_input(x, data_format=None)` of an application module whose weights expect `mode`.

    Keras 2 gives every application module its own `preprocess_input`; they differ only in the mode. The function
    names `module` as its own, so that a Lambda layer saved with it is found again under the application's name.
    """
    def application_preprocess_input(x, data_format=None):
        return preprocess_input(x, data_format=data_format, mode=mode)

    application_preprocess_input.__name__ = application_preprocess_input.__qualname__ = "preprocess_input"
    application_preprocess_input.__module__ = module
    application_preprocess_input.__doc__ = PREPROCESS_INPUT_DOC.format(mode="", ret=_RET_DOCS[mode], error="")
    return application_preprocess_input


def _channel_index(x, data_format, channel):
    """Index of one channel of a 3D or 4D image array."""
    if data_format == "channels_first":
        return (channel,) if x.ndim == 3 else (slice(None), channel)
    return (Ellipsis, channel)


def _preprocess_numpy_input(x, data_format, mode):
    # In place, as Keras does: the caller's float array holds the result afterwards.
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype(backend.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        if data_format == "channels_first":
            x = x[::-1, ...] if x.ndim == 3 else x[:, ::-1, ...]
        else:
            x = x[..., ::-1]
        mean, std = _CAFFE_MEAN, None
    for channel in range(3):
        index = _channel_index(x, data_format, channel)
        x[index] -= mean[channel]
        if std is not None:
            x[index] /= std[channel]
    return x


def preprocess_tensor(x, data_format, mode):
    """`preprocess_input` of a torch tensor (a new tensor; also the function of its Lambda layer)."""
    if not x.dtype.is_floating_point:
        x = x.to(backend.torch_dtype())
    if mode == "tf":
        return x / 127.5 - 1.0
    channel_axis = (0 if x.dim() == 3 else 1) if data_format == "channels_first" else x.dim() - 1
    shape = [1] * x.dim()
    shape[channel_axis] = 3
    if mode == "torch":
        x = x / 255.0
        mean = torch.tensor(_TORCH_MEAN, dtype=x.dtype, device=x.device).reshape(shape)
        std = torch.tensor(_TORCH_STD, dtype=x.dtype, device=x.device).reshape(shape)
        return (x - mean) / std
    mean = torch.tensor(_CAFFE_MEAN, dtype=x.dtype, device=x.device).reshape(shape)
    return torch.flip(x, dims=(channel_axis,)) - mean


def decode_predictions(preds, top=5):
    """Decodes the predictions of an ImageNet model.

    Args:
        preds: NumPy array (or tensor) of predictions, shape `(samples, 1000)`.
        top: how many top guesses to return per sample (default 5).

    Returns:
        One list per sample of `(class_name, class_description, score)` tuples, best first.

    Raises:
        ValueError: `preds` is not of shape (samples, 1000).
        OSError: the class index file is not cached and cannot be downloaded (the message says where to put it).
    """
    global CLASS_INDEX
    if isinstance(preds, torch.Tensor):
        preds = preds.detach().cpu().numpy()
    preds = np.asarray(preds)
    if len(preds.shape) != 2 or preds.shape[1] != 1000:
        raise ValueError(f"`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
                         f"(samples, 1000)). Found array with shape: {preds.shape}")
    if CLASS_INDEX is None:
        path = get_file(CLASS_INDEX_FILE, CLASS_INDEX_PATH, cache_subdir="models", file_hash=CLASS_INDEX_HASH)
        with open(path) as f:
            CLASS_INDEX = json.load(f)
    results = []
    for pred in preds:
        best = pred.argsort()[-top:][::-1]
        result = [tuple(CLASS_INDEX[str(i)]) + (pred[i],) for i in best]
        result.sort(key=lambda item: item[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten, weights=None):
    """Checks a user `input_shape` (or makes the default) by Keras's rules.

    Args:
        input_shape: None or a tuple of 3 ints (None allowed for the spatial sizes).
        default_size: the network's default width and height.
        min_size: the smallest width / height it accepts.
        data_format: 'channels_last' or 'channels_first'.
        require_flatten: whether the classifier needs a fixed size (include_top).
        weights: None, 'imagenet' (3 channels required) or a path.

    Returns:
        The input shape tuple (it may contain None).

    Raises:
        ValueError: a shape that is not 3 ints, too small, without 3 channels for ImageNet weights, or not the
            default one when ImageNet weights come with the top.
    """
    channels_first = data_format == "channels_first"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if channels_first else input_shape[-1]
        if channels not in (1, 3):
            warnings.warn(f"This model usually expects 1 or 3 input channels. However, it was passed an "
                          f"input_shape with {channels} input channels.", stacklevel=3)
        default_shape = ((channels, default_size, default_size) if channels_first
                         else (default_size, default_size, channels))
    else:
        default_shape = (3, default_size, default_size) if channels_first else (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(f"When setting `include_top=True` and loading `imagenet` weights, `input_shape` should "
                             f"be {default_shape}.  Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be a tuple of three integers. Received: "
                             f"input_shape={input_shape}")
        channels = input_shape[0] if channels_first else input_shape[-1]
        if channels != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
        sizes = input_shape[1:] if channels_first else input_shape[:2]
        if any(size is not None and size < min_size for size in sizes):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if channels_first else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError(f"If `include_top` is True, you should specify a static `input_shape`. Received: "
                         f"input_shape={input_shape}")
    return tuple(input_shape)


def correct_pad(inputs, kernel_size):
    """((top, bottom), (left, right)) zero padding before a stride-2 'valid' convolution, as TF's 'same'."""
    rows, cols = tuple(inputs.shape)[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if rows is None else (1 - rows % 2, 1 - cols % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def validate_activation(classifier_activation, weights):
    """With pretrained weights, only None and 'softmax' are valid classifier activations."""
    if weights is None:
        return
    activation = activations.get(classifier_activation)
    if activation not in (activations.get("softmax"), activations.get(None)):
        raise ValueError(f"Only `None` and `softmax` activations are allowed for the `classifier_activation` "
                         f"argument when using pretrained weights, with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")
