"""`StackedRNNCells`: several cells run as one (each cell's output is the next cell's input)."""
import torch
from torch import nn

from fitgen import backend
from fitgen.engine.base_layer import Layer
from fitgen.layers.rnn import states as state_utils


class StackedRNNCells(Layer):
    """Wraps a list of RNN cells into one cell, as `keras.layers.StackedRNNCells`.

    `RNN([cell_1, cell_2])` builds one for you. The states are the cells' states in order, flattened (as
    Keras 2 keeps them: `[h_1, c_1, h_2, c_2]` for two LSTM cells); the output is the last cell's output.
    Weights are named `rnn/stacked_rnn_cells/<cell>/<weight>`. Built-in cells inside an RNN still run on the
    fused / fast paths, one cell after the other over the whole sequence.

    Args:
        cells: a list of RNN cells (objects with `call(inputs, states)` and `state_size`).
    """

    def __init__(self, cells, **kwargs):
        from fitgen.layers.rnn.rnn import check_cell
        if kwargs.pop("reverse_state_order", False):
            raise ValueError("`reverse_state_order=True` (a deprecated tf-keras option) is not supported: the states "
                             "are in the cells' order.")
        cells = list(cells)
        if not cells:
            raise ValueError("StackedRNNCells needs at least one cell. Received: cells=[]")
        for cell in cells:
            check_cell(cell, "cells")
        super().__init__(**kwargs)
        self._cell_modules = nn.ModuleList([c for c in cells if isinstance(c, nn.Module)])
        object.__setattr__(self, "cells", cells)

    @property
    def state_size(self):
        sizes = []
        for cell in self.cells:
            size = cell.state_size
            sizes.extend(size if isinstance(size, (list, tuple)) else [size])
        return tuple(sizes)

    @property
    def output_size(self):
        last = self.cells[-1]
        if getattr(last, "output_size", None) is not None:
            return last.output_size
        size = last.state_size
        return size[0] if isinstance(size, (list, tuple)) else size

    def build(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer):
                if not cell.built:
                    cell._maybe_build(shape)
                state_utils.scope_cell_weights(self, cell)
            elif hasattr(cell, "build") and not getattr(cell, "built", False):
                cell.build(shape)
            shape = (shape[0],) + state_utils.flat_state_shapes(_output_size(cell))[0]
        self.built = True

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """The cells' initial states, flattened in order."""
        states = []
        for cell in self.cells:
            maker = getattr(cell, "get_initial_state", None)
            if maker is not None:
                states.extend(state_utils.flatten_states(maker(inputs=inputs, batch_size=batch_size, dtype=dtype)))
            else:
                if inputs is not None:
                    batch_size, dtype = inputs.shape[0], inputs.dtype
                torch_dtype = dtype if isinstance(dtype, torch.dtype) else backend.torch_dtype(dtype or self.dtype)
                states.extend(torch.zeros((batch_size,) + shape, dtype=torch_dtype)
                              for shape in state_utils.flat_state_shapes(cell.state_size))
        return states

    def call(self, inputs, states, constants=None, training=None):
        from fitgen.layers.rnn.rnn import _accepts
        flat = state_utils.flatten_states(states)
        new_states, start = [], 0
        for cell in self.cells:
            count = len(state_utils.flat_state_shapes(cell.state_size))
            kwargs = {}
            if _accepts(cell.call, "training"):
                kwargs["training"] = training
            if constants is not None and _accepts(cell.call, "constants"):
                kwargs["constants"] = constants
            call = cell if isinstance(cell, Layer) else cell.call
            inputs, cell_states = call(inputs, state_utils.pack_states(cell.state_size, flat[start:start + count]),
                                       **kwargs)
            new_states.extend(state_utils.flatten_states(cell_states))
            start += count
        return inputs, new_states

    def reset_dropout_mask(self):
        for cell in self.cells:
            if hasattr(cell, "reset_dropout_mask"):
                cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self):
        for cell in self.cells:
            if hasattr(cell, "reset_recurrent_dropout_mask"):
                cell.reset_recurrent_dropout_mask()

    def get_config(self):
        config = super().get_config()
        config["cells"] = [state_utils.serialize_cell(cell) for cell in self.cells]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fitgen.saving.serialization import deserialize_layer
        config = dict(config)
        cells = [deserialize_layer(c, custom_objects=custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    size = cell.state_size
    return size[0] if isinstance(size, (list, tuple)) else size
