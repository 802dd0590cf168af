"""VGG16 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", 2015).

Layer names and weight files are Keras's (`block1_conv1` ... `fc1`, `fc2`, `predictions`), so Keras's
`vgg16_weights_tf_dim_ordering_tf_kernels*.h5` load as they are. Inputs: `preprocess_input` ('caffe' mode).
"""
from fitgen.applications import _common, imagenet_utils
from fitgen.engine.model import Model
from fitgen.layers import Conv2D, Dense, Flatten, MaxPooling2D

WEIGHTS_PATH = _common.KERAS_APPLICATIONS + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_PATH_NO_TOP = _common.KERAS_APPLICATIONS + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_HASHES = ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc")


def build_vgg(convs_per_block, name, weight_files, include_top, weights, input_tensor, input_shape, pooling,
              classes, classifier_activation):
    """A VGG network with `convs_per_block[i]` 3x3 convolutions in block i + 1 (VGG16 and VGG19)."""
    _common.check_arguments(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format="channels_last", require_flatten=include_top,
                                                    weights=weights)
    img_input = _common.image_input(input_tensor, input_shape)
    x = img_input
    for block, (filters, convs) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block), start=1):
        for conv in range(1, convs + 1):
            x = Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{conv}")(x)
        x = MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="fc1")(x)
        x = Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _common.pooled(x, pooling)
    model = Model(_common.model_inputs(input_tensor, img_input), x, name=name)
    (file_name, origin, file_hash) = weight_files[0] if include_top else weight_files[1]
    return _common.load_weights(model, weights, file_name, origin, file_hash)


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax"):
    files = (("vgg16_weights_tf_dim_ordering_tf_kernels.h5", WEIGHTS_PATH, WEIGHTS_HASHES[0]),
             ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", WEIGHTS_PATH_NO_TOP, WEIGHTS_HASHES[1]))
    return build_vgg((2, 2, 3, 3, 3), "vgg16", files, include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation)


VGG16.__doc__ = _common.docstring("Instantiates the VGG16 model (13 convolutions in 5 blocks, then 3 dense "
                                  "layers).\n\n    Expects inputs from `vgg16.preprocess_input` (BGR, ImageNet "
                                  "mean subtracted).", 224, 32)


preprocess_input = imagenet_utils.preprocessing_for("caffe", __name__)
decode_predictions = imagenet_utils.decode_predictions
