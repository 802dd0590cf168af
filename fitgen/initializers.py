"""Weight initializers with Keras 2 names, defaults and numbers (tf-keras 2.21), producing torch tensors.

An initializer is called with a shape in **Keras layout** (a Dense kernel is `(input_dim, units)`, a Conv2D
kernel `(rows, cols, input_depth, filters)`) and returns a CPU tensor of that shape; fan-in/fan-out are
computed from that layout exactly as Keras does, and the engine transposes to the torch layout afterwards.

Randomness: an unseeded initializer draws from torch's global CPU generator, so
`fitgen.backend.set_random_seed(s)` makes a whole model's weights repeatable. A seeded initializer draws
from a private generator seeded afresh at every call, so it returns the same values each time it is
called with the same shape (tf-keras 2.21's behaviour for seeded initializers).
"""
import math

import numpy as np
import torch

from fitgen import backend
from fitgen.utils import generic_utils

# std of a unit normal truncated to [-2, 2] (scipy.stats.truncnorm.std(-2, 2)); Keras divides by it so that
# truncated_normal variance scaling keeps the intended variance.
_TRUNCATED_STDDEV_FACTOR = 0.87962566103423978


class Initializer:
    """Base class of all initializers: `__call__(shape, dtype=None)` returns a tensor of that shape.

    Subclasses implement `__call__` and, when they take arguments, `get_config()` returning the
    constructor arguments (the default `from_config` passes them back to the constructor).

    Example:

    >>> class Halves(Initializer):
    ...     def __call__(self, shape, dtype=None):
    ...         return torch.full(tuple(shape), 0.5)
    >>> Halves()((2,)).tolist()
    [0.5, 0.5]
    """

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(shape, dtype=None).")

    def get_config(self):
        """Returns the constructor arguments as a JSON-serialisable dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Builds an initializer from `get_config()`'s dict (a stray Keras 1 `dtype` key is ignored)."""
        config = dict(config)
        config.pop("dtype", None)
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """Fills the tensor with 0."""

    def __call__(self, shape, dtype=None):
        return torch.zeros(_shape(shape), dtype=backend.torch_dtype(dtype))


class Ones(Initializer):
    """Fills the tensor with 1."""

    def __call__(self, shape, dtype=None):
        return torch.ones(_shape(shape), dtype=backend.torch_dtype(dtype))


class Constant(Initializer):
    """Fills the tensor with `value`.

    Args:
        value: A Python scalar, or an array with as many elements as the tensor (reshaped to it) or
            broadcastable to it.
    """

    def __init__(self, value=0):
        self.value = value

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        torch_dtype = backend.torch_dtype(dtype)
        array = np.asarray(self.value)
        if array.size == 1:
            return torch.full(shape, array.item(), dtype=torch_dtype)
        count = math.prod(shape)
        try:
            array = array.reshape(shape) if array.size == count else np.broadcast_to(array, shape)
        except ValueError:
            raise ValueError(f"Constant initializer: `value` of shape {array.shape} cannot fill a tensor of "
                             f"shape {shape}. Expected a scalar or {count} values. Received: value={self.value!r}")
        return torch.tensor(np.array(array), dtype=torch_dtype)

    def get_config(self):
        value = self.value.tolist() if isinstance(self.value, np.ndarray) else self.value
        return {"value": value}


