"""ResNet50V2, ResNet101V2 and ResNet152V2 (He et al., "Identity Mappings in Deep Residual Networks", 2016).

Pre-activation blocks (`resnet.stack2`) with Keras's names and weight files. Inputs: `preprocess_input`
('tf' mode, [-1, 1]).
"""
from fitgen.applications import _common, imagenet_utils, resnet


def _v2_stacks(counts):
    def stack_fn(x):
        x = resnet.stack2(x, 64, counts[0], name="conv2")
        x = resnet.stack2(x, 128, counts[1], name="conv3")
        x = resnet.stack2(x, 256, counts[2], name="conv4")
        return resnet.stack2(x, 512, counts[3], stride1=1, name="conv5")
    return stack_fn


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
               classes=1000, classifier_activation="softmax"):
    return resnet.ResNet(_v2_stacks((3, 4, 6, 3)), True, True, "resnet50v2", include_top, weights, input_tensor,
                         input_shape, pooling, classes, classifier_activation=classifier_activation)


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax"):
    return resnet.ResNet(_v2_stacks((3, 4, 23, 3)), True, True, "resnet101v2", include_top, weights,
                         input_tensor, input_shape, pooling, classes, classifier_activation=classifier_activation)


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax"):
    return resnet.ResNet(_v2_stacks((3, 8, 36, 3)), True, True, "resnet152v2", include_top, weights,
                         input_tensor, input_shape, pooling, classes, classifier_activation=classifier_activation)


for _fn, _depth in ((ResNet50V2, 50), (ResNet101V2, 101), (ResNet152V2, 152)):
    _fn.__doc__ = _common.docstring(f"Instantiates the ResNet{_depth}V2 architecture (pre-activation "
                                    f"ResNet).\n\n    Expects inputs from `resnet_v2.preprocess_input` (pixels "
                                    f"scaled to [-1, 1]).", 224, 32)


preprocess_input = imagenet_utils.preprocessing_for("tf", __name__)
decode_predictions = imagenet_utils.decode_predictions
