"""Nadam, tf-keras 2.21's rule: momentum schedule `beta_1 * (1 - 0.5 * 0.96**t)`."""
import math

import torch

from fitgen.optimizers.optimizer import Optimizer
from fitgen.optimizers.optimizer import hyper
from fitgen.optimizers.optimizer import scaled_addcdiv_

_MOMENTUM_DECAY = 0.96


class Nadam(Optimizer):
    """Nadam (Adam with Nesterov momentum), as `keras.optimizers.Nadam`.

    With `t = iterations + 1`, `u_t = beta_1 * (1 - 0.5 * 0.96**t)` and `P_t = u_1 * ... * u_t`:
    `m += (g - m) * (1 - beta_1)`; `v += (g**2 - v) * (1 - beta_2)`;
    `m_hat = u_{t+1} * m / (1 - P_{t+1}) + (1 - u_t) * g / (1 - P_t)`; `v_hat = v / (1 - beta_2**t)`;
    `w -= lr * m_hat / (sqrt(v_hat) + epsilon)`. This is tf-keras's eager rule; `P_t` is derived from
    `iterations`, so training resumed from saved weights continues exactly. (Keras 2.2's `schedule_decay`
    argument is accepted and ignored: tf-keras fixed the schedule at 0.96 per step.)

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
                 ema_overwrite_frequency=None, jit_compile=True, name="Nadam", **kwargs):
        kwargs.pop("schedule_decay", None)
        super().__init__(name=name, learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         jit_compile=jit_compile, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = 1e-7 if epsilon is None else epsilon
        self._u_product_cache = (0, 1.0)

    def _slot_specs(self):
        return [[("m", 0.0), ("v", 0.0)]]

    def _u(self, t):
        return hyper(self.beta_1) * (1.0 - 0.5 * hyper(_MOMENTUM_DECAY) ** t)

    def _u_product(self, t):
        cached_t, product = self._u_product_cache
        if cached_t > t:
            cached_t, product = 0, 1.0
        for s in range(cached_t + 1, t + 1):
            if product == 0.0:
                break  # underflowed for good (after a few thousand steps); no need to walk to `t`
            product *= self._u(s)
        self._u_product_cache = (t, product)
        return product

    def _step_scalars(self, lr, step):
        t = step + 1
        u_t, u_next = self._u(t), self._u(t + 1)
        u_product = self._u_product(t)
        u_product_next = u_product * u_next
        beta_2_power = hyper(self.beta_2) ** t
        return {"lr": lr, "v_scale": 1.0 / math.sqrt(1 - beta_2_power),
                "m_step": -lr * u_next / (1 - u_product_next), "g_step": -lr * (1 - u_t) / (1 - u_product)}

    def _apply_step(self, params, grads, slots, scalars):
        m, v = slots["m"], slots["v"]
        torch._foreach_lerp_(m, grads, 1 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta_2)
        denominator = torch._foreach_sqrt(v)
        torch._foreach_mul_(denominator, scalars["v_scale"])
        torch._foreach_add_(denominator, self.epsilon)
        scaled_addcdiv_(params, m, denominator, scalars["m_step"])
        scaled_addcdiv_(params, grads, denominator, scalars["g_step"])

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
