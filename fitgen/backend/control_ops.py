"""Keras 2 backend control flow: the learning phase, `in_train_phase`, `switch`, `stop_gradient`, `rnn`,
`map_fn`, `foldl`, `foldr`.

fitgen has no learning-phase placeholder: unless `K.set_learning_phase(0|1)` fixed it, the phase is that of
the code running now (fitgen/engine/call_context.py: 1 in a train step, 0 in a test or predict step, and the
training flag of the layer a user calls directly). `K.learning_phase()` then returns a stand-in that reads it
when used as a number, and that `K.function` accepts among its inputs, as Keras 2 code passes it.
"""
import torch

from fitgen.backend import common
from fitgen.backend.conversion import to_tensor
from fitgen.backend.dispatch import keras_op

_PHASE = None


class LearningPhase:
    """What `K.learning_phase()` returns while no phase is set: 1 while training code runs, else 0."""

    def __int__(self):
        return current_phase()

    __index__ = __int__

    def __bool__(self):
        return bool(current_phase())

    def __eq__(self, other):
        return current_phase() == other

    __hash__ = object.__hash__

    def __repr__(self):
        return "<fitgen learning phase (0 = test, 1 = train)>"


LEARNING_PHASE = LearningPhase()


def learning_phase():
    """The learning phase: the value given to `set_learning_phase`, else a stand-in for the current phase."""
    return LEARNING_PHASE if _PHASE is None else _PHASE


def set_learning_phase(value):
    """Fixes the learning phase used by backend functions (`in_train_phase`, ...): 0 = test, 1 = train.

    Layers keep following `fit`/`predict` (their torch training flag); only the backend functions read it.

    Raises:
        ValueError: for a value other than 0 or 1.
    """
    global _PHASE
    if value not in (0, 1):
        raise ValueError(f"Expected learning phase to be 0 or 1. Received: {value!r}")
    _PHASE = int(value)


def reset_learning_phase():
    global _PHASE
    _PHASE = None


def current_phase():
    """0 or 1: the fixed phase, or that of the code running now (fitgen.engine.call_context.PHASE)."""
    if _PHASE is not None:
        return _PHASE
    return common.PHASE[0]


def _phase_value(training):
    if training is None:
        training = learning_phase()
    if isinstance(training, LearningPhase):
        return current_phase()
    if isinstance(training, torch.Tensor) and training.numel() == 1:
        return int(bool(training))
    return training


def _value(expression):
    return expression() if callable(expression) else expression


@keras_op("K.switch")
def switch(condition, then_expression, else_expression):
    """`then_expression` where `condition` holds, else `else_expression` (either may be a callable).

    A scalar condition chooses one expression (only that callable runs); a tensor condition selects
    elementwise, broadcast over the expressions' trailing axes.

    Raises:
        ValueError: if the condition has more axes than the expressions.
    """
    if isinstance(condition, torch.Tensor) and condition.numel() != 1:
        then_value, else_value = to_tensor(_value(then_expression)), to_tensor(_value(else_expression))
        if condition.dim() > then_value.dim():
            raise ValueError(f"Rank of `condition` should be less than or equal to rank of `then_expression` and "
                             f"`else_expression`. ndim(condition)={condition.dim()}, "
                             f"ndim(then_expression)={then_value.dim()}")
        condition = condition.to(then_value.device).bool()
        while condition.dim() < then_value.dim():
            condition = condition.unsqueeze(-1)
        return torch.where(condition, then_value, else_value.to(then_value.device, then_value.dtype))
    if isinstance(condition, torch.Tensor):
        condition = bool(condition)
    return to_tensor(_value(then_expression if condition else else_expression))


@keras_op("K.in_train_phase")
def in_train_phase(x, alt, training=None):
    """`x` in the training phase, `alt` otherwise (either may be a callable); `training` overrides the phase."""
    training = _phase_value(training)
    if isinstance(training, torch.Tensor):
        return switch(training, x, alt)
    return _value(x) if training else _value(alt)


@keras_op("K.in_test_phase")
def in_test_phase(x, alt, training=None):
    """`x` in the test phase, `alt` in the training phase."""
    return in_train_phase(alt, x, training=training)


