"""TF 2.1-2.3's `keras.mixed_precision.experimental` spellings, on fitgen's policies.

`Policy(name, loss_scale='auto')`, `set_policy`, `global_policy` and `LossScaleOptimizer(optimizer, loss_scale)`
(`'dynamic'` or a number for a fixed scale).
"""
from fitgen.mixed_precision import policy as _policy
from fitgen.optimizers.loss_scale import LossScaleOptimizer as _LossScaleOptimizer

global_policy = _policy.global_policy


class Policy(_policy.Policy):
    """`Policy(name, loss_scale='auto')`: the experimental policy; `loss_scale` is kept for reading only (the
    model's optimizer gets loss scaling from `compile` under `'mixed_float16'`)."""

    def __init__(self, name, loss_scale="auto"):
        super().__init__(name)
        self.loss_scale = loss_scale

    def get_config(self):
        return {"name": self.name, "loss_scale": self.loss_scale}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def set_policy(policy):
    """The experimental name of `set_global_policy`."""
    _policy.set_global_policy(policy)


def LossScaleOptimizer(optimizer, loss_scale="dynamic"):  # noqa: N802 - the Keras class name
    """TF 2.1-2.3's constructor: `loss_scale='dynamic'` (tf-keras's dynamic rule) or a fixed number."""
    if loss_scale == "dynamic":
        return _LossScaleOptimizer(optimizer)
    if isinstance(loss_scale, (int, float)) and not isinstance(loss_scale, bool):
        return _LossScaleOptimizer(optimizer, dynamic=False, initial_scale=float(loss_scale))
    raise ValueError(f"loss_scale must be 'dynamic' or a number. Received: loss_scale={loss_scale!r}")
