"""Dtype policies (`keras.mixed_precision.Policy`): the dtype a layer computes in and the dtype of its weights.

`'mixed_float16'` and `'mixed_bfloat16'` keep weights in float32 and compute in half precision; any dtype name
(`'float32'`, `'float64'`, ...) is a policy computing and storing in that dtype. A layer takes the global policy
(`set_global_policy`) when it is created, unless its `dtype=` names a policy or a dtype.

How fitgen computes in half precision: a layer whose policy is mixed runs its call under `torch.autocast` with
the compute dtype (torch chooses per op: matrix products and convolutions in half precision, reductions and
softmax in float32); a layer whose policy is a full-precision dtype casts half-precision floating inputs to it
and runs with autocast off, so `Activation('softmax', dtype='float32')` after mixed layers gives float32
outputs, as Keras recommends for the last layer. Losses are computed in float32.
"""
import contextlib

import numpy as np
import torch

from fitgen.backend import common as backend

_MIXED = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
_HALF = (torch.float16, torch.bfloat16)

# True once a mixed policy exists anywhere: until then, layer calls skip the policy code entirely.
MIXED_IN_USE = [False]
_GLOBAL = [None]


class Policy:
    """A dtype policy: `compute_dtype` (what the layer computes in) and `variable_dtype` (its weights).

    Args:
        name: `'mixed_float16'`, `'mixed_bfloat16'`, or a dtype name such as `'float32'`; `'_infer'` (Keras 2.3's
            "the dtype of the first input") is read as floatx.

    Raises:
        ValueError: for a name that is neither a mixed policy nor a dtype.
        TypeError: for a name that is not a string.
    """

    def __init__(self, name):
        if isinstance(name, Policy):
            name = name.name
        if not isinstance(name, str):
            raise TypeError(f"'name' must be a string, such as 'mixed_float16'. Received: name={name!r} "
                            f"(of type {type(name).__name__})")
        if name == "_infer":
            name = backend.floatx()
        if name in _MIXED:
            compute, variable = _MIXED[name], "float32"
            MIXED_IN_USE[0] = True
        else:
            try:
                compute = variable = _dtype_name(name)
            except TypeError:
                raise ValueError(f"Cannot convert value {name!r} to a mixed precision Policy. Valid policies "
                                 "include 'mixed_float16', 'mixed_bfloat16', and the name of any dtype such as "
                                 "'float32'.") from None
        self._name = name
        self._compute_dtype = compute
        self._variable_dtype = variable

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        """The dtype of the layer's computations (its outputs' dtype, for most layers)."""
        return self._compute_dtype

    @property
    def variable_dtype(self):
        """The dtype of the layer's weights (`layer.dtype`)."""
        return self._variable_dtype

    @property
    def is_mixed(self):
        return self._compute_dtype != self._variable_dtype

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config.pop("loss_scale", None)  # TF 2.1-2.3's experimental policies carried one
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, Policy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<Policy "{self._name}">'


def _dtype_name(name):
    if name == "bfloat16":
        return name
    return np.dtype(name).name


def global_policy():
    """The policy of layers created without `dtype`: the one `set_global_policy` set, else `Policy(floatx())`."""
    return _GLOBAL[0] if _GLOBAL[0] is not None else Policy(backend.floatx())


def set_global_policy(policy):
    """Sets the policy of layers created from now on without `dtype` (`'mixed_float16'`, `'mixed_bfloat16'`,
    `'float32'`, a `Policy`, or None for the default `Policy(floatx())`).

    Under `'mixed_float16'`, `Model.compile` wraps the optimizer in a `LossScaleOptimizer`, as tf-keras does.

    Raises:
        ValueError: for a policy that is not floating point.
    """
    if policy is None:
        _GLOBAL[0] = None
        return
    policy = policy if isinstance(policy, Policy) else deserialize(policy)
    if not np.dtype(policy.compute_dtype if policy.compute_dtype != "bfloat16" else "float32").kind == "f":
        raise ValueError(f"set_global_policy can only be used to set the global policy to floating-point policies, "
                         f"such as 'float32' and 'mixed_float16'. Received: policy={policy.name!r}")
    _GLOBAL[0] = policy


