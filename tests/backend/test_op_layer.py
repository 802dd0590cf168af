"""Backend functions, operators, losses, metrics and activations on symbolic tensors: BackendOp layers that infer
shapes, run, train, show in summary() and save/load (.h5, to_json) with functions resolved from a whitelist."""
import json

import numpy as np
import pytest
import torch
from backend_checks import assert_close, check_symbolic

from fitgen import activations, losses, metrics
from fitgen import backend as K
from fitgen.backend import dispatch
from fitgen.backend.op_layer import BackendOp
from fitgen.engine.functional import GraphNetwork
from fitgen.layers import Dense, Input, Lambda
from fitgen.models import Model, clone_model, load_model, model_from_json

RNG = np.random.RandomState(3)
A = RNG.uniform(0.5, 2.0, (4, 3)).astype("float32")
B = RNG.uniform(0.5, 2.0, (4, 3)).astype("float32")

OPERATORS = [
    ("add", lambda x, y: x + y), ("radd", lambda x, y: 2 + x), ("sub", lambda x, y: x - y),
    ("rsub", lambda x, y: 1 - x), ("mul", lambda x, y: x * y), ("rmul", lambda x, y: np.float32(3) * x),
    ("truediv", lambda x, y: x / y), ("rtruediv", lambda x, y: 1 / x), ("floordiv", lambda x, y: x // y),
    ("rfloordiv", lambda x, y: 5 // x), ("mod", lambda x, y: x % y), ("pow", lambda x, y: x ** 2),
    ("rpow", lambda x, y: 2 ** x), ("neg", lambda x, y: -x), ("abs", lambda x, y: abs(x - y)),
    ("matmul", lambda x, y: x @ torch.ones(3, 2)), ("lt", lambda x, y: x < y), ("le", lambda x, y: x <= 1.0),
    ("gt", lambda x, y: x > y), ("ge", lambda x, y: 1.0 >= x), ("and", lambda x, y: (x > 1) & (y > 1)),
    ("or", lambda x, y: (x > 1) | (y > 1)), ("xor", lambda x, y: (x > 1) ^ (y > 1)), ("invert", lambda x, y: ~(x > 1)),
    ("getitem", lambda x, y: x[:, 0]), ("getitem_slice", lambda x, y: x[1:, 1::2]),
    ("getitem_ellipsis", lambda x, y: x[..., None, 1:]),
]


@pytest.mark.parametrize("name,expression", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_python_operators_of_symbolic_tensors(name, expression):
    out = check_symbolic(expression, [A, B])
    assert out._keras_history[0].name.startswith("operators.")


def test_torch_numpy_and_variable_operands_meet_symbolic_tensors():
    weight = K.variable(np.full((3,), 2.0))
    out = check_symbolic(lambda x: (torch.ones(3) * x + 1.0) - weight, [A])
    assert out.shape == (None, 3)
    K.set_value(weight, np.zeros(3))  # the graph reads the variable when it runs
    x = Input((3,))
    assert_close(Model(x, np.arange(3.0) + x - weight).predict(A, verbose=0), A + np.arange(3.0), rtol=1e-6)


def test_negative_step_slices_follow_numpy():
    x = Input((4, 3))
    out = x[:, ::-1, -1::-2]
    assert out.shape == (None, 4, 2)
    data = RNG.rand(2, 4, 3).astype("float32")
    assert_close(Model(x, out).predict(data, verbose=0), data[:, ::-1, -1::-2])


def test_equality_iteration_and_bool_stay_python_semantics():
    x = Input((3,))
    assert x == x and x != Input((3,)) and x in [x] and len({x, x}) == 1
    with pytest.raises(TypeError, match="not iterable"):
        list(x)
    with pytest.raises(TypeError, match="bool"):
        bool(x > 0)


def test_every_tensor_function_of_the_backend_is_registered():
    names = set(dispatch.registered_names())
    for function in ("mean", "sum", "square", "reshape", "concatenate", "batch_dot", "conv2d", "pool2d", "rnn",
                     "softmax", "binary_crossentropy", "random_normal", "switch", "in_train_phase", "gather",
                     "one_hot", "ctc_batch_cost", "l2_normalize", "update_add", "shape", "cast"):
        assert f"K.{function}" in names
        assert getattr(K, function).keras_op_name == f"K.{function}"
    for prefix, module in (("losses", losses), ("metrics", metrics), ("activations", activations)):
        assert any(n.startswith(prefix + ".") for n in names)
    assert metrics.binary_accuracy.keras_op_name == "metrics.binary_accuracy"


def test_shape_inference_keeps_known_sizes_and_lambda_infers_too():
    x = Input((5, 4))
    assert K.mean(x, axis=1).shape == (None, 4)
    assert K.sum(x, axis=0).shape == (5, 4)  # the batch axis was reduced
    assert K.transpose(x).shape == (4, 5, None)
    assert K.concatenate([x, x], axis=1).shape == (None, 10, 4)
    assert Lambda(lambda t: K.sum(t, axis=1))(x).shape == (None, 4)
    assert Lambda(lambda t: K.batch_flatten(t) * K.epsilon())(x).shape == (None, 20)
    with pytest.raises(RuntimeError, match=r"K.reshape on symbolic inputs of shapes \[\(None, 5, 4\)\]"):
        K.reshape(x, (7, -1))


def _vae_style_model():
    inputs = Input((3,))
    z_mean, z_log_var = Dense(2, name="mean")(inputs), Dense(2, name="log_var")(inputs)
    decoded = Dense(3, activation="sigmoid", name="decoder")(z_mean)
    reconstruction = 3 * metrics.binary_crossentropy(inputs, decoded)
    kl = -0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
    total = K.mean(reconstruction + kl)
    scores = activations.relu(z_mean, max_value=1.0)
    return Model(inputs, [reconstruction, kl, scores]), total, inputs


def test_losses_metrics_and_activations_on_symbolic_tensors():
    model, total, inputs = _vae_style_model()
    x = RNG.uniform(0, 1, (5, 3)).astype("float32")
    reconstruction, kl, scores = model.predict(x, verbose=0)
    mean_w, mean_b = model.get_layer("mean").get_weights()
    var_w, var_b = model.get_layer("log_var").get_weights()
    dec_w, dec_b = model.get_layer("decoder").get_weights()
    z_mean, z_log_var = x @ mean_w + mean_b, x @ var_w + var_b
    decoded = np.clip(1 / (1 + np.exp(-(z_mean @ dec_w + dec_b))), 1e-7, 1 - 1e-7)
    bce = -(x * np.log(decoded + 1e-7) + (1 - x) * np.log(1 - decoded + 1e-7)).mean(-1)
    expected_kl = -0.5 * (1 + z_log_var - z_mean ** 2 - np.exp(z_log_var)).sum(-1)
    assert_close(reconstruction, 3 * bce, rtol=1e-4)
    assert_close(kl, expected_kl, rtol=1e-4, atol=1e-6)
    assert_close(scores, np.clip(z_mean, 0, 1), rtol=1e-5)
    # A symbolic scalar (what add_loss receives) is a graph output like any other.
    assert total.shape == ()
    value = GraphNetwork([inputs], [total]).run([torch.as_tensor(x)])[0]
    assert_close(value.detach().numpy(), (3 * bce + expected_kl).mean(), rtol=1e-4)


def test_model_with_op_layers_trains_saves_and_loads(tmp_path):
    inputs = Input((4,))
    hidden = Dense(3, name="hidden")(inputs)
    features = K.concatenate([K.tanh(hidden), inputs[:, :2] * 0.5], axis=-1)
    outputs = Dense(1, name="out")(K.l2_normalize(features, axis=-1) - K.mean(features, axis=1, keepdims=True))
    model = Model(inputs, outputs)
    model.compile("adam", "mse")
    x, y = RNG.rand(16, 4).astype("float32"), RNG.rand(16, 1).astype("float32")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "K.concatenate (BackendOp)" in text and "operators.getitem (Backend" in text
    path = str(tmp_path / "ops.h5")
    model.save(path)
    loaded = load_model(path)
    assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    from_json = model_from_json(model.to_json())
    from_json.set_weights(model.get_weights())
    assert_close(from_json.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    clone = clone_model(model)
    clone.set_weights(model.get_weights())
    assert_close(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_op_layers_resolve_only_registered_functions():
    with pytest.raises(ValueError, match="Unknown backend op 'os.system'"):
        BackendOp(function="os.system")
    inputs = Input((2,))
    model = Model(inputs, K.exp(inputs))
    document = json.loads(model.to_json())
    document["config"]["layers"][1]["config"]["function"] = "builtins.eval"
    with pytest.raises(ValueError, match="Unknown backend op 'builtins.eval'"):
        model_from_json(json.dumps(document))
    layer = model.layers[1]
    assert layer.get_config()["function"] == "K.exp" and BackendOp.from_config(layer.get_config()).name == layer.name


def test_values_that_json_cannot_hold_fail_clearly_on_save():
    inputs = Input((2,))
    model = Model(inputs, K.map_fn(lambda row: row * 2, inputs))
    assert_close(model.predict(np.ones((3, 2), "float32"), verbose=0), np.full((3, 2), 2.0))
    with pytest.raises(ValueError, match="Cannot serialize the call argument"):
        model.to_json()
