"""Convolution layers (`keras.layers.convolutional`): Conv1D/2D/3D, their transposes, separable and depthwise
convolutions; and, as Keras 2 scripts import them from this module, the pooling, padding, cropping and
upsampling layers.

Every layer takes `data_format` ('channels_last', 'channels_first', or None for
`fitgen.backend.image_data_format()`); weights keep Keras's shapes whatever the data format.
"""
from fitgen.layers.convolutional.base_conv import Conv, Conv1D, Conv2D, Conv3D
from fitgen.layers.convolutional.conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from fitgen.layers.convolutional.depthwise_conv import DepthwiseConv2D
from fitgen.layers.convolutional.separable_conv import SeparableConv, SeparableConv1D, SeparableConv2D
from fitgen.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, MaxPooling1D, MaxPooling2D,
                                   MaxPooling3D)
from fitgen.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D,
                                     ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)

# Keras 2 aliases.
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = Conv1DTranspose, Conv2DTranspose, \
    Conv3DTranspose
Deconvolution2D, Deconvolution3D = Conv2DTranspose, Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
DepthwiseConvolution2D = DepthwiseConv2D

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv2D",
           "SeparableConv1D", "SeparableConv2D", "Convolution1D", "Convolution2D", "Convolution3D",
           "Convolution1DTranspose", "Convolution2DTranspose", "Convolution3DTranspose", "Deconvolution2D",
           "Deconvolution3D", "SeparableConvolution1D", "SeparableConvolution2D", "DepthwiseConvolution2D",
           "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
           "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
           "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"]
