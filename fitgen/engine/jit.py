"""`compile(..., jit_compile=True)`: the built-in train step's forward pass, loss and gradients as one
`torch.compile`d function.

How. `torch.func.grad_and_value` over a functional call of the model (its trainable weights passed in as
tensors) turns forward, loss and backward into one graph, which inductor compiles into fused kernels; at run
time no autograd graph is recorded and no autograd engine runs, which is where a small model's step spends most
of its time. The optimizer then applies the gradients eagerly, exactly as the eager step does (its per-step
numbers - a scheduled learning rate, Keras 2 `decay`, Adam's bias corrections - are Python floats that would
make torch.compile recompile at every step). Random ops (Dropout) draw from torch's generator as in eager mode
(inductor's `fallback_random`), so the compiled step gives the eager step's numbers to float rounding.

When the eager step runs instead:

* the first batch: it builds the weights and the optimizer's slots, and shows what the model does;
* a batch whose shapes or dtypes differ from the compiled one, e.g. the last, shorter batch of an epoch (one
  eager step costs less than compiling a second graph, and gives the same numbers);
* for the rest of the compiled model's life, after ONE warning, when the step cannot be compiled: losses kept
  by layers outside any call (`add_loss(callable)`), `add_metric` values, distributed training, a model that
  torch.compile cannot trace into one graph (e.g. a Lambda layer with Python side effects such as `print`), or
  gradients that differ from the eager step's on the first compiled batch (a layer holding its weights where
  a functional call cannot swap them).

A model that overrides `train_step` runs its own step as written (with a warning that it is not compiled).
"""
import torch
from torch import nn

from fitgen.engine import call_context
from fitgen.engine.call_context import collect_losses

# The torch.compile backend: inductor generates fused kernels. ("aot_eager" runs the same traced graphs with eager
# kernels: no speed-up, but compiles in a fraction of the time; the test suite uses it for the larger models.)
BACKEND = "inductor"

# torch.compile keeps at most a few compiled versions per code object; each compiled model gets a code object of
# its own so that many models in one process (a test run, a hyperparameter search) never evict one another.
_COMPILED_COUNT = [0]


def warn_once(model, message):
    # The model keeps whether it warned (reset by compile); it records that itself.
    model._warn_jit_fallback(f"jit_compile=True: {message}; this model's train step runs eagerly (same numbers, "
                             "no compiled speed-up).")


