"""One batch on the device: train_step, test_step, predict_step, and the epoch's running metrics.

Kept as thin as a hand-written PyTorch loop: no host sync inside a step (the loss and every metric
accumulate on the device; they are read only when the bar redraws, a callback asks, or the epoch ends).
"""
import torch

from fitgen.callbacks.logs import MetricLogs
from fitgen.engine.base_layer import GradientFlags, collect_losses
from fitgen.engine.compile_utils import output_loss


def _regularized(model):
    return [(w, w.regularizer) for w in model.weights if w.regularizer is not None]


def _total_loss(specs, regularized, y, outputs, sw, added_losses):
    total = None
    per_output = []
    for spec, y_true, y_pred, weight in zip(specs, y, outputs, sw):
        if spec.loss_fn is None or y_true is None:
            per_output.append(None)
            continue
        value = output_loss(spec, y_true, y_pred, weight)
        per_output.append(value)
        scaled = value if spec.loss_weight == 1.0 else value * spec.loss_weight
        total = scaled if total is None else total + scaled
    for weight, regularizer in regularized:
        penalty = regularizer(weight.keras_view())
        total = penalty if total is None else total + penalty
    for extra in added_losses:
        total = extra if total is None else total + extra
    if total is None:
        raise ValueError("No loss to compute: the model was compiled without a loss for any output that received "
                         "target data. Provide `y` for the outputs that have a loss.")
    return total, per_output


def make_train_step(model, forward=None, loss_scale=None):
    """A function (x, y, sample_weight) -> (loss, per-output losses, outputs) that updates the weights once.

    `forward` and `loss_scale` are distribution's hooks (fitgen.distribute.ddp): a DDP-wrapped forward, and
    a callable giving the factor on this rank's loss before backward. The returned loss is never scaled.
    """
    specs = model._output_specs
    forward = model._forward if forward is None else forward
    optimizer = model.optimizer
    state = {}

    def prepare():
        # A subclassed model creates its weights in its first call: the optimizer is built after it.
        trainable = model._collected_trainable_weights()
        model._trainable_tensors = [w.tensor for w in trainable]
        optimizer.build(trainable)
        state["constrained"] = [w for w in trainable if w.constraint is not None]
        state["regularized"] = _regularized(model)
        state["trainable_ids"] = {id(t) for t in model._trainable_tensors}
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
        with collect_losses() as added:
            outputs = forward(x)
        if not state:
            prepare()
        params, constrained = model._trainable_tensors, state["constrained"]
        total, per_output = _total_loss(specs, state["regularized"], y, outputs, sw, added)
        for param in params:
            param.grad = None
        (total if loss_scale is None else total * loss_scale()).backward()
        optimizer.apply_gradients()
        if constrained:
            with torch.no_grad():
                for weight in constrained:
                    weight.tensor.copy_(weight.from_keras(weight.constraint(weight.keras_view())))
        return total.detach(), per_output, outputs

    return train_step


def make_test_step(model):
    specs = model._output_specs
    regularized = _regularized(model)

    def test_step(x, y, sw):
        with torch.inference_mode(), collect_losses() as added:
            outputs = model._forward(x)
            total, per_output = _total_loss(specs, regularized, y, outputs, sw, added)
        return total, per_output, outputs

    return test_step


def make_predict_step(model):
    def predict_step(x):
        with torch.inference_mode():
            return model._forward(x)
    return predict_step


class EpochMetrics:
    """Running means over an epoch, as tf-keras reports them: loss weighted by batch size, metrics stateful."""

    def __init__(self, specs, metrics_names):
        self.specs = specs
        self.metrics_names = metrics_names
        self.multi = len(specs) > 1
        self.has_metrics = any(spec.metrics or spec.weighted_metrics for spec in specs)
        self.reset()

    def reset(self):
        self.loss_sum = None
        self.output_sums = [None] * len(self.specs)
        self.count = 0
        for spec in self.specs:
            for metric in spec.metrics + spec.weighted_metrics:
                metric.reset_state()

    def update(self, batch_size, total, per_output, y, outputs, sw):
        # In-place accumulation on the device: no host sync, no graph (the steps return detached losses).
        if self.loss_sum is None:
            # float32 running sums, as tf-keras's Mean metrics keep them
            self.loss_sum = torch.zeros((), dtype=total.dtype, device=total.device)
        self.loss_sum.add_(total, alpha=batch_size)
        if self.multi:
            for index, value in enumerate(per_output):
                if value is not None:
                    if self.output_sums[index] is None:
                        self.output_sums[index] = torch.zeros_like(self.loss_sum)
                    self.output_sums[index].add_(value.detach(), alpha=batch_size)
        if self.has_metrics:
            with torch.no_grad():
                for spec in self.specs:
                    if not (spec.metrics or spec.weighted_metrics):
                        continue
                    y_true, y_pred = y[spec.index], outputs[spec.index].detach()
                    if y_true is None:
                        continue
                    for metric in spec.metrics:
                        metric.update_state(y_true, y_pred)
                    for metric in spec.weighted_metrics:
                        metric.update_state(y_true, y_pred, sample_weight=sw[spec.index])
        self.count += batch_size

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
        return [m for spec in self.specs for m in spec.metrics + spec.weighted_metrics]

    def results(self):
        """The epoch's values so far as Python floats, in metrics_names order (one host sync)."""
        if not self.count:
            return MetricLogs()
        values = [self.loss_sum / self.count]
        if self.multi:
            values += [s / self.count for s in self.output_sums if s is not None]
        for spec in self.specs:
            values += [m.result() for m in spec.metrics + spec.weighted_metrics]
        values = torch.stack([v.detach().to(torch.float64).reshape(()).cpu() if isinstance(v, torch.Tensor)
                              else torch.tensor(float(v), dtype=torch.float64) for v in values]).tolist()
        return MetricLogs(zip(self.metrics_names, values))


def batch_size_of(x):
    for tensor in x:
        if tensor is not None:
            return int(tensor.shape[0])
    return 1
