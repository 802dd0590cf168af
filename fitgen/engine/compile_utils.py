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
