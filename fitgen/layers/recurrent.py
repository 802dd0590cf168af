"""Recurrent layers, as `keras.layers.recurrent`: SimpleRNN, LSTM, GRU (implemented in `fitgen.layers.rnn`)."""
from fitgen.layers.rnn.base import RNNBase
from fitgen.layers.rnn.gru import GRU
from fitgen.layers.rnn.lstm import LSTM
from fitgen.layers.rnn.simple_rnn import SimpleRNN

__all__ = ["GRU", "LSTM", "RNNBase", "SimpleRNN"]
