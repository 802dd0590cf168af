"""Backend maths against NumPy (and tf-keras for batch_dot), on eager tensors and recorded on symbolic tensors."""
import numpy as np
import pytest
import torch
from backend_checks import assert_close, check_symbolic, fixture_cases, numpy_of

from fitgen import backend as K

RNG = np.random.RandomState(0)
X = RNG.uniform(-2, 2, (3, 4, 5)).astype("float32")
POS = RNG.uniform(0.1, 3, (3, 4)).astype("float32")

REDUCTIONS = [
    ("max", np.max), ("min", np.min), ("sum", np.sum), ("prod", np.prod), ("mean", np.mean), ("var", np.var),
    ("std", np.std), ("logsumexp", lambda a, axis=None, keepdims=False: np.log(np.sum(np.exp(a), axis=axis,
                                                                                        keepdims=keepdims))),
]
AXES = [None, 1, -1, (0, 2), [1, 2]]


@pytest.mark.parametrize("name,reference", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(name, reference, axis, keepdims):
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    expected = reference(X, axis=np_axis, keepdims=keepdims)
    assert_close(numpy_of(getattr(K, name)(torch.as_tensor(X), axis=axis, keepdims=keepdims)), expected, rtol=1e-5)
    if axis not in (None, (0, 2)):  # reductions that keep the batch axis: also as recorded ops
        check_symbolic(getattr(K, name), [X], {"axis": axis, "keepdims": keepdims})


def test_full_reduction_of_a_symbolic_tensor_is_a_scalar():
    out = check_symbolic(K.mean, [X])
    assert out.shape == ()
    out = check_symbolic(K.sum, [X], {"axis": 0})
    assert out.shape == (4, 5)  # the batch axis was reduced: the result's size is known


def test_any_all_argmax_argmin_cumsum_cumprod():
    b = X > 0
    assert_close(numpy_of(K.any(torch.as_tensor(b), axis=1)), b.any(axis=1))
    assert_close(numpy_of(K.all(torch.as_tensor(X > -3), axis=(1, 2), keepdims=True)),
                 (X > -3).all(axis=(1, 2), keepdims=True))
    assert K.any(torch.as_tensor(b)).dtype == torch.bool
    assert_close(numpy_of(K.argmax(torch.as_tensor(X))), X.argmax(-1))
    assert K.argmax(torch.as_tensor(X)).dtype == torch.int64
    assert_close(numpy_of(K.argmin(torch.as_tensor(X), axis=1)), X.argmin(1))
    assert_close(numpy_of(K.cumsum(torch.as_tensor(X))), np.cumsum(X, axis=0), rtol=1e-5)
    assert_close(numpy_of(K.cumprod(torch.as_tensor(X), axis=-1)), np.cumprod(X, axis=-1), rtol=1e-5)
    assert_close(numpy_of(K.mean(torch.as_tensor(b), axis=0)), b.mean(axis=0))
    for fn in (K.argmax, K.cumsum):
        check_symbolic(fn, [X], {"axis": -1})
    check_symbolic(K.any, [b], {"axis": -1})


UNARY = [("square", np.square, X), ("abs", np.abs, X), ("exp", np.exp, X), ("log", np.log, POS),
         ("round", np.round, np.array([[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4]], "float32")), ("sign", np.sign, X),
         ("sin", np.sin, X), ("cos", np.cos, X), ("sqrt", lambda a: np.sqrt(np.maximum(a, 0)), X),
         ("tanh", np.tanh, X), ("sigmoid", lambda a: 1 / (1 + np.exp(-a)), X)]


@pytest.mark.parametrize("name,reference,data", UNARY, ids=[u[0] for u in UNARY])
def test_elementwise_functions_match_numpy(name, reference, data):
    assert_close(numpy_of(getattr(K, name)(torch.as_tensor(data))), reference(data), rtol=1e-5)
    check_symbolic(getattr(K, name), [data])


def test_pow_clip_and_operands_of_every_kind():
    x = torch.as_tensor(POS)
    assert_close(numpy_of(K.pow(x, 3)), POS ** 3, rtol=1e-5)
    assert_close(numpy_of(K.pow(x, np.float32(0.5))), POS ** 0.5, rtol=1e-5)
    assert_close(numpy_of(K.clip(torch.as_tensor(X), -0.5, 1.0)), np.clip(X, -0.5, 1.0))
    assert_close(numpy_of(K.clip(torch.as_tensor(X), 1.0, 0.5)), np.full_like(X, 1.0))  # max < min -> min
    assert_close(numpy_of(K.clip(torch.as_tensor(X), None, 0.0)), np.minimum(X, 0.0))
    lr = K.Variable(0.5)  # an optimizer's numpy-backed variable is an operand like any other
    assert_close(numpy_of(K.maximum(x, lr)), np.maximum(POS, 0.5))
    assert_close(numpy_of(K.minimum(POS, x * 2)), POS)
    assert_close(numpy_of(K.mean(POS.tolist(), axis=0)), POS.mean(axis=0), rtol=1e-6)
    v = K.variable(POS)
    assert_close(numpy_of(K.sum(v * 2.0, axis=1)), (POS * 2).sum(axis=1), rtol=1e-5)
    check_symbolic(K.clip, [X], {"min_value": -0.5, "max_value": 1.0})
    check_symbolic(K.pow, [POS], {"a": 2})


@pytest.mark.parametrize("name,reference", [("equal", np.equal), ("not_equal", np.not_equal), ("greater", np.greater),
                                            ("greater_equal", np.greater_equal), ("less", np.less),
                                            ("less_equal", np.less_equal), ("maximum", np.maximum),
                                            ("minimum", np.minimum)])
def test_comparisons_and_extrema(name, reference):
    y = np.round(X * 2) / 2
    z = np.round(X[::-1] * 2) / 2
    result = getattr(K, name)(torch.as_tensor(y), torch.as_tensor(z))
    assert_close(numpy_of(result), reference(y, z))
    assert_close(numpy_of(getattr(K, name)(torch.as_tensor(y), 0.5)), reference(y, 0.5))
    check_symbolic(getattr(K, name), [y, z])


def test_dot_follows_theanos_nd_rule():
    a, b = RNG.rand(2, 3).astype("float32"), RNG.rand(4, 3, 5).astype("float32")
    out = K.dot(torch.as_tensor(a), torch.as_tensor(b))
    assert tuple(out.shape) == (2, 4, 5)
    assert_close(numpy_of(out), np.einsum("ij,kjl->ikl", a, b), rtol=1e-5)
    c, d = RNG.rand(2, 3, 4).astype("float32"), RNG.rand(4, 6).astype("float32")
    assert_close(numpy_of(K.dot(torch.as_tensor(c), torch.as_tensor(d))), c @ d, rtol=1e-5)
    assert_close(numpy_of(K.dot(torch.as_tensor(a), torch.as_tensor(a.T))), a @ a.T, rtol=1e-5)
    check_symbolic(K.dot, [c, d], symbolic=[0])
    assert_close(numpy_of(K.transpose(torch.as_tensor(c))), c.transpose(2, 1, 0))


@pytest.mark.parametrize("case", [c for c in fixture_cases() if c[1] == "batch_dot"], ids=lambda c: c[0])
def test_batch_dot_matches_tf_keras(case):
    _, _, args, kwargs, (expected,) = case
    assert_close(numpy_of(K.batch_dot(*[torch.as_tensor(a) for a in args], **kwargs)), expected, rtol=1e-5)
    check_symbolic(K.batch_dot, args, kwargs)


def test_batch_dot_keras_2_2_4_rules_where_later_kerases_differ():
    # Keras 2.2.4 multiplies the last two axes as batched matrices, every axis before them being a batch axis.
    x, y = RNG.rand(2, 3, 4, 5).astype("float32"), RNG.rand(2, 3, 5, 6).astype("float32")
    out = K.batch_dot(torch.as_tensor(x), torch.as_tensor(y), axes=(3, 2))
    assert_close(numpy_of(out), np.einsum("bcij,bcjk->bcik", x, y), rtol=1e-5)
    z = RNG.rand(2, 3, 6, 5).astype("float32")
    out = K.batch_dot(torch.as_tensor(x), torch.as_tensor(z), axes=3)
    assert_close(numpy_of(out), np.einsum("bcij,bckj->bcik", x, z), rtol=1e-5)
    # Two 2-D tensors with the default axes: the sum over the last axis, as (batch, 1).
    a, b = RNG.rand(4, 3).astype("float32"), RNG.rand(4, 3).astype("float32")
    assert_close(numpy_of(K.batch_dot(torch.as_tensor(a), torch.as_tensor(b))), (a * b).sum(1, keepdims=True),
                 rtol=1e-5)
    with pytest.raises(ValueError, match="rank 2 or more"):
        K.batch_dot(torch.ones(3), torch.ones(3, 2))
    with pytest.raises(ValueError, match="Invalid axes"):
        K.batch_dot(torch.ones(3, 2), torch.ones(3, 2), axes=(5, 1))
