"""Every fitgen layer survives model.save -> load_model: same config, same weights, same predictions."""
import json

import numpy as np
import pytest
import torch

from fitgen.engine.input_layer import Input
from fitgen.engine.model import Model
from fitgen.engine.sequential import Sequential
from fitgen.models import load_model
from fitgen.saving.serialization import layer_classes

ALIASES = {"AvgPool1D", "AvgPool2D", "Convolution1D", "Convolution2D", "Convolution2DTranspose", "Convolution3D",
           "Deconv2D", "Deconvolution2D", "DepthwiseConvolution2D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D",
           "GlobalMaxPool2D", "MaxPool1D", "MaxPool2D", "SeparableConvolution1D", "SeparableConvolution2D"}
ALIASES |= {"AvgPool3D", "Deconv3D", "Convolution1DTranspose", "Convolution3DTranspose", "Deconvolution3D",
            "GlobalAvgPool3D", "GlobalMaxPool3D", "MaxPool3D"}
# Tested in their own files: models, inputs, Lambda (safe mode), TorchModule (needs its torch module), BackendOp
# (the layer of backend functions called on symbolic tensors: tests/backend/test_op_layer.py).
ELSEWHERE = {"Functional", "Model", "Sequential", "InputLayer", "Lambda", "TorchModule", "BackendOp"}
# Cells are not model layers: their round trips run inside RNN (here) and in tests/layers/test_rnn_api.py.
CELLS = {"GRUCell", "LSTMCell", "SimpleRNNCell", "StackedRNNCells", "ConvLSTM2DCell"}


