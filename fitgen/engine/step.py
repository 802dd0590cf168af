"""One batch on the device: the built-in train, test and predict steps, and the epoch's running metrics.

Kept as thin as a hand-written PyTorch loop: no host sync inside a step (the loss and every metric
accumulate on the device; they are read only when the bar redraws, a callback asks, or the epoch ends).

The loop drives a *runner* per call (`StepRunner`, `PredictRunner`, or `CustomStepRunner` for a model that
overrides `train_step` / `test_step` / `predict_step`, tf-keras's customisation point), so every kind of step
looks the same to it: `run(batch, size)`, then `results()` when logs are wanted.
"""
import torch

from fitgen import losses as losses_module
from fitgen._losses.reduction import apply_mask
from fitgen._metrics.base import Mean
from fitgen.callbacks.logs import MetricLogs
from fitgen.data import checks, structure
from fitgen.engine import call_context
from fitgen.engine.base_layer import GradientFlags
from fitgen.engine.call_context import collect_losses, collected_loss_values
from fitgen.engine.compile_utils import output_loss
from fitgen.engine import jit as jit_module
from fitgen.engine.jit import CompiledTrainStep
from fitgen.mixed_precision.policy import MIXED_IN_USE, as_float32
from fitgen.optimizers.loss_scale import LossScaleOptimizer

try:  # torch's own entry to its autograd engine, beneath `Tensor.backward`'s argument handling
    from torch.autograd.graph import _engine_run_backward
except ImportError:  # another torch: the public call
    _engine_run_backward = None


def _regularized(model):
    return [(w, w.regularizer) for w in model.weights if w.regularizer is not None]


def fused_losses(specs):
    """Per output, the one-kernel batch mean of its loss (fitgen._losses.fused), or None."""
    return [None if spec.loss_fn is None else losses_module.fused_mean_for(spec.loss_fn) for spec in specs]


def total_loss(specs, y, outputs, sw, extra_losses=(), fused=None):
    """(sum of loss_weight_k * loss_k + extra losses, [loss_k]) for one batch; ValueError when nothing to add.

    `fused` (from `fused_losses`) gives each output's one-kernel mean, used when the batch has no sample weights
    and the output no mask; it answers None for a batch it cannot take, which then goes the general way.
    """
    total = None
    per_output = []
    for index, (spec, y_true, y_pred, weight) in enumerate(zip(specs, y, outputs, sw)):
        if spec.loss_fn is None or y_true is None:
            per_output.append(None)
            continue
        if MIXED_IN_USE[0]:
            y_pred = as_float32(y_pred)  # losses are computed in float32 whatever the output's precision
        try:
            value = None
            if fused is not None and fused[index] is not None and weight is None \
                    and getattr(y_pred, "_keras_mask", None) is None:
                value = fused[index](y_true, y_pred)
            if value is None:
                value = output_loss(spec, y_true, y_pred, weight)
        except (IndexError, RuntimeError):
            # Streamed labels are range-checked on an epoch's first batch only (a check reads values back to
            # the host); a later bad class index fails inside torch, and is reported in Keras's terms here.
            if structure.loss_kind(spec.loss_fn) == checks.SPARSE:
                checks.check_labels([spec], [y_true], {spec.index: int(y_pred.shape[-1])})
            raise
        per_output.append(value)
        scaled = value if spec.loss_weight == 1.0 else value * spec.loss_weight
        total = scaled if total is None else total + scaled
    for extra in extra_losses:
        total = extra if total is None else total + extra
    if total is None:
        raise ValueError("No loss to compute: the model was compiled without a loss for any output that received "
                         "target data, and no loss was added with `add_loss`. Provide `y` for the outputs that have a "
                         "loss, or compile with one.")
    return total, per_output


def _extra_losses(state, model, collected):
    """Weight penalties, losses added outside any call (kept by the layers) and this batch's added losses."""
    if state.get("persistent_version") != call_context.PERSISTENT_LOSSES[0]:
        state["persistent_version"] = call_context.PERSISTENT_LOSSES[0]
        state["persistent"] = [layer for layer in model._flatten_layers() if layer._own_losses]
    if not (collected or state["regularized"] or state["persistent"]):
        return ()
    extra = [regularizer(weight.keras_view()) for weight, regularizer in state["regularized"]]
    for layer in state["persistent"]:
        extra.extend(call_context.as_loss_tensor(loss() if callable(loss) else loss) for loss in layer._own_losses)
    extra.extend(collected_loss_values(collected))
    return extra


