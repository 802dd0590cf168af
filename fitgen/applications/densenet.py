"""DenseNet121, DenseNet169 and DenseNet201 (Huang et al., "Densely Connected Convolutional Networks", 2017).

`DenseNet(blocks, ...)` builds any block configuration; Keras's layer names (`conv1/conv`, `conv2_block1_0_bn`,
`pool2_conv`, ...; the '/' becomes a nested HDF5 group, as in Keras's files) and weight files. Inputs:
`preprocess_input` ('torch' mode).
"""
from fitgen.applications import _common, imagenet_utils
from fitgen.engine.model import Model
from fitgen.layers import (Activation, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, MaxPooling2D,
                           ZeroPadding2D)

BASE_WEIGHTS_PATH = _common.KERAS_APPLICATIONS + "densenet/"
# blocks -> (name, hash with top, hash without top)
_KNOWN = {
    (6, 12, 24, 16): ("densenet121", "9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    (6, 12, 32, 32): ("densenet169", "d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    (6, 12, 48, 32): ("densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
_EPSILON = 1.001e-5


def dense_block(x, blocks, name):
    """`blocks` conv blocks, each concatenating 32 new channels to its input."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BN, ReLU, a 1x1 convolution to `reduction` times the channels, 2x2 average pooling."""
    x = BatchNormalization(axis=3, epsilon=_EPSILON, name=name + "_bn")(x)
    x = Activation("relu", name=name + "_relu")(x)
    x = Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=name + "_conv")(x)
    return AveragePooling2D(2, strides=2, name=name + "_pool")(x)


def conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 conv (4 * growth_rate) - BN-ReLU-3x3 conv (growth_rate), concatenated to the input."""
    x1 = BatchNormalization(axis=3, epsilon=_EPSILON, name=name + "_0_bn")(x)
    x1 = Activation("relu", name=name + "_0_relu")(x1)
    x1 = Conv2D(4 * growth_rate, 1, use_bias=False, name=name + "_1_conv")(x1)
    x1 = BatchNormalization(axis=3, epsilon=_EPSILON, name=name + "_1_bn")(x1)
    x1 = Activation("relu", name=name + "_1_relu")(x1)
    x1 = Conv2D(growth_rate, 3, padding="same", use_bias=False, name=name + "_2_conv")(x1)
    return Concatenate(axis=3, name=name + "_concat")([x, x1])


def DenseNet(blocks, include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax"):
    """A DenseNet with `blocks` (4 ints) conv blocks in its dense blocks; other arguments as `DenseNet121`."""
    _common.check_arguments(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format="channels_last", require_flatten=include_top,
                                                    weights=weights)
    img_input = _common.image_input(input_tensor, input_shape)
    x = ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = Conv2D(64, 7, strides=2, use_bias=False, name="conv1/conv")(x)
    x = BatchNormalization(axis=3, epsilon=_EPSILON, name="conv1/bn")(x)
    x = Activation("relu", name="conv1/relu")(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, start=2):
        x = dense_block(x, count, name=f"conv{stage}")
        if stage < 5:
            x = transition_block(x, 0.5, name=f"pool{stage}")
    x = BatchNormalization(axis=3, epsilon=_EPSILON, name="bn")(x)
    x = Activation("relu", name="relu")(x)
    if include_top:
        x = _common.classifier(x, classes, classifier_activation, weights)
    else:
        x = _common.pooled(x, pooling, avg_name="avg_pool", max_name="max_pool")
    known = _KNOWN.get(tuple(blocks))
    model = Model(_common.model_inputs(input_tensor, img_input), x, name=known[0] if known else "densenet")
    if weights == "imagenet":
        if known is None:
            raise ValueError(f"No ImageNet weights exist for DenseNet blocks {list(blocks)}; Keras publishes them for "
                             f"{[list(b) for b in _KNOWN]}.")
        file_name = f"{known[0]}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
        return _common.load_weights(model, weights, file_name, BASE_WEIGHTS_PATH + file_name,
                                    known[1] if include_top else known[2])
    return _common.load_weights(model, weights)


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax"):
    return DenseNet([6, 12, 24, 16], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax"):
    return DenseNet([6, 12, 32, 32], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax"):
    return DenseNet([6, 12, 48, 32], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation)


for _fn, _depth in ((DenseNet121, 121), (DenseNet169, 169), (DenseNet201, 201)):
    _fn.__doc__ = _common.docstring(f"Instantiates the DenseNet{_depth} architecture.\n\n    Expects inputs from "
                                    f"`densenet.preprocess_input` (pixels scaled to [0, 1], then normalised per "
                                    f"channel).", 224, 32)


preprocess_input = imagenet_utils.preprocessing_for("torch", __name__)
decode_predictions = imagenet_utils.decode_predictions
