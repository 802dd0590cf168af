"""Stateful metric base classes: Metric, Reduce (Mean, Sum) and MeanMetricWrapper.

State lives in torch tensors on the device of the data (moved there on the first update, or by `to(device)`),
and `update_state` never reads a value back to the host: the engine calls it every batch, and a `.item()` there
would stall the accelerator queue. `result()` returns a 0-d tensor; converting it to a float is the caller's
(the progress bar's) business.
"""
import torch

from fitgen import backend
from fitgen._losses.reduction import apply_valid_mask
from fitgen._losses.reduction import squeeze_or_expand_dimensions
from fitgen._metrics import fused
from fitgen._metrics import registry
from fitgen.utils import generic_utils


def _follow_logits(cast, like):
    # Keeps a softmax/sigmoid output's `_keras_logits` across a dtype cast, so crossentropy metrics still see them.
    logits = getattr(like, "_keras_logits", None)
    if logits is not None and cast is not like:
        cast._keras_logits = logits.to(cast.dtype)
    return cast


def to_metric_tensor(value, dtype, device):
    """`value` as a tensor of `dtype`; tensors keep their device (and `_keras_logits`), others go to `device`."""
    if isinstance(value, torch.Tensor):
        if value.device != device:
            value = value.to(device)
        return _follow_logits(value.to(dtype), value) if value.dtype != dtype else value
    return torch.as_tensor(value, dtype=dtype, device=device)


class MetricVariable(torch.Tensor):
    """A metric's state tensor, with the in-place `assign` / `assign_add` / `assign_sub` that user metrics
    written for Keras call (`self.true_positives.assign_add(...)`). Torch operations treat it as a plain
    tensor (no per-op dispatch cost) and return plain tensors."""

    __torch_function__ = torch._C._disabled_torch_function_impl

    def assign(self, value):
        self.copy_(to_metric_tensor(value, self.dtype, self.device).detach())
        return self

    def assign_add(self, value):
        self.add_(to_metric_tensor(value, self.dtype, self.device).detach())
        return self

    def assign_sub(self, value):
        self.sub_(to_metric_tensor(value, self.dtype, self.device).detach())
        return self


