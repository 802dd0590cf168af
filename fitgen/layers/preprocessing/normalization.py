"""`Normalization`: `(x - mean) / sqrt(variance)` per feature, with tf-keras 2.21's weights and `adapt`.

Without `mean`/`variance` arguments the statistics are weights, as tf-keras stores them: `mean`, `variance`
(float, shaped like the kept axes) and `count` (an int64 scalar, the number of values `adapt` has seen), all
non-trainable, so Keras's weight files (EfficientNet's among them) load into the layer. The output is always
computed from the current weights, so loading or `set_weights` takes effect at once.
"""
import numpy as np
import torch

from fitgen import backend
from fitgen.engine.base_layer import Layer


def _listify(value):
    if value is None:
        return None
    value = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
    return value.tolist()


class Normalization(Layer):
    """Shifts and scales inputs into a distribution centred around 0 with standard deviation 1.

    Computes `(inputs - mean) / sqrt(variance)` (the square root bounded below by `backend.epsilon()`), the
    statistics held per index of the kept `axis`, as `keras.layers.Normalization`.

    Args:
        axis: int, tuple of ints or None: the axes that keep separate statistics (default -1, one mean and
            variance per feature of the last axis); None gives one scalar mean and variance.
        mean: the mean to use (a number or array broadcastable to the kept axes); when given, `variance`
            must be given too and the layer has no weights and cannot `adapt`.
        variance: the variance to use, as `mean`.
        invert: apply the inverse transformation (`mean + inputs * sqrt(variance)`).

    `adapt(data)` computes the mean and variance of `data` (an array, a tensor or an iterable of batches).
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            try:
                axis = tuple(int(a) for a in axis)
            except (TypeError, ValueError):
                raise TypeError(f"Normalization's `axis` must be an int, a tuple of ints or None. Received: "
                                f"axis={axis!r}") from None
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError(f"When setting values directly, both `mean` and `variance` must be set. Got mean: "
                             f"{mean} and variance: {variance}")
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)

    # ----------------------------------------------------------------------------------------- build
    def build(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            raise ValueError("Normalization only accepts a single input. If you are passing a python list or tuple "
                             "as a single input, please convert to a numpy array or a tensor.")
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Found ndim: `{ndim}`, axis: "
                             f"{self.axis}")
        self._keep_axis = sorted(a % ndim for a in self.axis)
        for a in self._keep_axis:
            if input_shape[a] is None:
                raise ValueError(f"All `axis` values to be kept must have known shape. Got axis: {self.axis}, input "
                                 f"shape: {input_shape}, with unknown axis at index: {a}")
        self._reduce_axis = [a for a in range(ndim) if a not in self._keep_axis]
        self._broadcast_shape = tuple(input_shape[a] if a in self._keep_axis else 1 for a in range(ndim))
        stats_shape = tuple(input_shape[a] for a in self._keep_axis)
        if self.input_mean is None:
            self.add_weight("mean", stats_shape, initializer="zeros", trainable=False)
            self.add_weight("variance", stats_shape, initializer="ones", trainable=False)
            self.add_weight("count", (), dtype="int64", initializer="zeros", trainable=False)
        else:
            dtype = backend.torch_dtype(self.dtype)
            ones = np.ones(stats_shape)
            for name, value in (("_fixed_mean", self.input_mean), ("_fixed_variance", self.input_variance)):
                tensor = torch.as_tensor(np.asarray(value) * ones, dtype=dtype).reshape(self._broadcast_shape)
                self.register_buffer(name, tensor, persistent=False)
        self.built = True

    def _statistics(self):
        if self.input_mean is not None:
            return self._fixed_mean, self._fixed_variance
        return self.mean.reshape(self._broadcast_shape), self.variance.reshape(self._broadcast_shape)

    def call(self, inputs):
        x = inputs.to(backend.torch_dtype(self.dtype))
        mean, variance = self._statistics()
        mean, variance = mean.to(x.dtype), variance.to(x.dtype)
        std = torch.clamp_min(torch.sqrt(variance), backend.epsilon())
        if self.invert:
            return mean + x * std
        return (x - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    # ----------------------------------------------------------------------------------------- adapt
    def adapt(self, data, batch_size=None, steps=None):
        """Computes the mean and variance of `data` and stores them in the layer's weights.

        Args:
            data: a NumPy array or tensor (batch first), or an iterable of such batches (a generator, a
                `Sequence`, a DataLoader yielding arrays).
            batch_size: for array data, how many samples each update reads (all at once by default).
            steps: for iterables, how many batches to read (all by default).
        """
        if self.input_mean is not None:
            raise ValueError(f"Cannot `adapt` a Normalization layer that is initialized with static `mean` and "
                             f"`variance`, you passed mean {self.input_mean} and variance {self.input_variance}.")
        batches = _batches(data, batch_size, steps)
        first = next(batches, None)
        if first is None:
            raise ValueError("Normalization.adapt received no data.")
        if not self.built:
            self._maybe_build((None,) + tuple(first.shape[1:]))
        self.reset_state()
        self.update_state(first)
        for batch in batches:
            self.update_state(batch)

    def update_state(self, data):
        """Merges one batch into the running mean, variance and count (tf-keras's rule)."""
        if not self.built:
            raise RuntimeError("`build` must be called before `update_state`.")
        with torch.no_grad():
            data = torch.as_tensor(np.asarray(data) if not isinstance(data, torch.Tensor) else data)
            data = data.to(device=self.mean.device, dtype=self.mean.dtype)
            if self._reduce_axis:
                batch_variance, batch_mean = torch.var_mean(data, dim=self._reduce_axis, correction=0)
                batch_count = int(np.prod([data.shape[a] for a in self._reduce_axis]))
            else:
                batch_mean, batch_variance, batch_count = data, torch.zeros_like(data), 1
            total = batch_count + int(self.count)
            batch_weight = torch.tensor(batch_count, dtype=self.mean.dtype) / torch.tensor(total,
                                                                                            dtype=self.mean.dtype)
            existing_weight = 1.0 - batch_weight
            total_mean = self.mean * existing_weight + batch_mean * batch_weight
            total_variance = ((self.variance + (self.mean - total_mean) ** 2) * existing_weight
                              + (batch_variance + (batch_mean - total_mean) ** 2) * batch_weight)
            self.mean.copy_(total_mean)
            self.variance.copy_(total_variance)
            self.count.fill_(total)

    def reset_state(self):
        """Forgets what `adapt` has seen (mean 0, variance 1, count 0)."""
        if self.input_mean is not None or not self.built:
            return
        with torch.no_grad():
            self.mean.zero_()
            self.variance.fill_(1.0)
            self.count.zero_()

    def finalize_state(self):
        """Kept for tf-keras compatibility: fitgen always computes with the current statistics."""

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "invert": self.invert, "mean": _listify(self.input_mean),
                       "variance": _listify(self.input_variance)})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("axis"), list):
            config["axis"] = tuple(config["axis"])
        return cls(**config)


def _batches(data, batch_size, steps):
    """The batches of `data`: slices of an array or tensor, or the items of an iterable (x of (x, y) pairs)."""
    if isinstance(data, (np.ndarray, torch.Tensor, list, tuple)):
        data = data if isinstance(data, torch.Tensor) else np.asarray(data)
        size = max(len(data) if batch_size is None else int(batch_size), 1)
        for start in range(0, len(data), size):
            yield data[start:start + size]
        return
    for k, item in enumerate(data):
        if steps is not None and k >= steps:
            return
        yield item[0] if isinstance(item, (tuple, list)) else item
