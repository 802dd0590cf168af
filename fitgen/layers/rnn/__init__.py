"""Recurrent layers: RNN(cell), SimpleRNN/LSTM/GRU and their cells, ConvLSTM2D, CuDNNLSTM/CuDNNGRU;
`fitgen.layers.recurrent`, `convolutional_recurrent` and `cudnn_recurrent` re-export them."""
