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
        if self._fused_update(params, grads, slots, scalars["alpha"], epsilon):
            return
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

    def _fused_update(self, params, grads, slots, alpha, epsilon):
        """The same update in torch's fused CPU Adam kernel: one pass over each weight instead of six.

        torch's kernel computes `w -= lr / (1 - beta_1**s) * m / (sqrt(v) / sqrt(1 - beta_2**s) + eps)` from a
        step count `s` it is given. Given a step count so large that both powers are 0, it is Keras's
        `w -= alpha * m / (sqrt(v) + epsilon)` with `lr = alpha`, the bias corrections computed on the host as
        `_step_scalars` computes them; the moments update as Keras's. The numbers agree with the multi-tensor
        path to float rounding (the sums run in another order). CPU tensors of one float dtype only; a
        compiled step (0-d tensor scalars) and other devices take the multi-tensor path.
        """
        if isinstance(alpha, torch.Tensor) or isinstance(epsilon, torch.Tensor) or not params \
                or not _fused_kernel_on_cpu():
            return False
        dtype = params[0].dtype
        if dtype not in (torch.float32, torch.float64) or not (0 <= self.beta_1 < 1 and 0 <= self.beta_2 < 1):
            return False
        # The kernel walks each tensor's memory in order: every tensor must be contiguous (a gradient from
        # `torch.autograd.grad` may come in the channels_last order of a convolution's backward pass).
        moments = slots["m"] + slots["v"] + (slots["vhat"] if self.amsgrad else [])
        if any(t.device.type != "cpu" or t.dtype != dtype or not t.is_contiguous()
               for group in (params, grads, moments) for t in group):
            return False
        steps = self.__dict__.setdefault("_fused_steps", {}).get(len(params))
        if steps is None:
            # 2**40: beta**2**40 is 0 for any beta < 1 in double precision (torch reads the count, never writes it)
            steps = self._fused_steps[len(params)] = [torch.tensor(2.0 ** 40) for _ in params]
        torch._fused_adam_(params, grads, slots["m"], slots["v"], slots["vhat"] if self.amsgrad else [], steps,
                           lr=alpha, beta1=self.beta_1, beta2=self.beta_2, weight_decay=0.0, eps=epsilon,
                           amsgrad=self.amsgrad, maximize=False)
        return True

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config


_FUSED_ON_CPU = []


def _fused_kernel_on_cpu():
    """Whether this torch has a CPU `_fused_adam_` (torch 2.4 and later; fitgen supports 2.3), tried once."""
    if not _FUSED_ON_CPU:
        one = [torch.zeros(1)]
        try:
            torch._fused_adam_(one, [torch.ones(1)], [torch.zeros(1)], [torch.zeros(1)], [], [torch.tensor(1.0)],
                               lr=0.1, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-7, amsgrad=False,
                               maximize=False)
            _FUSED_ON_CPU.append(True)
        except (AttributeError, NotImplementedError, RuntimeError):
            _FUSED_ON_CPU.append(False)
    return _FUSED_ON_CPU[0]