class Metric:
    """Base of stateful metrics: `update_state` accumulates, `result` reads, `reset_state` zeroes.

    Subclasses create their state with `add_weight(name, shape)` in `__init__` and implement
    `update_state(y_true, y_pred, sample_weight=None)` and `result()`.

    Args:
        name: the metric's name (its key in the logs); defaults to the snake-case class name.
        dtype: dtype of the state, default `backend.floatx()`.
    """

    def __init__(self, name=None, dtype=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments: {sorted(kwargs)}")
        self._name = name or generic_utils.to_snake_case(type(self).__name__)
        self._dtype = backend.torch_dtype(dtype)
        self._state_names = []
        self._device = torch.device("cpu")
        self.stateful = True

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._name = value

    @property
    def dtype(self):
        return str(self._dtype).replace("torch.", "")

    @property
    def device(self):
        return self._device

    def add_weight(self, name, shape=(), dtype=None, initializer="zeros"):
        """Creates a state tensor (zeros, a `MetricVariable`) reachable as `self.<name>`, listed in `variables`."""
        if initializer not in ("zeros", None):
            raise ValueError(f"Metric state can only start at zeros. Received: initializer={initializer!r}")
        tensor = torch.zeros(tuple(shape), dtype=backend.torch_dtype(dtype) if dtype else self._dtype,
                             device=self._device).as_subclass(MetricVariable)
        setattr(self, name, tensor)
        self._state_names.append(name)
        return tensor

    @property
    def variables(self):
        """The state tensors, in creation order (the engine all-reduces these across processes)."""
        return [getattr(self, name) for name in self._state_names]

    weights = variables

    def to(self, device):
        """Moves the state to `device`; returns self."""
        device = torch.device(device)
        for name in self._state_names:
            setattr(self, name, getattr(self, name).to(device).as_subclass(MetricVariable))
        self._device = device
        return self

    def _follow(self, tensor):
        # One-time move of the state to where the data lives; later calls only compare two devices.
        if isinstance(tensor, torch.Tensor) and tensor.device != self._device:
            self.to(tensor.device)

    def reset_state(self):
        """Zeroes every state tensor, in place and without a host sync."""
        for tensor in self.variables:
            tensor.zero_()

    def reset_states(self):
        """Keras 2 name of `reset_state`."""
        self.reset_state()

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def merge_state(self, metrics):
        """Adds the state of other metrics of the same kind into this one."""
        for metric in metrics:
            if len(metric.variables) != len(self.variables):
                raise ValueError(f"Metric {metric.name!r} is not compatible with {self.name!r}: different state.")
            for mine, theirs in zip(self.variables, metric.variables):
                mine.add_(theirs.to(mine.device))

    def get_weights(self):
        return [tensor.detach().cpu().numpy() for tensor in self.variables]

    def set_weights(self, values):
        for tensor, value in zip(self.variables, values):
            tensor.copy_(torch.as_tensor(value, dtype=tensor.dtype))

    def __call__(self, *args, **kwargs):
        """Updates the state with one batch and returns the running result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<fitgen.metrics.{type(self).__name__} name={self.name!r}>"


class Reduce(Metric):
    """Accumulates `values` by `'sum'`, `'weighted_mean'` or `'sum_over_batch_size'`."""

    def __init__(self, reduction, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if reduction not in ("sum", "weighted_mean", "sum_over_batch_size"):
            raise ValueError(f"Reduction {reduction!r} not implemented. Expected 'sum', 'weighted_mean' or "
                             "'sum_over_batch_size'.")
        self.reduction = reduction
        self.add_weight("total")
        if reduction != "sum":
            self.add_weight("count")

    def update_state(self, values, sample_weight=None):
        """Adds a batch of values (any shape) with optional weights broadcastable to them."""
        with torch.no_grad():
            self._follow(values)
            values = to_metric_tensor(values, self._dtype, self._device)
            weight_sum = None
            if sample_weight is not None:
                if isinstance(sample_weight, (int, float)):
                    values = values * float(sample_weight)
                    weight_sum = float(sample_weight) * values.numel()
                else:
                    sample_weight = to_metric_tensor(sample_weight, self._dtype, self._device)
                    values, _, sample_weight = squeeze_or_expand_dimensions(values, None, sample_weight)
                    try:
                        sample_weight = torch.broadcast_to(sample_weight, values.shape)
                    except RuntimeError:
                        # Weights cover only the leading axes: reduce the values over the others first.
                        extra = tuple(range(sample_weight.dim(), values.dim()))
                        values = values.sum(extra) if self.reduction == "sum" else values.mean(extra)
                    values = values * sample_weight
                    weight_sum = sample_weight.sum()
            self.total.add_(values.sum())
            if self.reduction == "sum":
                return
            if self.reduction == "weighted_mean" and weight_sum is not None:
                self.count.add_(weight_sum)
            else:
                self.count.add_(values.numel())

    def result(self):
        with torch.no_grad():
            if self.reduction == "sum":
                return self.total.clone()
            # divide_no_nan: an empty metric reads 0, not NaN.
            return torch.where(self.count == 0, torch.zeros_like(self.total), self.total / self.count)


class Sum(Reduce):
    """Running (weighted) sum of the values given to `update_state`."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(reduction="sum", name=name, dtype=dtype)


class Mean(Reduce):
    """Running weighted mean: `sum(w * v) / sum(w)` (unweighted: `sum(v) / count`)."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(reduction="weighted_mean", name=name, dtype=dtype)


class MeanMetricWrapper(Mean):
    """Running mean of a per-sample function `fn(y_true, y_pred, **kwargs)`.

    Args:
        fn: the per-sample function (e.g. `fitgen.metrics.categorical_accuracy`).
        name: metric name. dtype: state dtype. **kwargs: passed to `fn` on every call.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None) or "mean_metric_wrapper", dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        # The accuracies' one compare-and-count (fused.py), used when no weight and no mask applies.
        self._fused = fused.fused_update_for(fn, self._dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        # The fused counts need no no_grad block (argmax and comparisons record no graph); the general path has one.
        self._follow(y_pred)
        if (sample_weight is None and self._fused is not None and isinstance(y_pred, torch.Tensor)
                and isinstance(y_true, torch.Tensor) and y_true.device == self._device
                and getattr(y_pred, "_keras_mask", None) is None
                and self._fused(self, y_true, y_pred, **self._fn_kwargs)):
            return
        self._update_general(y_true, y_pred, sample_weight)

    def _update_general(self, y_true, y_pred, sample_weight=None):
        """The per-sample values through `fn`, then `Reduce`: every metric function, weights and masks."""
        with torch.no_grad():
            self._follow(y_pred)
            y_pred = to_metric_tensor(y_pred, self._dtype, self._device)
            y_true = to_metric_tensor(y_true, self._dtype, self._device)
            y_pred, y_true = squeeze_or_expand_dimensions(y_pred, y_true)
            matches = self._fn(y_true, y_pred, **self._fn_kwargs)
            mask = getattr(matches, "_keras_mask", None)
            sample_weight = apply_valid_mask(matches, sample_weight, mask, self.reduction)
            super().update_state(matches, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(self._fn_kwargs)
        if type(self) is MeanMetricWrapper:
            config["fn"] = getattr(self._fn, "__name__", self._fn)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = config.pop("fn", None)
        if cls is MeanMetricWrapper:
            return cls(registry.function_by_name(fn) if isinstance(fn, (str, dict)) else fn, **config)
        return cls(**config)