class RandomUniform(Initializer):
    """Values drawn uniformly from `[minval, maxval)`.

    Args:
        minval: Lower bound (inclusive).
        maxval: Upper bound (exclusive).
        seed: Optional int; a seeded initializer returns the same values at every call.
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        self.seed = seed

    def __call__(self, shape, dtype=None):
        torch_dtype = backend.torch_dtype(dtype)
        if not torch_dtype.is_floating_point:
            if torch_dtype == torch.bool or torch_dtype.is_complex:
                raise ValueError(f"RandomUniform expects a float or integer dtype. Received: dtype={dtype!r}")
            return torch.randint(int(self.minval), int(self.maxval), _shape(shape), dtype=torch_dtype,
                                 generator=_generator(self.seed))
        return _uniform(shape, self.minval, self.maxval, dtype, self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    """Values drawn from a normal distribution.

    Args:
        mean: Mean of the distribution.
        stddev: Standard deviation of the distribution.
        seed: Optional int; a seeded initializer returns the same values at every call.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        self.seed = seed

    def __call__(self, shape, dtype=None):
        return _normal(shape, self.mean, self.stddev, dtype, self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(Initializer):
    """Normal values with those further than two standard deviations from the mean redrawn.

    Args:
        mean: Mean of the (untruncated) distribution.
        stddev: Standard deviation of the (untruncated) distribution.
        seed: Optional int; a seeded initializer returns the same values at every call.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        self.seed = seed

    def __call__(self, shape, dtype=None):
        return _truncated_normal(shape, self.mean, self.stddev, dtype, self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Values whose variance is `scale / n`, n being the fan-in, fan-out or their mean.

    Fans come from the Keras shape: `(in, out)` for a Dense kernel; for a convolution kernel
    `(..., in, out)` both are multiplied by the receptive field size `prod(shape[:-2])`.

    Args:
        scale: Positive scaling factor.
        mode: One of `"fan_in"`, `"fan_out"`, `"fan_avg"`.
        distribution: `"truncated_normal"` (`"normal"` is accepted as its Keras 2.2 name),
            `"untruncated_normal"` or `"uniform"`.
        seed: Optional int; a seeded initializer returns the same values at every call.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if scale <= 0.0:
            raise ValueError(f"`scale` must be a positive float. Received: scale={scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: expected one of 'fan_in', 'fan_out', 'fan_avg'. "
                             f"Received: mode={mode!r}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("Invalid `distribution` argument: expected one of 'truncated_normal', "
                             f"'untruncated_normal', 'uniform'. Received: distribution={distribution!r}")
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        if self.distribution == "truncated_normal":
            return _truncated_normal(shape, 0.0, math.sqrt(scale) / _TRUNCATED_STDDEV_FACTOR, dtype, self.seed)
        if self.distribution == "untruncated_normal":
            return _normal(shape, 0.0, math.sqrt(scale), dtype, self.seed)
        limit = math.sqrt(3.0 * scale)
        return _uniform(shape, -limit, limit, dtype, self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


class Orthogonal(Initializer):
    """An orthogonal matrix (QR of a normal random matrix), times `gain`.

    Shapes of rank > 2 are initialized as the matrix `(prod(shape[:-1]), shape[-1])` and reshaped. The
    result has orthonormal columns, or orthonormal rows when it has fewer rows than columns.

    Args:
        gain: Multiplicative factor.
        seed: Optional int; a seeded initializer returns the same values at every call.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        self.seed = seed

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(f"The tensor to initialize must be at least two-dimensional. Received: "
                             f"shape={shape} of rank {len(shape)}.")
        torch_dtype = _float_dtype(dtype)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        work_dtype = torch.float64 if torch_dtype == torch.float64 else torch.float32
        matrix = torch.randn((max(rows, cols), min(rows, cols)), dtype=work_dtype, generator=_generator(self.seed))
        q, r = torch.linalg.qr(matrix, mode="reduced")
        # Multiplying by the signs of R's diagonal makes the distribution uniform over orthogonal matrices.
        q = q * torch.sign(torch.diagonal(r))
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).to(torch_dtype).contiguous()

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """The identity matrix (ones on the main diagonal of a 2D, possibly non-square, shape) times `gain`."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        return self.gain * torch.eye(*shape, dtype=_float_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


class _SeedOnly(VarianceScaling):
    """A VarianceScaling preset whose config is only the seed."""

    _preset = ()  # (scale, mode, distribution)

    def __init__(self, seed=None):
        scale, mode, distribution = self._preset
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_SeedOnly):
    """Uniform in `[-limit, limit]`, `limit = sqrt(6 / (fan_in + fan_out))` (Xavier uniform)."""
    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_SeedOnly):
    """Truncated normal with `stddev = sqrt(2 / (fan_in + fan_out))` (Xavier normal)."""
    _preset = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_SeedOnly):
    """Truncated normal with `stddev = sqrt(2 / fan_in)`."""
    _preset = (2.0, "fan_in", "truncated_normal")


class HeUniform(_SeedOnly):
    """Uniform in `[-limit, limit]`, `limit = sqrt(6 / fan_in)`."""
    _preset = (2.0, "fan_in", "uniform")


class LecunNormal(_SeedOnly):
    """Truncated normal with `stddev = sqrt(1 / fan_in)`."""
    _preset = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_SeedOnly):
    """Uniform in `[-limit, limit]`, `limit = sqrt(3 / fan_in)`."""
    _preset = (1.0, "fan_in", "uniform")


# Keras 2 spells them in lower case too; the aliases are the classes, so `glorot_uniform(seed=1)` works as in
# Keras 2.2 (where they were functions) and in tf-keras (where they are the classes).
zeros = zero = Zeros
ones = one = Ones
constant = Constant
uniform = random_uniform = RandomUniform
normal = random_normal = RandomNormal
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
orthogonal = Orthogonal
identity = Identity
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform

_CLASSES = (Zeros, Ones, Constant, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling, Orthogonal,
            Identity, GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform)
_ALL_OBJECTS = {}
for _cls in _CLASSES:
    _ALL_OBJECTS[_cls.__name__] = _cls
    _ALL_OBJECTS[generic_utils.to_snake_case(_cls.__name__)] = _cls
    # tf 2.0-2.3 wrote the v2 classes as e.g. 'GlorotUniformV2'.
    _ALL_OBJECTS[_cls.__name__ + "V2"] = _cls
_ALL_OBJECTS.update(zero=Zeros, one=Ones, uniform=RandomUniform, normal=RandomNormal)
del _cls


def compute_fans(shape):
    """`(fan_in, fan_out)` of a Keras-layout weight shape, as Keras computes them.

    Args:
        shape: The Keras shape: `()` gives `(1, 1)`, `(n,)` gives `(n, n)`, `(in, out)` gives `(in, out)`, and a
            convolution kernel `(*spatial, in, out)` gives `(in * r, out * r)` with `r = prod(spatial)`.

    Returns:
        A tuple of two ints.
    """
    shape = _shape(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def serialize(initializer):
    """The tf-keras 2.21 config dict of an initializer (a plain function becomes its name)."""
    return generic_utils.serialize_with_module(initializer, "keras.initializers", _CLASSES)

def deserialize(config, custom_objects=None):
    """Builds an initializer from a name or a `{'class_name', 'config'}` dict (any Keras 2 version's form)."""
    return generic_utils.deserialize_keras_object(config, module_objects=_ALL_OBJECTS,
                                                  custom_objects=custom_objects,
                                                  printable_module_name="initializer")


def get(identifier):
    """Resolves an initializer from a name, a config dict, a class, an instance or a function.

    Args:
        identifier: `'glorot_uniform'`, `'GlorotUniform'`, a config dict such as
            `{'class_name': 'RandomNormal', 'config': {'stddev': 0.1}}` (tf-keras's `module` and
            `registered_name` keys are accepted), an `Initializer` class (instantiated) or instance, a
            function `f(shape, dtype=None)`, or None.

    Returns:
        An initializer instance or the given function; None for None.

    Raises:
        ValueError: for an unknown name or an identifier of another type.
    """
    return generic_utils.get_from_identifier(identifier, deserialize, "initializer")

def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        dims = tuple(int(d) for d in shape)
    except TypeError:
        raise ValueError(f"An initializer needs a fully known shape (a tuple of ints). Received: shape={shape!r}")
    if any(d < 0 for d in dims):
        raise ValueError(f"An initializer needs non-negative dimensions. Received: shape={shape!r}")
    return dims


def _float_dtype(dtype):
    torch_dtype = backend.torch_dtype(dtype)
    if not torch_dtype.is_floating_point:
        raise ValueError(f"Expected a floating point dtype. Received: dtype={dtype!r}")
    return torch_dtype


def _generator(seed):
    # None means torch's global CPU generator, which set_random_seed seeds.
    if seed is None:
        return None
    return torch.Generator().manual_seed(int(seed))


def _draw(kind, shape, dtype, seed):
    torch_dtype = _float_dtype(dtype)
    # Draw half-precision values in float32: the same seed then gives the same values for every dtype.
    work_dtype = torch.float64 if torch_dtype == torch.float64 else torch.float32
    draw = torch.rand if kind == "uniform" else torch.randn
    return draw(_shape(shape), dtype=work_dtype, generator=_generator(seed)), torch_dtype


def _uniform(shape, minval, maxval, dtype, seed):
    values, torch_dtype = _draw("uniform", shape, dtype, seed)
    return (values * (maxval - minval) + minval).to(torch_dtype)


def _normal(shape, mean, stddev, dtype, seed):
    values, torch_dtype = _draw("normal", shape, dtype, seed)
    return (values * stddev + mean).to(torch_dtype)


def _truncated_normal(shape, mean, stddev, dtype, seed):
    # Inverse-CDF sampling of a unit normal restricted to [-2, 2]: the same law as redrawing values beyond two
    # standard deviations (tf.random.truncated_normal), in one vectorised pass.
    values, torch_dtype = _draw("uniform", shape, dtype, seed)
    low = 0.5 * (1.0 + math.erf(-2.0 / math.sqrt(2.0)))
    probabilities = low + values * (1.0 - 2.0 * low)
    unit = (math.sqrt(2.0) * torch.erfinv(2.0 * probabilities - 1.0)).clamp_(-2.0, 2.0)
    return (unit * stddev + mean).to(torch_dtype)


def _compute_fans(shape, data_format="channels_last"):
    """Keras 2's private `(fan_in, fan_out)` helper, which user initializers import; `data_format`
    'channels_first' reads a kernel as (out, in, *spatial) (Theano's layout)."""
    shape = _shape(shape)
    if data_format == "channels_first" and len(shape) > 2:
        receptive_field = math.prod(shape[2:])
        return shape[1] * receptive_field, shape[0] * receptive_field
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"Invalid data_format: {data_format!r}; expected 'channels_first' or 'channels_last'.")
    return compute_fans(shape)
