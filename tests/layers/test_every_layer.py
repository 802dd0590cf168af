"""Every layer class `fitgen.layers` exports, through the Keras-style harness and an .h5 round trip.

For each class, `LAYER_CASES` gives constructor arguments and input shapes. `check_layer` (tests/helpers/
layer_harness.py) then builds the layer from them and checks the real output shape against `expected` and
against `compute_output_shape` and a symbolic call, the get_config/from_config round trip, get/set_weights and a
backward pass; `test_h5_round_trip` saves a one-layer model to .h5 and loads it back (same config, weights and
predictions). A class exported without an entry fails `test_every_exported_layer_has_a_case`.
"""
import numpy as np
import pytest
import torch

import fitgen.layers as layers_module
from fitgen.engine.base_layer import Layer
from fitgen.layers import LSTM, ConvLSTM2DCell, Dense, GRUCell, Input, LSTMCell
from fitgen.models import Model, load_model
from helpers.layer_harness import check_layer

WHERE_TO_ADD = ("add an entry to LAYER_CASES in tests/layers/test_every_layer.py: "
                "'ClassName': Case(kwargs, input_shape, expected_output_shape)")

# Exported classes that are not layers to run on data by themselves.
NOT_RUN = {"Layer": "the abstract base class", "InputLayer": "a model entry point (tests/engine)",
           "Wrapper": "the abstract base of TimeDistributed and Bidirectional",
           "GRUCell": "a cell, run inside RNN (the RNN case here; tests/layers/test_rnn_api.py)",
           "LSTMCell": "a cell, run inside RNN (the RNN case here; tests/layers/test_rnn_api.py)",
           "SimpleRNNCell": "a cell, run inside RNN (tests/layers/test_rnn_api.py)",
           "StackedRNNCells": "a cell, run inside RNN (tests/layers/test_rnn_api.py)",
           "ConvLSTM2DCell": "a cell, run step by step in tests/layers/test_conv_lstm.py"}


def double(x):
    """A named function for the Lambda case: stored by name, so the .h5 file loads in safe mode."""
    return x * 2


class Case:
    """kwargs: dict, or a function returning one (for arguments that must be fresh, such as wrapped layers);
    input_shape: one shape with its batch axis, or a list of them; expected: the output shape."""

    def __init__(self, kwargs, input_shape, expected, input_dtype="float32", custom_objects=None):
        self._kwargs, self.input_shape, self.expected = kwargs, input_shape, expected
        self.input_dtype, self.custom_objects = input_dtype, custom_objects

    def kwargs(self):
        return self._kwargs() if callable(self._kwargs) else dict(self._kwargs)


