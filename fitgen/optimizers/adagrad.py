"""Adagrad, tf-keras 2.21's rule: accumulators start at `initial_accumulator_value`, epsilon inside the root."""
import torch

from fitgen.optimizers.optimizer import Optimizer
from fitgen.optimizers.optimizer import scaled_addcdiv_


class Adagrad(Optimizer):
    """Adagrad, as `keras.optimizers.Adagrad`.

    `accumulator += g**2; w -= lr * g / sqrt(accumulator + epsilon)`.

    Args:
        learning_rate: Float or schedule. Defaults to 0.001.
        initial_accumulator_value: Non-negative starting value of the accumulators. Defaults to 0.1.
        epsilon: Defaults to 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            jit_compile, name, decay, lr: see `fitgen.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, jit_compile=True, name="Adagrad", **kwargs):
        if not isinstance(initial_accumulator_value, (int, float)) or initial_accumulator_value < 0:
            raise ValueError("Argument `initial_accumulator_value` must be non-negative. "
                             f"Received: initial_accumulator_value={initial_accumulator_value!r}")
        super().__init__(name=name, learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         jit_compile=jit_compile, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = 1e-7 if epsilon is None else epsilon

    def _slot_specs(self):
        return [[("accumulator", self.initial_accumulator_value)]]

    def _apply_step(self, params, grads, slots, scalars):
        accumulator = slots["accumulator"]
        torch._foreach_addcmul_(accumulator, grads, grads)
        denominator = torch._foreach_add(accumulator, self.epsilon)
        torch._foreach_sqrt_(denominator)
        scaled_addcdiv_(params, grads, denominator, -scalars["lr"])

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon})
        return config
