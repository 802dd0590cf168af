"""Keras 2 layers (`from fitgen.layers import Dense, Conv2D, LSTM, ...`)."""
from fitgen.engine.base_layer import Layer
from fitgen.engine.input_layer import Input, InputLayer
from fitgen.layers.advanced_activations import ELU, LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU
from fitgen.layers.convolutional import (Conv1D, Conv2D, Conv2DTranspose, Conv3D, DepthwiseConv2D, SeparableConv1D,
                                         SeparableConv2D)
from fitgen.layers.core import (Activation, ActivityRegularization, Dense, Dropout, Flatten, Lambda, Permute,
                                RepeatVector, Reshape)
from fitgen.layers.embeddings import Embedding
from fitgen.layers.masking import Masking
from fitgen.layers.merge import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                                 concatenate, dot, maximum, minimum, multiply, subtract)
from fitgen.layers.noise import AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D
from fitgen.layers.normalization import BatchNormalization
from fitgen.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                                   GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from fitgen.layers.preprocessing import Normalization, Rescaling
from fitgen.layers.recurrent import GRU, LSTM, SimpleRNN
from fitgen.layers.reshaping import Cropping1D, Cropping2D, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D
from fitgen.layers.torch_module import TorchModule
from fitgen.layers.wrappers import Bidirectional, TimeDistributed

try:  # a bonus layer of the normalization module
    from fitgen.layers.normalization import LayerNormalization
except ImportError:  # pragma: no cover
    pass

# Keras 2 aliases.
Convolution1D, Convolution2D, Conv2DTranspose, Deconvolution2D = Conv1D, Conv2D, Conv2DTranspose, Conv2DTranspose
SeparableConvolution2D = SeparableConv2D
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D


def serialize(layer):
    from fitgen.utils.generic_utils import serialize_keras_object
    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """Builds a layer (or model) from its {'class_name', 'config'} dict."""
    from fitgen.saving.serialization import deserialize_layer
    return deserialize_layer(config, custom_objects=custom_objects)