_MERGE = Case({}, [(2, 4), (2, 4)], (2, 4))
LAYER_CASES = {
    "Activation": Case({"activation": "tanh"}, (2, 4), (2, 4)),
    "ActivityRegularization": Case({"l1": 0.01, "l2": 0.01}, (2, 4), (2, 4)),
    "Add": _MERGE, "Average": _MERGE, "Maximum": _MERGE, "Minimum": _MERGE, "Multiply": _MERGE, "Subtract": _MERGE,
    "Concatenate": Case({"axis": -1}, [(2, 3, 4), (2, 3, 2)], (2, 3, 6)),
    "Dot": Case({"axes": 2}, [(2, 3, 4), (2, 5, 4)], (2, 3, 5)),
    "AlphaDropout": Case({"rate": 0.2}, (2, 4), (2, 4)),
    "GaussianDropout": Case({"rate": 0.2}, (2, 4), (2, 4)),
    "GaussianNoise": Case({"stddev": 0.1}, (2, 4), (2, 4)),
    "Dropout": Case({"rate": 0.5}, (2, 4), (2, 4)),
    "SpatialDropout1D": Case({"rate": 0.2}, (2, 5, 3), (2, 5, 3)),
    "SpatialDropout2D": Case({"rate": 0.2}, (2, 4, 4, 3), (2, 4, 4, 3)),
    "AveragePooling1D": Case({"pool_size": 2}, (2, 6, 3), (2, 3, 3)),
    "MaxPooling1D": Case({"pool_size": 2, "padding": "same"}, (2, 5, 3), (2, 3, 3)),
    "AveragePooling2D": Case({"pool_size": 2}, (2, 6, 6, 3), (2, 3, 3, 3)),
    "MaxPooling2D": Case({"pool_size": 3, "strides": 2}, (2, 7, 7, 3), (2, 3, 3, 3)),
    "GlobalAveragePooling1D": Case({}, (2, 5, 3), (2, 3)),
    "GlobalMaxPooling1D": Case({}, (2, 5, 3), (2, 3)),
    "GlobalAveragePooling2D": Case({}, (2, 4, 4, 3), (2, 3)),
    "GlobalMaxPooling2D": Case({}, (2, 4, 4, 3), (2, 3)),
    "BatchNormalization": Case({"momentum": 0.9}, (4, 3), (4, 3)),
    "LayerNormalization": Case({}, (2, 5, 3), (2, 5, 3)),
    "Bidirectional": Case(lambda: {"layer": LSTM(3, return_sequences=True)}, (2, 5, 2), (2, 5, 6)),
    "TimeDistributed": Case(lambda: {"layer": Dense(3)}, (2, 5, 2), (2, 5, 3)),
    "Conv1D": Case({"filters": 4, "kernel_size": 3}, (2, 8, 2), (2, 6, 4)),
    "Conv2D": Case({"filters": 4, "kernel_size": 3, "padding": "same"}, (2, 6, 6, 2), (2, 6, 6, 4)),
    "Conv2DTranspose": Case({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 4, 4, 2),
                            (2, 8, 8, 3)),
    "Conv3D": Case({"filters": 2, "kernel_size": 2}, (2, 4, 4, 4, 1), (2, 3, 3, 3, 2)),
    "Conv1DTranspose": Case({"filters": 3, "kernel_size": 3, "strides": 2}, (2, 5, 2), (2, 11, 3)),
    "Conv3DTranspose": Case({"filters": 2, "kernel_size": 2, "strides": 2, "data_format": "channels_first"},
                            (2, 1, 3, 3, 3), (2, 2, 6, 6, 6)),
    "AveragePooling3D": Case({"pool_size": 2}, (2, 4, 4, 4, 2), (2, 2, 2, 2, 2)),
    "MaxPooling3D": Case({"pool_size": 2, "padding": "same"}, (2, 3, 3, 3, 2), (2, 2, 2, 2, 2)),
    "GlobalAveragePooling3D": Case({}, (2, 3, 3, 3, 2), (2, 2)),
    "GlobalMaxPooling3D": Case({"data_format": "channels_first"}, (2, 2, 3, 3, 3), (2, 2)),
    "ZeroPadding3D": Case({"padding": 1}, (2, 2, 2, 2, 1), (2, 4, 4, 4, 1)),
    "Cropping3D": Case({"cropping": ((1, 0), (0, 1), (1, 1))}, (2, 3, 3, 4, 1), (2, 2, 2, 2, 1)),
    "UpSampling3D": Case({"size": 2}, (2, 2, 2, 2, 1), (2, 4, 4, 4, 1)),
    "SpatialDropout3D": Case({"rate": 0.2}, (2, 3, 3, 3, 2), (2, 3, 3, 3, 2)),
    "LocallyConnected1D": Case({"filters": 3, "kernel_size": 2}, (2, 5, 2), (2, 4, 3)),
    "LocallyConnected2D": Case({"filters": 3, "kernel_size": 2, "data_format": "channels_first"}, (2, 2, 4, 4),
                               (2, 3, 3, 3)),
    "DepthwiseConv2D": Case({"kernel_size": 3, "depth_multiplier": 2}, (2, 5, 5, 2), (2, 3, 3, 4)),
    "SeparableConv1D": Case({"filters": 4, "kernel_size": 3}, (2, 8, 2), (2, 6, 4)),
    "SeparableConv2D": Case({"filters": 4, "kernel_size": 3}, (2, 6, 6, 2), (2, 4, 4, 4)),
    "Cropping1D": Case({"cropping": (1, 2)}, (2, 6, 2), (2, 3, 2)),
    "Cropping2D": Case({"cropping": ((1, 0), (0, 1))}, (2, 6, 6, 2), (2, 5, 5, 2)),
    "UpSampling1D": Case({"size": 2}, (2, 3, 2), (2, 6, 2)),
    "UpSampling2D": Case({"size": 2}, (2, 3, 3, 2), (2, 6, 6, 2)),
    "ZeroPadding1D": Case({"padding": 2}, (2, 3, 2), (2, 7, 2)),
    "ZeroPadding2D": Case({"padding": ((1, 0), (2, 1))}, (2, 3, 3, 2), (2, 4, 6, 2)),
    "Dense": Case({"units": 3, "kernel_regularizer": "l2"}, (2, 4), (2, 3)),
    "ELU": Case({"alpha": 0.5}, (2, 4), (2, 4)),
    "LeakyReLU": Case({"alpha": 0.2}, (2, 4), (2, 4)),
    "PReLU": Case({"shared_axes": [1]}, (2, 5, 3), (2, 5, 3)),
    "ReLU": Case({"max_value": 1.0, "negative_slope": 0.1}, (2, 4), (2, 4)),
    "Softmax": Case({"axis": -1}, (2, 4), (2, 4)),
    "ThresholdedReLU": Case({"theta": 0.3}, (2, 4), (2, 4)),
    "Embedding": Case({"input_dim": 10, "output_dim": 4}, (2, 5), (2, 5, 4), input_dtype="int32"),
    "Flatten": Case({}, (2, 3, 4), (2, 12)),
    "GRU": Case({"units": 3}, (2, 5, 2), (2, 3)),
    "Rescaling": Case({"scale": 1 / 255.0, "offset": -0.5}, (2, 4, 4, 3), (2, 4, 4, 3)),
    "Normalization": Case({"axis": -1, "mean": [0.5, 1.0, 2.0], "variance": [1.0, 4.0, 0.25]}, (2, 5, 3), (2, 5, 3)),
    "RNN": Case(lambda: {"cell": [LSTMCell(3), GRUCell(2)], "return_sequences": True}, (2, 5, 2), (2, 5, 2)),
    "CuDNNLSTM": Case({"units": 3, "return_sequences": True}, (2, 5, 2), (2, 5, 3)),
    "CuDNNGRU": Case({"units": 3}, (2, 5, 2), (2, 3)),
    "ConvLSTM2D": Case({"filters": 2, "kernel_size": 3, "padding": "same"}, (2, 3, 5, 5, 1), (2, 5, 5, 2)),
    "ConvRNN2D": Case(lambda: {"cell": ConvLSTM2DCell(2, 3), "return_sequences": True}, (2, 3, 5, 5, 1),
                      (2, 3, 3, 3, 2)),
    "LSTM": Case({"units": 3, "return_sequences": True}, (2, 5, 2), (2, 5, 3)),
    "SimpleRNN": Case({"units": 3, "go_backwards": True}, (2, 5, 2), (2, 3)),
    "Lambda": Case({"function": double}, (2, 4), (2, 4), custom_objects={"double": double}),
    "Masking": Case({"mask_value": 0.0}, (2, 5, 3), (2, 5, 3)),
    "Permute": Case({"dims": (2, 1)}, (2, 3, 4), (2, 4, 3)),
    "RepeatVector": Case({"n": 3}, (2, 4), (2, 3, 4)),
    "Reshape": Case({"target_shape": (3, 2)}, (2, 6), (2, 3, 2)),
    "TorchModule": Case(lambda: {"module": torch.nn.Linear(3, 2), "name": "torch_block"}, (2, 3), (2, 2),
                        custom_objects={"torch_block": torch.nn.Linear(3, 2)}),
}


