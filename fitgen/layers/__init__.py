"""Keras 2 layers (`from fitgen.layers import Dense, Conv2D, LSTM, ...`)."""
from fitgen.engine.base_layer import Layer
from fitgen.engine.input_layer import Input, InputLayer
from fitgen.engine.input_spec import InputSpec
from fitgen.layers.advanced_activations import ELU, LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU
from fitgen.layers.convolutional import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose,
                                         DepthwiseConv2D, SeparableConv1D, SeparableConv2D)
from fitgen.layers.convolutional_recurrent import ConvLSTM2D, ConvLSTM2DCell, ConvRNN2D
from fitgen.layers.core import (Activation, ActivityRegularization, Dense, Dropout, Flatten, Lambda, Permute,
                                RepeatVector, Reshape)
from fitgen.layers.cudnn_recurrent import CuDNNGRU, CuDNNLSTM
from fitgen.layers.embeddings import Embedding
from fitgen.layers.masking import Masking
from fitgen.layers.merge import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                                 concatenate, dot, maximum, minimum, multiply, subtract)
from fitgen.layers.local import LocallyConnected1D, LocallyConnected2D
from fitgen.layers.noise import (AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D,
                                 SpatialDropout3D)
from fitgen.layers.normalization import BatchNormalization
from fitgen.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
                                   GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                                   GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from fitgen.layers.preprocessing import Normalization, Rescaling
from fitgen.layers.recurrent import (GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell,
                                      StackedRNNCells)
from fitgen.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D,
                                     ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from fitgen.layers.torch_module import TorchModule
from fitgen.layers.wrappers import Bidirectional, TimeDistributed
from fitgen.layers.wrappers import Wrapper
from fitgen.utils.generic_utils import serialize_keras_object

try:  # a bonus layer of the normalization module
    from fitgen.layers.normalization import LayerNormalization
except ImportError:  # pragma: no cover
    pass

# Keras 2 aliases.
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = (Conv1DTranspose, Conv2DTranspose,
                                                                           Conv3DTranspose)
Deconvolution2D, Deconvolution3D, Deconv2D, Deconv3D = Conv2DTranspose, Conv3DTranspose, Conv2DTranspose, \
    Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D, DepthwiseConvolution2D = SeparableConv1D, SeparableConv2D, \
    DepthwiseConv2D
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = GlobalAveragePooling1D, GlobalAveragePooling2D, \
    GlobalAveragePooling3D


def serialize(layer):
    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """Builds a layer (or model) from its {'class_name', 'config'} dict."""
    from fitgen.saving.serialization import deserialize_layer
    return deserialize_layer(config, custom_objects=custom_objects)
