"""Convolutional recurrent layers, as `keras.layers.convolutional_recurrent`: ConvLSTM2D and ConvLSTM2DCell
(implemented in `fitgen.layers.rnn.conv_lstm`)."""
from fitgen.layers.rnn.conv_lstm import ConvLSTM2D, ConvLSTM2DCell

__all__ = ["ConvLSTM2D", "ConvLSTM2DCell"]
