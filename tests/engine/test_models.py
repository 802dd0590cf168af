"""Model building: Sequential, functional graphs, subclassing, summary text, trainable flags, *_on_batch."""
import io
import contextlib

import numpy as np
import pytest
import torch

from fitgen import backend
from fitgen.layers import (BatchNormalization, Conv2D, Dense, Dropout, Embedding, Flatten, Input, LSTM,
                           TorchModule, concatenate)
from fitgen.models import Model, Sequential

SEQUENTIAL_SUMMARY = """\
Model: "sequential"
_________________________________________________________________
 Layer (type)                Output Shape              Param #   
=================================================================
 dense (Dense)               (None, 64)                1344      
                                                                 
 dropout (Dropout)           (None, 64)                0         
                                                                 
 dense_1 (Dense)             (None, 10)                650       
                                                                 
=================================================================
Total params: 1994 (7.79 KB)
Trainable params: 1994 (7.79 KB)
Non-trainable params: 0 (0.00 Byte)
_________________________________________________________________
"""

FUNCTIONAL_SUMMARY = """\
Model: "model"
__________________________________________________________________________________________________
 Layer (type)                Output Shape                 Param #   Connected to                  
==================================================================================================
 input_1 (InputLayer)        [(None, 8)]                  0         []                            
                                                                                                  
 input_2 (InputLayer)        [(None, 4)]                  0         []                            
                                                                                                  
 concatenate (Concatenate)   (None, 12)                   0         ['input_1[0][0]',             
                                                                     'input_2[0][0]']             
                                                                                                  
 dense (Dense)               (None, 16)                   208       ['concatenate[0][0]']         
                                                                                                  
 output (Dense)              (None, 3)                    51        ['dense[0][0]']               
                                                                                                  
 aux (Dense)                 (None, 1)                    17        ['dense[0][0]']               
                                                                                                  
==================================================================================================
Total params: 276 (1.08 KB)
Trainable params: 276 (1.08 KB)
Non-trainable params: 0 (0.00 Byte)
__________________________________________________________________________________________________
"""


def summary_text(model):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary()
    return out.getvalue()


def test_sequential_summary_is_tf_keras_text():
    model = Sequential([Dense(64, activation="relu", input_shape=(20,)), Dropout(0.5),
                        Dense(10, activation="softmax")])
    assert summary_text(model) == SEQUENTIAL_SUMMARY


def test_functional_summary_is_tf_keras_text():
    a, b = Input((8,)), Input((4,))
    h = Dense(16, activation="tanh")(concatenate([a, b]))
    model = Model([a, b], [Dense(3, name="output")(h), Dense(1, name="aux")(h)])
    assert summary_text(model) == FUNCTIONAL_SUMMARY


def test_frozen_layers_count_as_non_trainable_and_wrap_long_names():
    model = Sequential([Conv2D(8, 3, input_shape=(16, 16, 3)), BatchNormalization(), Flatten(), Dense(5)])
    model.layers[1].trainable = False
    text = summary_text(model)
    assert " batch_normalization (Batch  (None, 14, 14, 8)         32        \n Normalization)" in text
    assert "Trainable params: 8069 (31.52 KB)\nNon-trainable params: 32 (128.00 Byte)" in text


def test_default_names_follow_tf_keras():
    assert [Dense(1).name, Dense(1).name, Dense(1).name] == ["dense", "dense_1", "dense_2"]
    assert Input((2,))._keras_history[0].name == "input_1"
    backend.clear_session()
    assert Dense(1).name == "dense"


def test_sequential_weights_shapes_and_counts_in_keras_layout():
    model = Sequential([Conv2D(4, (3, 2), input_shape=(8, 8, 3)), Flatten(), Dense(2)])
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(3, 2, 3, 4), (4,), (6 * 7 * 4, 2), (2,)]
    assert model.count_params() == 3 * 2 * 3 * 4 + 4 + 168 * 2 + 2
    assert model.input_shape == (None, 8, 8, 3) and model.output_shape == (None, 2)


def test_sequential_builds_from_first_data_when_no_input_shape():
    model = Sequential([Dense(4, activation="relu"), Dense(1)])
    model.compile("sgd", "mse")
    assert not model.built_for_data()
    model.fit(np.zeros((8, 6), dtype="float32"), np.zeros((8, 1)), verbose=0)
    assert model.input_shape == (None, 6) and model.layers[0].get_weights()[0].shape == (6, 4)


