"""`Layer`: a Keras 2 layer that is a torch.nn.Module.

Weights are torch parameters in whatever layout the torch kernel wants (e.g. Conv2D keeps (out, in, kh, kw));
each one is described by a `LayerWeight` that converts to and from Keras's layout, so `get_weights()`,
`set_weights()`, HDF5 files and optimizer slots all speak Keras shapes while the forward pass runs on
torch's native layout with no per-step conversion.
"""
import inspect
import warnings

import numpy as np
import torch
from torch import nn

from fitgen.backend import common as backend
from fitgen.engine import keras_tensor, layer_masks
from fitgen.engine.call_context import (_EAGER_CALLS, _LOSS_COLLECTORS, _METRIC_SINKS, PERSISTENT_LOSSES, PHASE,
                                        as_loss_tensor, collect_losses)
from fitgen.engine.input_spec import InputSpec, assert_input_compatibility  # noqa: F401 (InputSpec re-exported)
from fitgen.engine.keras_tensor import Node  # noqa: F401 (keras.engine.base_layer.Node in Keras 2)
from fitgen.engine.layer_weight import LayerWeight, Layout, PermutedLayout  # noqa: F401 (layers import them here)
from fitgen.utils.generic_utils import to_snake_case
from fitgen.mixed_precision import policy as policy_module
from fitgen.mixed_precision.policy import MIXED_IN_USE

_ALLOWED_KWARGS = {"input_dim", "input_shape", "batch_input_shape", "batch_size", "weights",
                   "activity_regularizer", "autocast", "implementation", "dynamic", "input_length"}

class GradientFlags:
    """Whose weights the parameters' `requires_grad` flags follow right now, and how often `trainable` changed.

    Keras 2 freezes weights per compiled model: in the GAN recipe the discriminator is compiled, then
    `discriminator.trainable = False`, then the combined model is compiled; the discriminator still trains
    in its own `train_on_batch` and stays frozen inside the combined model. Each train step therefore sets
    the flags to its own model's collected weights, but only when someone else set them last (`owner`).
    """

    owner = None  # the train step (its state) whose collected weights the flags follow
    trainable_version = 0  # bumped by every `trainable` assignment




