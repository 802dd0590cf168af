"""Running a SimpleRNN / LSTM / GRU computation over a whole sequence: the fastest path that keeps Keras's
numbers.

1. torch's fused kernel when nothing forbids it (default activations, no mask, no recurrent dropout);
2. a hand-differentiated loop (`fast_lstm`, `fast_gru`, `fast_simple_rnn`) for the LSTM, the GRU (reset_after)
   and SimpleRNN (tanh or relu) under recurrent dropout or a mask: the input projection is one matmul over all
   timesteps outside the loop, the loop itself only does the recurrent product and the gate arithmetic into
   preallocated buffers, and its backward pass is written out;
3. otherwise a step loop of the cell's own equations under autograd (other activations, GRU with
   reset_after=False).

Dropout follows tf-keras 2.21: a cell draws one mask per call (per gate with implementation 1) and reuses
it at every timestep; an LSTM/GRU *layer* that qualifies for cuDNN in tf-keras (tanh/sigmoid, bias, no
recurrent dropout, not unrolled) drops inputs elementwise over the whole sequence instead.
"""
import torch

from fitgen.backend.random_ops import dropout_mask


def _active(rate, training):
    # As Keras's cells: a rate of exactly 0 or 1 applies no dropout.
    return bool(training) and 0.0 < rate < 1.0


def input_dropout_masks(core, x, training):
    """Keras's cell input masks, each (N, 1, F): one per gate with implementation 1, else one."""
    if not _active(core.dropout, training):
        return None
    count = core._gates if core.implementation == 1 else 1
    shape = (x.shape[0], 1, *x.shape[2:])
    return [dropout_mask(shape, core.dropout, x.dtype, x.device) for _ in range(count)]


def recurrent_dropout_masks(core, state, training):
    """Keras's recurrent masks, one per gate, each shaped like the state."""
    if not _active(core.recurrent_dropout, training):
        return None
    return [dropout_mask(state.shape, core.recurrent_dropout, state.dtype, state.device) for _ in range(core._gates)]


def run_gate_sequence(core, x, states, mask, training, return_sequences, zero_output_for_mask=False,
                      sequence_dropout=False):
    """Runs `core` (a layer or cell with `GateCore`) over x.

    Args:
        core: the SimpleRNN / LSTM / GRU computation (weights, activations, dropout rates).
        x: (N, T, F) inputs in processing order (already flipped for go_backwards).
        states: the list of initial states.
        mask: (N, T) booleans or None.
        training: whether dropout is active.
        return_sequences: whether the full output sequence is needed.
        zero_output_for_mask: masked steps output zeros instead of repeating the last output.
        sequence_dropout: drop inputs elementwise over the whole sequence (tf-keras's cuDNN-eligible layers).

    Returns:
        (sequence (N, T, u) or None, last output (N, u), final states list).
    """
    input_masks = None
    if sequence_dropout and _active(core.dropout, training):
        x = x * dropout_mask(x.shape, core.dropout, x.dtype, x.device)
    else:
        input_masks = input_dropout_masks(core, x, training)
    recurrent_masks = recurrent_dropout_masks(core, states[0], training)
    if mask is None and recurrent_masks is None and core._fused_ok():
        if input_masks is not None and len(input_masks) == 1:
            x, input_masks = x * input_masks[0], None
        if input_masks is None and not core._trains_faster_in_loop(x):
            sequence, states = core._fused(x, states, training)
            return sequence, sequence[:, -1], states
    fast = core._fast_loop()
    if fast is not None and x.shape[1] > 0:
        return fast(core, x, states, mask, input_masks, recurrent_masks, return_sequences, zero_output_for_mask)
    return step_loop(core, x, states, mask, input_masks, recurrent_masks, return_sequences, zero_output_for_mask)


def step_loop(core, x, states, mask, input_masks, recurrent_masks, return_sequences, zero_output_for_mask):
    """The cell equations one timestep at a time, under autograd; masked steps keep the states and repeat
    the previous output (zeros before the first unmasked step, as Keras)."""
    projected = core._input_projection(x, input_masks)
    outputs = []
    previous = x.new_zeros(x.shape[0], core.units)
    output = previous
    for t in range(projected.shape[1]):
        output, new_states = core._step(projected[:, t], states, recurrent_masks)
        if mask is not None:
            keep = mask[:, t].unsqueeze(-1)
            output = torch.where(keep, output, torch.zeros_like(output) if zero_output_for_mask else previous)
            new_states = [torch.where(keep, new, old) for new, old in zip(new_states, states)]
        states, previous = new_states, output
        if return_sequences:
            outputs.append(output)
    sequence = torch.stack(outputs, dim=1) if return_sequences and outputs else None
    if return_sequences and not outputs:
        sequence = x.new_zeros(x.shape[0], 0, core.units)
    return sequence, output, states