class _Forward(nn.Module):
    """The model's list-in, list-out forward as a module, so `functional_call` can swap its parameters."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model._forward(x)


def _signature(x, y, sw):
    return tuple(None if t is None else (t.shape, t.dtype, t.device) for group in (x, y, sw) for t in group)


class CompiledGradients:
    """Forward + loss + gradients of one batch through torch.compile, for `make_train_step(..., jit=...)`.

    Called as `jit(x, y, sw, state)` by the train step, it leaves each trainable tensor's `.grad` set and returns
    `(loss, per-output losses, outputs)`, or None when this batch must take the eager path.
    """

    def __init__(self, model, specs, fused, extra_losses, total_loss):
        self.model, self.specs, self.fused = model, specs, fused
        self._extra_losses, self._total_loss = extra_losses, total_loss
        self.compiled = None
        self.signature = None
        self.verified = False
        self.disabled = False
        self.compiled_steps = 0  # batches the compiled function computed (tests and benchmarks read it)

    def __call__(self, x, y, sw, state):
        if self.disabled:
            return None
        if self.compiled is None:
            if self.signature is None:  # the first batch runs eagerly; the next ones with its shapes compile
                self.signature = _signature(x, y, sw)
                return None
            reason = self._unsupported(state)
            if reason:
                return self._disable(reason)
            self._build(state)
        if _signature(x, y, sw) != self.signature:
            return None
        try:
            if not self.verified:
                return self._verified_call(x, y, sw, state)
            return self._call(x, y, sw)
        except Exception as error:  # noqa: BLE001 - any compile failure falls back to the eager step
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return self._disable(f"torch.compile could not compile the step ({type(error).__name__}: {first[:200]})")

    def _disable(self, reason):
        self.disabled = True
        warn_once(self.model, reason)
        return None

    def _unsupported(self, state):
        model = self.model
        if state.get("persistent"):
            return "layers keep losses added outside any call (add_loss with a callable or a constant)"
        if model._epoch_metrics is not None and model._epoch_metrics.added or getattr(model, "_graph_metrics", None):
            return "the model logs values with add_metric"
        if hasattr(model.optimizer, "get_scaled_loss"):
            return "loss scaling (LossScaleOptimizer, mixed_float16) is not compiled"
        if torch.is_grad_enabled() is False:
            return "gradients are disabled"
        return None

    def _build(self, state):
        model = self.model
        self.wrapper = _Forward(model)
        names = {id(p): name for name, p in self.wrapper.named_parameters(remove_duplicate=False)}
        self.params = list(state["trainable_tensors"])
        weights = list(model._collected_trainable_weights())
        missing = [w.name for w, p in zip(weights, self.params) if id(p) not in names]
        if missing or len(weights) != len(self.params):
            raise RuntimeError(f"trainable weights outside the model's parameters: {missing}")
        self.keys = [names[id(p)] for p in self.params]
        self.weights = weights
        specs, fused, extra_losses, total_loss = self.specs, self.fused, self._extra_losses, self._total_loss
        wrapper, keys = self.wrapper, self.keys

        def loss_and_outputs(params, x, y, sw):
            # Regularizers and the recurrent layers read `LayerWeight.tensor`: point those at the traced tensors
            # too (functional_call swaps only module attributes), and back afterwards.
            originals = [weight.tensor for weight in weights]
            for weight, tensor in zip(weights, params):
                weight.tensor = tensor
            try:
                with collect_losses() as collected:
                    outputs = torch.func.functional_call(wrapper, dict(zip(keys, params)), (x,), strict=False)
                total, per_output = total_loss(specs, y, outputs, sw, extra_losses(state, model, collected), fused)
            finally:
                for weight, tensor in zip(weights, originals):
                    weight.tensor = tensor
            # Auxiliary results must be tensors: absent ones (None) are left out of the dict.
            aux = {"total": total.detach()}
            for index, value in enumerate(per_output):
                if value is not None:
                    aux[f"loss_{index}"] = value.detach()
            for index, output in enumerate(outputs):
                aux[f"output_{index}"] = output.detach()
                if getattr(output, "_keras_mask", None) is not None:
                    aux[f"mask_{index}"] = output._keras_mask
            return total, aux

        gradients = torch.func.grad_and_value(loss_and_outputs, has_aux=True)

        def step(params, x, y, sw):
            grads, (_, aux) = gradients(params, x, y, sw)
            return grads, aux

        _COMPILED_COUNT[0] += 1
        step.__code__ = step.__code__.replace(co_name=f"fitgen_train_step_{_COMPILED_COUNT[0]}")
        options = {"fallback_random": True} if BACKEND == "inductor" else None
        self.compiled = torch.compile(step, backend=BACKEND, fullgraph=True, dynamic=False, options=options)

    def _call(self, x, y, sw):
        params = self.params
        grads, aux = self.compiled([p.detach() for p in params], x, y, sw)
        self.compiled_steps += 1
        for param, grad in zip(params, grads):
            param.grad = grad
        outputs = []
        for index in range(len(self.specs)):
            output = aux[f"output_{index}"]
            mask = aux.get(f"mask_{index}")
            if mask is not None:
                output._keras_mask = mask
            outputs.append(output)
        return aux["total"], [aux.get(f"loss_{index}") for index in range(len(self.specs))], outputs

    def _verified_call(self, x, y, sw, state):
        """The first compiled batch: the eager gradients of the same batch (same random draws, buffers put back)
        must agree, else a layer keeps weights a functional call cannot swap and the step stays eager."""
        model = self.model
        buffers = [(b, b.detach().clone()) for b in model.buffers()]
        rng = torch.random.get_rng_state()
        cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        for param in self.params:
            param.grad = None
        with collect_losses() as collected:
            outputs = model._forward(x)
        total, per_output = self._total_loss(self.specs, y, outputs, sw,
                                             self._extra_losses(state, model, collected), self.fused)
        total.backward()
        expected = [p.grad for p in self.params]
        with torch.no_grad():
            for buffer, value in buffers:
                buffer.copy_(value)
        torch.random.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        call_context.PHASE[0] = 1
        result = self._call(x, y, sw)
        for param, want in zip(self.params, expected):
            got = param.grad
            if (want is None) != (got is None) or (want is not None and not torch.allclose(
                    got, want, rtol=1e-3, atol=1e-5 * (1.0 + float(want.abs().max())))):
                for p, g in zip(self.params, expected):
                    p.grad = g
                self._disable("the compiled gradients differ from the eager step's for this model (a layer keeps "
                              "weights that a functional call cannot swap)")
                return total.detach(), per_output, outputs  # the eager gradients are in place
        self.verified = True
        return result