class Layer(nn.Module):
    """Base class of every fitgen layer; a torch.nn.Module with Keras 2's layer API.

    Subclasses create weights in `build(input_shape)` with `add_weight` and compute in `call(inputs)`.
    Calling a layer on a symbolic `Input` tensor records a node of the functional graph; calling it on a
    torch tensor runs it.

    Args:
        trainable: whether the layer's weights are updated by training.
        name: the layer name; by default the snake-case class name made unique (`dense`, `dense_1`, ...).
        dtype: the dtype of its weights and computations, or a dtype policy (`'mixed_bfloat16'`, a
            `fitgen.mixed_precision.Policy`); default: the global policy (`floatx()` unless set).
        input_shape / batch_input_shape / input_dim / batch_size: the model input's shape when this layer
            is the first of a Sequential model, as in Keras.
    """

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        super().__init__()
        unknown = set(kwargs) - _ALLOWED_KWARGS
        if unknown:
            raise TypeError(f"Keyword argument not understood: {sorted(unknown)[0]!r} "
                            f"(layer {type(self).__name__}).")
        self.name = name or backend.unique_object_name(to_snake_case(type(self).__name__))
        self._trainable = trainable
        # A dtype policy (fitgen.mixed_precision): weights in `dtype` (Keras's `layer.dtype`), computations in
        # `compute_dtype`; the global policy when `dtype` is None.
        self._dtype_policy = policy_module.layer_policy(dtype)
        self.dtype = self._dtype_policy.variable_dtype
        self.built = False
        # A layer that defines compute_mask supports masking unless it says otherwise (tf-keras's default).
        self.supports_masking = layer_masks.overrides_compute_mask(type(self))
        self.input_spec = None
        self._layer_weights = []
        self._own_losses = []       # added outside any call: kept (tensors, or callables evaluated each step)
        self._input_losses = []     # (loss, inputs) pairs from add_loss(..., inputs=...) outside a call
        self._eager_losses = (0, [])  # (eager call number, losses) of the latest call outside fitgen's steps
        self._inbound_nodes = []
        self._initial_weights = kwargs.get("weights")
        from fitgen import regularizers
        self.activity_regularizer = regularizers.get(kwargs.get("activity_regularizer"))
        self._batch_input_shape = _batch_input_shape_from(kwargs)
        call_parameters = inspect.signature(self.call).parameters
        self._call_accepts_training = "training" in call_parameters
        self._call_accepts_mask = "mask" in call_parameters

    # ----------------------------------------------------------------------------------------- weights
    def add_weight(self, name, shape, dtype=None, initializer="glorot_uniform", regularizer=None,
                   trainable=True, constraint=None, layout=None):
        """Creates a weight of Keras shape `shape`, initialised as Keras would, stored in `layout`.

        Returns the torch tensor (a Parameter when trainable, a buffer otherwise) that `call` computes with.
        """
        from fitgen import constraints, initializers, regularizers
        layout = layout or Layout()
        shape = tuple(int(d) for d in shape)
        value = initializers.get(initializer)(shape, dtype=dtype or self.dtype)
        value = torch.as_tensor(value, dtype=backend.torch_dtype(dtype or self.dtype))
        value = layout.from_keras(value).contiguous()
        attribute = _unique_attribute(self, name)
        if trainable:
            tensor = nn.Parameter(value)
            self.register_parameter(attribute, tensor)
            tensor.requires_grad_(self.trainable)
        else:
            tensor = value
            self.register_buffer(attribute, tensor)
        weight = LayerWeight(self, name, tensor, trainable, layout, regularizers.get(regularizer),
                             constraints.get(constraint))
        weight.attribute = attribute
        self._layer_weights.append(weight)
        return tensor

    def _sync_tensors(self):
        # Module.to()/cuda() replace buffers (and, for some dtypes, parameters): re-point our records.
        for weight in self._layer_weights:
            weight.tensor = getattr(self, weight.attribute)

    def _apply(self, fn, *args, **kwargs):
        result = super()._apply(fn, *args, **kwargs)
        for module in self.modules():
            if isinstance(module, Layer):
                module._sync_tensors()
        return result

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        for layer in self._flatten_layers():
            layer._trainable = value
            for weight in layer._layer_weights:
                if isinstance(weight.tensor, nn.Parameter):
                    weight.tensor.requires_grad_(weight.trainable)
        GradientFlags.owner = None
        GradientFlags.trainable_version += 1

    def _flatten_layers(self):
        """This layer and every Layer nested in it, each once, in creation order."""
        seen, out = set(), []
        for module in self.modules():
            if isinstance(module, Layer) and id(module) not in seen:
                seen.add(id(module))
                out.append(module)
        return out

    def _own_and_nested_weights(self):
        weights = list(self._layer_weights)
        for layer in self._flatten_layers()[1:]:
            weights.extend(layer._layer_weights)
        return weights

    @property
    def weights(self):
        """All weights, trainable first, as Keras orders them (`get_weights()` follows this order)."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self):
        return [w for w in self._own_and_nested_weights() if w.trainable]

    @trainable_weights.setter
    def trainable_weights(self, weights):
        # Keras 1-style layers list their weights after creating them: `self.trainable_weights = [self.W]`.
        self._set_weights_trainable(weights, True)

    @property
    def non_trainable_weights(self):
        return [w for w in self._own_and_nested_weights() if not w.trainable]

    @non_trainable_weights.setter
    def non_trainable_weights(self, weights):
        self._set_weights_trainable(weights, False)

    def _set_weights_trainable(self, items, trainable):
        records = self._own_and_nested_weights()
        for item in items:
            weight = next((w for w in records if w is item or w.tensor is item), None)
            if weight is None:
                if not isinstance(item, nn.Parameter):
                    raise TypeError(f"Layer {self.name!r}: {item!r} is not one of its weights. Create weights with "
                                    "`self.add_weight(...)` (or pass torch Parameters) before listing them in "
                                    "`trainable_weights` / `non_trainable_weights`.")
                attribute = _unique_attribute(self, "weight")
                self.register_parameter(attribute, item)
                weight = LayerWeight(self, attribute, item, trainable, Layout())
                weight.attribute = attribute
                self._layer_weights.append(weight)
            if trainable and not isinstance(weight.tensor, nn.Parameter):
                raise ValueError(f"Weight {weight.name} was created with trainable=False, so torch holds it as a "
                                 "buffer that cannot receive gradients; create it with `add_weight(..., "
                                 "trainable=True)` instead of listing it in `trainable_weights`.")
            weight._trainable = trainable
            if isinstance(weight.tensor, nn.Parameter):
                weight.tensor.requires_grad_(weight.trainable)

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        """The layer's weights as NumPy arrays in Keras's order and shapes."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Sets the weights from NumPy arrays in Keras's order and shapes (as `get_weights` returns them)."""
        params = self.weights
        weights = list(weights)
        if len(params) != len(weights):
            raise ValueError(
                f'You called `set_weights(weights)` on layer "{self.name}" with a weight list of length '
                f"{len(weights)}, but the layer was expecting {len(params)} weights. Expected shapes: "
                f"{[w.shape for w in params]}; received shapes: {[np.shape(w) for w in weights]}.")
        for param, value in zip(params, weights):
            if tuple(np.shape(value)) != param.shape:
                raise ValueError(f"Layer weight shape {param.shape} not compatible with provided weight shape "
                                 f"{tuple(np.shape(value))} (layer {self.name!r}, weight {param.name}).")
        for param, value in zip(params, weights):
            param.assign(value)

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer {self.name}, but the layer isn't built. "
                             "You can build it manually via: `layer.build(batch_input_shape)`.")
        return int(sum(np.prod(w.shape) for w in self.weights))

    # ------------------------------------------------------------------------------------------ losses
    def add_loss(self, losses, inputs=None, **kwargs):
        """Adds loss tensor(s) to the training objective, as Keras's `Layer.add_loss`.

        Inside `call`, a tensor (e.g. an activity penalty) counts for the batch being computed. Outside any call, a
        zero-argument callable (or a constant tensor) is kept and added at every training step. On a functional
        model, a symbolic tensor built from the model's inputs becomes part of the model (see `Model.add_loss`).
        A non-scalar loss counts as its mean. `inputs` (Keras 2) names the inputs a loss added outside a call
        depends on, for `get_losses_for(inputs)`.

        Args:
            losses: a loss tensor, a zero-argument callable returning one, or a list of them.
        """
        if kwargs:
            raise TypeError(f"add_loss() got unexpected keyword arguments: {sorted(kwargs)}")
        for loss in losses if isinstance(losses, (list, tuple)) else [losses]:
            if loss is None:
                continue
            if isinstance(loss, keras_tensor.KerasTensor):
                raise ValueError(f"Layer {self.name!r} cannot add the symbolic loss {loss!r}: symbolic losses belong "
                                 "to a functional Model built from the inputs they depend on. Call `add_loss` on "
                                 "that model, or compute the loss inside the layer's `call`.")
            if _LOSS_COLLECTORS:
                _LOSS_COLLECTORS[-1].append((self, as_loss_tensor(loss() if callable(loss) else loss)))
            elif inputs is not None:
                self._input_losses.append((loss, inputs))  # Keras 2's conditional losses, for get_losses_for
            else:
                self._own_losses.append(loss)
                PERSISTENT_LOSSES[0] += 1

    def add_metric(self, value, name=None, aggregation="mean"):
        """Logs `value` (computed inside `call`) under `name` as its running mean over the epoch (tf.keras's
        `add_metric`). Values added outside fit/evaluate/train_on_batch/test_on_batch are not recorded."""
        if isinstance(value, keras_tensor.KerasTensor):
            raise ValueError(f"Layer {self.name!r} cannot add the symbolic metric {value!r}: call `add_metric` on "
                             "the functional model built from its inputs, or inside the layer's `call`.")
        if not name:
            raise ValueError("Please provide a name for your metric, e.g. `self.add_metric(value, name='kl')`.")
        if aggregation not in ("mean", None):
            raise ValueError(f"`aggregation` must be 'mean' (a running mean of the values). Received: "
                             f"aggregation={aggregation!r}")
        if _METRIC_SINKS:
            _METRIC_SINKS[-1].add_value(name, value)

    def get_losses_for(self, inputs):
        """Keras 2: the losses that depend on `inputs`; `None` gives the unconditional ones (weight
        regularization penalties and losses added without `inputs`)."""
        if inputs is None:
            return [w.regularizer(w.keras_view()) for w in self._own_and_nested_weights() if w.regularizer] + \
                [loss() if callable(loss) else loss for loss in self._own_losses]
        wanted = {id(t) for t in keras_tensor.flatten(inputs)}
        return [loss() if callable(loss) else loss for loss, on in self._input_losses
                if wanted & {id(t) for t in keras_tensor.flatten(on)}]

    def add_update(self, updates, inputs=None):
        """Keras 2's update ops. fitgen runs eagerly: callables run now, anything else was already applied."""
        for update in (updates if isinstance(updates, (list, tuple)) else [updates]):
            if callable(update):
                update()

    @property
    def updates(self):
        """Always `[]`, as in tf-keras 2.x: updates (e.g. BatchNormalization's moving statistics) are applied
        during the forward pass in training, never collected for a later graph run."""
        warnings.warn("`layer.updates` is always empty in fitgen: updates such as BatchNormalization's moving "
                      "statistics are applied during the training forward pass, so there is nothing to run "
                      "afterwards.", stacklevel=2)
        return []

    def get_updates_for(self, inputs):
        """Keras 2: the update ops that depend on `inputs`; always `[]` (see `updates`)."""
        return []

    @property
    def losses(self):
        """This layer's (and nested layers') losses: weight regularisation penalties, the losses added outside a
        call, and those of the current step (inside a step) or of the latest call (outside one)."""
        layers = self._flatten_layers()
        out = [w.regularizer(w.keras_view()) for w in self._own_and_nested_weights() if w.regularizer]
        for layer in layers:
            out.extend(as_loss_tensor(loss() if callable(loss) else loss) for loss in layer._own_losses)
            out.extend(loss() if callable(loss) else loss for loss, _ in layer._input_losses)
        if _LOSS_COLLECTORS:
            members = {id(layer) for layer in layers}
            out.extend(value for owner, value in _LOSS_COLLECTORS[-1] if id(owner) in members)
        else:
            for layer in layers:
                out.extend(layer._eager_losses[1])
        return out

    def _eager_call(self, inputs, args, kwargs):
        # A call outside fitgen's steps (user code calling a layer or model directly): its losses are collected
        # and each layer keeps those of its latest call, as tf-keras's eager losses.
        _EAGER_CALLS[0] += 1
        number = _EAGER_CALLS[0]
        phase, PHASE[0] = PHASE[0], int(self.training if kwargs.get("training") is None else kwargs["training"])
        try:
            with collect_losses() as collected:
                outputs = self(inputs, *args, **kwargs)
        finally:
            PHASE[0] = phase
        for owner, value in collected:
            if owner._eager_losses[0] != number:
                owner._eager_losses = (number, [])
            owner._eager_losses[1].append(value)
        return outputs

    # ----------------------------------------------------------------------------------------- calling
    def build(self, input_shape):
        """Creates the weights for inputs of `input_shape` (batch axis included, maybe None)."""
        self.built = True

    def call(self, inputs, **kwargs):
        return inputs

    def _maybe_build(self, input_shape, device=None):
        if not self.built:
            self.build(input_shape)
            self.built = True
            if self._initial_weights is not None:
                self.set_weights(self._initial_weights)
                self._initial_weights = None
            if device is not None:
                self.to(device)

    def __call__(self, inputs, *args, **kwargs):
        if type(inputs) is not torch.Tensor and keras_tensor.is_symbolic(inputs):  # one check per call
            return self._call_symbolic(inputs, args, kwargs)
        if not _LOSS_COLLECTORS:  # fitgen's steps always collect; a user's own call is collected here
            return self._eager_call(inputs, args, kwargs)
        if not self.built:
            if self.input_spec is not None:  # a spec set in __init__ is checked before build, as in Keras
                assert_input_compatibility(self.input_spec, inputs, self.name)
            self._maybe_build(keras_tensor.shape_of(inputs), keras_tensor.device_of(inputs))
        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, inputs, self.name)
        if MIXED_IN_USE[0]:  # only once a mixed policy exists: autocast, or a full-precision layer's input casts
            scope, inputs = policy_module.precision_scope(self, inputs)
            with scope:
                return self._call_in_scope(inputs, args, kwargs)
        return self._call_in_scope(inputs, args, kwargs)

    def _call_in_scope(self, inputs, args, kwargs):
        if "training" in kwargs and not self._call_accepts_training:
            kwargs.pop("training")
        contract = (self.supports_masking or self._call_accepts_mask) and \
            layer_masks.follows_mask_contract(type(self))
        previous_mask = None
        if contract:
            previous_mask = kwargs["mask"] if "mask" in kwargs else layer_masks.input_masks(inputs)
            if previous_mask is not None and self._call_accepts_mask and "mask" not in kwargs:
                kwargs["mask"] = previous_mask
        outputs = super().__call__(inputs, *args, **kwargs)
        if contract and self.supports_masking:
            layer_masks.attach_output_masks(self, inputs, outputs, previous_mask)
        if self.activity_regularizer is not None:
            first = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
            self.add_loss(self.activity_regularizer(first) / first.shape[0])
        return outputs

    def _call_symbolic(self, inputs, args, kwargs):
        if not self.built:
            if self.input_spec is not None:
                assert_input_compatibility(self.input_spec, inputs, self.name)
            shapes = keras_tensor.map_structure(lambda t: t.shape, inputs)
            self._maybe_build(keras_tensor._shapes_arg(shapes))
        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, inputs, self.name)
        outputs = keras_tensor.call_symbolic(self, inputs, args, kwargs)
        layer_masks.attach_symbolic_masks(self, inputs, outputs, kwargs)
        return outputs

    def forward(self, inputs, *args, **kwargs):
        # Looked up on the instance: a `call` replaced on one layer (e.g. sync_batchnorm) takes effect.
        return self.call(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        """Output shape for `input_shape`; by default found by running the layer on placeholder data."""
        return keras_tensor.infer_output_spec(self, input_shape)[0]

    compute_output_shape.runs_placeholders = True  # call_symbolic then infers shapes and dtypes in one run

    def compute_mask(self, inputs, mask=None):
        """The output mask for `inputs` carrying `mask` (Keras 2 API).

        By default a layer with `supports_masking` passes the input mask on unchanged; any other layer
        returns None, and raises TypeError if it is handed a mask, as Keras does.
        """
        if not self.supports_masking:
            if any(m is not None for m in keras_tensor.flatten(mask)):
                raise TypeError(f"Layer {self.name} does not support masking, but was passed an input_mask: {mask}")
            return None
        return mask

    # ----------------------------------------------------------------------------------- graph access
    def _node_tensors(self, attribute, node_index):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} is not connected, no input to return.")
        if node_index >= len(self._inbound_nodes):
            raise ValueError(f"Asked to get {attribute} at node {node_index}, but the layer has only "
                             f"{len(self._inbound_nodes)} inbound nodes.")
        return getattr(self._inbound_nodes[node_index], attribute)

    @property
    def input(self):
        return self._node_tensors("input_tensors", 0)

    @property
    def output(self):
        return self._node_tensors("output_tensors", 0)

    def get_input_at(self, node_index):
        return self._node_tensors("input_tensors", node_index)

    def get_output_at(self, node_index):
        return self._node_tensors("output_tensors", node_index)

    @property
    def input_shape(self):
        return keras_tensor.shape_of(self.input)

    @property
    def output_shape(self):
        return keras_tensor.shape_of(self.output)

    def get_input_shape_at(self, node_index):
        return keras_tensor.shape_of(self.get_input_at(node_index))

    def get_output_shape_at(self, node_index):
        return keras_tensor.shape_of(self.get_output_at(node_index))

    def get_input_mask_at(self, node_index):
        """The symbolic mask(s) of the inputs of call `node_index` (None where an input has no mask)."""
        return _masks_of(self.get_input_at(node_index))

    def get_output_mask_at(self, node_index):
        return _masks_of(self.get_output_at(node_index))

    @property
    def input_mask(self):
        return self.get_input_mask_at(0)

    @property
    def output_mask(self):
        return self.get_output_mask_at(0)

    # --------------------------------------------------------------------------------------- config
    @property
    def dtype_policy(self):
        """The layer's `fitgen.mixed_precision.Policy`."""
        return self._dtype_policy

    @property
    def compute_dtype(self):
        """The dtype the layer computes in: its policy's (`'float16'` under `'mixed_float16'`)."""
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        """The dtype of the layer's weights (`layer.dtype`)."""
        return self._dtype_policy.variable_dtype

    def get_config(self):
        """The constructor arguments that rebuild this layer (Keras 2 layer config)."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": policy_module.serialize(self._dtype_policy)}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # torch's Module.__setattr__/__getattr__ are kept; `name` stays an ordinary attribute.


def _masks_of(tensors):
    if isinstance(tensors, (list, tuple)) and not tensors:
        return None  # an InputLayer's call has no inputs, hence no input mask
    return keras_tensor.map_structure(lambda t: getattr(t, "_keras_mask", None), tensors)


def _unique_attribute(module, name):
    base = name.replace("/", "_").replace(":", "_")
    attribute, k = base, 1
    while hasattr(module, attribute):
        attribute, k = f"{base}_{k}", k + 1
    return attribute


def _module_device(module, default=None):
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return default


def _batch_input_shape_from(kwargs):
    if kwargs.get("batch_input_shape") is not None:
        return tuple(kwargs["batch_input_shape"])
    batch = kwargs.get("batch_size")
    if kwargs.get("input_shape") is not None:
        return (batch,) + tuple(kwargs["input_shape"])
    if kwargs.get("input_dim") is not None:
        length = kwargs.get("input_length")
        if length is not None:
            return (batch, length, kwargs["input_dim"])
        return (batch, kwargs["input_dim"])
    if kwargs.get("input_length") is not None:
        return (batch, kwargs["input_length"])
    return None