def backward(loss):
    """`loss.backward()` for a step's scalar loss.

    `Tensor.backward` spends ~25 us a call on argument handling that a step's loss never needs (a tuple of
    tensors, `inputs=`, shape checks of given gradients, overrides): a tenth of a small model's whole step.
    The engine call is the one `Tensor.backward` ends in, with the same arguments (a fresh gradient of ones,
    graph freed); any loss that could need the handling (a tensor subclass or an active torch-function mode,
    a loss that is not a 1-element result of a graph) goes through `loss.backward()`.
    """
    if (_engine_run_backward is None or type(loss) is not torch.Tensor or loss.grad_fn is None
            or loss.numel() != 1 or torch.overrides.has_torch_function((loss,))):
        loss.backward()
        return
    _engine_run_backward((loss,), (torch.ones_like(loss),), False, False, (), allow_unreachable=True,
                         accumulate_grad=True)


def make_train_step(model, forward=None, loss_scale=None, jit_compile=False):
    """A function (x, y, sample_weight) -> (loss, per-output losses, outputs) that updates the weights once.

    `forward` and `loss_scale` are distribution's hooks (fitgen.distribute.ddp): a DDP-wrapped forward, and
    a callable giving the factor on this rank's loss before backward. The returned loss is never scaled.
    `jit_compile` runs the step as one compiled graph where it can (engine/jit.py).
    """
    specs = model._output_specs
    fused = fused_losses(specs)
    jit = None
    if jit_compile:
        jit = CompiledTrainStep(model, specs, fused, _extra_losses, total_loss)
    elif getattr(model, "jit_compile", False) and (forward is not None or loss_scale is not None):
        jit_module.warn_once(model, "distributed training is not compiled")
    forward = model._forward if forward is None else forward
    optimizer = model.optimizer
    scales_loss = isinstance(optimizer, LossScaleOptimizer)  # mixed_float16: backward of the scaled loss
    state = {}

    def prepare():
        # A subclassed model creates its weights in its first call: the optimizer is built after it.
        trainable = model._collected_trainable_weights()
        state["trainable_tensors"] = [w.tensor for w in trainable]
        optimizer.build(trainable)
        state["constrained"] = [w for w in trainable if w.constraint is not None]
        state["regularized"] = _regularized(model)
        state["trainable_ids"] = {id(t) for t in state["trainable_tensors"]}
        follow_collected_weights()

    def follow_collected_weights():
        # The weights collected at compile get gradients in this model's steps, and only those.
        if "trainable_ids" in state:
            ids = state["trainable_ids"]
            for param in model.parameters():
                param.requires_grad_(id(param) in ids)
        GradientFlags.owner = state

    if model.weights:
        prepare()

    def train_step(x, y, sw):
        if GradientFlags.owner is not state:
            follow_collected_weights()
        if not model.training:  # a callback's predict/evaluate in mid-epoch left it in inference mode
            model.train()
        call_context.PHASE[0] = 1
        result = None if jit is None or "regularized" not in state else jit(x, y, sw, state)
        if result is None:
            with collect_losses() as collected:
                outputs = forward(x)
            if "regularized" not in state:
                prepare()
            total, per_output = total_loss(specs, y, outputs, sw, _extra_losses(state, model, collected), fused)
            for param in state["trainable_tensors"]:
                param.grad = None
            loss = total if loss_scale is None else total * loss_scale()
            backward(optimizer.get_scaled_loss(loss) if scales_loss else loss)
        else:
            total, per_output, outputs, updated = result
            if updated:  # the compiled graph applied the optimizer and the constraints
                return total, per_output, outputs
        constrained = state["constrained"]
        optimizer.apply_gradients()
        if constrained:
            with torch.no_grad():
                for weight in constrained:
                    weight.tensor.copy_(weight.from_keras(weight.constraint(weight.keras_view())))
        return total.detach(), per_output, outputs

    train_step.jit = jit
    return train_step


def make_test_step(model):
    specs = model._output_specs
    fused = fused_losses(specs)
    state = {"regularized": _regularized(model)}

    def test_step(x, y, sw):
        call_context.PHASE[0] = 0
        with torch.inference_mode(), collect_losses() as collected:
            outputs = model._forward(x)
            total, per_output = total_loss(specs, y, outputs, sw, _extra_losses(state, model, collected), fused)
        return total, per_output, outputs

    return test_step


def make_predict_step(model):
    def predict_step(x):
        call_context.PHASE[0] = 0
        with torch.inference_mode(), collect_losses():  # losses added by the forward pass are not wanted here
            outputs = model._forward(x)
        if MIXED_IN_USE[0]:  # NumPy has no bfloat16: such outputs are returned as float32
            outputs = [o.float() if o.dtype == torch.bfloat16 else o for o in outputs]
        return outputs
    return predict_step


