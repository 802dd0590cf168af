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


def dropout_mask(shape, rate, dtype=torch.float32, device=None, generator=None):
    """Keras's dropout keep-mask, scaled: `(uniform >= rate) * (1 / (1 - rate))`, in `dtype` (0 where dropped).

    `x * dropout_mask(x.shape, rate, x.dtype, x.device)` is tf-keras's `x * scale * keep_mask`, to the bit (the
    mask holds 0 or `scale`). Keras draws one uniform number per entry; torch's `F.dropout` draws Bernoulli
    numbers instead, which on the CPU cost 2.5 times as much (~7 ns an entry against ~3): on a Conv1D text model
    the masks were a tenth of the step. Half-precision masks are drawn in float32 (a float16/bfloat16 uniform
    has too few values below 1 to keep `rate` exact), then cast.
    """
    draw_dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float32
    mask = torch.rand(shape, dtype=draw_dtype, device=device, generator=generator)
    if rate >= 1.0:
        return mask.zero_().to(dtype)
    mask.ge_(rate)  # 1.0 kept, 0.0 dropped, in place: no boolean tensor and cast
    return mask.mul_(1.0 / (1.0 - rate)).to(dtype)


def random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None):
    """A variable of uniformly distributed values in `[low, high)`."""
    return KerasVariable(random_uniform(shape, low, high, dtype, seed), name=_variable_name(name))


def random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None):
    """A variable of normally distributed values."""
    return KerasVariable(random_normal(shape, mean, scale, dtype, seed), name=_variable_name(name))
