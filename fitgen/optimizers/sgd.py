"""SGD with momentum and Nesterov momentum, tf-keras 2.21's rule (velocity carries the learning rate)."""
import torch

from fitgen.optimizers.optimizer import Optimizer
from fitgen.optimizers.optimizer import hyper
from fitgen.optimizers.optimizer import scaled_add_


class SGD(Optimizer):
    """Gradient descent (with momentum), as `keras.optimizers.SGD`.

    Update, with `m` starting at zero:
    `m = momentum * m - lr * g`, then `w += m`, or with `nesterov=True`: `w += momentum * m - lr * g`.
    Unlike `torch.optim.SGD`, the velocity holds `lr * g`, so a learning-rate change takes effect at once.

    Args:
        learning_rate: Float or schedule. Defaults to 0.01.
        momentum: Float in [0, 1]. Defaults to 0.
        nesterov: Whether to apply Nesterov momentum.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            jit_compile, name, decay, lr: see `fitgen.optimizers.Optimizer`.

    Example:

    >>> opt = SGD(learning_rate=0.05, momentum=0.9, nesterov=True)
    >>> opt.get_config()['momentum']
    0.9
    """

    _default_learning_rate = 0.01

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, jit_compile=True, name="SGD", **kwargs):
        if not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"Argument `momentum` must be a float in [0, 1]. Received: momentum={momentum!r}")
        super().__init__(name=name, learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         jit_compile=jit_compile, **kwargs)
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def _slot_specs(self):
        # tf-keras keeps `m` even when momentum is 0, and saved files count it.
        return [[("m", 0.0)]]

    def _apply_step(self, params, grads, slots, scalars):
        momentum, lr = hyper(self.momentum), scalars["lr"]
        if not momentum:
            # m would be -lr * g and never feed back; skipping it costs nothing in the numbers.
            scaled_add_(params, grads, -lr)
            return
        m = slots["m"]
        torch._foreach_mul_(m, momentum)
        scaled_add_(m, grads, -lr)
        if self.nesterov:
            scaled_add_(params, grads, -lr)
            torch._foreach_add_(params, m, alpha=momentum)
        else:
            torch._foreach_add_(params, m)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