# ------------------------------------------------------------------------------------------------- runners
class StepRunner:
    """Runs a built-in train or test step on each batch and keeps the epoch's running metrics.

    Args:
        step_fn: (x, y, sample_weight) -> (loss, per-output losses, outputs).
        metrics: the `EpochMetrics` the batches accumulate into.
        counts: optional zero-argument callable; False skips a batch in the metrics (a distributed stand-in).
    """

    def __init__(self, step_fn, metrics, counts=None):
        self.step_fn, self.metrics, self.counts = step_fn, metrics, counts

    def run(self, batch, size):
        total, per_output, outputs = self.step_fn(*batch)
        if self.counts is None or self.counts():
            self.metrics.update(size, total, per_output, batch[1], outputs, batch[2])

    def reset(self):
        self.metrics.reset()

    def results(self):
        return self.metrics.results()

    def get_state(self):
        return self.metrics.get_state()

    def set_state(self, state):
        self.metrics.set_state(state)


class PredictRunner:
    """Runs the predict step on each batch; `run` returns the list of output tensors."""

    def __init__(self, step_fn):
        self.step_fn = step_fn

    def run(self, batch, size):
        return self.step_fn(batch[0])


class CustomStepRunner:
    """Runs a model's own `train_step(data)` / `test_step(data)` / `predict_step(data)` on each batch.

    `data` is what tf-keras passes: `(x,)`, `(x, y)` or `(x, y, sample_weight)`, each a tensor for one
    input/output or a list for several. The step returns its logs (a dict of metric results); the epoch's logs
    are the last batch's, so running means over `model.metrics` (reset at each epoch) give epoch means.
    """

    def __init__(self, model, method, mode):
        self.model, self.method, self.mode = model, method, mode
        self.logs = {}
        if mode == "train" and getattr(model, "jit_compile", False):
            jit_module.warn_once(model, "a model's own train_step is not compiled, it runs as written")
        optimizer = model.optimizer
        if mode == "train" and optimizer is not None and not optimizer.built and model.weights:
            # Built for the compiled model's trainable weights, so a torch-style step can call
            # `loss.backward()` then `self.optimizer.apply_gradients()`.
            optimizer.build(model._collected_trainable_weights())

    def run(self, batch, size):
        data = pack_data(batch) if self.mode != "predict" else _packed(batch[0])
        call_context.PHASE[0] = int(self.mode == "train")
        with collect_losses():
            result = self.method(data)
        if self.mode == "predict":
            return list(result) if isinstance(result, (list, tuple)) else [result]
        self.logs = result if result is not None else {}
        return None

    def reset(self):
        self.model.reset_metrics()

    def results(self):
        return MetricLogs((name, _as_float(value)) for name, value in self.logs.items())

    def get_state(self):
        return {"metrics": [[v.detach().cpu().clone() for v in m.variables] for m in self.model.metrics],
                "logs": dict(self.results())}

    def set_state(self, state):
        for metric, values in zip(self.model.metrics, state["metrics"]):
            for variable, value in zip(metric.variables, values):
                variable.copy_(value)
        self.logs = dict(state["logs"])


def _as_float(value):
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64).cpu().item() if value.numel() == 1 else value.detach().cpu().numpy()
    return float(value) if isinstance(value, (int, float)) else value


def _packed(tensors):
    present = [t for t in tensors]
    if all(t is None for t in present):
        return None
    return present[0] if len(present) == 1 else present


def pack_data(batch):
    """A batch of aligned lists as tf-keras's `data`: (x,), (x, y) or (x, y, sample_weight)."""
    x, y, sw = (_packed(group) for group in batch)
    if sw is not None:
        return x, y, sw
    return (x, y) if y is not None else (x,)


