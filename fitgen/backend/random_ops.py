"""Keras 2 backend random tensors: `random_normal`, `random_uniform`, `truncated_normal`, `random_binomial`, and
the `random_*_variable` constructors.

With a `seed`, values are drawn on CPU from a generator seeded with it (so the same seed gives the same values
on any device); without one, from torch's global generator (`K.set_random_seed` / `torch.manual_seed`). The
values are not TensorFlow's: only their distribution is.
"""
import torch

from fitgen.backend import common
from fitgen.backend.conversion import shape_arg
from fitgen.backend.dispatch import keras_op
from fitgen.backend.variables import KerasVariable, _variable_name


def _draw(shape, dtype, seed, fill):
    shape = shape_arg(shape)
    dtype = common.torch_dtype(dtype)
    device = common.creation_device()
    if seed is None:
        return fill(torch.empty(shape, dtype=dtype, device=device), None)
    generator = torch.Generator().manual_seed(int(seed))
    return fill(torch.empty(shape, dtype=dtype), generator).to(device)


@keras_op("K.random_normal")
def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normally distributed values of `shape` (`K.shape(x)[0]` entries allowed)."""
    return _draw(shape, dtype, seed, lambda t, g: t.normal_(float(mean), float(stddev), generator=g))


@keras_op("K.random_uniform")
def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniformly distributed values in `[minval, maxval)`."""
    return _draw(shape, dtype, seed, lambda t, g: t.uniform_(float(minval), float(maxval), generator=g))


@keras_op("K.truncated_normal")
def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal values redrawn until within two standard deviations of the mean."""
    mean, stddev = float(mean), float(stddev)
    return _draw(shape, dtype, seed, lambda t, g: torch.nn.init.trunc_normal_(
        t, mean, stddev, mean - 2 * stddev, mean + 2 * stddev, generator=g))


@keras_op("K.random_binomial")
def random_binomial(shape, p=0.0, dtype=None, seed=None):
    """1 with probability `p`, else 0 (in `dtype`, default floatx)."""
    return _draw(shape, dtype, seed, lambda t, g: (t.uniform_(0.0, 1.0, generator=g) < float(p)).to(t.dtype))


random_bernoulli = random_binomial


def random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None):
    """A variable of uniformly distributed values in `[low, high)`."""
    return KerasVariable(random_uniform(shape, low, high, dtype, seed), name=_variable_name(name))


def random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None):
    """A variable of normally distributed values."""
    return KerasVariable(random_normal(shape, mean, scale, dtype, seed), name=_variable_name(name))
