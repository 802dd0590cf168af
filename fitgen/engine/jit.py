"""`compile(..., jit_compile=True)`: the built-in train step as one compiled graph.

How. engine/jit_trace.py traces one whole step (forward, loss, gradients, the optimizer's update, constraints) into
a graph of tensor operations, which inductor (`torch._inductor.compile`, the compiler behind torch.compile)
turns into fused kernels; each later batch is one call of that compiled function. The optimizer's per-step numbers
(learning rate after schedules, Keras 2 `decay` and callbacks, Adam's bias corrections) are computed on the host
as in the eager step and passed in as tensors, so one graph serves the whole training. Random ops (Dropout) draw
from torch's generator exactly as in eager mode (inductor's `fallback_random`). An optimizer with its own
`_update` keeps it: the graph then stops at the gradients and the update runs eagerly.

The first compiled batch is checked: the step is captured by torch.compile with `fullgraph=True` (no Python side
effects, no control flow on tensor values), run eagerly on the same batch with the same random draws, and the
compiled step's loss, weights and optimizer slots must agree with that eager step's to float rounding.

When the eager step runs instead:

* the first batch: it builds the weights and the optimizer's slots, and shows what the model does;
* a batch whose shapes or dtypes differ from the compiled one, e.g. the last, shorter batch of an epoch (one
  eager step costs less than compiling a second graph, and gives the same numbers);
* for the rest of the compiled model's life, after ONE warning, when the step cannot be compiled: losses kept
  by layers outside any call (`add_loss(callable)`), `add_metric` values, loss scaling, stateful recurrent
  layers, distributed training, a model whose Python torch.compile cannot capture as one graph (e.g. a Lambda
  layer that prints), a layer that sets attributes while it runs, or a compiled step that differs from the
  eager one on the first compiled batch.

A model that overrides `train_step` runs its own step as written (with a warning that it is not compiled).
"""
import torch

from fitgen.engine import call_context
from fitgen.engine.call_context import collect_losses
from fitgen.engine.jit_trace import TracedStep, scalar_inputs

# "inductor" compiles fused kernels. "eager" runs the traced graph op by op: no speed-up, but no compile time
# (the test suite uses it for the larger models; the graph, its inputs and its writes are the same).
BACKEND = "inductor"

# Each compiled model's capture check gets a code object of its own, so that many models in one process (a test
# run, a hyperparameter search) never evict one another from torch.compile's cache.
_COMPILED_COUNT = [0]


def warn_once(model, message):
    # The model keeps whether it warned (reset by compile); it records that itself.
    model._warn_jit_fallback(f"jit_compile=True: {message}; this model's train step runs eagerly (same numbers, "
                             "no compiled speed-up).")


def _signature(x, y, sw):
    return tuple(None if t is None else (t.shape, t.dtype, t.device) for group in (x, y, sw) for t in group)


