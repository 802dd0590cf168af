"""VGG19: VGG16 with a fourth convolution in blocks 3, 4 and 5 (`block3_conv4`, ...), Keras's names and files."""
from fitgen.applications import _common
from fitgen.applications.vgg16 import build_vgg, decode_predictions, preprocess_input  # noqa: F401

WEIGHTS_PATH = _common.KERAS_APPLICATIONS + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_PATH_NO_TOP = _common.KERAS_APPLICATIONS + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_HASHES = ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6")


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax"):
    files = (("vgg19_weights_tf_dim_ordering_tf_kernels.h5", WEIGHTS_PATH, WEIGHTS_HASHES[0]),
             ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", WEIGHTS_PATH_NO_TOP, WEIGHTS_HASHES[1]))
    return build_vgg((2, 2, 4, 4, 4), "vgg19", files, include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation)


VGG19.__doc__ = _common.docstring("Instantiates the VGG19 model (16 convolutions in 5 blocks, then 3 dense "
                                  "layers).\n\n    Expects inputs from `vgg19.preprocess_input` (BGR, ImageNet "
                                  "mean subtracted).", 224, 32)
__all__ = ["VGG19", "preprocess_input", "decode_predictions"]