class EpochMetrics:
    """Running means over an epoch, as tf-keras reports them: loss weighted by batch size, metrics stateful."""

    def __init__(self, specs, metrics_names):
        self.specs = specs
        self.metrics_names = metrics_names
        self.multi = len(specs) > 1
        self.has_metrics = any(spec.metrics or spec.weighted_metrics for spec in specs)
        self.added = {}  # name -> Mean of the values given to `add_metric`, in the order first seen
        self.reset()

    def reset(self):
        self.reset_losses()
        for metric in self._all_metrics():
            metric.reset_state()

    def add_value(self, name, value):
        """One `add_metric` value: its running mean is logged under `name` after the compiled metrics."""
        metric = self.added.get(name)
        if metric is None:
            metric = self.added[name] = Mean(name=name)
        with torch.no_grad():
            metric.update_state(value.detach() if isinstance(value, torch.Tensor) else value)

    def reset_losses(self):
        self.loss_sum = None
        self.output_sums = [None] * len(self.specs)
        self.count = 0

    def update(self, batch_size, total, per_output, y, outputs, sw):
        self.update_losses(batch_size, total, per_output)
        if self.has_metrics:
            self.update_metrics(y, outputs, sw)

    def update_losses(self, batch_size, total, per_output):
        # In-place accumulation on the device: no host sync, no graph (the steps return detached losses).
        if self.loss_sum is None:
            # float32 running sums, as tf-keras's Mean metrics keep them
            self.loss_sum = torch.zeros((), dtype=total.dtype, device=total.device)
        self.loss_sum.add_(total.detach(), alpha=batch_size)
        if self.multi:
            for index, value in enumerate(per_output):
                if value is not None:
                    if self.output_sums[index] is None:
                        self.output_sums[index] = torch.zeros_like(self.loss_sum)
                    self.output_sums[index].add_(value.detach(), alpha=batch_size)
        self.count += batch_size

    def update_metrics(self, y, outputs, sw):
        with torch.no_grad():
            for spec in self.specs:
                if not (spec.metrics or spec.weighted_metrics):
                    continue
                y_true, output = y[spec.index], outputs[spec.index]
                if y_true is None:
                    continue
                y_pred = output.detach()
                # As tf-keras's MetricsContainer: an output's mask weighs every metric, and multiplies the
                # sample weights of the weighted ones.
                mask = getattr(output, "_keras_mask", None)
                if mask is not None:
                    mask = apply_mask(y_pred, None, mask)
                for metric in spec.metrics:
                    if mask is None:
                        metric.update_state(y_true, y_pred)
                    else:
                        metric.update_state(y_true, y_pred, sample_weight=mask)
                if spec.weighted_metrics:
                    weight = sw[spec.index] if mask is None else apply_mask(y_pred, sw[spec.index], mask)
                    for metric in spec.weighted_metrics:
                        metric.update_state(y_true, y_pred, sample_weight=weight)

    def get_state(self):
        """The running sums (for BackupAndRestore), as CPU tensors."""
        def copy(t):
            return None if t is None else t.detach().cpu().clone()
        return {"loss_sum": copy(self.loss_sum), "output_sums": [copy(t) for t in self.output_sums],
                "count": self.count,
                "metrics": [[copy(v) for v in m.variables] for m in self._all_metrics()]}

    def set_state(self, state):
        device = None
        for metric in self._all_metrics():
            for variable in metric.variables:
                device = variable.device
        self.loss_sum = state["loss_sum"] if state["loss_sum"] is None else state["loss_sum"].to(device or "cpu")
        self.output_sums = [t if t is None else t.to(device or "cpu") for t in state["output_sums"]]
        self.count = state["count"]
        for metric, values in zip(self._all_metrics(), state["metrics"]):
            for variable, value in zip(metric.variables, values):
                variable.copy_(value)

    def _all_metrics(self):
        return [m for spec in self.specs for m in spec.metrics + spec.weighted_metrics] + list(self.added.values())

    def result_tensors(self):
        """The epoch's values so far as (name, 0-d tensor) pairs (no host sync), in metrics_names order."""
        if not self.count and not self.added:
            return []
        values = [self.loss_sum / self.count] if self.count else []
        if self.multi and self.count:
            values += [s / self.count for s in self.output_sums if s is not None]
        for spec in self.specs:
            values += [m.result() for m in spec.metrics + spec.weighted_metrics]
        names = self.metrics_names if self.count else self.metrics_names[len(self.metrics_names) - len(values):]
        pairs = list(zip(names, values))
        pairs += [(name, metric.result()) for name, metric in self.added.items()]
        return pairs

    def results(self):
        """The epoch's values so far as Python floats, in metrics_names order (one host sync)."""
        pairs = self.result_tensors()
        if not pairs:
            return MetricLogs()
        values = torch.stack([v.detach().to(torch.float64).reshape(()).cpu() if isinstance(v, torch.Tensor)
                              else torch.tensor(float(v), dtype=torch.float64) for _, v in pairs]).tolist()
        return MetricLogs(zip((name for name, _ in pairs), values))


def batch_size_of(x):
    for tensor in x:
        if tensor is not None:
            return int(tensor.shape[0])
    return 1
