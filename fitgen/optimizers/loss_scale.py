"""`LossScaleOptimizer`: dynamic loss scaling for float16 training, with tf-keras's rule.

float16 gradients of small losses underflow to zero. The train step multiplies the loss by the current scale
before backward (`get_scaled_loss`); `apply_gradients()` divides the gradients by it again and checks them:

* all finite: the wrapped optimizer applies them; after `dynamic_growth_steps` (2000) finite steps in a row
  the scale doubles;
* any inf or NaN: the step is skipped (weights and slots untouched, `iterations` still counts it) and the scale
  halves, never below 1.

The check reads one boolean back from the device per step, as torch's GradScaler does. Everything else
(learning rate, iterations, slots, `get_weights()`, saved files) is the wrapped optimizer's: tf-keras writes the
same optimizer weights for a wrapped and a plain optimizer, and so does fitgen.
"""
import math

import torch

from fitgen.optimizers import serialization
from fitgen.optimizers.optimizer import Optimizer

_CLASS_NAMES = ("LossScaleOptimizer", "LossScaleOptimizerV3", "LossScaleOptimizerV1")


class LossScaleOptimizer(Optimizer):
    """An optimizer that scales the loss to keep float16 gradients from underflowing (`keras.mixed_precision`).

    Args:
        inner_optimizer: the fitgen optimizer (or its name) that applies the unscaled gradients.
        dynamic: True (default) adapts the scale as described in the module notes; False keeps `initial_scale`.
        initial_scale: the first scale; default 2**15 when dynamic (tf-keras's), required when not.
        dynamic_growth_steps: finite steps before the scale doubles; default 2000.

    Raises:
        ValueError: for a static optimizer without `initial_scale`, or a non-positive scale or step count.
    """

    def __init__(self, inner_optimizer, dynamic=True, initial_scale=None, dynamic_growth_steps=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unexpected keyword arguments for LossScaleOptimizer: {sorted(kwargs)}")
        inner = serialization.get(inner_optimizer)
        if isinstance(inner, LossScaleOptimizer):
            raise TypeError("LossScaleOptimizer cannot wrap another LossScaleOptimizer. Received: "
                            f"inner_optimizer={inner_optimizer!r}")
        if not dynamic and initial_scale is None:
            raise ValueError('"initial_scale" must be specified if "dynamic" is False')
        if not dynamic and dynamic_growth_steps is not None:
            raise ValueError('"dynamic_growth_steps" must be None if "dynamic" is False, but got: '
                             f"{dynamic_growth_steps}")
        initial_scale = 2.0 ** 15 if initial_scale is None else float(initial_scale)
        growth = 2000 if dynamic_growth_steps is None else int(dynamic_growth_steps)
        if not initial_scale > 0 or growth < 1:
            raise ValueError(f"`initial_scale` must be > 0 and `dynamic_growth_steps` >= 1. Received: "
                             f"initial_scale={initial_scale}, dynamic_growth_steps={dynamic_growth_steps}")
        # Set through __dict__: attribute reads the wrapper does not define go to the wrapped optimizer.
        self.__dict__.update(_optimizer=inner, dynamic=bool(dynamic), initial_scale=initial_scale,
                             dynamic_growth_steps=growth if dynamic else None, _scale=initial_scale, _good_steps=0)

    def __getattr__(self, name):
        # Only reached for attributes the wrapper lacks: hyperparameters, slots, built variables of the inner one.
        if name == "_optimizer":
            raise AttributeError(name)
        return getattr(self._optimizer, name)

    @property
    def inner_optimizer(self):
        return self._optimizer

    @property
    def name(self):
        return self._optimizer.name

    @property
    def loss_scale(self):
        """The current loss scale, a float32 scalar tensor (tf-keras returns a variable)."""
        return torch.tensor(self._scale, dtype=torch.float32)

    @property
    def dynamic_counter(self):
        """Finite steps since the scale last changed (None when not dynamic)."""
        return self._good_steps if self.dynamic else None

    # ---- scaling ---------------------------------------------------------------------------------------
    def get_scaled_loss(self, loss):
        """`loss * scale` (a callable loss is wrapped in one that scales its result)."""
        if callable(loss):
            return lambda: loss() * self._scale
        return loss * self._scale

    def get_unscaled_gradients(self, grads):
        """Each gradient divided by the scale (None stays None)."""
        inverse = 1.0 / self._scale
        return [None if g is None else g * inverse for g in grads]

    # ---- the wrapped optimizer's interface ------------------------------------------------------------------
    def build(self, variables):
        self._optimizer.build(variables)

    @property
    def built(self):
        return self._optimizer.built

    def _set_learning_rate(self, value):
        self._optimizer._set_learning_rate(value)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        self._optimizer.exclude_from_weight_decay(var_list=var_list, var_names=var_names)

    def _slot_specs(self):
        return self._optimizer._slot_specs()

    def set_weights(self, weights):
        self._optimizer.set_weights(weights)

    def state_dict(self):
        state = self._optimizer.state_dict()
        state["loss_scale"] = {"scale": self._scale, "good_steps": self._good_steps}
        return state

    def load_state_dict(self, state):
        state = dict(state)
        scale = state.pop("loss_scale", None)
        self._optimizer.load_state_dict(state)
        if scale is not None:
            self._scale, self._good_steps = float(scale["scale"]), int(scale["good_steps"])

    def minimize(self, loss, var_list, tape=None):
        """Scales `loss`, takes its gradients, unscales them and applies them (skipping the step on inf/NaN)."""
        loss = loss() if callable(loss) else loss
        var_list = list(var_list() if callable(var_list) else var_list)
        tensors = [v.tensor if hasattr(v, "tensor") else v for v in var_list]
        grads = torch.autograd.grad(self.get_scaled_loss(loss), tensors, allow_unused=True)
        self.apply_gradients(zip(self.get_unscaled_gradients(grads), var_list))

    @torch.no_grad()
    def apply_gradients(self, grads_and_vars=None, name=None, experimental_aggregate_gradients=True):
        """Applies the gradients through the wrapped optimizer unless one is inf or NaN, then updates the scale.

        With `grads_and_vars` (tf.keras's form) the gradients are taken as already unscaled
        (`get_unscaled_gradients`); without, each variable's `.grad` is read as left by backward of the SCALED
        loss and unscaled in place.
        """
        inner = self._optimizer
        if grads_and_vars is not None:
            pairs = list(grads_and_vars)
            grads = [g for g, _ in pairs]
        else:
            if not inner.built:
                raise ValueError(f"Optimizer {inner.name!r} must be built before `apply_gradients()`, or be given "
                                 "(gradient, variable) pairs.")
            grads = [p.grad for p in inner._params]
            present = [g for g in grads if g is not None]
            if present:
                torch._foreach_mul_(present, 1.0 / self._scale)
        present = [g for g in grads if g is not None]
        finite = bool(torch.stack([torch.isfinite(g).all() for g in present]).all()) if present else True
        if finite:
            if grads_and_vars is not None:
                inner.apply_gradients(pairs, name=name,
                                      experimental_aggregate_gradients=experimental_aggregate_gradients)
            else:
                inner.apply_gradients(name=name, experimental_aggregate_gradients=experimental_aggregate_gradients)
        else:
            inner.iterations.count += 1  # tf-keras counts a skipped step too
        self._update_scale(finite)

    def _update_scale(self, finite):
        if not self.dynamic:
            return
        if finite:
            self._good_steps += 1
            if self._good_steps >= self.dynamic_growth_steps:
                doubled = self._scale * 2.0
                if math.isfinite(doubled):
                    self._scale = doubled
                self._good_steps = 0
        else:
            self._scale = max(self._scale / 2.0, 1.0)
            self._good_steps = 0

    # ---- config ----------------------------------------------------------------------------------------------
    def get_config(self):
        """tf-keras 2.21's config: the wrapped optimizer serialized, `dynamic`, `initial_scale`, growth steps."""
        return {"inner_optimizer": serialization.serialize(self._optimizer), "dynamic": self.dynamic,
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Reads tf-keras 2.4+'s config and TF 2.1-2.3's experimental one (`optimizer`, `loss_scale`)."""
        config = dict(config)
        if "optimizer" in config and "inner_optimizer" not in config:  # the experimental LossScaleOptimizer
            scale = config.pop("loss_scale", "dynamic")
            config["inner_optimizer"] = config.pop("optimizer")
            if isinstance(scale, dict) and scale.get("class_name") == "DynamicLossScale":
                settings = scale.get("config", {})
                config.update(dynamic=True, initial_scale=settings.get("initial_loss_scale"),
                              dynamic_growth_steps=settings.get("increment_period"))
            elif isinstance(scale, dict):  # FixedLossScale
                config.update(dynamic=False, initial_scale=scale.get("config", {}).get("loss_scale_value"))
            elif isinstance(scale, (int, float)):
                config.update(dynamic=False, initial_scale=float(scale))
        inner = config.pop("inner_optimizer")
        inner = serialization.deserialize(inner, custom_objects=custom_objects) if isinstance(inner, dict) else inner
        return cls(inner, **config)

    def __repr__(self):
        return f"<fitgen.mixed_precision.LossScaleOptimizer inner={self._optimizer!r} loss_scale={self._scale:g}>"


serialization.register_wrapper(LossScaleOptimizer, _CLASS_NAMES, "LossScaleOptimizerV3", "keras.mixed_precision")
