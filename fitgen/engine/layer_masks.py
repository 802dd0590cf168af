"""Keras masks: how `Layer.__call__` passes a mask into `call` and attaches `compute_mask`'s result to outputs.

A mask travels on the tensor it describes, as `tensor._keras_mask` (boolean, usually (batch, timesteps)).
Keras 2's contract, followed here as tf-keras 2.21 does: when a layer's `call` accepts `mask` and the inputs
carry masks, they are passed as `mask=`; after `call`, a layer with `supports_masking` whose outputs carry no
mask yet gets `compute_mask(inputs, mask)` attached to them (by default the input mask, unchanged). A layer
without `supports_masking` drops the mask.

fitgen's own layers written before `compute_mask` existed set their output masks inside `call`, and some
(recurrent layers without `return_sequences`, global pooling) rely on the default not running. So the contract
applies to every layer class defined outside fitgen, and to fitgen layers that define `compute_mask`
themselves; the other built-in layers keep the masks their `call` sets, which match their Keras
`compute_mask`.

Symbolic tensors carry masks too (`KerasTensor._keras_mask`, a boolean KerasTensor), for
`layer.output_mask` / `get_output_mask_at`: found by running `compute_mask` on placeholder data, as output
shapes are found for layers without `compute_output_shape`.
"""
import torch

from fitgen.engine.keras_tensor import KerasTensor, _placeholder, flatten, map_structure

_CONTRACT = {}


def follows_mask_contract(cls):
    """True when `cls` gets Keras's automatic mask handling (see the module docstring)."""
    try:
        return _CONTRACT[cls]
    except KeyError:
        result = overrides_compute_mask(cls) or not cls.__module__.startswith("fitgen.")
        _CONTRACT[cls] = result
        return result


def input_masks(inputs):
    """The masks the inputs carry, in their structure; None when none carries one."""
    if isinstance(inputs, torch.Tensor):
        return getattr(inputs, "_keras_mask", None)
    if isinstance(inputs, (list, tuple, dict)):
        masks = map_structure(lambda t: getattr(t, "_keras_mask", None), inputs)
        return masks if any(m is not None for m in flatten(masks)) else None
    return None


def attach_output_masks(layer, inputs, outputs, previous_mask):
    """Sets `compute_mask(inputs, previous_mask)` on outputs that carry no mask yet (tf-keras's rule)."""
    flat = [outputs] if isinstance(outputs, torch.Tensor) else flatten(outputs)
    if all(getattr(t, "_keras_mask", None) is not None for t in flat):
        return
    masks = layer.compute_mask(inputs, previous_mask)
    if masks is None:
        return
    for tensor, mask in zip(flat, [masks] if isinstance(masks, torch.Tensor) else flatten(masks)):
        try:
            tensor._keras_mask = mask
        except AttributeError:  # not a tensor (e.g. a Python number)
            pass


# ------------------------------------------------------------------------------------------ symbolic

def attach_symbolic_masks(layer, inputs, outputs, kwargs):
    """Gives the symbolic outputs of a layer call the masks the real call will produce."""
    previous = kwargs.get("mask") if "mask" in kwargs else _symbolic_input_masks(inputs)
    if not layer.supports_masking:
        return
    if overrides_compute_mask(type(layer)):
        masks = _run_compute_mask(layer, inputs, previous)
    else:
        masks = previous  # the default compute_mask: the input mask, unchanged
    if masks is None:
        return
    flat_masks = [masks] if not isinstance(masks, (list, tuple)) else flatten(masks)
    for tensor, mask in zip(flatten(outputs), flat_masks):
        if isinstance(tensor, KerasTensor) and isinstance(mask, KerasTensor):
            tensor._keras_mask = mask


def overrides_compute_mask(cls):
    """True when a class below `Layer` defines `compute_mask`."""
    from fitgen.engine.base_layer import Layer
    return any("compute_mask" in vars(klass) for klass in cls.__mro__
               if klass is not Layer and issubclass(klass, Layer))


def _symbolic_input_masks(inputs):
    masks = map_structure(lambda t: getattr(t, "_keras_mask", None), inputs)
    return masks if any(m is not None for m in flatten(masks)) else None


def _run_compute_mask(layer, inputs, previous):
    """Shape of compute_mask's result on placeholders of two sizes; free axes become None."""
    results = []
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            for size in (3, 5):
                real = map_structure(lambda t, s=size: _placeholder(t.shape, t.dtype, s)
                                     if isinstance(t, KerasTensor) else t, inputs)
                mask = map_structure(lambda m, s=size: _placeholder(m.shape, "bool", s)
                                     if isinstance(m, KerasTensor) else m, previous)
                results.append(layer.compute_mask(real, mask))
    except Exception:  # noqa: BLE001 - a mask that cannot be found on placeholders stays unknown (None)
        return None
    finally:
        layer.train(was_training)
    first, second = results

    def symbolic(a, b):
        if not isinstance(a, torch.Tensor):
            return None
        shape = tuple(None if (i == 0 or x != y) else int(x) for i, (x, y) in enumerate(zip(a.shape, b.shape)))
        return KerasTensor(shape, "bool", name=f"{layer.name}/mask")

    if isinstance(first, (list, tuple)):
        return [symbolic(a, b) for a, b in zip(first, second)]
    return symbolic(first, second)
