"""Convolutional recurrent layers, as `keras.layers.convolutional_recurrent`: ConvRNN2D, ConvLSTM2D and
ConvLSTM2DCell (implemented in `fitgen.layers.rnn.conv_rnn` and `fitgen.layers.rnn.conv_lstm`)."""
from fitgen.layers.rnn.conv_lstm import ConvLSTM2D, ConvLSTM2DCell
from fitgen.layers.rnn.conv_rnn import ConvRNN2D

__all__ = ["ConvRNN2D", "ConvLSTM2D", "ConvLSTM2DCell"]
