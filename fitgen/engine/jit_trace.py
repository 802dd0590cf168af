"""The train step as one traced graph, for `compile(jit_compile=True)` (engine/jit.py runs and checks it).

`TracedStep.trace` records, with `make_fx` on fake tensors, one whole built-in train step as a flat function of
tensors: the forward pass, the loss (Keras's, with regularizers and added losses), the gradients (torch's autograd
traced into the same graph), the optimizer's update and the weight constraints. Inputs are every weight, buffer
and optimizer slot, the optimizer's per-step numbers (0-d float64 tensors: a scheduled or changed learning rate
and Adam's bias corrections need no new graph) and the batch; weights, slots and buffers are written in place.
Running the graph involves no autograd engine, no Python per layer and no per-op dispatch.

Tracing runs the model's Python once, as `tf.function` does: a step whose Python depends on tensor values fails to
trace (fake tensors have none), and engine/jit.py first checks the step with torch.compile's own graph capture
(`fullgraph=True`), which refuses Python side effects such as `print`.
"""
import contextlib

import torch
from torch import nn

from fitgen.engine import call_context
from fitgen.engine.call_context import collect_losses


class _Forward(nn.Module):
    """The model's list-in, list-out forward as a module, so `functional_call` can swap its tensors."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model._forward(x)


class StepTensors:
    """Every tensor a train step reads or writes besides the batch, in one flat order.

    `tensors`: the model's parameters, buffers and weights (each once); `trainable`: positions in `tensors` of the
    optimizer's variables, in its order; `names`: module attribute paths of each position (for functional_call).
    """

    def __init__(self, model, trainable_tensors):
        self.wrapper = _Forward(model)
        self.weights = list(model.weights)
        positions, self.tensors, self.names = {}, [], []

        def add(tensor):
            if id(tensor) not in positions:
                positions[id(tensor)] = len(self.tensors)
                self.tensors.append(tensor)
                self.names.append([])
            return positions[id(tensor)]

        for name, tensor in list(self.wrapper.named_parameters(remove_duplicate=False)) + \
                list(self.wrapper.named_buffers(remove_duplicate=False)):
            self.names[add(tensor)].append(name)
        for weight in self.weights:
            add(weight.tensor)
        missing = [t for t in trainable_tensors if id(t) not in positions]
        if missing:
            raise RuntimeError(f"{len(missing)} trainable tensors are not among the model's weights")
        self.trainable = [positions[id(t)] for t in trainable_tensors]
        self.weight_positions = [positions[id(w.tensor)] for w in self.weights]

    @contextlib.contextmanager
    def swapped(self, replacements):
        """Within the block the model reads `replacements[i]` wherever it reads `tensors[i]` (module attributes
        through functional_call's mapping, `LayerWeight.tensor` for regularizers, constraints and recurrent
        layers); everything is put back afterwards."""
        originals = [weight.tensor for weight in self.weights]
        for weight, position in zip(self.weights, self.weight_positions):
            weight.tensor = replacements[position]
        try:
            yield {name: replacements[i] for i, names in enumerate(self.names) for name in names}
        finally:
            for weight, tensor in zip(self.weights, originals):
                weight.tensor = tensor

    def forward(self, mapping, x):
        return torch.func.functional_call(self.wrapper, mapping, (x,), strict=False)


class TracedStep:
    """A traced train step: `graph(*inputs)` returns a flat tuple that `unflatten` turns into the step's results.

    Args:
        model, specs, fused, extra_losses, total_loss: what engine/step.py's eager step uses.
        state: the eager step's state (trainable tensors, constrained weights, ...).
        update: True puts the optimizer's update and the constraints in the graph (an optimizer that updates
            through `_apply_step`); False returns the gradients for the eager optimizer to apply.
    """

    def __init__(self, model, specs, fused, extra_losses, total_loss, state, update):
        self.model, self.specs, self.update = model, specs, update
        self.optimizer = model.optimizer
        self.step_tensors = StepTensors(model, state["trainable_tensors"])
        self.slot_names = sorted(self.optimizer._slots) if update else []
        self.scalar_names = None
        self._fused, self._extra_losses, self._total_loss, self._state = fused, extra_losses, total_loss, state
        self.graph = None

    def state_inputs(self):
        """The weights, buffers and slots, in the graph's input order."""
        slots = [t for name in self.slot_names for t in self.optimizer._slots[name]]
        return self.step_tensors.tensors + slots

    def trace(self, scalars, x, y, sw):
        """Records the graph for batches shaped like (x, y, sw); `scalars` is `_step_scalars`' dict."""
        self.scalar_names = sorted(scalars)
        self.present = [[t is not None for t in group] for group in (x, y, sw)]
        example = self.state_inputs() + scalar_inputs(self.optimizer, [scalars[k] for k in self.scalar_names])
        example += [t for group in (x, y, sw) for t in group if t is not None]
        self.layout = None
        # torch's tracing tools, imported here: a torch without them only loses jit_compile (one warning).
        from torch._dispatch.python import enable_python_dispatcher
        from torch.fx.experimental.proxy_tensor import make_fx
        call_context.TRACING[0] = True
        try:
            with _attributes_kept(self.model), enable_python_dispatcher():  # for the decompositions below
                self.graph = make_fx(self._step, decomposition_table=_recurrent_decompositions(),
                                     tracing_mode="fake")(*example)
        finally:
            call_context.TRACING[0] = False
        _check_graph(self.graph)
        return example

    def _unpack(self, inputs):
        count = len(self.step_tensors.tensors)
        tensors, rest = list(inputs[:count]), list(inputs[count:])
        slot_count = len(self.step_tensors.trainable)
        slots = {name: rest[i * slot_count:(i + 1) * slot_count] for i, name in enumerate(self.slot_names)}
        rest = rest[slot_count * len(self.slot_names):]
        scalars = dict(zip(self.scalar_names, rest[:len(self.scalar_names)]))
        rest = iter(rest[len(self.scalar_names):])
        x, y, sw = ([next(rest) if here else None for here in group] for group in self.present)
        return tensors, slots, scalars, x, y, sw

    def _step(self, *inputs):
        tensors, slots, scalars, x, y, sw = self._unpack(inputs)
        trainable = self.step_tensors.trainable
        leaves = list(tensors)
        for position in trainable:
            leaves[position] = tensors[position].detach().requires_grad_()
        call_context.PHASE[0] = 1
        with torch.enable_grad(), self.step_tensors.swapped(leaves) as mapping:
            with collect_losses() as collected:
                outputs = self.step_tensors.forward(mapping, x)
            extra = self._extra_losses(self._state, self.model, collected)
            total, per_output = self._total_loss(self.specs, y, outputs, sw, extra, self._fused)
            grads = torch.autograd.grad(total, [leaves[p] for p in trainable], allow_unused=True)
        if self.update:
            with torch.no_grad():
                self._apply_update(tensors, grads, slots, scalars)
            grads = ()
        return self._flatten(total, per_output, outputs, grads)

    def _apply_update(self, tensors, grads, slots, scalars):
        optimizer = self.optimizer
        used = [i for i, g in enumerate(grads) if g is not None]
        params = [tensors[self.step_tensors.trainable[i]] for i in used]
        grads = [grads[i] for i in used]
        slots = {name: [values[i] for i in used] for name, values in slots.items()}
        # apply_gradients' order: clipping, weight decay, the update.
        optimizer._clip(grads)
        if optimizer.weight_decay:
            optimizer._decay(params, [optimizer._decay_mask[i] for i in used], scalars["lr"])
        optimizer._apply_step(params, grads, slots, scalars)
        if self._state["constrained"]:
            with self.step_tensors.swapped(tensors):
                for weight in self._state["constrained"]:
                    weight.tensor.copy_(weight.from_keras(weight.constraint(weight.keras_view())))

    def _flatten(self, total, per_output, outputs, grads):
        flat = [total.detach()]
        losses = [i for i, value in enumerate(per_output) if value is not None]
        flat += [per_output[i].detach() for i in losses]
        masks = [i for i, o in enumerate(outputs) if getattr(o, "_keras_mask", None) is not None]
        flat += [o.detach() for o in outputs] + [outputs[i]._keras_mask for i in masks]
        gradient_positions = [i for i, g in enumerate(grads) if g is not None]
        flat += [grads[i] for i in gradient_positions]
        self.layout = (losses, len(outputs), masks, gradient_positions)
        return tuple(flat)

    def unflatten(self, flat):
        """(total, per-output losses, outputs, gradients or None) from the graph's flat results."""
        losses, output_count, masks, gradient_positions = self.layout
        total = flat[0]
        per_output = [None] * len(self.specs)
        for k, i in enumerate(losses):
            per_output[i] = flat[1 + k]
        start = 1 + len(losses)
        outputs = list(flat[start:start + output_count])
        start += output_count
        for k, i in enumerate(masks):
            outputs[i]._keras_mask = flat[start + k]
        start += len(masks)
        grads = None
        if not self.update:
            grads = [None] * len(self.step_tensors.trainable)
            for k, i in enumerate(gradient_positions):
                grads[i] = flat[start + k]
        return total, per_output, outputs, grads


