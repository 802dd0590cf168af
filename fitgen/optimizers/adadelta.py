"""Adadelta, tf-keras 2.21's rule (the step is scaled by the learning rate, default 0.001)."""
import torch

from fitgen.optimizers.optimizer import Optimizer
from fitgen.optimizers.optimizer import hyper
from fitgen.optimizers.optimizer import scaled_add_


class Adadelta(Optimizer):
    """Adadelta, as `keras.optimizers.Adadelta`.

    `acc_g = rho * acc_g + (1 - rho) * g**2`;
    `delta = -sqrt(acc_d + epsilon) * g / sqrt(acc_g + epsilon)`;
    `acc_d = rho * acc_d + (1 - rho) * delta**2`; `w += lr * delta`.

    Args:
        learning_rate: Float or schedule. Defaults to 0.001 (use 1.0 for the paper's form).
        rho: The decay rate. Defaults to 0.95.
        epsilon: Defaults to 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            jit_compile, name, decay, lr: see `fitgen.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, jit_compile=True, name="Adadelta", **kwargs):
        super().__init__(name=name, learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         jit_compile=jit_compile, **kwargs)
        self.rho = rho
        self.epsilon = 1e-7 if epsilon is None else epsilon

    def _slot_specs(self):
        return [[("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0)]]

    def _apply_step(self, params, grads, slots, scalars):
        rho = hyper(self.rho)
        accumulated_grad = slots["accumulated_grad"]
        accumulated_delta = slots["accumulated_delta_var"]
        torch._foreach_mul_(accumulated_grad, rho)
        torch._foreach_addcmul_(accumulated_grad, grads, grads, value=1 - rho)
        numerator = torch._foreach_add(accumulated_delta, self.epsilon)
        torch._foreach_sqrt_(numerator)
        denominator = torch._foreach_add(accumulated_grad, self.epsilon)
        torch._foreach_sqrt_(denominator)
        # `step_size` is -delta; its sign does not matter for the squared average.
        step_size = torch._foreach_mul(numerator, grads)
        torch._foreach_div_(step_size, denominator)
        torch._foreach_mul_(accumulated_delta, rho)
        torch._foreach_addcmul_(accumulated_delta, step_size, step_size, value=1 - rho)
        scaled_add_(params, step_size, -scalars["lr"])

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
