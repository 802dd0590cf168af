"""Recurrent layers, as `keras.layers.recurrent`: RNN, SimpleRNN, LSTM, GRU, their cells and StackedRNNCells
(implemented in `fitgen.layers.rnn`)."""
from fitgen.layers.rnn.base import RNNBase
from fitgen.layers.rnn.gru import GRU, GRUCell
from fitgen.layers.rnn.lstm import LSTM, LSTMCell
from fitgen.layers.rnn.rnn import RNN
from fitgen.layers.rnn.simple_rnn import SimpleRNN, SimpleRNNCell
from fitgen.layers.rnn.stacked import StackedRNNCells

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "SimpleRNN", "SimpleRNNCell", "StackedRNNCells"]