def stop_gradient(variables):
    """`variables` (a tensor or a list of them) cut from the autograd graph."""
    if isinstance(variables, (list, tuple)):
        return [stop_gradient(v) for v in variables]
    return _stop_gradient(variables)


@keras_op("K.stop_gradient")
def _stop_gradient(x):
    return to_tensor(x).detach()


@keras_op("K.rnn")
def rnn(step_function, inputs, initial_states, go_backwards=False, mask=None, constants=None, unroll=False,
        input_length=None, time_major=False, zero_output_for_mask=False, return_all_outputs=True):
    """Iterates `step_function` over the time axis of `inputs`, as Keras 2's `K.rnn`.

    Args:
        step_function: `(input_t, states) -> (output_t, new_states)`; `states` is the list of states followed
            by `constants`.
        inputs: `(batch, time, ...)` (`(time, batch, ...)` with `time_major=True`).
        initial_states: list of `(batch, ...)` tensors.
        go_backwards: iterate from the last step to the first (outputs come in that order).
        mask: `(batch, time)` booleans; at a masked step the states are kept and the output repeats the
            previous one (zeros with `zero_output_for_mask=True`, and zeros before the first real step).
        constants: tensors passed to every step after the states.
        unroll, input_length: accepted for compatibility; the loop is always a Python loop.
        return_all_outputs: False keeps only the last step in `outputs`.

    Returns:
        `(last_output, outputs, new_states)`: `outputs` is `(batch, time, ...)` (time-major if the input was).
    """
    inputs = to_tensor(inputs)
    if inputs.dim() < 3:
        raise ValueError(f"rnn expects inputs of rank 3 or more (batch, time, ...). Received shape "
                         f"{tuple(inputs.shape)}.")
    steps = inputs.unbind(0 if time_major else 1)
    states = list(initial_states or [])
    constants = list(constants or [])
    masks = None
    if mask is not None:
        mask = to_tensor(mask).to(inputs.device).bool()
        if mask.dim() == 3:
            mask = mask.squeeze(-1)
        masks = mask.unbind(0 if time_major else 1)
    order = range(len(steps) - 1, -1, -1) if go_backwards else range(len(steps))
    outputs, previous = [], None
    for t in order:
        output, new_states = step_function(steps[t], list(states) + constants)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        if masks is not None:
            keep = masks[t]
            if previous is None or zero_output_for_mask:
                previous = torch.zeros_like(output)
            output = torch.where(_expand(keep, output), output, previous)
            new_states = [torch.where(_expand(keep, new), new, old) for new, old in zip(new_states, states)]
        previous = output
        states = new_states
        if return_all_outputs or not outputs:
            outputs.append(output)
        else:
            outputs[0] = output
    stacked = torch.stack(outputs, dim=0 if time_major else 1)
    return outputs[-1], stacked, states


def _expand(mask, like):
    while mask.dim() < like.dim():
        mask = mask.unsqueeze(-1)
    return mask


@keras_op("K.map_fn")
def map_fn(fn, elems, name=None, dtype=None):
    """`fn` applied to each element of `elems` along its first axis, results stacked."""
    return torch.stack([to_tensor(fn(e)) for e in to_tensor(elems).unbind(0)])


@keras_op("K.foldl")
def foldl(fn, elems, initializer=None, name=None):
    """Reduces `elems` along its first axis from the left: `acc = fn(acc, x)`, starting from `initializer`
    (or the first element)."""
    items = list(to_tensor(elems).unbind(0))
    accumulator = items.pop(0) if initializer is None else initializer
    for item in items:
        accumulator = fn(accumulator, item)
    return accumulator


@keras_op("K.foldr")
def foldr(fn, elems, initializer=None, name=None):
    """Reduces `elems` along its first axis from the right (starting from the last element)."""
    items = list(to_tensor(elems).unbind(0))[::-1]
    accumulator = items.pop(0) if initializer is None else initializer
    for item in items:
        accumulator = fn(accumulator, item)
    return accumulator
