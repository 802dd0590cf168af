"""MobileNet (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", 2017).

`alpha` (width multiplier: 0.25, 0.5, 0.75 or 1.0 with ImageNet weights), `depth_multiplier` (resolution
multiplier of the depthwise convolutions) and input sizes 128, 160, 192 or 224 select Keras's weight files
(`mobilenet_<alpha>_<size>_tf[_no_top].h5`). Keras's layer names (`conv1`, `conv_dw_1`, `conv_pw_1_bn`, ...).
Inputs: `preprocess_input` ('tf' mode, [-1, 1]).
"""
import warnings

from fitgen.applications import _common, imagenet_utils
from fitgen.engine.model import Model
from fitgen.layers import (Activation, BatchNormalization, Conv2D, DepthwiseConv2D, Dropout,
                           GlobalAveragePooling2D, ReLU, Reshape, ZeroPadding2D)

BASE_WEIGHT_PATH = _common.KERAS_APPLICATIONS + "mobilenet/"
_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
_SIZES = (128, 160, 192, 224)
# (pointwise filters, strides) of the 13 depthwise-separable blocks.
_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
           (512, 1), (1024, 2), (1024, 1))


def _default_size(input_shape, sizes):
    if input_shape is None:
        return 224
    rows, cols = input_shape[0], input_shape[1]
    return rows if rows == cols and rows in sizes else 224


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True, weights="imagenet",
              input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax", **kwargs):
    _common.check_kwargs(kwargs)
    _common.check_arguments(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=_default_size(input_shape, _SIZES),
                                                    min_size=32, data_format="channels_last",
                                                    require_flatten=include_top, weights=weights)
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError(f"If imagenet weights are being loaded, depth multiplier must be 1.  Received "
                             f"depth_multiplier={depth_multiplier}")
        if alpha not in _ALPHA_TEXT:
            raise ValueError(f"If imagenet weights are being loaded, alpha can be one of `0.25`, `0.50`, `0.75` or "
                             f"`1.0` only.  Received alpha={alpha}")
        if rows != cols or rows not in _SIZES:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in [128, 160, 192, 224]. "
                          "Weights for input shape (224, 224) will be loaded as the default.", stacklevel=2)
    img_input = _common.image_input(input_tensor, input_shape)
    x = _conv_block(img_input, 32, alpha, strides=(2, 2))
    for block_id, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, strides=(stride, stride), block_id=block_id)
    if include_top:
        x = GlobalAveragePooling2D(keepdims=True)(x)
        x = Dropout(dropout, name="dropout")(x)
        x = Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = Reshape((classes,), name="reshape_2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = _common.pooled(x, pooling)
    model = Model(_common.model_inputs(input_tensor, img_input), x, name=f"mobilenet_{alpha:0.2f}_{rows}")
    file_name = origin = None
    if weights == "imagenet":
        file_name = f"mobilenet_{_ALPHA_TEXT[alpha]}_{rows}_tf{'' if include_top else '_no_top'}.h5"
        origin = BASE_WEIGHT_PATH + file_name
    return _common.load_weights(model, weights, file_name, origin)


MobileNet.__doc__ = _common.docstring(
    "Instantiates the MobileNet architecture.\n\n    Expects inputs from `mobilenet.preprocess_input` (pixels "
    "scaled to [-1, 1]).", 224, 32, """
    Args (besides those below):
        alpha: width multiplier: < 1 thins every layer, > 1 widens it (1.0: the paper's network).
        depth_multiplier: depth multiplier of the depthwise convolutions (1 with ImageNet weights).
        dropout: dropout rate before the classifier.
    With ImageNet weights and `include_top=False`, the weights of the input size (128, 160, 192 or 224,
    square) are loaded, those of 224 for any other shape.
""")


def _conv_block(inputs, filters, alpha, kernel=(3, 3), strides=(1, 1)):
    """The first convolution (`conv1`), batch normalization and ReLU6."""
    x = Conv2D(int(filters * alpha), kernel, padding="same", use_bias=False, strides=strides, name="conv1")(inputs)
    x = BatchNormalization(axis=-1, name="conv1_bn")(x)
    return ReLU(6.0, name="conv1_relu")(x)


def _depthwise_conv_block(inputs, pointwise_conv_filters, alpha, depth_multiplier=1, strides=(1, 1), block_id=1):
    """Depthwise 3x3 (with TF's padding made explicit for stride 2), BN, ReLU6, pointwise 1x1, BN, ReLU6."""
    if strides == (1, 1):
        x = inputs
    else:
        x = ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(inputs)
    x = DepthwiseConv2D((3, 3), padding="same" if strides == (1, 1) else "valid", depth_multiplier=depth_multiplier,
                        strides=strides, use_bias=False, name=f"conv_dw_{block_id}")(x)
    x = BatchNormalization(axis=-1, name=f"conv_dw_{block_id}_bn")(x)
    x = ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = Conv2D(int(pointwise_conv_filters * alpha), (1, 1), padding="same", use_bias=False, strides=(1, 1),
               name=f"conv_pw_{block_id}")(x)
    x = BatchNormalization(axis=-1, name=f"conv_pw_{block_id}_bn")(x)
    return ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


preprocess_input = imagenet_utils.preprocessing_for("tf", __name__)
decode_predictions = imagenet_utils.decode_predictions
