"""Recurrent layers (SimpleRNN, LSTM, GRU); `fitgen.layers.recurrent` re-exports them."""