def exported_layer_classes():
    """{class name: class} of every Layer subclass `fitgen.layers` exports (aliases counted once)."""
    found = {}
    for name in dir(layers_module):
        value = getattr(layers_module, name)
        if isinstance(value, type) and issubclass(value, Layer):
            found.setdefault(value.__name__, value)
    return found


def test_every_exported_layer_has_a_case():
    missing = sorted(set(exported_layer_classes()) - set(LAYER_CASES) - set(NOT_RUN))
    assert not missing, f"Layers exported by fitgen.layers without a test case: {missing}. For each, {WHERE_TO_ADD}."
    stale = sorted(set(LAYER_CASES) - set(exported_layer_classes()))
    assert not stale, f"LAYER_CASES names classes fitgen.layers does not export: {stale}"


def _inputs(case, rng):
    multi = isinstance(case.input_shape, list)
    shapes = case.input_shape if multi else [case.input_shape]
    arrays = [rng.randint(0, 5, size=s).astype(case.input_dtype) if "int" in case.input_dtype
              else rng.standard_normal(s).astype(case.input_dtype) for s in shapes]
    return shapes, arrays, multi


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_harness(name):
    case = LAYER_CASES[name]
    check_layer(exported_layer_classes()[name], case.kwargs(), case.input_shape, case.expected,
                input_dtype=case.input_dtype, custom_objects=case.custom_objects)


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_h5_round_trip(name, tmp_path):
    case = LAYER_CASES[name]
    layer = exported_layer_classes()[name](**case.kwargs())
    shapes, arrays, multi = _inputs(case, np.random.RandomState(0))
    inputs = [Input(shape[1:], dtype=case.input_dtype) for shape in shapes]
    model = Model(inputs, layer(inputs if multi else inputs[0]))
    for weight in model.weights:  # away from the initial values, so a load that does nothing would show
        weight.assign(weight.numpy() + np.random.RandomState(1).uniform(0.1, 0.2, weight.shape).astype("float32"))
    feed = arrays if multi else arrays[0]
    expected = model.predict(feed, verbose=0)
    model.save(tmp_path / "model.h5")
    loaded = load_model(tmp_path / "model.h5", custom_objects=case.custom_objects, compile=False)
    restored = loaded.layers[-1]
    assert type(restored) is type(layer) and restored.get_config() == layer.get_config()
    for got, want in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(loaded.predict(feed, verbose=0), expected, rtol=1e-6, atol=1e-6)


def test_a_missing_case_names_the_layer_and_where_to_add_it(monkeypatch):
    class Brand(Layer):
        pass

    monkeypatch.setattr(layers_module, "BrandNewLayer", Brand, raising=False)
    with pytest.raises(AssertionError, match=r"\['Brand'\].*LAYER_CASES in tests/layers/test_every_layer.py"):
        test_every_exported_layer_has_a_case()
