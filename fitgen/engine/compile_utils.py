"""What `compile` turns its arguments into: one loss per output with its weight, and the metrics per output.

Reduction follows tf-keras 2.21 (the fixtures' version): per output, sum(sample_weight * loss) divided by the
number of loss elements; total = sum(loss_weight_k * loss_k) + regularisation penalties; the per-output
`<name>_loss` metrics report loss_k without its loss weight.
"""
import warnings

import torch

from fitgen import losses as losses_module
from fitgen import metrics as metrics_module


class OutputSpec:
    """Everything compile decided for one model output."""

    def __init__(self, name, index, loss_fn, loss_name, loss_weight, temporal):
        self.name = name
        self.index = index
        self.loss_fn = loss_fn
        self.loss_name = loss_name
        self.loss_weight = loss_weight
        self.temporal = temporal
        self.metrics = []            # unweighted Metric objects
        self.weighted_metrics = []   # Metric objects that receive sample weights


def _per_output(value, output_names, argument, allow_missing):
    """Spreads a compile argument over outputs: a single value, a list (one per output) or a dict by name."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in output_names]
        if unknown:
            raise ValueError(f'Unknown entry in {argument} dictionary: "{unknown[0]}". Only expected the following '
                             f"keys: {output_names}")
        if not allow_missing:
            return [value.get(name) for name in output_names]
        return [value.get(name, _MISSING) for name in output_names]
    if isinstance(value, (list, tuple)) and argument in ("loss", "loss_weights", "sample_weight_mode"):
        if len(value) != len(output_names):
            raise ValueError(f"When passing a list as {argument}, it should have one entry per model output. The "
                             f"model has {len(output_names)} outputs ({output_names}), but you passed "
                             f"{argument}={value!r}")
        return list(value)
    return [value] * len(output_names)


_MISSING = object()


def _loss_display_name(loss):
    if isinstance(loss, str):
        return loss
    return getattr(loss, "__name__", None) or getattr(loss, "name", None) or type(loss).__name__


def build_outputs(model, loss, loss_weights, sample_weight_mode, metrics, weighted_metrics):
    output_names = model.output_names
    losses = _per_output(loss, output_names, "loss", allow_missing=True)
    weights = _per_output(loss_weights if loss_weights is not None else 1.0, output_names, "loss_weights",
                          allow_missing=True)
    modes = _per_output(sample_weight_mode, output_names, "sample_weight_mode", allow_missing=True)
    specs = []
    for index, name in enumerate(output_names):
        entry = losses[index]
        if entry is _MISSING or entry is None:
            if isinstance(loss, dict):
                warnings.warn(f'Output "{name}" missing from loss dictionary. We assume this was done on purpose. '
                              f'The fit and evaluate APIs will not be expecting any data to be passed to "{name}".',
                              stacklevel=3)
            loss_fn = None
        else:
            loss_fn = losses_module.get(entry)
        weight = weights[index]
        weight = 1.0 if weight is _MISSING or weight is None else float(weight)
        mode = modes[index]
        mode = None if mode is _MISSING else mode
        if mode not in (None, "temporal"):
            raise ValueError(f'sample_weight_mode should be None or "temporal". Found: {mode!r}')
        specs.append(OutputSpec(name, index, loss_fn, None if loss_fn is None else _loss_display_name(entry),
                                weight, mode == "temporal"))
    if all(s.loss_fn is None for s in specs) and loss is not None:
        raise ValueError("The model cannot be compiled because it has no loss to optimize.")
    _attach_metrics(specs, model, metrics, weighted=False)
    _attach_metrics(specs, model, weighted_metrics, weighted=True)
    return specs


def _metrics_per_output(metrics, specs):
    names = [s.name for s in specs]
    if metrics is None:
        return [[] for _ in specs]
    if isinstance(metrics, dict):
        unknown = [k for k in metrics if k not in names]
        if unknown:
            raise ValueError(f"Found unexpected metrics that do not correspond to any Model output: {unknown}. "
                             f"Valid output names: {names}")
        return [_as_list(metrics.get(n)) for n in names]
    metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
    if metrics and all(isinstance(m, (list, tuple)) for m in metrics) and len(specs) > 1:
        if len(metrics) != len(specs):
            raise ValueError(f"When passing a list of lists as `metrics`, it should have one entry per model "
                             f"output. The model has {len(specs)} outputs, but you passed {len(metrics)} lists.")
        return [list(m) for m in metrics]
    return [list(metrics) for _ in specs]


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _attach_metrics(specs, model, metrics, weighted):
    per_output = _metrics_per_output(metrics, specs)
    multi = len(specs) > 1
    taken = {"loss"} | {f"{s.name}_loss" for s in specs}
    for spec in specs:
        taken.update(m.name for m in spec.metrics + spec.weighted_metrics)
    for spec, identifiers in zip(specs, per_output):
        shape = _output_shape(model, spec.index)
        for identifier in identifiers:
            metric = metrics_module.resolve_metric(identifier, spec.loss_fn, shape)
            base = metric.name
            if weighted and (base in taken or (f"{spec.name}_{base}" if multi else base) in taken):
                base = f"weighted_{base}"
            full = f"{spec.name}_{base}" if multi else base
            if full in taken:
                raise ValueError(f"Found two metrics with the same name: {full}. All the metrics added to the model "
                                 "need to have unique names.")
            taken.add(full)
            metric.display_name = full
            (spec.weighted_metrics if weighted else spec.metrics).append(metric)


def _output_shape(model, index):
    outputs = model.outputs
    if outputs is None:
        return None
    return outputs[index].shape


def metrics_names(specs):
    names = ["loss"]
    if len(specs) > 1:
        names += [f"{s.name}_loss" for s in specs if s.loss_fn is not None]
    for spec in specs:
        names += [m.display_name for m in spec.metrics + spec.weighted_metrics]
    return names


def output_loss(spec, y_true, y_pred, sample_weight):
    """loss_k for one output and batch: sum(w * l) / count(l), with Keras masks zeroing masked elements."""
    values = spec.loss_fn(y_true, y_pred)
    mask = getattr(y_pred, "_keras_mask", None)
    if mask is not None and mask.shape == values.shape:
        mask = mask.to(values.dtype)
        # tf-keras: masked elements get weight 0 and the rest are scaled by total/valid elements.
        scale = mask.numel() / torch.clamp(mask.sum(), min=1.0)
        sample_weight = mask * scale if sample_weight is None else _broadcast(sample_weight, values) * mask * scale
    if sample_weight is None:
        return values.mean()
    return (values * _broadcast(sample_weight, values)).sum() / values.numel()


def _broadcast(weight, values):
    weight = weight.to(values.dtype)
    while weight.dim() < values.dim():
        weight = weight.unsqueeze(-1)
    return weight


# ---------------------------------------------------------------------------- for a model's own train_step
def _per_output_list(value, count):
    if value is None:
        return [None] * count
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _as_tensors(values, like=None):
    out = []
    for value in values:
        if value is None or isinstance(value, torch.Tensor):
            out.append(value)
        else:
            device = like.device if isinstance(like, torch.Tensor) else None
            out.append(torch.as_tensor(value, device=device))
    return out


class LossTracker:
    """The running mean of one loss over the epoch ('loss' or '<output>_loss'), as a Keras metric object.

    A view of the model's epoch sums (step.EpochMetrics), which fit's own steps update directly.
    """

    def __init__(self, epoch_metrics, name, index=None):
        self._sums, self.name, self.index = epoch_metrics, name, index
        self.stateful = True

    @property
    def variables(self):
        return []

    def result(self):
        sums = self._sums
        value = sums.loss_sum if self.index is None else sums.output_sums[self.index]
        if value is None or not sums.count:
            return torch.zeros(())
        return value / sums.count

    def reset_state(self):
        self._sums.reset_losses()

    reset_states = reset_state

    def to(self, device):
        return self


class LossesContainer:
    """`model.compiled_loss`: the losses `compile` configured, callable as tf-keras's.

    `model.compiled_loss(y_true, y_pred, sample_weight=None, regularization_losses=None)` returns the total loss
    (the weighted sum over outputs plus the given regularization losses) and adds it to the running means that
    `model.metrics` reports ('loss', and '<output>_loss' for several outputs).
    """

    def __init__(self, model):
        self._model = model

    @property
    def metrics(self):
        model = self._model
        sums = model._epoch_metrics
        trackers = [LossTracker(sums, "loss")]
        if len(model._output_specs) > 1:
            trackers += [LossTracker(sums, f"{spec.name}_loss", spec.index) for spec in model._output_specs
                         if spec.loss_fn is not None]
        return trackers

    def __call__(self, y_true, y_pred, sample_weight=None, regularization_losses=None):
        from fitgen.engine.step import total_loss
        specs = self._model._output_specs
        outputs = _per_output_list(y_pred, len(specs))
        y = _as_tensors(_per_output_list(y_true, len(specs)), outputs[0])
        sw = _as_tensors(_per_output_list(sample_weight, len(specs)), outputs[0])
        extra = [value if value.dim() == 0 else value.mean() for value in regularization_losses or []]
        total, per_output = total_loss(specs, y, outputs, sw, extra)
        size = next((int(t.shape[0]) for t in outputs if isinstance(t, torch.Tensor) and t.dim()), 1)
        self._model._epoch_metrics.update_losses(size, total, per_output)
        return total


class MetricsContainer:
    """`model.compiled_metrics`: the metrics `compile` configured; `update_state(y_true, y_pred, sample_weight)`."""

    def __init__(self, model):
        self._model = model

    @property
    def metrics(self):
        return [m for spec in self._model._output_specs for m in spec.metrics + spec.weighted_metrics]

    def update_state(self, y_true, y_pred, sample_weight=None):
        specs = self._model._output_specs
        outputs = _per_output_list(y_pred, len(specs))
        y = _as_tensors(_per_output_list(y_true, len(specs)), outputs[0])
        sw = _as_tensors(_per_output_list(sample_weight, len(specs)), outputs[0])
        self._model._epoch_metrics.update_metrics(y, outputs, sw)

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()
