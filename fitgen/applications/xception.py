"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", 2017).

Keras's layer names (`block1_conv1`, `block2_sepconv1`, ..., the residual projections numbered `conv2d`,
`batch_normalization`, ...) and weight files. Inputs: `preprocess_input` ('tf' mode, [-1, 1]).
"""
from fitgen.applications import _common, imagenet_utils
from fitgen.engine.model import Model
from fitgen.layers import Activation, BatchNormalization, Conv2D, MaxPooling2D, SeparableConv2D, add

TF_WEIGHTS_PATH = _common.KERAS_APPLICATIONS + "xception/xception_weights_tf_dim_ordering_tf_kernels.h5"
TF_WEIGHTS_PATH_NO_TOP = (_common.KERAS_APPLICATIONS
                          + "xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5")
WEIGHTS_HASHES = ("0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97")


def _sepconv_bn(x, filters, name):
    x = SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return BatchNormalization(axis=-1, name=name + "_bn")(x)


def _residual(x, filters):
    residual = Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
    return BatchNormalization(axis=-1)(residual)


def _entry_block(x, filters, block, first_relu=True):
    """Two separable convolutions and a stride-2 max pooling, added to a 1x1 stride-2 projection."""
    residual = _residual(x, filters[1])
    if first_relu:
        x = Activation("relu", name=f"block{block}_sepconv1_act")(x)
    x = _sepconv_bn(x, filters[0], f"block{block}_sepconv1")
    x = Activation("relu", name=f"block{block}_sepconv2_act")(x)
    x = _sepconv_bn(x, filters[1], f"block{block}_sepconv2")
    x = MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"block{block}_pool")(x)
    return add([x, residual])


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax"):
    _common.check_arguments(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=299, min_size=71,
                                                    data_format="channels_last", require_flatten=include_top,
                                                    weights=weights)
    img_input = _common.image_input(input_tensor, input_shape)
    x = Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = BatchNormalization(axis=-1, name="block1_conv1_bn")(x)
    x = Activation("relu", name="block1_conv1_act")(x)
    x = Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = BatchNormalization(axis=-1, name="block1_conv2_bn")(x)
    x = Activation("relu", name="block1_conv2_act")(x)
    x = _entry_block(x, (128, 128), 2, first_relu=False)
    x = _entry_block(x, (256, 256), 3)
    x = _entry_block(x, (728, 728), 4)
    for i in range(8):  # middle flow
        residual = x
        prefix = f"block{i + 5}"
        for k in (1, 2, 3):
            x = Activation("relu", name=f"{prefix}_sepconv{k}_act")(x)
            x = _sepconv_bn(x, 728, f"{prefix}_sepconv{k}")
        x = add([x, residual])
    x = _entry_block(x, (728, 1024), 13)
    x = _sepconv_bn(x, 1536, "block14_sepconv1")
    x = Activation("relu", name="block14_sepconv1_act")(x)
    x = _sepconv_bn(x, 2048, "block14_sepconv2")
    x = Activation("relu", name="block14_sepconv2_act")(x)
    if include_top:
        x = _common.classifier(x, classes, classifier_activation, weights)
    else:
        x = _common.pooled(x, pooling)
    model = Model(_common.model_inputs(input_tensor, img_input), x, name="xception")
    if include_top:
        file_name, origin = "xception_weights_tf_dim_ordering_tf_kernels.h5", TF_WEIGHTS_PATH
    else:
        file_name, origin = "xception_weights_tf_dim_ordering_tf_kernels_notop.h5", TF_WEIGHTS_PATH_NO_TOP
    return _common.load_weights(model, weights, file_name, origin, WEIGHTS_HASHES[0 if include_top else 1])


Xception.__doc__ = _common.docstring("Instantiates the Xception architecture.\n\n    Expects inputs from "
                                     "`xception.preprocess_input` (pixels scaled to [-1, 1]).", 299, 71)


preprocess_input = imagenet_utils.preprocessing_for("tf", __name__)
decode_predictions = imagenet_utils.decode_predictions
