"""Graph helpers of Keras 2's `keras.utils.layer_utils`: `get_source_inputs`."""
from fitgen.engine.keras_tensor import KerasTensor


def get_source_inputs(tensor, layer=None, node_index=None):
    """The `Input` tensors a symbolic tensor is computed from, as a list (each once, in graph order).

    Args:
        tensor: a symbolic tensor (from `fitgen.Input` or a layer called on one). Anything else is returned
            as is, as Keras does.
        layer, node_index: accepted for Keras 2 compatibility; the tensor's own history is used.

    Returns:
        A list of the input tensors.
    """
    if not isinstance(tensor, KerasTensor):
        return tensor
    sources, seen, stack = [], set(), [tensor]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        inbound = current.node.inbound_tensors
        if not inbound:
            sources.append(current)
        else:
            stack.extend(reversed(inbound))
    return sources
