"""ResNet50, ResNet101 and ResNet152 (He et al., "Deep Residual Learning for Image Recognition", 2015).

`ResNet`, `stack1`/`block1` (v1: post-activation bottlenecks) and `stack2`/`block2` (v2: pre-activation, used
by resnet_v2) are the building blocks, with Keras's layer names (`conv2_block1_1_conv`, ...) so that Keras's
`resnet*_weights_tf_dim_ordering_tf_kernels*.h5` files load. Inputs: `preprocess_input` ('caffe' mode).
"""
from fitgen.applications import _common, imagenet_utils
from fitgen.engine.model import Model
from fitgen.layers import Activation, Add, BatchNormalization, Conv2D, MaxPooling2D, ZeroPadding2D

BASE_WEIGHTS_PATH = _common.KERAS_APPLICATIONS + "resnet/"
# (with top, without top) md5 hashes of Keras's files.
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
_EPSILON = 1.001e-5


def _bn(name):
    return BatchNormalization(axis=3, epsilon=_EPSILON, name=name)


def ResNet(stack_fn, preact, use_bias, model_name="resnet", include_top=True, weights="imagenet", input_tensor=None,
           input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", **kwargs):
    """Builds a ResNet (v1 when `preact` is False, v2 when True) around `stack_fn(x) -> x`.

    Args:
        stack_fn: the function that stacks the residual blocks.
        preact: whether the blocks use pre-activation (ResNetV2: batch norm and ReLU after the stem are left
            out and a final `post_bn`/`post_relu` is added).
        use_bias: whether the stem convolution has a bias.
        model_name: the model's name (ImageNet weights exist for the six names of `WEIGHTS_HASHES`).
        include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation: as `ResNet50`.
    """
    _common.check_kwargs(kwargs)
    _common.check_arguments(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format="channels_last", require_flatten=include_top,
                                                    weights=weights)
    img_input = _common.image_input(input_tensor, input_shape)
    x = ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = _bn("conv1_bn")(x)
        x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = _bn("post_bn")(x)
        x = Activation("relu", name="post_relu")(x)
    if include_top:
        x = _common.classifier(x, classes, classifier_activation, weights)
    else:
        x = _common.pooled(x, pooling, avg_name="avg_pool", max_name="max_pool")
    model = Model(_common.model_inputs(input_tensor, img_input), x, name=model_name)
    if weights == "imagenet" and model_name in WEIGHTS_HASHES:
        suffix = ".h5" if include_top else "_notop.h5"
        file_name = f"{model_name}_weights_tf_dim_ordering_tf_kernels{suffix}"
        file_hash = WEIGHTS_HASHES[model_name][0 if include_top else 1]
        return _common.load_weights(model, weights, file_name, BASE_WEIGHTS_PATH + file_name, file_hash)
    if weights == "imagenet":
        raise ValueError(f"No ImageNet weights exist for a ResNet named {model_name!r}; Keras publishes them for "
                         f"{sorted(WEIGHTS_HASHES)}. Received: model_name={model_name!r}, weights='imagenet'")
    return _common.load_weights(model, weights)


def block1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """A post-activation bottleneck block: 1x1 (stride), kxk, 1x1 (4 * filters) convolutions plus shortcut."""
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
        shortcut = _bn(name + "_0_bn")(shortcut)
    else:
        shortcut = x
    x = Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
    x = _bn(name + "_1_bn")(x)
    x = Activation("relu", name=name + "_1_relu")(x)
    x = Conv2D(filters, kernel_size, padding="SAME", name=name + "_2_conv")(x)
    x = _bn(name + "_2_bn")(x)
    x = Activation("relu", name=name + "_2_relu")(x)
    x = Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    x = _bn(name + "_3_bn")(x)
    x = Add(name=name + "_add")([shortcut, x])
    return Activation("relu", name=name + "_out")(x)


def stack1(x, filters, blocks, stride1=2, name=None):
    """`blocks` v1 bottleneck blocks, the first with a projection shortcut and stride `stride1`."""
    x = block1(x, filters, stride=stride1, name=name + "_block1")
    for i in range(2, blocks + 1):
        x = block1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def block2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """A pre-activation bottleneck block (ResNetV2); the stride is on its kxk convolution."""
    preact = _bn(name + "_preact_bn")(x)
    preact = Activation("relu", name=name + "_preact_relu")(preact)
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(preact)
    else:
        shortcut = MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = Conv2D(filters, 1, strides=1, use_bias=False, name=name + "_1_conv")(preact)
    x = _bn(name + "_1_bn")(x)
    x = Activation("relu", name=name + "_1_relu")(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name=name + "_2_pad")(x)
    x = Conv2D(filters, kernel_size, strides=stride, use_bias=False, name=name + "_2_conv")(x)
    x = _bn(name + "_2_bn")(x)
    x = Activation("relu", name=name + "_2_relu")(x)
    x = Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    return Add(name=name + "_out")([shortcut, x])


def stack2(x, filters, blocks, stride1=2, name=None):
    """`blocks` v2 blocks: projection shortcut first, stride `stride1` on the last."""
    x = block2(x, filters, conv_shortcut=True, name=name + "_block1")
    for i in range(2, blocks):
        x = block2(x, filters, name=f"{name}_block{i}")
    return block2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _v1_stacks(counts):
    def stack_fn(x):
        x = stack1(x, 64, counts[0], stride1=1, name="conv2")
        x = stack1(x, 128, counts[1], name="conv3")
        x = stack1(x, 256, counts[2], name="conv4")
        return stack1(x, 512, counts[3], name="conv5")
    return stack_fn


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             **kwargs):
    return ResNet(_v1_stacks((3, 4, 6, 3)), False, True, "resnet50", include_top, weights, input_tensor,
                  input_shape, pooling, classes, **kwargs)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
              classes=1000, **kwargs):
    return ResNet(_v1_stacks((3, 4, 23, 3)), False, True, "resnet101", include_top, weights, input_tensor,
                  input_shape, pooling, classes, **kwargs)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
              classes=1000, **kwargs):
    return ResNet(_v1_stacks((3, 8, 36, 3)), False, True, "resnet152", include_top, weights, input_tensor,
                  input_shape, pooling, classes, **kwargs)


_EXTRA = "\n    `classifier_activation` (default 'softmax') is passed as a keyword argument, as in Keras.\n"
for _fn, _depth in ((ResNet50, 50), (ResNet101, 101), (ResNet152, 152)):
    _fn.__doc__ = _common.docstring(f"Instantiates the ResNet{_depth} architecture (ResNet v1).\n\n    Expects "
                                    f"inputs from `resnet.preprocess_input` (BGR, ImageNet mean subtracted).",
                                    224, 32, _EXTRA)


preprocess_input = imagenet_utils.preprocessing_for("caffe", __name__)
decode_predictions = imagenet_utils.decode_predictions
