"""Backend shape functions against NumPy (tf-keras for resizing and padding), eager and recorded symbolically."""
import numpy as np
import pytest
import torch
from backend_checks import assert_close, check_symbolic, fixture_cases, numpy_of

from fitgen import backend as K

RNG = np.random.RandomState(1)
X = RNG.uniform(-1, 1, (3, 4, 5)).astype("float32")
Y = RNG.uniform(-1, 1, (3, 4, 2)).astype("float32")

CASES = [
    ("reshape", [X], {"shape": (-1, 20)}, lambda a: a.reshape(-1, 20)),
    ("permute_dimensions", [X], {"pattern": (0, 2, 1)}, lambda a: a.transpose(0, 2, 1)),
    ("expand_dims", [X], {}, lambda a: a[..., None]),
    ("expand_dims", [X], {"axis": 1}, lambda a: a[:, None]),
    ("squeeze", [X[:, :1]], {"axis": 1}, lambda a: a[:, 0]),
    ("batch_flatten", [X], {}, lambda a: a.reshape(3, -1)),
    ("concatenate", [X, Y], {}, lambda a, b: np.concatenate([a, b], -1)),
    ("stack", [X, X * 2], {"axis": 1}, lambda a, b: np.stack([a, b], 1)),
    ("tile", [X], {"n": (1, 2, 3)}, lambda a: np.tile(a, (1, 2, 3))),
    ("repeat_elements", [X], {"rep": 3, "axis": 1}, lambda a: np.repeat(a, 3, axis=1)),
    ("repeat", [X[:, 0]], {"n": 3}, lambda a: np.repeat(a[:, None], 3, axis=1)),
    ("reverse", [X], {"axes": [1, 2]}, lambda a: a[:, ::-1, ::-1]),
    ("reverse", [X], {"axes": -1}, lambda a: a[..., ::-1]),
    ("temporal_padding", [X], {"padding": (2, 1)}, lambda a: np.pad(a, ((0, 0), (2, 1), (0, 0)))),
    ("spatial_3d_padding", [RNG.rand(2, 2, 3, 2, 1).astype("float32")], {},
     lambda a: np.pad(a, ((0, 0), (1, 1), (1, 1), (1, 1), (0, 0)))),
    ("resize_volumes", [RNG.rand(2, 2, 3, 2, 1).astype("float32")],
     {"depth_factor": 2, "height_factor": 1, "width_factor": 3},
     lambda a: np.repeat(np.repeat(np.repeat(a, 2, 1), 1, 2), 3, 3)),
]


@pytest.mark.parametrize("name,arrays,kwargs,reference", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_shape_functions_match_numpy(name, arrays, kwargs, reference):
    fn = getattr(K, name)
    tensors = [torch.as_tensor(a) for a in arrays]
    if name in ("concatenate", "stack"):
        def fn(*parts, _fn=fn, **kw):
            return _fn(list(parts), **kw)
    assert_close(numpy_of(fn(*tensors, **kwargs)), reference(*arrays))
    check_symbolic(fn, arrays, kwargs)


def test_flatten_gather_one_hot_slice_arange():
    assert_close(numpy_of(K.flatten(torch.as_tensor(X))), X.reshape(-1))
    table = RNG.rand(6, 3).astype("float32")
    indices = np.array([[0, 5], [2, 2]])
    assert_close(numpy_of(K.gather(torch.as_tensor(table), torch.as_tensor(indices))), table[indices])
    assert_close(numpy_of(K.gather(table, [1, 3])), table[[1, 3]])
    hot = K.one_hot(torch.tensor([[0, 3], [2, 7]]), 4)
    assert hot.dtype == torch.float32
    assert_close(numpy_of(hot), np.stack([np.eye(4)[[0, 3]], np.array([np.eye(4)[2], np.zeros(4)])]))
    assert_close(numpy_of(K.slice(torch.as_tensor(X), (1, 0, 2), (-1, 2, 3))), X[1:, 0:2, 2:5])
    assert_close(numpy_of(K.arange(5)), np.arange(5))
    assert K.arange(5).dtype == torch.int32
    assert_close(numpy_of(K.arange(1, 7, 2, dtype="float32")), np.arange(1, 7, 2, dtype="float32"))
    assert numpy_of(K.arange(-3)).shape == (0,)
    labels = np.array([[1], [0], [3]])
    check_symbolic(lambda t: K.one_hot(t[:, 0], 4), [labels])
    check_symbolic(lambda t: K.gather(torch.as_tensor(table), t), [labels])
    check_symbolic(lambda t: K.slice(t, (0, 1, 0), (-1, 2, 3)), [X])


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="has size 4, expected 1"):
        K.squeeze(torch.as_tensor(X), 1)
    with pytest.raises(ValueError, match="repeat expects a 2-D tensor"):
        K.repeat(torch.as_tensor(X), 2)
    with pytest.raises(ValueError, match="must be 2 pairs"):
        K.spatial_2d_padding(torch.ones(1, 2, 2, 1), padding=(1, 1))
    with pytest.raises(ValueError, match="data_format"):
        K.spatial_2d_padding(torch.ones(1, 2, 2, 1), data_format="nchw")
    with pytest.raises(ValueError, match="interpolation"):
        K.resize_images(torch.ones(1, 2, 2, 1), 2, 2, "channels_last", interpolation="bicubic")


@pytest.mark.parametrize("case", [c for c in fixture_cases() if c[1] in ("resize_images", "spatial_2d_padding")],
                         ids=lambda c: c[0])
def test_image_functions_match_tf_keras(case):
    _, function, args, kwargs, (expected,) = case
    fn = getattr(K, function)
    assert_close(numpy_of(fn(*[torch.as_tensor(a) for a in args], **kwargs)), expected, rtol=1e-5)
    check_symbolic(fn, args, kwargs)


def test_shape_of_eager_and_symbolic_tensors():
    x = torch.as_tensor(X)
    shape = K.shape(x)
    assert shape.dtype == torch.int32 and shape.tolist() == [3, 4, 5]
    assert K.int_shape(x) == (3, 4, 5) and K.ndim(x) == 3
    # K.shape of a symbolic tensor feeds a reshape target: sizes stay consistent through the recorded graph.
    check_symbolic(lambda t: K.reshape(t, (K.shape(t)[0], -1)), [X])
    out = check_symbolic(lambda t: K.zeros_like(t) + K.reshape(K.batch_flatten(t), K.shape(t)), [X])
    assert out.shape == (None, 4, 5)
