"""Adam (and AMSGrad), tf-keras 2.21's rule: epsilon added to sqrt(v) before bias correction of the step."""
import math

import torch

from fitgen.optimizers.optimizer import Optimizer
from fitgen.optimizers.optimizer import hyper
from fitgen.optimizers.optimizer import scaled_addcdiv_


class Adam(Optimizer):
    """Adam, as `keras.optimizers.Adam`.

    `m += (g - m) * (1 - beta_1)`; `v += (g**2 - v) * (1 - beta_2)`; (amsgrad: `v = vhat = max(vhat, v)`);
    `w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)` with `t = iterations + 1`.
    `torch.optim.Adam` instead adds epsilon to the bias-corrected `sqrt(v)`, which differs for small `v`.

    Args:
        learning_rate: Float or schedule. Defaults to 0.001.
        beta_1: Decay rate of the first moment. Defaults to 0.9.
        beta_2: Decay rate of the second moment. Defaults to 0.999.
        epsilon: Defaults to 1e-7.
        amsgrad: Whether to apply AMSGrad. Defaults to False.
        adaptive_epsilon: tf-keras 2.21's option: scale epsilon by `sqrt(1 - beta_2**t)`. Defaults to False.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            jit_compile, name, decay, lr: see `fitgen.optimizers.Optimizer`.

    Example:

    >>> Adam(learning_rate=0.003).get_config()['learning_rate']
    0.003000000026077032
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, jit_compile=True, name="Adam",
                 adaptive_epsilon=False, **kwargs):
        super().__init__(name=name, learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         jit_compile=jit_compile, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = 1e-7 if epsilon is None else epsilon
        self.amsgrad = bool(amsgrad)
        self.adaptive_epsilon = bool(adaptive_epsilon)

    def _slot_specs(self):
        groups = [[("m", 0.0), ("v", 0.0)]]
        if self.amsgrad:
            groups.append([("vhat", 0.0)])
        return groups

    def _step_scalars(self, lr, step):
        t = step + 1
        beta_1_power = hyper(self.beta_1) ** t
        beta_2_power = hyper(self.beta_2) ** t
        scalars = {"lr": lr, "alpha": lr * math.sqrt(1 - beta_2_power) / (1 - beta_1_power)}
        if self.adaptive_epsilon:
            scalars["epsilon"] = self.epsilon * math.sqrt(1 - beta_2_power)
        return scalars

    def _apply_step(self, params, grads, slots, scalars):
        epsilon = scalars.get("epsilon", self.epsilon)
        m, v = slots["m"], slots["v"]
        torch._foreach_lerp_(m, grads, 1 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta_2)
        if self.amsgrad:
            torch._foreach_maximum_(slots["vhat"], v)
            v = slots["vhat"]
        denominator = torch._foreach_sqrt(v)
        torch._foreach_add_(denominator, epsilon)
        scaled_addcdiv_(params, m, denominator, -scalars["alpha"])

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config