def scalar_inputs(optimizer, values):
    """The optimizer's per-step numbers as the graph takes them: 0-d float64 tensors (host double precision, as
    the eager step computes them) on the weights' device."""
    device = optimizer._params[0].device if optimizer._params else None
    return [torch.tensor(value, dtype=torch.float64, device=device) for value in values]


@contextlib.contextmanager
def _attributes_kept(model):
    """Puts back every layer attribute the traced call set (it would hold a fake tensor) and refuses the trace."""
    layers = [model] + list(model._flatten_layers()) if hasattr(model, "_flatten_layers") else [model]
    before = [(layer, dict(vars(layer))) for layer in layers]
    changed = []
    try:
        yield
    finally:
        for layer, attributes in before:
            now = vars(layer)
            for key in set(now) | set(attributes):
                if now.get(key, _MISSING) is not attributes.get(key, _MISSING):
                    changed.append(f"{getattr(layer, 'name', type(layer).__name__)}.{key}")
            now.clear()
            now.update(attributes)
    if changed:
        raise TraceRefused(f"the forward pass sets layer attributes ({', '.join(sorted(changed)[:3])})")


_MISSING = object()


def _recurrent_decompositions():
    # torch's fused recurrent kernels (mkldnn on the CPU) have no graph form; their decompositions into one cell
    # per timestep compute the same gates, and inductor fuses each timestep's pointwise work.
    from torch._decomp import get_decompositions
    aten = torch.ops.aten
    return get_decompositions([aten.lstm.input, aten.lstm.data, aten.gru.input, aten.gru.data, aten.rnn_tanh.input,
                               aten.rnn_tanh.data, aten.rnn_relu.input, aten.rnn_relu.data])


class TraceRefused(Exception):
    """The step cannot be one graph; the message says why (shown in jit_compile's fallback warning)."""


def _check_graph(graph):
    # A tensor the graph holds as a constant (not a weight, buffer or slot of the model) must stay read-only: a
    # compiled graph would write to its own copy.
    constants = {node.name for node in graph.graph.nodes if node.op == "get_attr"}
    for node in graph.graph.nodes:
        schema = getattr(node.target, "_schema", None)
        if node.op != "call_function" or schema is None or not schema.is_mutable:
            continue
        for argument, value in zip(schema.arguments, node.args):
            if argument.alias_info is not None and argument.alias_info.is_write \
                    and getattr(value, "name", None) in constants:
                raise TraceRefused("the step writes to a tensor that is not one of the model's weights")
