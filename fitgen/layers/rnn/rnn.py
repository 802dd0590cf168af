"""`RNN`: Keras 2's recurrent layer around a cell, and what every recurrent layer shares (initial and
stateful states, masks, go_backwards, time_major, return_state, constants, config).
"""
import inspect

import numpy as np
import torch
from torch import nn

from fitgen import backend
from fitgen.engine import call_context, keras_tensor
from fitgen.engine.base_layer import Layer, _module_device
from fitgen.layers.rnn import states as state_utils
from fitgen.layers.rnn.cells import GateCell
from fitgen.layers.rnn.sequence import run_gate_sequence
from fitgen.layers.rnn.stacked import StackedRNNCells

_STATEFUL_BATCH = ("If a RNN is stateful, it needs to know its batch size. Specify the batch size of your input "
                   "tensors: \n- If using a Sequential model, specify the batch size by passing a "
                   "`batch_input_shape` argument to your first layer.\n- If using the functional API, specify "
                   "the batch size by passing a `batch_shape` argument to your Input layer.")


class RNN(Layer):
    """Base class for recurrent layers: runs a cell over the timesteps of its input, as `keras.layers.RNN`.

    A cell is any object with a `call(inputs, states)` method returning `(output, new_states)` (optionally
    taking `training` and `constants` arguments) and a `state_size` attribute (an int, a `torch.Size`, or a
    list/tuple of them, one per state; nested lists allowed), optionally an `output_size` and a
    `get_initial_state(inputs=None, batch_size=None, dtype=None)`. A cell that is a fitgen `Layer` creates its
    weights in `build(input_shape)` (input_shape = (batch, features)); they are named `rnn/<cell>/<weight>`.
    `SimpleRNNCell`, `LSTMCell` and `GRUCell` inside an RNN run on the same fast paths as the SimpleRNN,
    LSTM and GRU layers.

    ```python
    cell = MinimalRNNCell(32)            # a user-written cell (see Keras's docs)
    y = RNN(cell)(Input((None, 5)))
    y = RNN([LSTMCell(32), LSTMCell(64)], return_sequences=True)(x)   # a list becomes StackedRNNCells
    ```

    Args:
        cell: an RNN cell, or a list of cells (stacked).
        return_sequences: return the full output sequence instead of the last output.
        return_state: also return the final states (flattened): `[output] + states`.
        go_backwards: process the input sequence backwards (the output sequence is in reversed order).
        stateful: the last states of each batch are the initial states of the next (needs a fixed batch size:
            `batch_input_shape` / `batch_size` / `Input(batch_shape=...)`); `reset_states()` clears them.
        unroll: accepted for compatibility (the loops are unrolled Python loops either way); as in Keras, an
            unrolled RNN needs a known number of timesteps.
        time_major: inputs and outputs are (timesteps, batch, ...).
        zero_output_for_mask: masked timesteps output zeros instead of repeating the last output.

    Call arguments: `inputs` (batch, timesteps, ...), or a list `[inputs, *initial_state, *constants]`;
    `mask` (batch, timesteps) booleans, or the inputs' Keras mask (from `Embedding(mask_zero=True)` or
    `Masking`): masked timesteps keep the states and repeat the last output; `training`; `initial_state`: a
    list of state tensors (symbolic ones in the functional API); `constants`: tensors passed to every
    `cell.call(..., constants=...)`.
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, time_major=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        check_cell(cell, "cell")
        num_constants = kwargs.pop("num_constants", 0) or 0
        zero_output_for_mask = kwargs.pop("zero_output_for_mask", False)
        super().__init__(**kwargs)
        if isinstance(cell, nn.Module):
            self._cell = cell
        else:
            object.__setattr__(self, "_cell", cell)
        self._init_rnn(return_sequences, return_state, go_backwards, stateful, unroll, time_major,
                       zero_output_for_mask)
        self._num_constants = int(num_constants)

    def _init_rnn(self, return_sequences, return_state, go_backwards, stateful, unroll, time_major,
                  zero_output_for_mask=False):
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.time_major = bool(time_major)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self._num_constants = 0
        self._states = None
        self._stateful_batch = None

    @property
    def cell(self):
        return self._cell

    @property
    def state_size(self):
        return self.cell.state_size

    def _state_shapes(self):
        return state_utils.flat_state_shapes(self.state_size)

    @property
    def states(self):
        """The stateful layer's current states (a list; None entries before the first call)."""
        if self._states is None:
            return [None] * len(self._state_shapes())
        return list(self._states)

    @states.setter
    def states(self, values):
        self._states = None if values is None or all(v is None for v in values) else list(values)

    # ---------------------------------------------------------------------------------------- building
    def build(self, input_shape):
        shapes = input_shape if _is_shape_list(input_shape) else [input_shape]
        x_shape = tuple(shapes[0])
        self._check_input_rank(x_shape)
        batch, steps = (x_shape[1], x_shape[0]) if self.time_major else (x_shape[0], x_shape[1])
        if self.unroll and steps is None:
            raise ValueError("Cannot unroll a RNN if the time dimension is undefined. Specify the number of "
                             "timesteps in the input shape (e.g. `input_shape=(timesteps, features)`, or "
                             "`input_length` on an Embedding).")
        if self.stateful:
            if batch is None:
                raise ValueError(_STATEFUL_BATCH)
            self._stateful_batch = int(batch)
        constants = [tuple(s) for s in shapes[len(shapes) - self._num_constants:]] if self._num_constants else []
        self._build_cell((batch,) + x_shape[2:], constants)
        self.built = True

    # The input rank the layer needs: None for a wrapped cell (at least 3: batch, time, features...); the
    # built-in recurrent layers fix it (3, or 5 for ConvLSTM2D).
    _input_ndim = None

    def _check_input_rank(self, shape):
        ndim = self._input_ndim
        if len(shape) < 3 if ndim is None else len(shape) != ndim:
            expected = "ndim>=3" if ndim is None else f"ndim={ndim}"
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: expected {expected}, "
                             f"found ndim={len(shape)}. Full shape received: {shape}")

    def _build_cell(self, step_shape, constants_shapes):
        cell = self.cell
        shape = [step_shape] + constants_shapes if constants_shapes else step_shape
        if isinstance(cell, Layer):
            if not cell.built:
                cell._maybe_build(shape)
            state_utils.scope_cell_weights(self, cell)
        elif hasattr(cell, "build") and not getattr(cell, "built", False):
            cell.build(shape)

    # ----------------------------------------------------------------------------------------- calling
    def __call__(self, inputs, *args, initial_state=None, constants=None, **kwargs):
        initial_state, constants = state_utils.as_list(initial_state), state_utils.as_list(constants)
        if constants:
            if not _accepts(self.cell.call, "constants"):
                raise ValueError(f"RNN cell {self.cell!r} does not support constants (its `call` has no `constants` "
                                 f"argument). Received: constants={constants!r}")
            self._num_constants = len(constants)
        extra = (initial_state or []) + (constants or [])
        if extra and any(isinstance(t, keras_tensor.KerasTensor) for t in extra):
            # As tf-keras: symbolic states and constants become inputs of the node ([x, *states, *constants]).
            return super().__call__([inputs] + extra, *args, **kwargs)
        if constants and not self.built and not keras_tensor.is_symbolic(inputs):
            self._maybe_build([tuple(inputs.shape)] + [tuple(c.shape) for c in constants], inputs.device)
        if initial_state is not None:
            kwargs["initial_state"] = initial_state
        if constants is not None:
            kwargs["constants"] = constants
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, mask=None, training=None, initial_state=None, constants=None):
        inputs, initial_state, constants = self._split_inputs(inputs, initial_state, constants)
        training = self.training if training is None else bool(training)
        if mask is None:
            mask = getattr(inputs, "_keras_mask", None)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask
        x = inputs.transpose(0, 1) if self.time_major else inputs  # batch-major view
        if not x.is_floating_point():
            x = x.to(backend.torch_dtype(self.dtype))
        states = self._initial_states(x, initial_state)
        if mask is not None:
            mask = torch.as_tensor(mask, device=x.device).to(torch.bool)
            if mask.dim() != 2:
                raise ValueError(f"Layer {self.name!r} takes a mask of one value per timestep, shape (batch, "
                                 f"timesteps); received a mask of shape {tuple(mask.shape)} (Masking on "
                                 f"{x.dim()}-D inputs masks each position). Pass `mask=` with one value per "
                                 "timestep instead.")
            if self.time_major:
                mask = mask.transpose(0, 1)
            # An all-True mask takes the unmasked (fused) path; a traced step (jit_compile) cannot read the mask's
            # values and keeps the masked path, which gives the same numbers.
            if not call_context.is_tracing() and bool(mask.all()):
                mask = None
        if self.go_backwards:
            x = torch.flip(x, dims=(1,))
            mask = None if mask is None else torch.flip(mask, dims=(1,))
        self._reset_dropout_masks()
        sequence, last, states = self._run_sequence(x, states, mask, training, constants)
        return self._finish(output_mask, sequence, last, states)

    def _split_inputs(self, inputs, initial_state, constants):
        """(inputs, initial_state, constants) from Keras's list form `[x, *states, *constants]`."""
        if isinstance(inputs, (list, tuple)):
            inputs = list(inputs)
            if self._num_constants:
                constants = inputs[len(inputs) - self._num_constants:]
                inputs = inputs[:len(inputs) - self._num_constants]
            initial_state = inputs[1:] or initial_state
            inputs = inputs[0]
        return inputs, state_utils.as_list(initial_state), state_utils.as_list(constants)

    def _run_sequence(self, x, states, mask, training, constants):
        """(sequence or None, last output, final states) for x (N, T, ...) in processing order."""
        cells = getattr(self.cell, "cells", [self.cell])
        if not constants and all(_runs_gate_sequence(c) for c in cells):
            # Built-in cells run on the fused / hand-differentiated paths; stacked ones layer by layer, which
            # gives the same numbers as stepping them together (masked steps discard every new state).
            finals, start, sequence = [], 0, x
            for k, cell in enumerate(cells):
                top = k == len(cells) - 1
                count = len(state_utils.flat_state_shapes(cell.state_size))
                sequence, last, new = run_gate_sequence(
                    cell, sequence, states[start:start + count], mask, training,
                    return_sequences=self.return_sequences or not top,
                    zero_output_for_mask=self.zero_output_for_mask and top)
                finals += new
                start += count
            return sequence, last, finals
        return cell_loop(self.cell, x, states, mask, training, constants, self.return_sequences,
                         self.zero_output_for_mask)

    def _reset_dropout_masks(self):
        for cell in getattr(self.cell, "cells", [self.cell]):
            if cell is not self and hasattr(cell, "reset_dropout_mask"):
                cell.reset_dropout_mask()
                cell.reset_recurrent_dropout_mask()

    def _finish(self, mask, sequence, last, states):
        if self.stateful:
            self._store_states(states)
        if self.return_sequences:
            output = sequence.transpose(0, 1) if self.time_major else sequence
            if mask is not None:
                output._keras_mask = mask
        else:
            output = last
        if self.return_state:
            return [output] + list(states)
        return output

    # ------------------------------------------------------------------------------------------ states
    def get_initial_state(self, inputs):
        """The zero states (or the cell's `get_initial_state`) for a batch like `inputs`, as a flat list."""
        x = keras_tensor.flatten(inputs)[0]
        batch = x.shape[1] if self.time_major else x.shape[0]
        dtype = x.dtype if x.is_floating_point() else backend.torch_dtype(self.dtype)
        return self._zero_states(batch, dtype, x.device)

    def _zero_states(self, batch, dtype, device):
        maker = getattr(self.cell, "get_initial_state", None) if self.cell is not self else None
        if maker is not None:
            made = maker(inputs=None, batch_size=batch, dtype=str(dtype).replace("torch.", ""))
            return [torch.as_tensor(s, dtype=dtype, device=device) for s in state_utils.flatten_states(made)]
        return [torch.zeros((batch,) + shape, dtype=dtype, device=device) for shape in self._state_shapes()]

    def _initial_states(self, x, initial_state):
        shapes, batch = self._state_shapes(), x.shape[0]
        if initial_state is not None:
            flat = state_utils.flatten_states(initial_state)
            if len(flat) != len(shapes):
                raise ValueError(f"Layer {self.name!r} expects {len(shapes)} initial state tensor(s) of shape(s) "
                                 f"{[(batch,) + s for s in shapes]}; received {len(flat)}.")
            states = []
            for state, shape in zip(flat, shapes):
                state = torch.as_tensor(state, dtype=x.dtype, device=x.device)
                if tuple(state.shape) != (batch,) + shape:
                    raise ValueError(f"An initial state of layer {self.name!r} must have shape "
                                     f"{(batch,) + shape}; received {tuple(state.shape)}.")
                states.append(state)
            # As tf-keras: a stateful layer's own (non-zero) states win over the given initial state.
            if not (self.stateful and self._states is not None and any(bool(s.any()) for s in self._states)):
                return states
        if self.stateful and self._states is not None:
            if self._states[0].shape[0] != batch:
                raise ValueError(f"Stateful layer {self.name!r} holds states for batch size "
                                 f"{self._states[0].shape[0]}, but received a batch of {batch}. A stateful RNN "
                                 "needs the same batch size on every call (or call reset_states()).")
            return [s.to(device=x.device, dtype=x.dtype) for s in self._states]
        return self._zero_states(batch, x.dtype, x.device)

    def _store_states(self, states):
        stored = []
        for state in states:
            state = state.detach()
            if state.is_inference():
                # Made under predict's inference mode: a plain copy, so that a later training step can use it.
                with torch.inference_mode(False):
                    state = state.clone()
            stored.append(state)
        self._states = stored

    def reset_states(self, states=None):
        """Resets a stateful layer's states to zeros, or to `states` (arrays of shape (batch, ...), one per
        state).

        Raises:
            AttributeError: if the layer is not stateful.
            ValueError: for a wrong number of states or a wrong shape.
        """
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        shapes = self._state_shapes()
        batch = self._stateful_batch
        if batch is None and self._states is not None:
            batch = self._states[0].shape[0]
        device = _module_device(self, torch.device("cpu"))
        dtype = backend.torch_dtype(self.dtype)
        if states is None:
            self._states = None if batch is None else self._zero_states_plain(batch, dtype, device)
            return
        values = state_utils.flatten_states(states)
        if len(values) != len(shapes):
            raise ValueError(f"Layer {self.name} expects {len(shapes)} states, but it received {len(values)} state "
                             f"values. States received: {states!r}")
        new = []
        with torch.inference_mode(False):
            for index, (value, shape) in enumerate(zip(values, shapes)):
                value = torch.as_tensor(np.asarray(value.detach().cpu() if torch.is_tensor(value) else value),
                                        dtype=dtype).to(device)
                expected = ((batch if batch is not None else value.shape[0]),) + shape
                if tuple(value.shape) != expected:
                    raise ValueError(f"State {index} is incompatible with layer {self.name}: expected shape="
                                     f"{expected} but found shape={tuple(value.shape)}")
                new.append(value)
        self._states = new

    def _zero_states_plain(self, batch, dtype, device):
        with torch.inference_mode(False):
            return self._zero_states(batch, dtype, device)

    # ------------------------------------------------------------------------------------------ shapes
    def _output_dims(self):
        size = getattr(self.cell, "output_size", None)
        if size is None:
            return self._state_shapes()[0]
        return state_utils.flat_state_shapes(size)[0]

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0] if _is_shape_list(input_shape) else input_shape)
        batch, steps = (shape[1], shape[0]) if self.time_major else (shape[0], shape[1])
        dims = self._output_dims()
        if self.return_sequences:
            output = (steps, batch) + dims if self.time_major else (batch, steps) + dims
        else:
            output = (batch,) + dims
        if self.return_state:
            return [output] + [(batch,) + s for s in self._state_shapes()]
        return output

    def compute_mask(self, inputs, mask=None):
        """The output mask: the input mask with `return_sequences`, else None (and None for each state)."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self._state_shapes())
        return output_mask

    # ------------------------------------------------------------------------------------------ config
    def _rnn_config(self):
        return {"return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                "time_major": self.time_major}

    def get_config(self):
        config = super().get_config()
        config.update(self._rnn_config())
        if self._num_constants:
            config["num_constants"] = self._num_constants
        if self.zero_output_for_mask:
            config["zero_output_for_mask"] = True
        config["cell"] = state_utils.serialize_cell(self.cell)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fitgen.saving.serialization import deserialize_layer
        config = dict(config)
        cell = deserialize_layer(config.pop("cell"), custom_objects=custom_objects)
        return cls(cell, **config)


def check_cell(cell, argument):
    if not hasattr(cell, "call"):
        raise ValueError(f"Argument `{argument}` should have a `call` method. The RNN was passed: "
                         f"{argument}={cell!r}")
    if not hasattr(cell, "state_size"):
        raise ValueError("The RNN cell should have a `state_size` attribute (tuple of integers, one integer per "
                         f"RNN state). Received: {argument}={cell!r}")


def _is_shape_list(shape):
    return isinstance(shape, list) and bool(shape) and isinstance(shape[0], (list, tuple))


def _runs_gate_sequence(cell):
    return isinstance(cell, GateCell) and type(cell).call is GateCell.call


def _accepts(fn, name):
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def cell_loop(cell, x, states, mask, training, constants, return_sequences, zero_output_for_mask):
    """Any cell, one timestep at a time: Keras's `K.rnn` (masked steps keep the states and repeat the last
    output, zeros before the first kept step)."""
    call = cell if isinstance(cell, Layer) else cell.call
    kwargs = {}
    if _accepts(cell.call, "training"):
        kwargs["training"] = training
    if constants:
        if not _accepts(cell.call, "constants"):
            raise ValueError(f"RNN cell {cell!r} does not support constants. Received: constants={constants!r}")
        kwargs["constants"] = constants
    outputs, previous = [], None
    for t in range(x.shape[1]):
        output, new_states = call(x[:, t], state_utils.pack_states(cell.state_size, states), **kwargs)
        new_states = state_utils.flatten_states(new_states)
        if len(new_states) != len(states):
            raise ValueError(f"RNN cell {cell!r} returned {len(new_states)} state(s); its `state_size` "
                             f"{cell.state_size!r} declares {len(states)}.")
        if mask is not None:
            keep = mask[:, t]
            fallback = torch.zeros_like(output) if previous is None or zero_output_for_mask else previous
            output = torch.where(state_utils.keep_mask(keep, output), output, fallback)
            new_states = [torch.where(state_utils.keep_mask(keep, new), new, old)
                          for new, old in zip(new_states, states)]
        states, previous = new_states, output
        if return_sequences:
            outputs.append(output)
    sequence = torch.stack(outputs, dim=1) if return_sequences else None
    return sequence, previous, states
