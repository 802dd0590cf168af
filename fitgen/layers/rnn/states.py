"""RNN state structures and cell weight names.

A cell's `state_size` is an int (one state of shape (batch, n)), a `torch.Size` (one state of that
per-sample shape), or a list/tuple of those, possibly nested (several states). The RNN layer keeps its
states as one flat list; a cell receives them packed back into its own structure (a list at the top level,
as Keras 2 passes them) and may return them flat or nested.
"""
import numbers

import torch

from fitgen.engine.base_layer import Layer, LayerWeight


def is_leaf(size):
    return isinstance(size, (numbers.Integral, torch.Size)) and not isinstance(size, bool)


def flat_state_shapes(state_size):
    """Per-sample shapes (tuples) of the states, flattened in order."""
    if is_leaf(state_size):
        return [(int(state_size),) if isinstance(state_size, numbers.Integral) else tuple(state_size)]
    if isinstance(state_size, (list, tuple)):
        return [shape for size in state_size for shape in flat_state_shapes(size)]
    raise ValueError("A cell's `state_size` must be an int, a torch.Size, or a (nested) list/tuple of them. "
                     f"Received: state_size={state_size!r}")


def pack_states(state_size, flat):
    """The flat state list packed as the cell's `state_size` nests it (a list at the top level)."""
    values = iter(flat)

    def build(size):
        if is_leaf(size):
            return next(values)
        return [build(s) for s in size]

    return [build(state_size)] if is_leaf(state_size) else [build(s) for s in state_size]


def flatten_states(states):
    """The tensors of a (nested) state structure, in order."""
    if isinstance(states, (list, tuple)):
        return [t for s in states for t in flatten_states(s)]
    return [states]


def as_list(value):
    """None, or a list (a single tensor becomes a one-element list)."""
    if value is None:
        return None
    return list(value) if isinstance(value, (list, tuple)) else [value]


def keep_mask(keep, like):
    """(N,) booleans shaped to broadcast against `like` (N, ...)."""
    return keep.reshape((keep.shape[0],) + (1,) * (like.dim() - 1))


class CellWeight(LayerWeight):
    """A cell's weight, named as the layers around the cell name it: `rnn/lstm_cell/kernel`, as tf-keras
    names the weights of `RNN(LSTMCell(...))` (and `rnn/stacked_rnn_cells/lstm_cell/kernel` when stacked)."""

    @property
    def path(self):
        return "/".join([scope.name for scope in self.scopes] + [self.layer.name, self.weight_name])


def scope_cell_weights(owner, cell):
    """Prefixes the names of `cell`'s (and its nested cells') weights with `owner`'s name."""
    if not isinstance(cell, Layer):
        return
    for weight in cell._own_and_nested_weights():
        if not isinstance(weight, CellWeight):
            weight.__class__ = CellWeight
            weight.scopes = []
        if owner not in weight.scopes:
            weight.scopes.insert(0, owner)


def serialize_cell(cell):
    """A cell's `{"class_name", "config", ...}` entry, as tf-keras nests it in an RNN's config."""
    from fitgen.saving.serialization import serialize_layer
    if not isinstance(cell, Layer):
        return {"class_name": type(cell).__name__, "config": cell.get_config()}
    entry = serialize_layer(cell)
    entry.pop("build_config", None)
    return entry
