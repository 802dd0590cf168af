"""Adamax (Adam with the infinity norm), tf-keras 2.21's rule."""
import torch

from fitgen.optimizers.optimizer import Optimizer
from fitgen.optimizers.optimizer import hyper
from fitgen.optimizers.optimizer import scaled_addcdiv_


class Adamax(Optimizer):
    """Adamax, as `keras.optimizers.Adamax`.

    `m += (g - m) * (1 - beta_1)`; `u = max(beta_2 * u, |g|)`;
    `w -= lr * m / ((1 - beta_1**t) * (u + epsilon))` with `t = iterations + 1`.

    Args:
        learning_rate: Float or schedule. Defaults to 0.001.
        beta_1: Defaults to 0.9.
        beta_2: Defaults to 0.999.
        epsilon: Defaults to 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            jit_compile, name, decay, lr: see `fitgen.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, jit_compile=True, name="Adamax", **kwargs):
        super().__init__(name=name, learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         jit_compile=jit_compile, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = 1e-7 if epsilon is None else epsilon

    def _slot_specs(self):
        return [[("m", 0.0), ("u", 0.0)]]

    def _step_scalars(self, lr, step):
        return {"lr": lr, "step_size": -lr / (1 - hyper(self.beta_1) ** (step + 1))}

    def _apply_step(self, params, grads, slots, scalars):
        m, u = slots["m"], slots["u"]
        torch._foreach_lerp_(m, grads, 1 - self.beta_1)
        torch._foreach_mul_(u, self.beta_2)
        torch._foreach_maximum_(u, torch._foreach_abs(grads))
        denominator = torch._foreach_add(u, self.epsilon)
        scaled_addcdiv_(params, m, denominator, scalars["step_size"])

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
