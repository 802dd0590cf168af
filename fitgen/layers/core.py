"""Core Keras 2 layers: Dense, Activation, Dropout, Flatten, Reshape, Permute, RepeatVector, Lambda,
ActivityRegularization.

Tensors arrive in Keras layout; these layers need no layout conversion. Dense keeps Keras's kernel layout
`(input_dim, units)` because `x @ kernel` (torch.addmm for 2-D inputs) is as fast as `F.linear`.
"""
import inspect
import sys
import types

import numpy as np
import torch

from fitgen import activations, backend, constraints, initializers, regularizers
from fitgen.backend import random_ops
from fitgen.engine.base_layer import Layer
from fitgen.utils import generic_utils
from fitgen.utils.generic_utils import func_dump, func_load  # noqa: F401 (Keras 2 kept them in generic_utils)

# Loading a Lambda layer whose function is a Python lambda means running bytecode read from a file.
# The saving module sets this flag from `load_model(..., safe_mode=...)`; it stays True otherwise.
LAMBDA_SAFE_MODE = True


def pass_mask(inputs, outputs):
    """Copies a Keras mask (`_keras_mask`) from `inputs` to `outputs` (layers with supports_masking)."""
    mask = getattr(inputs, "_keras_mask", None)
    if mask is not None:
        outputs._keras_mask = mask
    return outputs


def random_generator(layer, seed, device):
    """A torch Generator for a seeded random layer on `device` (None: use torch's global generator)."""
    if seed is None:
        return None
    generator = layer.__dict__.get("_generators", {}).get(device)
    if generator is None:
        generator = torch.Generator(device=device).manual_seed(int(seed))
        layer.__dict__.setdefault("_generators", {})[device] = generator
    return generator


def check_rate(rate, name="rate"):
    if isinstance(rate, (int, float)) and not 0 <= rate <= 1:
        raise ValueError(f"Invalid value {rate} received for `{name}`, expected a value between 0 and 1.")
    return rate


class Dense(Layer):
    """Densely-connected layer: `output = activation(dot(input, kernel) + bias)`.

    On inputs of rank > 2 the kernel applies to the last axis (e.g. `(batch, steps, features)` gives
    `(batch, steps, units)`), as in Keras.

    Args:
        units: positive int, the output dimension.
        activation: activation name or function (None: linear).
        use_bias: whether to add a bias vector.
        kernel_initializer / bias_initializer: initializers of the kernel `(input_dim, units)` and bias.
        kernel_regularizer / bias_regularizer / activity_regularizer: optional regularizers.
        kernel_constraint / bias_constraint: optional constraints applied after each update.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        units = int(units) if not isinstance(units, int) else units
        if units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer. "
                             f"Received: units={units}")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        last_dim = input_shape[-1]
        if last_dim is None:
            raise ValueError(f"The last dimension of the inputs to a Dense layer should be defined. Found None. "
                             f"Full input shape received: {tuple(input_shape)}")
        self.kernel = self.add_weight("kernel", (last_dim, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs):
        if inputs.dim() == 2 and self.bias is not None:
            outputs = torch.addmm(self.bias, inputs, self.kernel)
        else:
            outputs = torch.matmul(inputs, self.kernel)
            if self.bias is not None:
                outputs = outputs + self.bias
        outputs = self.activation(outputs)
        mask = getattr(inputs, "_keras_mask", None)
        if mask is not None:
            outputs._keras_mask = mask
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        })
        return config


class Activation(Layer):
    """Applies an activation function (a name such as `'relu'`, or a callable) to its input."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return pass_mask(inputs, self.activation(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


