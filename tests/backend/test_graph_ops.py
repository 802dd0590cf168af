"""K.function on a model's symbolic tensors, and the clear errors of graph-only backend functions."""
import numpy as np
import pytest
import torch
from backend_checks import assert_close

from fitgen import backend as K
from fitgen.layers import Dense, Dropout, Input
from fitgen.models import Model, Sequential


def _model():
    model = Sequential([Dense(4, activation="relu", bias_initializer="ones", input_shape=(3,)), Dropout(0.5), Dense(2)])
    model.compile("sgd", "mse")
    return model


def test_k_function_returns_intermediate_outputs():
    model = _model()
    x = np.random.RandomState(0).rand(5, 3).astype("float32")
    get_hidden = K.function([model.input], [model.layers[0].output])
    hidden = get_hidden([x])
    assert isinstance(hidden, list) and isinstance(hidden[0], np.ndarray)
    kernel, bias = model.layers[0].get_weights()
    assert_close(hidden[0], np.maximum(x @ kernel + bias, 0), rtol=1e-5)
    both = K.function(model.input, [model.layers[0].output, model.output])([x])
    assert_close(both[1], model.predict(x, verbose=0), rtol=1e-5)


def test_k_function_with_the_learning_phase():
    model = _model()
    x = np.ones((200, 3), "float32")
    run = K.function([model.input, K.learning_phase()], [model.layers[1].output])
    test_output = run([x, 0])[0]
    train_output = run([x, 1])[0]
    assert_close(test_output, K.function([model.input], [model.layers[0].output])([x])[0])
    dropped = train_output == 0
    assert 0.3 < dropped[test_output != 0].mean() < 0.7  # dropout was active only with phase 1
    assert model.layers[1].training is True  # the layers' own modes are restored


def test_k_function_from_an_intermediate_tensor():
    inputs = Input((3,))
    hidden = Dense(4, name="h")(inputs)
    outputs = Dense(2, name="o")(K.relu(hidden))
    model = Model(inputs, outputs)
    h = np.random.RandomState(1).rand(2, 4).astype("float32") - 0.5
    result = K.function([hidden], [outputs])([h])[0]
    kernel, bias = model.get_layer("o").get_weights()
    assert_close(result, np.maximum(h, 0) @ kernel + bias, rtol=1e-5)
    with pytest.raises(ValueError, match="not among the function's inputs"):
        K.function([hidden], [model.layers[1].output, Dense(1)(inputs)])


@pytest.mark.parametrize("call,advice", [
    (lambda: K.placeholder(shape=(None, 3)), "Input"),
    (lambda: K.gradients(torch.ones(()), [torch.ones(1)]), "torch.autograd.grad"),
    (lambda: K.get_session(), "K.get_value"),
    (lambda: K.set_session(object()), "set_device"),
    (lambda: K.function([np.ones(3)], [Input((3,))]), "symbolic tensors of a functional model"),
    (lambda: K.function([Input((3,))], [Input((3,))], updates=[1]), "train_step"),
])
def test_graph_only_functions_explain_what_to_use(call, advice):
    with pytest.raises(RuntimeError, match="fitgen runs eagerly") as error:
        call()
    assert advice in str(error.value)


def test_harmless_graph_helpers():
    with K.name_scope("block") as name:
        assert name == "block"
    K.manual_variable_initialization(True)
    assert K.is_placeholder(Input((2,))) and not K.is_placeholder(torch.ones(1))
    assert K.get_uid("dense") == 1 and K.get_uid("dense") == 2 and K.get_uid("conv") == 1
