"""Keras 2's cuDNN recurrent layers, as `keras.layers.cudnn_recurrent`: CuDNNLSTM and CuDNNGRU (implemented
in `fitgen.layers.rnn.cudnn`, on torch's fused kernels, so they also run without a GPU)."""
from fitgen.layers.rnn.cudnn import CuDNNGRU, CuDNNLSTM

__all__ = ["CuDNNGRU", "CuDNNLSTM"]
