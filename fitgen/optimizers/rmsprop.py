"""RMSprop (plain momentum, optional centering), tf-keras 2.21's rule: epsilon inside the square root."""
import torch

from fitgen.optimizers.optimizer import Optimizer
from fitgen.optimizers.optimizer import hyper
from fitgen.optimizers.optimizer import scaled_addcdiv_


class RMSprop(Optimizer):
    """RMSprop, as `keras.optimizers.RMSprop`.

    `velocity = rho * velocity + (1 - rho) * g**2`; centered: `avg = rho * avg + (1 - rho) * g` and the
    denominator is `velocity - avg**2`; `increment = lr * g / sqrt(denominator + epsilon)` (epsilon inside the
    root, unlike `torch.optim.RMSprop`); with momentum `mom = momentum * mom + increment; w -= mom`, else
    `w -= increment`.

    Args:
        learning_rate: Float or schedule. Defaults to 0.001.
        rho: Discounting factor of the squared-gradient average. Defaults to 0.9.
        momentum: Defaults to 0.
        epsilon: Defaults to 1e-7.
        centered: Normalise by the estimated variance of the gradient. Defaults to False.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            jit_compile, name, decay, lr: see `fitgen.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=100, jit_compile=True, name="RMSprop", **kwargs):
        if not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"Argument `momentum` must be a float in [0, 1]. Received: momentum={momentum!r}")
        super().__init__(name=name, learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         jit_compile=jit_compile, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = 1e-7 if epsilon is None else epsilon
        self.centered = bool(centered)

    def _slot_specs(self):
        groups = [[("velocity", 0.0)]]
        if self.momentum > 0:
            groups.append([("momentum", 0.0)])
        if self.centered:
            groups.append([("average_gradient", 0.0)])
        return groups

    def _apply_step(self, params, grads, slots, scalars):
        rho, lr = hyper(self.rho), scalars["lr"]
        velocity = slots["velocity"]
        torch._foreach_mul_(velocity, rho)
        torch._foreach_addcmul_(velocity, grads, grads, value=1 - rho)
        if self.centered:
            average = slots["average_gradient"]
            torch._foreach_lerp_(average, grads, 1 - rho)
            denominator = torch._foreach_addcmul(velocity, average, average, value=-1)
            torch._foreach_add_(denominator, self.epsilon)
        else:
            denominator = torch._foreach_add(velocity, self.epsilon)
        torch._foreach_sqrt_(denominator)
        if self.momentum > 0:
            momentum = slots["momentum"]
            torch._foreach_mul_(momentum, hyper(self.momentum))
            scaled_addcdiv_(momentum, grads, denominator, lr)
            torch._foreach_sub_(params, momentum)
        else:
            scaled_addcdiv_(params, grads, denominator, -lr)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config