def _layers():
    from fitgen.engine.base_layer import Layer  # noqa: F401  (classes below come from layer_classes())
    c = layer_classes()
    return [
        ("Dense", lambda: c["Dense"](3, activation="tanh", kernel_regularizer="l2"), [(4,)]),
        ("Activation", lambda: c["Activation"]("softmax"), [(4,)]),
        ("ActivityRegularization", lambda: c["ActivityRegularization"](l1=0.01), [(4,)]),
        ("Dropout", lambda: c["Dropout"](0.5, seed=3), [(4,)]),
        ("Flatten", lambda: c["Flatten"](), [(2, 3)]),
        ("Reshape", lambda: c["Reshape"]((3, 2)), [(2, 3)]),
        ("Permute", lambda: c["Permute"]((2, 1)), [(2, 3)]),
        ("RepeatVector", lambda: c["RepeatVector"](3), [(4,)]),
        ("Conv1D", lambda: c["Conv1D"](4, 3, padding="causal", dilation_rate=2), [(8, 2)]),
        ("Conv2D", lambda: c["Conv2D"](4, 3, strides=2, padding="same"), [(7, 7, 2)]),
        ("Conv3D", lambda: c["Conv3D"](2, 2), [(4, 4, 4, 1)]),
        ("Conv2DTranspose", lambda: c["Conv2DTranspose"](3, 3, strides=2, padding="same"), [(4, 4, 2)]),
        ("DepthwiseConv2D", lambda: c["DepthwiseConv2D"](3, depth_multiplier=2), [(5, 5, 2)]),
        ("SeparableConv1D", lambda: c["SeparableConv1D"](4, 3), [(8, 2)]),
        ("SeparableConv2D", lambda: c["SeparableConv2D"](4, 3, depth_multiplier=2), [(6, 6, 2)]),
        ("MaxPooling1D", lambda: c["MaxPooling1D"](2), [(8, 2)]),
        ("AveragePooling1D", lambda: c["AveragePooling1D"](2, padding="same"), [(7, 2)]),
        ("MaxPooling2D", lambda: c["MaxPooling2D"](2), [(6, 6, 2)]),
        ("AveragePooling2D", lambda: c["AveragePooling2D"](3, strides=2), [(7, 7, 2)]),
        ("GlobalAveragePooling1D", lambda: c["GlobalAveragePooling1D"](), [(5, 3)]),
        ("GlobalMaxPooling1D", lambda: c["GlobalMaxPooling1D"](), [(5, 3)]),
        ("GlobalAveragePooling2D", lambda: c["GlobalAveragePooling2D"](), [(4, 4, 3)]),
        ("GlobalMaxPooling2D", lambda: c["GlobalMaxPooling2D"](), [(4, 4, 3)]),
        ("Add", lambda: c["Add"](), [(4,), (4,)]),
        ("Subtract", lambda: c["Subtract"](), [(4,), (4,)]),
        ("Multiply", lambda: c["Multiply"](), [(4,), (4,)]),
        ("Average", lambda: c["Average"](), [(4,), (4,)]),
        ("Maximum", lambda: c["Maximum"](), [(4,), (4,)]),
        ("Minimum", lambda: c["Minimum"](), [(4,), (4,)]),
        ("Concatenate", lambda: c["Concatenate"](axis=-1), [(4,), (2,)]),
        ("Dot", lambda: c["Dot"](axes=1, normalize=True), [(4,), (4,)]),
        ("AlphaDropout", lambda: c["AlphaDropout"](0.2), [(4,)]),
        ("GaussianDropout", lambda: c["GaussianDropout"](0.2), [(4,)]),
        ("GaussianNoise", lambda: c["GaussianNoise"](0.1), [(4,)]),
        ("SpatialDropout1D", lambda: c["SpatialDropout1D"](0.2), [(5, 3)]),
        ("SpatialDropout2D", lambda: c["SpatialDropout2D"](0.2), [(4, 4, 2)]),
        ("BatchNormalization", lambda: c["BatchNormalization"](momentum=0.9, epsilon=1e-3), [(5, 3)]),
        ("LayerNormalization", lambda: c["LayerNormalization"](), [(5, 3)]),
        ("Embedding", lambda: c["Embedding"](10, 4, mask_zero=True), [((5,), "int32")]),
        ("Masking", lambda: c["Masking"](0.0), [(5, 3)]),
        ("SimpleRNN", lambda: c["SimpleRNN"](3, return_sequences=True), [(5, 2)]),
        ("LSTM", lambda: c["LSTM"](3, return_state=False, go_backwards=True), [(5, 2)]),
        ("GRU", lambda: c["GRU"](3), [(5, 2)]),
        ("RNN", lambda: c["RNN"]([c["LSTMCell"](3), c["GRUCell"](2), c["SimpleRNNCell"](2)], return_sequences=True),
         [(5, 2)]),
        ("ConvLSTM2D", lambda: c["ConvLSTM2D"](2, 3, padding="same", return_sequences=True), [(3, 5, 5, 2)]),
        ("ConvRNN2D", lambda: c["ConvRNN2D"](c["ConvLSTM2DCell"](2, 3), go_backwards=True), [(3, 5, 5, 2)]),
        ("CuDNNLSTM", lambda: c["CuDNNLSTM"](3, return_sequences=True), [(5, 2)]),
        ("CuDNNGRU", lambda: c["CuDNNGRU"](3, go_backwards=True), [(5, 2)]),
        ("Bidirectional", lambda: c["Bidirectional"](c["LSTM"](3, return_sequences=True), merge_mode="concat"),
         [(5, 2)]),
        ("TimeDistributed", lambda: c["TimeDistributed"](c["Dense"](3)), [(5, 2)]),
        ("ELU", lambda: c["ELU"](alpha=0.5), [(4,)]),
        ("LeakyReLU", lambda: c["LeakyReLU"](alpha=0.2), [(4,)]),
        ("PReLU", lambda: c["PReLU"](shared_axes=[1]), [(5, 3)]),
        ("ReLU", lambda: c["ReLU"](max_value=1.0, negative_slope=0.1), [(4,)]),
        ("Softmax", lambda: c["Softmax"](axis=-1), [(4,)]),
        ("ThresholdedReLU", lambda: c["ThresholdedReLU"](theta=0.3), [(4,)]),
        ("Cropping1D", lambda: c["Cropping1D"]((1, 2)), [(6, 2)]),
        ("Cropping2D", lambda: c["Cropping2D"](((1, 0), (0, 1))), [(6, 6, 2)]),
        ("UpSampling1D", lambda: c["UpSampling1D"](2), [(3, 2)]),
        ("UpSampling2D", lambda: c["UpSampling2D"](2), [(3, 3, 2)]),
        ("ZeroPadding1D", lambda: c["ZeroPadding1D"](2), [(3, 2)]),
        ("ZeroPadding2D", lambda: c["ZeroPadding2D"](((1, 0), (2, 1))), [(3, 3, 2)]),
        # 3-D, transposed and locally-connected layers; channels_first where the layer takes a data_format.
        ("Conv1DTranspose", lambda: c["Conv1DTranspose"](3, 3, strides=2, data_format="channels_first"), [(2, 5)]),
        ("Conv3DTranspose", lambda: c["Conv3DTranspose"](2, 2, strides=2, output_padding=1), [(3, 3, 2, 2)]),
        ("MaxPooling3D", lambda: c["MaxPooling3D"](2, padding="same", data_format="channels_first"),
         [(2, 5, 4, 3)]),
        ("AveragePooling3D", lambda: c["AveragePooling3D"]((2, 1, 2)), [(4, 3, 4, 2)]),
        ("GlobalAveragePooling3D", lambda: c["GlobalAveragePooling3D"](data_format="channels_first"),
         [(2, 3, 3, 3)]),
        ("GlobalMaxPooling3D", lambda: c["GlobalMaxPooling3D"](keepdims=True), [(3, 3, 3, 2)]),
        ("Cropping3D", lambda: c["Cropping3D"](((1, 0), (0, 1), 1)), [(4, 4, 4, 2)]),
        ("UpSampling3D", lambda: c["UpSampling3D"]((1, 2, 1), data_format="channels_first"), [(2, 3, 2, 2)]),
        ("ZeroPadding3D", lambda: c["ZeroPadding3D"](((1, 0), (0, 2), (1, 1))), [(2, 2, 2, 2)]),
        ("SpatialDropout3D", lambda: c["SpatialDropout3D"](0.2, data_format="channels_first"), [(2, 3, 3, 3)]),
        ("LocallyConnected1D", lambda: c["LocallyConnected1D"](3, 2, data_format="channels_first"), [(2, 6)]),
        ("LocallyConnected2D", lambda: c["LocallyConnected2D"](2, 3, strides=2, activation="relu"), [(7, 6, 2)]),
        ("Rescaling", lambda: c["Rescaling"]([0.5, 2.0, 1.0], offset=-1.0), [(4, 3)]),
        ("Normalization", lambda: c["Normalization"](axis=(1, 2)), [(4, 3)]),
        ("CustomScaleLayer", lambda: c["CustomScaleLayer"](0.2), [(4,), (4,)]),
    ]


