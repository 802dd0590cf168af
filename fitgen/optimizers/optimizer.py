"""The Keras 2 optimizer contract on torch tensors: learning rate, iterations, clipping, slots and their state.

Subclasses only say which slots they keep (`_slot_specs`) and how one step changes the tensors
(`_update`); everything a Keras 2 script or a saved file touches lives here, with tf-keras 2.21's semantics:

- `lr` / `learning_rate` is a `fitgen.backend.Variable`, so `K.get_value(opt.lr)` / `K.set_value(opt.lr, x)`
  work; with a `LearningRateSchedule` it holds the value the schedule gave for the current step.
- one step: learning rate for the current `iterations` (schedule, then Keras 2 `decay`), gradient clipping
  (`clipnorm` wins over `global_clipnorm` wins over `clipvalue`, as tf-keras), decoupled `weight_decay`, the
  update, `iterations += 1`. Variables whose gradient is None are skipped.
- `get_weights()`: `[iteration]` then the slots in tf-keras's creation order, in Keras layout.
"""
import contextlib
import math
import re

import numpy as np
import torch

from fitgen import backend
from fitgen.optimizers import schedules as schedules_module

# While a distributed fit runs a model's own train_step, every optimizer step first averages the gradients
# over the ranks with the innermost of these (see fitgen.distribute.ddp.aggregating_gradients).
_AGGREGATORS = []


@contextlib.contextmanager
def gradient_aggregation(aggregate):
    """Within the block, `apply_gradients` passes the gradient list through `aggregate(grads) -> grads` first."""
    _AGGREGATORS.append(aggregate)
    try:
        yield
    finally:
        _AGGREGATORS.pop()


# Keys tf-keras 2.21 writes into every optimizer config; accepted by every constructor.
_IGNORED_CONFIG_KEYS = ("is_legacy_optimizer", "mesh")
_LEGACY_ONLY_KEYS = ("gradient_aggregator", "gradient_transformers")