class CompiledTrainStep:
    """The compiled train step, for `make_train_step(..., jit_compile=True)`.

    Called as `jit(x, y, sw, state)` by the train step, it returns `(loss, per-output losses, outputs, updated)`,
    where `updated` says whether the weights were already updated (else each trainable tensor's `.grad` is set
    for the eager optimizer), or None when this batch must take the eager path.
    """

    def __init__(self, model, specs, fused, extra_losses, total_loss):
        self.model, self.specs, self.fused = model, specs, fused
        self._extra_losses, self._total_loss = extra_losses, total_loss
        self.traced = None
        self.signature = None
        self.disabled = False
        self.compiled_steps = 0  # batches the compiled function computed (tests and benchmarks read it)
        self._scalar_key = None

    def __call__(self, x, y, sw, state):
        if self.disabled:
            return None
        if self.traced is None:
            if self.signature is None:  # the first batch runs eagerly; the next ones with its shapes compile
                self.signature = _signature(x, y, sw)
                return None
            if _signature(x, y, sw) != self.signature:
                return None
            reason = self._unsupported(state)
            if reason:
                return self._disable(reason)
            try:
                return self._first_call(x, y, sw, state)
            except Exception as error:  # noqa: BLE001 - any capture or compile failure falls back to eager
                return self._disable(_reason(error))
        if _signature(x, y, sw) != self.signature:
            return None
        return self._call(x, y, sw)

    def _disable(self, reason):
        self.disabled = True
        self.traced = None
        warn_once(self.model, reason)
        return None

    def _unsupported(self, state):
        model = self.model
        if state.get("persistent"):
            return "layers keep losses added outside any call (add_loss with a callable or a constant)"
        if model._epoch_metrics is not None and model._epoch_metrics.added or getattr(model, "_graph_metrics", None):
            return "the model logs values with add_metric"
        if any(getattr(layer, "stateful", False) for layer in model._flatten_layers()):
            return "stateful recurrent layers carry their states from batch to batch outside the graph"
        if hasattr(model.optimizer, "get_scaled_loss"):
            return "loss scaling (LossScaleOptimizer, mixed_float16) is not compiled"
        if torch.is_grad_enabled() is False:
            return "gradients are disabled"
        return None

    # ---- every compiled batch ----------------------------------------------------------------------------------

    def _scalars(self):
        """This step's optimizer numbers as 0-d float64 tensors (new tensors only when a value changed)."""
        optimizer = self.model.optimizer
        values = _step_values(optimizer)
        key = tuple(values[name] for name in self.traced.scalar_names)
        if key != self._scalar_key:
            self._scalar_key = key
            self._scalar_tensors = scalar_inputs(optimizer, key)
        return self._scalar_tensors

    def _inputs(self, x, y, sw):
        # Detached aliases (same storage): the graph writes the weights itself, and with inputs that need no
        # gradient it is an inference graph whose writes stay inside the compiled kernels.
        state = [t.detach() for t in self.traced.state_inputs()]
        return state + self._scalars() + [t for group in (x, y, sw) for t in group if t is not None]

    def _call(self, x, y, sw):
        traced = self.traced
        total, per_output, outputs, grads = traced.unflatten(self.compiled(*self._inputs(x, y, sw)))
        self.compiled_steps += 1
        if traced.update:
            self.model.optimizer._iterations.count += 1
        else:
            for param, grad in zip(traced.optimizer._params, grads):
                param.grad = grad
        return total, per_output, outputs, traced.update

    # ---- the first compiled batch: capture, trace, compile, check ----------------------------------------------

    def _first_call(self, x, y, sw, state):
        model = self.model
        optimizer = model.optimizer
        update = optimizer._traceable
        traced = TracedStep(model, self.specs, self.fused, self._extra_losses, self._total_loss, state, update)
        scalars = _step_values(optimizer)
        # Traced first: fake tensors touch no weight, and a step that cannot be one graph is refused before
        # anything has run (a stateful layer's states must advance once per batch).
        example = traced.trace(scalars, x, y, sw)
        reference = self._eager_reference(traced, x, y, sw, state, scalars)
        example = [t.detach() for t in example]
        graph = traced.graph
        if BACKEND == "inductor":
            with torch.no_grad():
                graph = torch._inductor.compile(graph, example, options={"fallback_random": True})
        self.compiled = torch.no_grad()(graph)  # the graph holds its own backward ops
        self.traced = traced
        result = self._call(x, y, sw)
        mismatch = _compare(traced, result, reference)
        if mismatch:
            _restore(traced, reference)
            self._disable(f"the compiled step differs from the eager step for this model ({mismatch})")
            if not update:
                for param, grad in zip(optimizer._params, reference["grads"]):
                    param.grad = grad
            return reference["total"], reference["per_output"], reference["outputs"], update
        return result

    def _eager_reference(self, traced, x, y, sw, state, scalars):
        """Runs this batch eagerly through torch.compile's graph capture (`fullgraph=True`, eager kernels), leaving
        the model as it was; returns its loss, outputs, gradients and, on copies, the updated weights and slots."""
        model, tensors = self.model, traced.step_tensors.tensors
        before = [t.detach().clone() for t in tensors]
        rng = _rng_states()
        specs, fused, extra_losses, total_loss = self.specs, self.fused, self._extra_losses, self._total_loss

        def forward_and_loss(x, y, sw):
            with collect_losses() as collected:
                outputs = model._forward(x)
            return total_loss(specs, y, outputs, sw, extra_losses(state, model, collected), fused) + (outputs,)

        _COMPILED_COUNT[0] += 1
        forward_and_loss.__code__ = forward_and_loss.__code__.replace(co_name=f"fitgen_step_{_COMPILED_COUNT[0]}")
        captured = torch.compile(forward_and_loss, backend="eager", fullgraph=True, dynamic=False)
        call_context.PHASE[0] = 1
        try:
            total, per_output, outputs = captured(x, y, sw)
            grads = torch.autograd.grad(total, traced.optimizer._params, allow_unused=True)
            reference = {"total": total.detach(), "per_output": [None if v is None else v.detach()
                                                                 for v in per_output],
                         "outputs": [o.detach() for o in outputs], "grads": list(grads)}
            reference["after"] = [t.detach().clone() for t in tensors]  # buffers moved by the forward pass
            if traced.update:
                reference.update(_reference_update(traced, grads, scalars, state))
        finally:  # as it was, whatever happened: the compiled step or the eager fallback runs this batch next
            with torch.no_grad():
                for tensor, value in zip(tensors, before):
                    tensor.copy_(value)
            _set_rng_states(rng)
        return reference


