"""Backend variables and introspection: K.variable in every op and in torch, get/set_value, updates, dtypes."""
import copy

import numpy as np
import pytest
import torch
from backend_checks import assert_close, check_symbolic, numpy_of

from fitgen import backend as K
from fitgen import optimizers
from fitgen.layers import Dense, Input


def test_variable_is_a_named_torch_tensor():
    v = K.variable(np.array([[1, 2], [3, 4]]), name="w")
    assert isinstance(v, torch.Tensor) and v.name == "w:0" and v.dtype == torch.float32
    assert K.dtype(v) == "float32" and K.int_shape(v) == (2, 2) and K.ndim(v) == 2 and K.count_params(v) == 4
    assert_close(K.eval(K.sum(v, axis=0)), [4.0, 6.0])
    assert_close(numpy_of(torch.matmul(v, v)), np.array([[7, 10], [15, 22]]))
    assert K.variable(3, dtype="int64").dtype == torch.int64
    assert K.variable(0.0).name.startswith("Variable") and K.is_variable(v)
    assert "w:0" in repr(v) and copy.deepcopy(v).name == "w:0"


def test_get_set_value_and_updates():
    v = K.variable([1.0, 2.0])
    K.set_value(v, [3.0, 4.0])
    assert_close(K.get_value(v), [3.0, 4.0])
    assert K.update_add(v, [1.0, 1.0]) is v
    assert_close(K.get_value(v), [4.0, 5.0])
    K.update_sub(v, np.array([2.0, 2.0]))
    K.update(v, K.get_value(v) * 2)
    assert_close(K.eval(v), [4.0, 6.0])
    K.moving_average_update(v, torch.tensor([0.0, 10.0]), 0.75)
    assert_close(K.get_value(v), [3.0, 7.0])
    K.batch_set_value([(v, [0.0, 1.0])])
    assert_close(K.batch_get_value([v])[0], [0.0, 1.0])
    with pytest.raises(ValueError, match="has shape"):
        K.set_value(v, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="expects a variable"):
        K.update_add(3.0, 1.0)


def test_optimizer_and_layer_variables_work_with_the_same_functions():
    optimizer = optimizers.SGD(learning_rate=0.5)
    assert_close(numpy_of(K.cast(optimizer.lr, "float64") * 2), 1.0)
    K.set_value(optimizer.lr, K.variable(0.25))
    assert float(K.get_value(optimizer.lr)) == 0.25
    layer = Dense(2)
    layer(Input((3,)))
    kernel = layer.weights[0]
    K.set_value(kernel, np.ones((3, 2)))
    assert_close(numpy_of(K.sum(kernel)), 6.0)
    assert K.int_shape(kernel) == (3, 2) and K.dtype(kernel) == "float32"


def test_constructors_and_casts():
    assert_close(numpy_of(K.zeros((2, 3))), np.zeros((2, 3)))
    assert isinstance(K.ones((2,)), K.KerasVariable) and K.ones((2,), dtype="int32").dtype == torch.int32
    assert_close(numpy_of(K.eye(3)), np.eye(3))
    assert_close(numpy_of(K.eye((2, 3))), np.eye(2, 3))
    assert_close(numpy_of(K.constant(2.0, shape=(2, 2))), np.full((2, 2), 2.0))
    assert K.constant([1, 2]).dtype == torch.float32
    x = np.array([[1.5, -2.0]], "float32")
    assert_close(numpy_of(K.zeros_like(x)), np.zeros_like(x))
    assert K.ones_like(torch.as_tensor(x), dtype="int32").dtype == torch.int32
    assert K.cast(torch.as_tensor(x), "int32").dtype == torch.int32 and K.cast(x, "bool").dtype == torch.bool
    assert K.cast_to_floatx(np.array([1, 2])).dtype == np.float32
    assert K.cast_to_floatx(torch.tensor([1, 2])).dtype == torch.float32
    identity = K.identity(K.variable(x))
    assert type(identity) is torch.Tensor
    for fn in (K.zeros_like, K.ones_like, K.identity, lambda t: K.cast(t, "float64")):
        check_symbolic(fn, [x])


def test_tensor_predicates_and_symbolic_values():
    x = Input((3,))
    assert K.is_keras_tensor(x) and K.is_tensor(x) and K.is_tensor(torch.ones(1))
    assert not K.is_keras_tensor(torch.ones(1))
    with pytest.raises(ValueError, match="Expected a symbolic tensor"):
        K.is_keras_tensor(np.ones(1))
    assert K.int_shape(x) == (None, 3) and K.dtype(x) == "float32" and K.ndim(x) == 2
    with pytest.raises(TypeError, match="no value until the model runs"):
        K.eval(x)
    assert not K.is_sparse(torch.ones(2)) and K.get_variable_shape(torch.ones(2, 1)) == (2, 1)


def test_print_tensor_prints_and_returns(capsys):
    x = torch.tensor([1.0, 2.0])
    assert K.print_tensor(x, message="x = ") is x
    assert "x = [1. 2.]" in capsys.readouterr().out