CASES = _layers()


def test_every_exported_layer_class_has_a_round_trip_case():
    covered = {name for name, _, _ in CASES}
    missing = sorted(set(layer_classes()) - covered - ALIASES - ELSEWHERE - CELLS)
    assert not missing, f"layer classes without a save/load round-trip case: {missing}"


def _randomise(model, rng):
    for weight in model.weights:
        value = rng.standard_normal(weight.shape).astype(np.float32) * 0.5
        if "variance" in weight.name:
            value = np.abs(value) + 0.5
        weight.assign(value)


def _data(specs, rng):
    arrays = []
    for spec in specs:
        shape, dtype = (spec, "float32") if isinstance(spec[0], int) else spec
        if dtype == "int32":
            arrays.append(rng.integers(0, 10, size=(6,) + shape).astype("int32"))
        else:
            arrays.append(rng.standard_normal((6,) + shape).astype("float32"))
    return arrays


@pytest.mark.parametrize("name,make,specs", CASES, ids=[c[0] for c in CASES])
def test_layer_round_trip(tmp_path, name, make, specs):
    rng = np.random.default_rng(0)
    inputs = [Input(shape=s, dtype="float32") if isinstance(s[0], int) else Input(shape=s[0], dtype=s[1])
              for s in specs]
    layer = make()
    outputs = layer(inputs[0] if len(inputs) == 1 else inputs)
    model = Model(inputs, outputs)
    _randomise(model, rng)
    x = _data(specs, rng)
    expected = model.predict(x, verbose=0)
    path = tmp_path / f"{name}.h5"
    model.save(path)
    loaded = load_model(path, compile=False)
    assert type(loaded.layers[-1]) is type(layer)
    assert json.loads(json.dumps(loaded.get_config())) == json.loads(json.dumps(model.get_config()))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)


def test_sequential_of_many_layers_round_trip(tmp_path):
    c = layer_classes()
    model = Sequential([c["Conv2D"](4, 3, input_shape=(8, 8, 3), activation="relu"), c["BatchNormalization"](),
                        c["MaxPooling2D"](), c["Dropout"](0.25), c["Flatten"](), c["Dense"](5, activation="softmax")])
    _randomise(model, np.random.default_rng(1))
    x = np.random.default_rng(2).standard_normal((4, 8, 8, 3)).astype("float32")
    path = tmp_path / "seq.h5"
    model.save(path)
    loaded = load_model(path, compile=False)
    assert isinstance(loaded, Sequential)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert json.loads(json.dumps(loaded.get_config())) == json.loads(json.dumps(model.get_config()))
    assert loaded.get_config()["layers"][0]["class_name"] == "InputLayer"
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_torch_module_layer_round_trip_with_its_module_in_custom_objects(tmp_path):
    c = layer_classes()
    module = torch.nn.Linear(4, 2)
    inputs = Input((4,))
    model = Model(inputs, c["TorchModule"](module, name="torchy")(inputs))
    x = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "t.h5")
    fresh = torch.nn.Linear(4, 2)
    loaded = load_model(tmp_path / "t.h5", custom_objects={"torchy": fresh}, compile=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(fresh.weight.detach().numpy(), module.weight.detach().numpy())