def _step_values(optimizer):
    """The optimizer's per-step numbers for its next step, as the eager step computes them (host floats)."""
    step = optimizer._iterations.count
    return optimizer._step_scalars(optimizer._current_learning_rate(step), step)


def _rng_states():
    # The compiled step must draw the random numbers (Dropout) the eager reference drew: CPU and CUDA generators.
    return torch.random.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None


def _set_rng_states(states):
    torch.random.set_rng_state(states[0])
    if states[1] is not None:
        torch.cuda.set_rng_state_all(states[1])


def _reference_update(traced, grads, scalars, state):
    """The eager optimizer step and constraints applied to copies of the weights and slots."""
    tensors = [t.detach().clone() for t in traced.step_tensors.tensors]
    slots = {name: [t.detach().clone() for t in values] for name, values in traced.optimizer._slots.items()}
    slots = {name: slots[name] for name in traced.slot_names}
    grads = [None if g is None else g.clone() for g in grads]
    with torch.no_grad():
        traced._apply_update(tensors, grads, slots, scalars)
    return {"tensors": tensors, "slots": slots}


def _compare(traced, result, reference):
    """'' when the compiled step agrees with the eager one to float rounding, else what differs."""
    total = result[0]
    if not torch.allclose(total.float(), reference["total"].float(), rtol=1e-4, atol=1e-6):
        return f"loss {float(total):.6g} != {float(reference['total']):.6g}"
    pairs = []
    if traced.update:
        pairs += list(zip(traced.step_tensors.tensors, reference["tensors"]))
        for name in traced.slot_names:
            pairs += list(zip(traced.optimizer._slots[name], reference["slots"][name]))
    else:
        pairs += [(p.grad, g) for p, g in zip(traced.optimizer._params, reference["grads"])]
    for got, want in pairs:
        if (got is None) != (want is None):
            return "a gradient is missing"
        if got is not None and not torch.allclose(got.float(), want.float(), rtol=1e-3,
                                                  atol=1e-5 * (1.0 + float(want.abs().max()))):
            return "weights after the update"
    return ""


def _restore(traced, reference):
    """Puts the eager step's results in place of the compiled step's."""
    with torch.no_grad():
        if traced.update:
            for tensor, value in zip(traced.step_tensors.tensors, reference["tensors"]):
                tensor.copy_(value)
            for name in traced.slot_names:
                for tensor, value in zip(traced.optimizer._slots[name], reference["slots"][name]):
                    tensor.copy_(value)
        else:
            for tensor, value in zip(traced.step_tensors.tensors, reference["after"]):
                tensor.copy_(value)


def _reason(error):
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return f"the step cannot be compiled ({type(error).__name__}: {first[:200]})"