class Dropout(Layer):
    """Sets a fraction `rate` of its inputs to 0 during training, scaling the rest by `1 / (1 - rate)`.

    Args:
        rate: float in [0, 1], the fraction of units to drop.
        noise_shape: optional shape of the binary keep mask, broadcast over the input; None entries take the
            input's size, e.g. `(None, 1, features)` drops the same features at every timestep.
        seed: optional int making the masks repeatable (a private generator per device).

    Inactive in inference (evaluate/predict, or `training=False`).
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate(rate)
        self.noise_shape = noise_shape
        self.seed = seed
        self.supports_masking = True

    def _get_noise_shape(self, inputs):
        if self.noise_shape is None:
            return None
        return tuple(inputs.shape[i] if d is None else int(d) for i, d in enumerate(self.noise_shape))

    def call(self, inputs, training=None):
        if training is None:
            training = self.training
        if not training or self.rate == 0:
            return inputs
        noise_shape = self._get_noise_shape(inputs)
        generator = random_generator(self, self.seed, inputs.device)
        mask = random_ops.dropout_mask(inputs.shape if noise_shape is None else noise_shape, self.rate,
                                       inputs.dtype, inputs.device, generator)
        return pass_mask(inputs, inputs * mask)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "noise_shape": _listify(self.noise_shape), "seed": self.seed})
        return config


class Flatten(Layer):
    """Flattens each sample to one axis, always in channels_last order (`(H, W, C)` rows), as Keras.

    Args:
        data_format: the layout of the inputs: 'channels_last', 'channels_first', or None for
            `fitgen.backend.image_data_format()`. A channels_first input `(N, C, H, W)` is moved to
            `(N, H, W, C)` before flattening (as Keras 2 and tf-keras do), so the Dense layer after it has the
            same kernel whichever layout the model uses.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = backend.normalize_data_format(data_format)

    def call(self, inputs):
        if inputs.dim() == 1:
            return inputs.unsqueeze(1)
        if self.data_format == "channels_first" and inputs.dim() > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.flatten(1)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) == 1:
            return input_shape + (1,)
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], size)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (batch axis excluded); one entry may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError(f"There must be at most one unknown dimension (-1) in `target_shape`. "
                             f"Received: target_shape={self.target_shape}")

    def call(self, inputs):
        return inputs.reshape((inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        rest = input_shape[1:]
        if -1 not in self.target_shape:
            if None not in rest and np.prod(rest, dtype=np.int64) != np.prod(self.target_shape, dtype=np.int64):
                raise ValueError(_reshape_error(rest, self.target_shape))
            return (input_shape[0],) + self.target_shape
        if None in rest:
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        total = int(np.prod(rest, dtype=np.int64))
        known = int(np.prod([d for d in self.target_shape if d != -1], dtype=np.int64))
        if known == 0 or total % known:
            raise ValueError(_reshape_error(rest, self.target_shape))
        return (input_shape[0],) + tuple(total // known if d == -1 else d for d in self.target_shape)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config


class Permute(Layer):
    """Permutes the non-batch axes; `dims` is 1-based as in Keras (`Permute((2, 1))` swaps the two axes)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Invalid permutation argument `dims` for Permute Layer. The set of indices in `dims` "
                             f"must be consecutive and start from 1. Received dims={dims}")
        self._perm = (0,) + self.dims

    def call(self, inputs):
        return inputs.permute(self._perm)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        config = super().get_config()
        config["dims"] = self.dims
        return config


class RepeatVector(Layer):
    """Repeats a `(batch, features)` input `n` times: `(batch, n, features)`."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = n
        if not isinstance(n, int):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")

    def call(self, inputs):
        if inputs.dim() != 2:
            raise ValueError(f"RepeatVector expects a 2-D input (batch, features). Received: shape="
                             f"{tuple(inputs.shape)}")
        return inputs.unsqueeze(1).expand(-1, self.n, -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config


class ActivityRegularization(Layer):
    """Identity layer that adds `l1 * sum(|x|) + l2 * sum(x**2)` (per sample) of its output to the loss."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.supports_masking = True
        self.l1 = l1
        self.l2 = l2

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"l1": self.l1, "l2": self.l2})
        return config


class Lambda(Layer):
    """Wraps an arbitrary function of tensors as a layer: `Lambda(lambda x: x ** 2)`.

    The function receives torch tensors in Keras layout. If it takes `mask` or `training` arguments they
    are passed, as in Keras.

    Args:
        function: the function to apply; it takes the input tensor (or list of tensors) first.
        output_shape: the output shape without the batch axis (a tuple, or a function of the input shape
            returning the full shape). None: inferred by running the function on placeholder data.
        mask: a mask tensor, or a function `(inputs, mask) -> mask`, for the output.
        arguments: optional dict of keyword arguments for the function.

    Saving: a named module-level function is stored by name (loading finds it in `custom_objects` or in
    its module); a Python lambda is stored as marshalled bytecode, which loading executes — so loading a
    file with one requires `safe_mode=False` (only for files you trust).
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self._output_shape = output_shape
        self.supports_masking = mask is not None
        params = _parameters(function)
        self._fn_expects_mask = "mask" in params
        self._fn_expects_training = "training" in params

    def call(self, inputs, mask=None, training=None):
        kwargs = self.arguments
        if self._fn_expects_mask or self._fn_expects_training:
            kwargs = dict(kwargs)
            if self._fn_expects_mask:
                kwargs["mask"] = mask if mask is not None else getattr(inputs, "_keras_mask", None)
            if self._fn_expects_training:
                kwargs["training"] = self.training if training is None else training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        """The `mask` argument's mask: a fixed mask, or `mask(inputs, input_mask)` when it is a function."""
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            shapes, self.output_dtype = infer_output_spec(self, input_shape)
            return shapes
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        if isinstance(self._output_shape, list) and self._output_shape and \
                isinstance(self._output_shape[0], (list, tuple)):
            return [(batch,) + tuple(s) for s in self._output_shape]
        return (batch,) + tuple(self._output_shape)

    def get_config(self):
        config = super().get_config()
        function, function_type, module = _serialize_function(self.function)
        output_shape, output_shape_type, output_shape_module = _serialize_function(self._output_shape, raw=True)
        config.update({"function": function, "function_type": function_type, "module": module,
                       "output_shape": output_shape, "output_shape_type": output_shape_type,
                       "output_shape_module": output_shape_module})
        if self.mask is not None:
            mask, mask_type, mask_module = _serialize_function(self.mask, raw=True)
            config.update({"mask": mask, "mask_type": mask_type, "mask_module": mask_module})
        config["arguments"] = {k: ({"type": "ndarray", "value": v.tolist()} if isinstance(v, np.ndarray) else v)
                               for k, v in self.arguments.items()}
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["function"] = _deserialize_function(config, "function", "module", "function_type",
                                                   custom_objects)
        config["output_shape"] = _deserialize_function(config, "output_shape", "output_shape_module",
                                                       "output_shape_type", custom_objects)
        if "mask" in config:
            config["mask"] = _deserialize_function(config, "mask", "mask_module", "mask_type", custom_objects)
        arguments = dict(config.get("arguments") or {})
        for key, value in arguments.items():
            if isinstance(value, dict) and value.get("type") == "ndarray":
                arguments[key] = np.array(value["value"])
        config["arguments"] = arguments
        return cls(**config)


# ------------------------------------------------------------------------------------------- helpers
def _listify(value):
    return list(value) if isinstance(value, tuple) else value


def _reshape_error(input_shape, target_shape):
    return (f"Reshape: the total size of the new array must be unchanged. Input shape (batch excluded) = "
            f"{tuple(input_shape)}, target_shape = {tuple(target_shape)}.")


def _parameters(function):
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}


def _is_named_function(fn):
    # A function its module holds under its own name is found again by name (as pickle finds functions: this
    # includes decorated functions and the applications' preprocess_input); lambdas and local functions need
    # bytecode.
    if not isinstance(fn, types.FunctionType) or fn.__name__ == "<lambda>" or fn.__qualname__ != fn.__name__:
        return False
    return getattr(sys.modules.get(fn.__module__), fn.__name__, None) is fn


def _serialize_function(fn, raw=False):
    if fn is None and raw:
        return None, "raw", None
    if isinstance(fn, types.FunctionType) and not _is_named_function(fn):
        return func_dump(fn), "lambda", fn.__module__
    if callable(fn):
        return fn.__name__, "function", getattr(fn, "__module__", None)
    if raw:
        return _listify(fn), "raw", None
    raise ValueError(f"Lambda: cannot serialize {fn!r}; expected a function.")


def _deserialize_function(config, key, module_key, type_key, custom_objects):
    module = config.pop(module_key, None)
    kind = config.pop(type_key, "function" if key == "function" else "raw")
    value = config.get(key)
    if kind == "raw":
        return tuple(value) if isinstance(value, list) and all(isinstance(d, (int, type(None))) for d in value) \
            else value
    if kind == "function":
        objects = dict(generic_utils.get_custom_objects())
        objects.update(custom_objects or {})
        if value in objects:
            return objects[value]
        found = getattr(sys.modules.get(module), value, None) if module else None
        if found is None:
            raise ValueError(f"Unknown function in Lambda layer: {value!r} (module {module!r}). Pass it in "
                             f"`custom_objects`, e.g. custom_objects={{'{value}': {value}}}.")
        return found
    if kind == "lambda":
        if LAMBDA_SAFE_MODE:
            raise ValueError(
                "Requested the deserialization of a Lambda layer whose function is a Python `lambda`, stored "
                "as bytecode. Loading it runs code from the file, so it is refused by default. If you trust "
                "the file, pass `safe_mode=False` to the loading function (e.g. "
                "`load_model(path, safe_mode=False)`).")
        globs = dict(vars(sys.modules[module])) if module in sys.modules else {}
        globs.setdefault("__builtins__", __builtins__)
        globs.update(custom_objects or {})
        return func_load(value, globs=globs)
    raise TypeError(f"Unsupported value for `{type_key}`: {kind!r}. Expected one of 'function', 'lambda', "
                    f"'raw'.")



def infer_output_spec(layer, input_shape):
    """(output shapes, output dtype or None) of `layer` for inputs of `input_shape`, found by running it twice
    on placeholders whose free (None) axes take two sizes: axes that follow them are reported as None."""
    runs = []
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            for free in (3, 5):
                placeholders = _placeholders(input_shape, free, layer)
                runs.append(layer.call(placeholders))
    finally:
        layer.train(was_training)

    def shapes(a, b):
        if isinstance(a, (list, tuple)):
            return [shapes(x, y) for x, y in zip(a, b)]
        if isinstance(a, dict):
            return {k: shapes(a[k], b[k]) for k in a}
        return tuple(None if i == 0 or x != y else int(x) for i, (x, y) in enumerate(zip(a.shape, b.shape)))

    first = runs[0]
    dtype = str(first.dtype).replace("torch.", "") if isinstance(first, torch.Tensor) else None
    return shapes(first, runs[1]), dtype


def _placeholders(input_shape, free, layer):
    if isinstance(input_shape, tuple) and all(d is None or isinstance(d, int) for d in input_shape):
        shape = tuple(2 if i == 0 else (free if d is None else d) for i, d in enumerate(input_shape))
        device = next(iter(layer.parameters()), torch.zeros(())).device
        return torch.rand(shape, device=device, dtype=backend.torch_dtype(layer.dtype)) * 0.5 + 0.25
    if isinstance(input_shape, dict):
        return {k: _placeholders(v, free, layer) for k, v in input_shape.items()}
    return [_placeholders(tuple(s), free, layer) for s in input_shape]


# Keras 2.2.4 defined these layers in keras/layers/core.py; scripts still import them from there.
_KERAS_224_CORE_NAMES = {"Masking": "fitgen.layers.masking", "SpatialDropout1D": "fitgen.layers.noise",
                         "SpatialDropout2D": "fitgen.layers.noise", "SpatialDropout3D": "fitgen.layers.noise"}


def __getattr__(name):
    if name in _KERAS_224_CORE_NAMES:
        import importlib
        return getattr(importlib.import_module(_KERAS_224_CORE_NAMES[name]), name)
    raise AttributeError(f"module 'fitgen.layers.core' has no attribute {name!r}")
