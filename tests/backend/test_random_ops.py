"""Backend random tensors: shapes, dtypes, distributions and seeds (values are not TensorFlow's, by design)."""
import numpy as np
import pytest
import torch
from backend_checks import numpy_of

from fitgen import backend as K
from fitgen.layers import Input


def test_distributions_and_seeds():
    normal = numpy_of(K.random_normal((4000,), mean=2.0, stddev=0.5, seed=3))
    assert abs(normal.mean() - 2.0) < 0.05 and abs(normal.std() - 0.5) < 0.05
    assert np.array_equal(normal, numpy_of(K.random_normal((4000,), mean=2.0, stddev=0.5, seed=3)))
    assert not np.array_equal(normal, numpy_of(K.random_normal((4000,), mean=2.0, stddev=0.5, seed=4)))
    uniform = numpy_of(K.random_uniform((4000,), -1.0, 3.0, seed=1))
    assert uniform.min() >= -1.0 and uniform.max() < 3.0 and abs(uniform.mean() - 1.0) < 0.1
    truncated = numpy_of(K.truncated_normal((4000,), 1.0, 2.0, seed=2))
    assert truncated.min() >= -3.0 and truncated.max() <= 5.0 and abs(truncated.mean() - 1.0) < 0.15
    binary = numpy_of(K.random_binomial((4000,), p=0.25, seed=7))
    assert set(np.unique(binary)) <= {0.0, 1.0} and abs(binary.mean() - 0.25) < 0.03
    assert K.random_normal((2, 3)).dtype == torch.float32
    assert K.random_uniform((2, 3), dtype="float64").dtype == torch.float64


def test_shape_may_hold_tensor_sizes():
    z = torch.zeros(5, 2)
    assert K.random_normal(shape=(K.shape(z)[0], 3)).shape == (5, 3)
    with pytest.raises(TypeError, match="tuple of integers"):
        K.random_normal(shape=(None, 3))


def test_symbolic_shape_records_a_sampling_op():
    z_mean = Input((2,))
    epsilon = K.random_normal(shape=(K.shape(z_mean)[0], 2))
    assert epsilon.shape == (None, 2)
    z = z_mean + K.exp(0.5) * epsilon
    assert z.shape == (None, 2)


def test_random_variables():
    v = K.random_uniform_variable((3, 4), 0.0, 1.0, seed=1, name="u")
    assert isinstance(v, K.KerasVariable) and v.name == "u:0" and v.shape == (3, 4)
    w = K.random_normal_variable((2,), 0.0, 1.0, seed=1)
    assert K.int_shape(w) == (2,) and K.dtype(w) == "float32"


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.75])
def test_dropout_mask_is_keras_scaled_keep_mask(rate):
    from fitgen.backend.random_ops import dropout_mask
    torch.manual_seed(0)
    mask = dropout_mask((400, 500), rate)
    scale = np.float32(1.0 / (1.0 - rate))
    assert mask.dtype == torch.float32
    assert set(mask.unique().tolist()) == {0.0, float(scale)}
    assert abs(float((mask > 0).float().mean()) - (1.0 - rate)) < 0.005
    # x * mask is tf-keras's `x * scale * keep_mask` to the bit.
    x = torch.randn(400, 500)
    kept = mask > 0
    assert torch.equal((x * mask)[kept], (x * (1.0 / (1.0 - rate)))[kept])
    assert not (x * mask)[~kept].any()


def test_dropout_mask_dtypes_generators_and_rate_one():
    from fitgen.backend.random_ops import dropout_mask
    half = dropout_mask((1000,), 0.3, torch.bfloat16)
    assert half.dtype == torch.bfloat16
    assert set(half.unique().tolist()) == {0.0, float(torch.tensor(1 / 0.7, dtype=torch.bfloat16))}
    double = dropout_mask((1000,), 0.3, torch.float64)
    assert double.dtype == torch.float64 and set(double.unique().tolist()) == {0.0, 1 / 0.7}
    first = dropout_mask((1000,), 0.4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, dropout_mask((1000,), 0.4, generator=torch.Generator().manual_seed(3)))
    assert not torch.equal(first, dropout_mask((1000,), 0.4, generator=torch.Generator().manual_seed(4)))
    assert not dropout_mask((1000,), 1.0).any()
