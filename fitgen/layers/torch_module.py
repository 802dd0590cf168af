"""`TorchModule`: any `torch.nn.Module` used as a Keras layer."""
import torch
from torch import nn

from fitgen.engine.base_layer import Layer, LayerWeight, Layout
from fitgen.layers.core import infer_output_spec


class TorchModule(Layer):
    """Wraps a `torch.nn.Module` so it can be used in Sequential and functional models.

    The module receives the tensors exactly as fitgen passes them between layers, i.e. in **Keras layout**:
    channels_last images `(N, H, W, C)` and `(N, T, F)` sequences. A module written for NCHW (such as
    `nn.Conv2d`) must permute its input itself. Several inputs (a list) are passed as positional arguments.

    Its parameters and persistent buffers become the layer's weights, named by their `state_dict` keys
    (`"0.weight"`), in torch's layout (which is their Keras layout here); parameters with
    `requires_grad=True` are trainable, the rest and the buffers are not. `get_weights`/`set_weights`,
    `summary()` parameter counts, `trainable = False` and the model's train/eval phase all apply to it.

    Args:
        module: the `torch.nn.Module`.
        output_shape: optional output shape without the batch axis; by default it is found by running the
            module once on small placeholder data.
        name: the layer name.

    Example:

    >>> block = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU())
    >>> layer = TorchModule(block)
    >>> layer(torch.zeros(2, 8)).shape
    torch.Size([2, 16])
    """

    def __init__(self, module, output_shape=None, name=None, **kwargs):
        if not isinstance(module, nn.Module):
            raise TypeError(f"TorchModule expects a torch.nn.Module. Received: module={module!r} "
                            f"(of type {type(module).__name__})")
        super().__init__(name=name, **kwargs)
        self.module = module
        self._output_shape = None if output_shape is None else tuple(output_shape)
        buffer_names = {name for name, _ in module.named_buffers()}
        seen = set()
        for key, tensor in module.state_dict(keep_vars=True).items():
            if id(tensor) in seen:  # a tied (shared) tensor is one weight, under its first key
                continue
            seen.add(id(tensor))
            trainable = key not in buffer_names and tensor.requires_grad
            weight = LayerWeight(self, key, tensor, trainable, Layout())
            weight.attribute = None
            self._layer_weights.append(weight)
            if isinstance(tensor, nn.Parameter) and not self.trainable:
                tensor.requires_grad_(False)
        self._buffer_names = buffer_names
        self.built = True

    def _sync_tensors(self):
        # Module.to() may replace tensors: look each weight up again by its state_dict key.
        state = self.module.state_dict(keep_vars=True)
        for weight in self._layer_weights:
            weight.tensor = state[weight.weight_name]

    def build(self, input_shape):
        self.built = True

    def call(self, inputs, training=None):
        module = self.module
        switch = training is not None and bool(training) != module.training
        if switch:
            module.train(bool(training))
        try:
            if isinstance(inputs, (list, tuple)):
                return module(*inputs)
            return module(inputs)
        finally:
            if switch:
                module.train(not bool(training))

    def compute_output_shape(self, input_shape):
        if self._output_shape is not None:
            batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
            return (batch,) + self._output_shape
        shapes, self.output_dtype = infer_output_spec(self, input_shape)
        return shapes

    def get_config(self):
        config = super().get_config()
        config["output_shape"] = None if self._output_shape is None else list(self._output_shape)
        config["module_class"] = f"{type(self.module).__module__}.{type(self.module).__qualname__}"
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuilds the layer when the module itself is supplied: as `config['module']`, or in
        `custom_objects` under the layer's name (a torch module cannot be stored in a JSON config)."""
        config = dict(config)
        config.pop("module_class", None)
        module = config.pop("module", None)
        if module is None and custom_objects:
            module = custom_objects.get(config.get("name"))
        if not isinstance(module, nn.Module):
            raise ValueError(f"Cannot rebuild TorchModule layer {config.get('name')!r} from its config: the torch "
                             f"module is code, not data. Pass the module in `custom_objects` under the layer "
                             f"name, e.g. custom_objects={{{config.get('name')!r}: MyModule()}}, then load the "
                             f"weights.")
        return cls(module, **config)

    def __repr__(self):
        return f"<TorchModule name={self.name}, module={type(self.module).__name__}>"