def test_frozen_layers_are_not_updated():
    model = Sequential([Dense(4, input_shape=(3,)), Dense(1)])
    model.layers[0].trainable = False
    model.compile("sgd", "mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(np.random.rand(16, 3), np.random.rand(16, 1), verbose=0)
    after = model.get_weights()
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert not np.array_equal(before[2], after[2])
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2


def test_shared_layer_has_one_set_of_weights_and_two_nodes():
    shared = Dense(3, name="shared")
    a, b = Input((2,)), Input((2,))
    model = Model([a, b], concatenate([shared(a), shared(b)]))
    assert len(model.get_weights()) == 2 and len(shared._inbound_nodes) == 2
    x = np.random.rand(4, 2).astype("float32")
    out = model.predict([x, x])
    np.testing.assert_allclose(out[:, :3], out[:, 3:])
    assert model.get_layer("shared") is shared
    assert model.get_layer(index=2) is shared
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("missing")


def test_nested_model_as_a_layer():
    inner_in = Input((3,))
    inner = Model(inner_in, Dense(2, name="inner_dense")(inner_in), name="inner")
    outer_in = Input((3,))
    outer = Model(outer_in, Dense(1)(inner(outer_in)))
    outer.compile("sgd", "mse")
    x = np.random.rand(5, 3).astype("float32")
    assert outer.predict(x).shape == (5, 1)
    before = inner.get_weights()[0].copy()
    outer.fit(x, np.ones((5, 1)), verbose=0)
    assert not np.array_equal(before, inner.get_weights()[0])


def test_multiple_outputs_return_lists():
    a = Input((4,))
    h = Dense(8)(a)
    model = Model(a, [Dense(1, name="o1")(h), Dense(2, name="o2")(h)])
    model.compile("adam", ["mse", "mae"], loss_weights=[1.0, 0.2], metrics=["mae"])
    assert model.metrics_names == ["loss", "o1_loss", "o2_loss", "o1_mae", "o2_mae"]
    x = np.random.rand(6, 4)
    preds = model.predict(x)
    assert [p.shape for p in preds] == [(6, 1), (6, 2)]
    result = model.evaluate(x, [np.zeros((6, 1)), np.zeros((6, 2))], verbose=0)
    assert len(result) == 5
    np.testing.assert_allclose(result[0], result[1] + 0.2 * result[2], rtol=1e-5)


def test_subclassed_model_trains():
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(8, activation="relu")
            self.out = Dense(1)

        def call(self, inputs, training=None):
            return self.out(self.hidden(inputs))

    model = Net()
    model.compile("adam", "mse")
    x = np.random.rand(32, 5).astype("float32")
    history = model.fit(x, x.sum(1, keepdims=True), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert [w.shape for w in model.get_weights()] == [(5, 8), (8,), (8, 1), (1,)]


def test_torch_module_inside_a_sequential_model():
    model = Sequential([Dense(6, input_shape=(4,)), TorchModule(torch.nn.Linear(6, 2)), Dense(1)])
    model.compile("sgd", "mse")
    assert model.count_params() == 4 * 6 + 6 + 6 * 2 + 2 + 3
    before = [w.copy() for w in model.get_weights()]
    model.fit(np.random.rand(8, 4), np.random.rand(8, 1), verbose=0)
    assert all(not np.array_equal(b, a) for b, a in zip(before, model.get_weights()))


def test_train_on_batch_returns_the_loss_before_the_update_and_accepts_class_weight():
    model = Sequential([Dense(2, input_shape=(3,), activation="softmax")])
    model.compile("sgd", "categorical_crossentropy", ["acc"])
    x = np.random.rand(4, 3).astype("float32")
    y = np.eye(2, dtype="float32")[[0, 1, 0, 1]]
    expected = model.test_on_batch(x, y)
    got = model.train_on_batch(x, y)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert model.test_on_batch(x, y)[0] != expected[0]
    weighted = model.train_on_batch(x, y, class_weight={0: 0.0, 1: 2.0})
    assert isinstance(weighted, list) and len(weighted) == 2
    assert model.predict_on_batch(x).shape == (4, 2)


def test_test_on_batch_returns_scalar_for_loss_only():
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    assert isinstance(model.test_on_batch(np.zeros((2, 3)), np.zeros((2, 1))), float)


def test_predict_classes_and_proba():
    model = Sequential([Dense(3, input_shape=(2,), activation="softmax")])
    x = np.random.rand(5, 2).astype("float32")
    np.testing.assert_array_equal(model.predict_classes(x), model.predict(x).argmax(-1))
    binary = Sequential([Dense(1, input_shape=(2,), activation="sigmoid")])
    classes = binary.predict_classes(x)
    assert classes.shape == (5, 1) and classes.dtype == np.int32
    linear = Sequential([Dense(1, input_shape=(2,))])
    linear.set_weights([np.full((2, 1), 10.0), np.zeros(1)])
    with pytest.warns(UserWarning, match="invalid probability"):
        linear.predict_proba(x)


def test_embedding_and_lstm_accept_integer_sequences():
    model = Sequential([Embedding(50, 8, input_length=6), LSTM(4), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", ["acc"])
    x = np.random.randint(0, 50, (16, 6))
    history = model.fit(x, np.random.randint(0, 2, (16, 1)), epochs=1, verbose=0)
    assert set(history.history) == {"loss", "acc"}


def test_model_call_on_torch_tensor_and_on_symbolic_input():
    model = Sequential([Dense(2, input_shape=(3,))])
    out = model(torch.zeros(4, 3))
    assert tuple(out.shape) == (4, 2)
    symbolic = model(Input((3,)))
    assert symbolic.shape == (None, 2)