def deserialize(value):
    """A Policy from a name, a Policy, or a saved config (`{"class_name": "Policy", "config": {"name": ...}}`)."""
    if isinstance(value, Policy):
        return value
    if isinstance(value, dict):
        if value.get("class_name") not in ("Policy", "PolicyV1", "DTypePolicy") or "config" not in value:
            raise ValueError(f"Expected a dtype policy config such as {{'class_name': 'Policy', 'config': {{'name': "
                             f"'mixed_float16'}}}}. Received: {value!r}")
        return Policy.from_config(value["config"])
    return Policy(value)


def serialize(policy):
    """What a layer config stores as `dtype`: the name for a plain dtype, tf-keras's dict for a mixed policy."""
    if not policy.is_mixed:
        return policy.name
    return {"module": "keras.mixed_precision", "class_name": "Policy", "config": policy.get_config(),
            "registered_name": None}


def layer_policy(dtype):
    """The policy of a layer created with `dtype=` (None: the global policy; a NumPy dtype or name; a Policy; a
    saved policy config)."""
    if dtype is None:
        return global_policy()
    if isinstance(dtype, np.dtype):
        return Policy(dtype.name)
    if isinstance(dtype, torch.dtype):
        return Policy(str(dtype).replace("torch.", ""))
    if isinstance(dtype, type):
        return Policy(np.dtype(dtype).name)
    return deserialize(dtype)


# ---------------------------------------------------------------------------------------- layer calls
def precision_scope(layer, inputs):
    """`(context, inputs)` for one eager call of `layer` while a mixed policy exists (see the module notes).

    A mixed leaf layer runs under autocast in its compute dtype; a full-precision layer gets its half-precision
    inputs cast to its dtype and autocast switched off. Layers holding other layers (models, wrappers) leave it
    to them.
    """
    mode = layer.__dict__.get("_precision_mode")
    if mode is None:
        mode = layer._precision_mode = _mode_of(layer)
    if mode == "none":
        return contextlib.nullcontext(), inputs
    device_type = _device_type(inputs)
    if device_type is None:
        return contextlib.nullcontext(), inputs
    if mode == "autocast":
        return torch.autocast(device_type, dtype=backend.torch_dtype(layer._dtype_policy.compute_dtype)), inputs
    want = backend.torch_dtype(layer._dtype_policy.compute_dtype)
    inputs = _cast_half(inputs, want)
    if _autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False), inputs
    return contextlib.nullcontext(), inputs


def _autocast_enabled(device_type):
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4: one query per device kind
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


def _mode_of(layer):
    if any(hasattr(child, "_dtype_policy") for child in layer.children()):
        return "none"
    policy = layer._dtype_policy
    if policy.is_mixed:
        return "autocast"
    if backend.torch_dtype(policy.compute_dtype).is_floating_point:
        return "full"
    return "none"


def _device_type(inputs):
    if isinstance(inputs, torch.Tensor):
        return inputs.device.type
    if isinstance(inputs, (list, tuple)):
        for item in inputs:
            found = _device_type(item)
            if found is not None:
                return found
    if isinstance(inputs, dict):
        return _device_type(list(inputs.values()))
    return None


def _cast_half(value, dtype):
    if isinstance(value, torch.Tensor):
        if value.dtype in _HALF and value.dtype != dtype:
            cast = value.to(dtype)
            for attribute in ("_keras_mask", "_keras_logits"):
                carried = getattr(value, attribute, None)
                if carried is not None:
                    setattr(cast, attribute, carried if attribute == "_keras_mask" else carried.to(dtype))
            return cast
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_half(item, dtype) for item in value)
    return value


def as_float32(tensor):
    """A half-precision output as float32 for the loss (keeping its mask and logits); other tensors as they are."""
    if not isinstance(tensor, torch.Tensor) or tensor.dtype not in _HALF:
        return tensor
    return _cast_half(tensor, torch.float32)