class Optimizer:
    """Base class of fitgen's optimizers (Keras 2 API, tf-keras 2.21 update rules).

    Args:
        name: Prefix of the slot weight names (`Adam/m/dense/kernel:0`).
        learning_rate: A float, a `fitgen.optimizers.schedules.LearningRateSchedule`, or a backend Variable.
        weight_decay: Float or None. If set, each step first does `var -= var * weight_decay * lr`.
        clipnorm: Float or None. Clips each gradient to this L2 norm.
        clipvalue: Float or None. Clips each gradient element to `[-clipvalue, clipvalue]`.
        global_clipnorm: Float or None. Clips all gradients together to this global L2 norm.
        use_ema, ema_momentum, ema_overwrite_frequency, jit_compile: tf-keras config keys, accepted for
            loading saved configs; only `use_ema=False` is supported.
        decay: Keras 2 time-based decay: the step uses `lr / (1 + decay * iterations)`.
        lr: Deprecated Keras 2 alias of `learning_rate`.

    A custom optimizer subclasses this and overrides `_slot_specs()` (its state tensors) and
    `_update(params, grads, slots, lr, step)` (one in-place step on lists of tensors, best with `torch._foreach_*`
    ops), plus `get_config()` for its own hyperparameters. The built-in ones split `_update` in two, so that
    `compile(jit_compile=True)` can put the update inside the compiled step: `_step_scalars(lr, step)` computes
    the numbers that change from step to step (Python floats) and `_apply_step(params, grads, slots, scalars)`
    does the tensor work, taking each scalar as a float or a 0-d tensor (`scaled_add_`, `scaled_addcdiv_`).
    """

    _default_learning_rate = 0.001

    def __init__(self, name, learning_rate=None, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 jit_compile=True, decay=0.0, **kwargs):
        lr = kwargs.pop("lr", None)
        for key in _IGNORED_CONFIG_KEYS:
            kwargs.pop(key, None)
        for key in kwargs:
            if key in _LEGACY_ONLY_KEYS:
                raise ValueError(f"`{key}` is not supported by fitgen optimizers. Received: {key}={kwargs[key]!r}")
            raise TypeError(f"{key!r} is not a valid argument for {type(self).__name__}. "
                            f"Received: {key}={kwargs[key]!r}")
        learning_rate = _resolve_learning_rate(learning_rate, lr, self._default_learning_rate)
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError("At most one of `clipnorm` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={clipnorm}, global_clipnorm={global_clipnorm}.")
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm),
                           ("weight_decay", weight_decay)):
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"Argument `{arg}` must be a non-negative number or None. Received: {arg}={value!r}")
        decay = 0.0 if decay is None else decay
        if not isinstance(decay, (int, float)) or decay < 0:
            raise ValueError(f"Argument `decay` must be a non-negative number. Received: decay={decay!r}")
        if use_ema:
            raise ValueError("fitgen optimizers do not implement the exponential moving average of weights. "
                             f"Expected use_ema=False. Received: use_ema={use_ema!r}")
        self.name = name
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = False
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        # fitgen never compiles the step with XLA; tf-keras also reports False when it does not.
        self.jit_compile = False
        self.decay = float(decay)
        self._iterations = StepCounter()
        self._schedule = None
        self._learning_rate = backend.Variable(0.0, dtype="float32", name="learning_rate")
        self._set_learning_rate(learning_rate)
        self._variables = None
        self._slots = {}
        self._pending = None
        self._exclude_from_weight_decay_names = []

    # ---- hyperparameters Keras 2 scripts read and write -------------------------------------------------------

    @property
    def iterations(self):
        """The number of steps taken, a `fitgen.backend.Variable` (int64)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        self._iterations.assign(int(value))

    @property
    def learning_rate(self):
        """The learning rate as a `fitgen.backend.Variable` (float32); with a schedule, its current value."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._set_learning_rate(value)

    lr = learning_rate

    def _set_learning_rate(self, value):
        if isinstance(value, schedules_module.LearningRateSchedule):
            self._schedule = value
            self._learning_rate.assign(float(value(int(self._iterations))))
            return
        if self._schedule is not None:
            raise TypeError("This optimizer was created with a `LearningRateSchedule` as its `learning_rate`, "
                            "so its learning rate cannot be set to a number. Create the optimizer with a float "
                            f"`learning_rate` to set it. Received: learning_rate={value!r}")
        value = float(backend.get_value(value))
        if not value >= 0:
            raise ValueError(f"Argument `learning_rate` must be >= 0. Received: learning_rate={value}")
        self._learning_rate.assign(value)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Excludes variables (or variables whose name matches one of the `var_names` regexes) from weight decay.

        Raises:
            ValueError: if the optimizer is already built.
        """
        if self._variables is not None:
            raise ValueError("`exclude_from_weight_decay()` can only be called before the optimizer is built.")
        self._exclude_from_weight_decay_names = [f"^{re.escape(_variable_name(v))}$" for v in var_list or []] + list(var_names or [])

    # ---- slots ------------------------------------------------------------------------------------------------

    def _slot_specs(self):
        """Slot groups in tf-keras creation order: a list of lists of (slot_name, initial_value).

        tf-keras creates a group's slots variable by variable (`m(var0), v(var0), m(var1), ...`) and the groups one
        after another; `get_weights()` follows that order.
        """
        return []

    def build(self, variables):
        """Creates the slots for `variables` (the trainable ones, in model order); again with the same list: no-op.

        Args:
            variables: objects with `.tensor` (a torch Parameter), `.name`, `.to_keras(t)` and `.from_keras(t)`.
        """
        variables = list(variables)
        if self._variables is not None:
            if len(variables) == len(self._variables) and all(
                    a is b or a.tensor is b.tensor for a, b in zip(variables, self._variables)):
                return
            raise ValueError(f"Optimizer {self.name!r} was built for {len(self._variables)} variables "
                             f"({[v.name for v in self._variables]}) and cannot be rebuilt for "
                             f"{[v.name for v in variables]}.")
        self._variables = variables
        self._params = [v.tensor for v in variables]
        self._slots = {}
        with torch.no_grad():
            for group in self._slot_specs():
                for slot_name, initial in group:
                    self._slots[slot_name] = [torch.full_like(p, initial, memory_format=torch.preserve_format)
                                              for p in self._params]
        self._decay_mask = [self._use_weight_decay(v) for v in variables]
        pending, self._pending = self._pending, None
        if pending is not None:
            kind, value = pending
            self.set_weights(value) if kind == "weights" else self.load_state_dict(value)

    @property
    def built(self):
        return self._variables is not None

    def _use_weight_decay(self, variable):
        return not any(re.search(pattern, _variable_name(variable)) for pattern in self._exclude_from_weight_decay_names)

    def _slot_order(self):
        for group in self._slot_specs():
            for index, variable in enumerate(self._variables):
                for slot_name, _ in group:
                    yield slot_name, index, variable

    # ---- the step ---------------------------------------------------------------------------------------------

    def _current_learning_rate(self, step):
        if self._schedule is not None:
            # The schedule is evaluated at the step count before the update, as tf-keras does.
            self._learning_rate.assign(float(self._schedule(step)))
        lr = float(self._learning_rate)
        if self.decay:
            lr = lr / (1.0 + self.decay * step)
        return lr

    def minimize(self, loss, var_list, tape=None):
        """Computes the gradients of `loss` for `var_list` and applies them (tf.keras's `minimize`).

        Args:
            loss: a scalar tensor, or a zero-argument callable returning one.
            var_list: the variables to update (e.g. `model.trainable_weights`), or a callable returning them.
            tape: accepted for tf.keras compatibility; torch's autograd records the graph itself.
        """
        loss = loss() if callable(loss) else loss
        var_list = list(var_list() if callable(var_list) else var_list)
        grads = torch.autograd.grad(loss, [_tensor_of(v) for v in var_list], allow_unused=True)
        self.apply_gradients(zip(grads, var_list))

    def zero_grad(self):
        """Clears the `.grad` of every built variable (before `loss.backward()` in a torch-style train_step)."""
        for param in self._params if self._variables is not None else []:
            param.grad = None

    def get_gradients(self, loss, params):
        """The gradients of `loss` for `params` (Keras 2's `get_gradients`; the graph is kept for more calls)."""
        grads = torch.autograd.grad(loss, [_tensor_of(p) for p in params], retain_graph=True, allow_unused=True)
        return list(grads)

    @torch.no_grad()
    def apply_gradients(self, grads_and_vars=None, name=None, experimental_aggregate_gradients=True):
        """One update step; then `iterations += 1`.

        Args:
            grads_and_vars: (gradient, variable) pairs, as tf.keras takes them: the variables are a model's
                weights (or their tensors); the first call builds the optimizer for them. None (fitgen's own
                steps) reads each built variable's `tensor.grad`, as left by `loss.backward()`.
            name, experimental_aggregate_gradients: accepted for tf.keras compatibility.

        Variables whose gradient is None are skipped.

        Raises:
            ValueError: if the optimizer is not built (and no pairs were given), a variable is not one it was
                built for, or no variable has a gradient.
        """
        if grads_and_vars is not None:
            grads = self._gradients_for(list(grads_and_vars))
        elif self._variables is None:
            raise ValueError(f"Optimizer {self.name!r} must be built with `optimizer.build(variables)` before "
                             "`apply_gradients()`, or be given (gradient, variable) pairs.")
        else:
            grads = [p.grad for p in self._params]
        if not self._params:
            return
        if _AGGREGATORS and experimental_aggregate_gradients:
            grads = _AGGREGATORS[-1](grads)
        params = self._params
        indices = None
        if any(g is None for g in grads):
            indices = [i for i, g in enumerate(grads) if g is not None]
            if not indices:
                raise ValueError("No gradients provided for any variable: "
                                 f"{[v.name for v in self._variables]}.")
            params = [params[i] for i in indices]
            grads = [grads[i] for i in indices]
        grads = [g.to_dense() if g.is_sparse else g for g in grads]
        slots = self._slots if indices is None else {
            name: [tensors[i] for i in indices] for name, tensors in self._slots.items()}
        counter = self._iterations
        step = counter.count
        lr = self._current_learning_rate(step)
        self._clip(grads)
        if self.weight_decay:
            self._decay(params, self._decay_mask if indices is None else [self._decay_mask[i] for i in indices], lr)
        self._update(params, grads, slots, lr, step)
        counter.count = step + 1

    def _decay(self, params, decay_mask, lr):
        """Decoupled weight decay, `var -= var * weight_decay * lr` (`lr` a float, or a 0-d tensor when compiled)."""
        decayed = [p for p, use in zip(params, decay_mask) if use]
        if decayed:
            scaled_add_(decayed, decayed, -self.weight_decay * lr)

    def _gradients_for(self, pairs):
        """Gradients aligned with the built variables, building the optimizer for `pairs`' variables first."""
        variables = [variable for _, variable in pairs]
        if self._variables is None:
            self.build([v if hasattr(v, "tensor") else _TensorVariable(v, i) for i, v in enumerate(variables)])
        position = {id(p): i for i, p in enumerate(self._params)}
        grads = [None] * len(self._params)
        for grad, variable in pairs:
            index = position.get(id(_tensor_of(variable)))
            if index is None:
                raise ValueError(f"Optimizer {self.name!r} was built for the variables "
                                 f"{[v.name for v in self._variables]}; it cannot update "
                                 f"{getattr(variable, 'name', None) or tuple(_tensor_of(variable).shape)}.")
            grads[index] = grad
        return grads

    def _clip(self, grads):
        # In place, like torch.nn.utils.clip_grad_norm_; all on the device (no host sync).
        if self.clipnorm:
            norms = torch._foreach_norm(grads)
            torch._foreach_clamp_min_(norms, self.clipnorm)
            torch._foreach_reciprocal_(norms)
            torch._foreach_mul_(norms, self.clipnorm)
            torch._foreach_mul_(grads, norms)
        elif self.global_clipnorm:
            norms = torch._foreach_norm(grads)
            total = torch.linalg.vector_norm(torch.stack([n.to(norms[0].dtype) for n in norms]))
            scale = self.global_clipnorm / torch.clamp_min(total, self.global_clipnorm)
            # tf.clip_by_global_norm turns every gradient to NaN when the global norm is not finite.
            scale = torch.where(torch.isfinite(total), scale, torch.full_like(scale, math.nan))
            torch._foreach_mul_(grads, scale)
        elif self.clipvalue:
            torch._foreach_clamp_min_(grads, -self.clipvalue)
            torch._foreach_clamp_max_(grads, self.clipvalue)

    def _update(self, params, grads, slots, lr, step):
        if type(self)._apply_step is Optimizer._apply_step:
            raise NotImplementedError(
                f"{type(self).__name__} must implement `_update(params, grads, slots, lr, step)`.")
        self._apply_step(params, grads, slots, self._step_scalars(lr, step))

    def _step_scalars(self, lr, step):
        """The numbers of step `step` (0-based) that change between steps, as a dict of Python floats.

        Computed on the host in double precision, as tf-keras computes them; a compiled step passes them into its
        graph as 0-d tensors, so one compiled graph serves every step and learning rate.
        """
        return {"lr": lr}

    def _apply_step(self, params, grads, slots, scalars):
        """The in-place update given `_step_scalars`' values (floats when eager, 0-d tensors when compiled)."""
        raise NotImplementedError

    @property
    def _traceable(self):
        """Whether the update can run inside a compiled step: the class updates through `_apply_step`."""
        return type(self)._update is Optimizer._update and type(self)._apply_step is not Optimizer._apply_step

    # ---- state ------------------------------------------------------------------------------------------------

    def weight_names(self):
        """Names as tf-keras 2.21 writes them in `optimizer_weights`: `iteration:0`, `Adam/m/dense/kernel:0`, ..."""
        self._require_built("weight_names")
        return ["iteration:0"] + [f"{self.name}/{slot}/{_variable_name(variable)}:0" for slot, _, variable in self._slot_order()]

    @property
    def weights(self):
        """The values of `get_weights()` (Keras 2 scripts read them with `K.batch_get_value(opt.weights)`)."""
        return self.get_weights()

    def get_weights(self):
        """`[iteration (int64 scalar)]` then every slot in tf-keras order, as NumPy arrays in Keras layout."""
        if self._variables is None:
            return [np.asarray(int(self._iterations), dtype=np.int64)]
        out = [np.asarray(int(self._iterations), dtype=np.int64)]
        for slot_name, index, variable in self._slot_order():
            tensor = variable.to_keras(self._slots[slot_name][index].detach())
            out.append(tensor.cpu().numpy().copy())
        return out

    def set_weights(self, weights):
        """Inverse of `get_weights()`; before `build()` the values are kept and applied when it runs.

        Raises:
            ValueError: if the number of arrays or a shape differs from this optimizer's, naming both.
        """
        weights = list(weights)
        if self._variables is None:
            self._pending = ("weights", weights)
            return
        order = list(self._slot_order())
        if len(weights) != len(order) + 1:
            raise ValueError(f"Optimizer {self.name!r} expects {len(order) + 1} weights "
                             f"({self.weight_names()}), but received {len(weights)} weights.")
        iteration = np.asarray(weights[0])
        if iteration.size != 1:
            raise ValueError(f"The first optimizer weight is the iteration count, a scalar. Received an array of "
                             f"shape {iteration.shape}.")
        converted = []
        for (slot_name, index, variable), value in zip(order, weights[1:]):
            slot = self._slots[slot_name][index]
            expected = tuple(variable.to_keras(slot).shape)
            value = np.asarray(value)
            if tuple(value.shape) != expected:
                raise ValueError(f"Optimizer weight {self.name}/{slot_name}/{variable.name}:0 has shape {expected}, "
                                 f"but the provided weight has shape {tuple(value.shape)}.")
            converted.append((slot, variable.from_keras(torch.as_tensor(value, dtype=slot.dtype, device=slot.device))))
        with torch.no_grad():
            for slot, value in converted:
                slot.copy_(value.reshape(slot.shape))
        self._iterations.assign(int(iteration.reshape(())))
        if self._schedule is not None:
            self._learning_rate.assign(float(self._schedule(int(self._iterations))))

    def state_dict(self):
        """Everything an exact resume needs: iterations, learning rate, slots (torch layout, cloned)."""
        return {"iterations": int(self._iterations), "learning_rate": float(self._learning_rate),
                "slots": {name: [t.detach().clone() for t in tensors] for name, tensors in self._slots.items()}}

    def load_state_dict(self, state):
        if self._variables is None:
            self._pending = ("state", state)
            return
        if set(state["slots"]) != set(self._slots):
            raise ValueError(f"Optimizer {self.name!r} keeps slots {sorted(self._slots)}, but the state has "
                             f"{sorted(state['slots'])}.")
        with torch.no_grad():
            for name, tensors in state["slots"].items():
                if len(tensors) != len(self._slots[name]):
                    raise ValueError(f"Slot {name!r} has {len(self._slots[name])} tensors, but the state has "
                                     f"{len(tensors)}.")
                for slot, value in zip(self._slots[name], tensors):
                    if tuple(slot.shape) != tuple(value.shape):
                        raise ValueError(f"Slot {name!r} has shape {tuple(slot.shape)}, but the state has "
                                         f"{tuple(value.shape)}.")
                    slot.copy_(value)
        self._iterations.assign(int(state["iterations"]))
        if self._schedule is None:
            self._learning_rate.assign(float(state["learning_rate"]))
        else:
            self._learning_rate.assign(float(self._schedule(int(self._iterations))))

    def _require_built(self, what):
        if self._variables is None:
            raise ValueError(f"Optimizer {self.name!r} is not built yet: call `build(variables)` before `{what}()`.")

    # ---- config -----------------------------------------------------------------------------------------------

    def get_config(self):
        """tf-keras 2.21's config keys; `decay` is added only when it is not 0 (tf-keras has no such key)."""
        config = {"name": self.name, "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                  "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                  "ema_momentum": self.ema_momentum, "ema_overwrite_frequency": self.ema_overwrite_frequency,
                  "jit_compile": self.jit_compile, "is_legacy_optimizer": False}
        if self._schedule is not None:
            config["learning_rate"] = schedules_module.serialize(self._schedule)
        else:
            config["learning_rate"] = float(self._learning_rate)
        if self.decay:
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("learning_rate", "lr"):
            if isinstance(config.get(key), dict):
                config[key] = schedules_module.deserialize(config[key], custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<fitgen.optimizers.{type(self).__name__} name={self.name!r} learning_rate={float(self._learning_rate):g}>"


def _resolve_learning_rate(learning_rate, lr, default):
    """`lr` (Keras 2) and `learning_rate` name the same thing; a differing pair is an error."""
    if lr is None:
        return default if learning_rate is None else learning_rate
    if learning_rate is None or learning_rate is lr or _same_number(learning_rate, default) \
            or _same_number(learning_rate, lr):
        return lr
    raise ValueError("`lr` is a deprecated alias of `learning_rate`; pass only one of them. "
                     f"Received: lr={lr!r}, learning_rate={learning_rate!r}")


def _same_number(a, b):
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)


def scaled_add_(targets, tensors, scale):
    """`targets += scale * tensors` on lists. `scale`: a Python float (torch's fused `alpha`: the eager step's
    numbers) or a 0-d tensor (a compiled step's per-step value, cast to the lists' dtype as torch casts `alpha`)."""
    if isinstance(scale, torch.Tensor):
        torch._foreach_add_(targets, torch._foreach_mul(tensors, scale))
    else:
        torch._foreach_add_(targets, tensors, alpha=scale)


def scaled_addcdiv_(targets, numerators, denominators, scale):
    """`targets += scale * numerators / denominators` on lists; `scale` as in `scaled_add_`."""
    if isinstance(scale, torch.Tensor):
        torch._foreach_add_(targets, torch._foreach_mul(torch._foreach_div(numerators, denominators), scale))
    else:
        torch._foreach_addcdiv_(targets, numerators, denominators, value=scale)


def hyper(value):
    """A hyperparameter as the float32 number tf-keras computes with (Python float, for scalar foreach ops)."""
    return float(np.float32(value))


def _variable_name(variable):
    """`dense/kernel`: a LayerWeight's path (its `.name` is Keras's user-facing `dense/kernel:0`)."""
    name = getattr(variable, "path", None) or variable.name
    return name[:-2] if name.endswith(":0") else name


def _tensor_of(variable):
    """The torch tensor behind a variable: a LayerWeight's `.tensor`, or the tensor itself."""
    return variable.tensor if hasattr(variable, "tensor") else variable


class StepCounter(backend.Variable):
    """`optimizer.iterations`: an int64 scalar variable whose value is a plain Python int (`count`).

    The step reads and increments it every batch; an int costs nothing there, while `K.get_value`,
    `K.set_value`, `int()`, arithmetic and saved files see the usual backend Variable.
    """

    def __init__(self, value=0):
        self.name = "iteration"
        self._dtype = np.dtype("int64")
        self.count = int(value)

    @property
    def _value(self):
        return np.asarray(self.count, dtype=np.int64)

    @_value.setter
    def _value(self, value):
        self.count = int(value)

    def __int__(self):
        return self.count


class _TensorVariable:
    """A bare torch tensor given to `apply_gradients`/`minimize`, seen as a variable with Keras's layout."""

    def __init__(self, tensor, index):
        self.tensor = tensor
        self.name = f"variable_{index}:0" if index else "variable:0"

    def to_keras(self, tensor):
        return tensor

    def from_keras(self, tensor):
        return tensor
