"""Keras activation functions on torch tensors (`keras.activations`), with tf-keras 2.21 numerics.

`softmax` and `sigmoid` attach their pre-activation input to the output as `output._keras_logits`, as
tf-keras does, so that a crossentropy loss meeting such an output computes from the logits (stable for
saturated outputs). The attribute is a plain Python reference: autograd is untouched, and the logits are
kept alive only as long as the output is.

NOTE: `hard_sigmoid` is tf-keras 2.21's `clip(0.2 * x + 0.5, 0, 1)` (also Keras 2.2.4's); Keras 3 changed it to
`relu6(x + 3) / 6`, which fitgen does not follow.
"""
import torch
import torch.nn.functional as F

from fitgen.backend.dispatch import keras_op
from fitgen.utils import generic_utils


@keras_op("activations.softmax")
def softmax(x, axis=-1):
    """Softmax along `axis` (an int or a tuple of ints).

    Raises:
        ValueError: if `x` is 1-D, as in Keras.
    """
    if x.dim() <= 1:
        raise ValueError(f"Cannot apply softmax to a tensor that is 1D. Received input: shape={tuple(x.shape)}")
    if isinstance(axis, int):
        output = torch.softmax(x, dim=axis)
    else:
        axis = tuple(axis)
        numerator = torch.exp(x - torch.amax(x, dim=axis, keepdim=True))
        output = numerator / numerator.sum(dim=axis, keepdim=True)
    output._keras_logits = x
    return output


@keras_op("activations.elu")
def elu(x, alpha=1.0):
    """`x` if `x > 0`, else `alpha * (exp(x) - 1)`."""
    return F.elu(x, alpha=alpha)


@keras_op("activations.selu")
def selu(x):
    """Scaled ELU with Keras's constants (alpha=1.67326324, scale=1.05070098)."""
    return F.selu(x)


@keras_op("activations.softplus")
def softplus(x):
    """`log(exp(x) + 1)`."""
    return F.softplus(x)


@keras_op("activations.softsign")
def softsign(x):
    """`x / (abs(x) + 1)`."""
    return F.softsign(x)


@keras_op("activations.swish")
def swish(x):
    """`x * sigmoid(x)` (also called SiLU)."""
    return F.silu(x)


silu = swish


@keras_op("activations.relu")
def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit with Keras's options.

    Args:
        x: input tensor.
        alpha: slope below `threshold` (0 gives plain ReLU).
        max_value: saturation value (None: unbounded).
        threshold: values below it are damped (set to 0 when `alpha == 0`).

    Returns:
        `x` for `threshold <= x < max_value`, `max_value` above it, `alpha * (x - threshold)` below the threshold.
    """
    if alpha != 0.0 and max_value is None and threshold == 0:
        return F.leaky_relu(x, negative_slope=alpha)
    negative_part = None
    if alpha != 0.0:
        negative_part = torch.relu(threshold - x)
    if threshold != 0:
        out = x * (x > threshold).to(x.dtype)
    else:
        out = torch.relu(x)
    if max_value is not None:
        out = torch.clamp(out, 0.0, float(max_value))
    if negative_part is not None:
        out = out - alpha * negative_part
    return out


@keras_op("activations.gelu")
def gelu(x, approximate=False):
    """Gaussian error linear unit; `approximate=True` uses the tanh approximation."""
    return F.gelu(x, approximate="tanh" if approximate else "none")


@keras_op("activations.tanh")
def tanh(x):
    """Hyperbolic tangent."""
    return torch.tanh(x)


@keras_op("activations.sigmoid")
def sigmoid(x):
    """`1 / (1 + exp(-x))`; the output remembers `x` as `_keras_logits`."""
    output = torch.sigmoid(x)
    output._keras_logits = x
    return output


@keras_op("activations.exponential")
def exponential(x):
    """`exp(x)`."""
    return torch.exp(x)


@keras_op("activations.hard_sigmoid")
def hard_sigmoid(x):
    """Piecewise linear sigmoid of tf-keras 2.21: `clip(0.2 * x + 0.5, 0, 1)`."""
    return torch.clamp(x * 0.2 + 0.5, 0.0, 1.0)


@keras_op("activations.linear")
def linear(x):
    """Identity."""
    return x


@keras_op("activations.mish")
def mish(x):
    """`x * tanh(softplus(x))`."""
    return x * torch.tanh(F.softplus(x))


@keras_op("activations.log_softmax")
def log_softmax(x, axis=-1):
    """Logarithm of the softmax along `axis`."""
    return torch.log_softmax(x, dim=axis)


@keras_op("activations.relu6")
def relu6(x):
    """`min(max(x, 0), 6)`."""
    return torch.clamp(x, 0.0, 6.0)


@keras_op("activations.leaky_relu")
def leaky_relu(x, alpha=0.2):
    """`x` for `x >= 0`, `alpha * x` below (tf.nn.leaky_relu's default slope 0.2)."""
    return F.leaky_relu(x, negative_slope=alpha)


_ACTIVATIONS = {fn.__name__: fn for fn in (
    softmax, elu, selu, softplus, softsign, swish, relu, gelu, tanh, sigmoid, exponential, hard_sigmoid,
    linear, mish, log_softmax, relu6, leaky_relu)}
_ACTIVATIONS["silu"] = swish
# tf.nn.softmax is serialised by TF 2 under its internal name; tf-keras maps it back on load.
_ALIASES = {"softmax_v2": "softmax"}


def serialize(activation):
    """The Keras name of an activation function (`'relu'`), or a config dict for objects with `get_config`.

    Raises:
        ValueError: if `activation` has neither a name nor a config.
    """
    name = getattr(activation, "__name__", None)
    if name in _ALIASES:
        return _ALIASES[name]
    if name is not None and _ACTIVATIONS.get(name) is activation:
        return name
    return generic_utils.serialize_keras_object(activation)


def deserialize(name, custom_objects=None):
    """The activation function a name (or `{'class_name', 'config'}` dict) stands for.

    Raises:
        ValueError: for an unknown name, listing the accepted ones.
    """
    if isinstance(name, str):
        name = _ALIASES.get(name, name)
    if isinstance(name, dict) and name.get("class_name") == "function":
        # tf-keras 2.13+ format: {"module": "builtins", "class_name": "function", "config": "relu", ...}
        name = _ALIASES.get(name["config"], name["config"])
    return generic_utils.deserialize_keras_object(
        name, module_objects=_ACTIVATIONS, custom_objects=custom_objects,
        printable_module_name="activation function")


def get(identifier):
    """Resolves an activation: None -> `linear`, a name or config -> the function, a callable passes through.

    Raises:
        ValueError: for an unknown name (the message lists the accepted names).
        TypeError: for anything that is neither None, a string, a dict nor callable.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret activation function identifier: {identifier!r}. Expected None, a "
                    f"name such as 'relu', a config dict or a callable.")

