"""Keras 2's graph-mode backend functions, in an eager library.

`K.function(inputs, outputs)` works when its inputs and outputs are symbolic tensors of a functional model (the
classic `K.function([model.input, K.learning_phase()], [model.layers[3].output])`): it runs the layers between
them on the arrays it is given and returns NumPy arrays. Everything that needs a TensorFlow graph or session
(`K.placeholder`, `K.gradients`, `K.get_session`, `K.function` on placeholders or with `updates`) raises an
error that says what to use instead.
"""
import contextlib

import numpy as np
import torch

from fitgen.backend import common
from fitgen.backend.control_ops import LearningPhase
from fitgen.engine.input_layer import InputLayer
from fitgen.engine.keras_tensor import KerasTensor, flatten, map_structure

_EAGER = ("fitgen runs eagerly on PyTorch: there is no TensorFlow graph or session. ")


def placeholder(shape=None, ndim=None, dtype=None, sparse=False, name=None):
    """Raises: fitgen has no placeholders (use `fitgen.layers.Input` for a model input)."""
    raise RuntimeError(_EAGER + "`K.placeholder` has no equivalent: use `fitgen.layers.Input(shape)` to start a "
                       "functional model, and call the model (or `K.function` on its tensors) on arrays.")


def is_placeholder(x):
    """True for a symbolic model input (`Input()`), the closest thing fitgen has to a placeholder."""
    return isinstance(x, KerasTensor) and isinstance(x._keras_history[0], InputLayer)


def gradients(loss, variables):
    """Raises: symbolic gradients do not exist in an eager library."""
    raise RuntimeError(_EAGER + "`K.gradients` has no equivalent: compute the loss on tensors and use "
                       "`torch.autograd.grad(loss, params)` (or `loss.backward()`), or override `train_step` in a "
                       "Model subclass for a custom training loop.")


def get_session():
    """Raises: there is no session."""
    raise RuntimeError(_EAGER + "`K.get_session` has no equivalent: values are computed immediately; read them with "
                       "`K.get_value(x)` / `K.eval(x)`, and run a model with `model.predict` or by calling it.")


def set_session(session):
    """Raises: there is no session to set."""
    raise RuntimeError(_EAGER + "`K.set_session` has no equivalent; choose the device with "
                       "`fitgen.backend.set_device('cuda:0')` instead of a session config.")


def manual_variable_initialization(value):
    """Accepted for compatibility: variables are always initialised when created."""


@contextlib.contextmanager
def name_scope(name):
    """A no-op context (names are not scoped in fitgen); yields `name`."""
    yield name


def function(inputs, outputs, updates=None, name=None, **kwargs):
    """A callable running the functional-graph layers between `inputs` and `outputs` on arrays.

    Args:
        inputs: list of symbolic tensors of a built model; `K.learning_phase()` may be among them (feed 0 for
            test, 1 for train).
        outputs: a symbolic tensor or list of them.
        updates: must be empty (fitgen does not run graph update ops).

    Returns:
        `f(list_of_arrays) -> list of NumPy arrays`.

    Raises:
        RuntimeError: for non-symbolic inputs (placeholders do not exist) or `updates`.
    """
    if updates:
        raise RuntimeError(_EAGER + "`K.function(..., updates=...)` cannot run update ops: write the training step "
                           "with torch (`loss.backward()`, `optimizer.step()`) or override `Model.train_step`.")
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    for value in inputs:
        if not isinstance(value, (KerasTensor, LearningPhase, int)):
            raise RuntimeError(_EAGER + "`K.function` works on the symbolic tensors of a functional model (e.g. "
                               "`K.function([model.input], [model.layers[2].output])`); received an input of "
                               f"type {type(value).__name__}. For other computations call backend functions on "
                               "tensors directly.")
    return EagerFunction(inputs, outputs)


class EagerFunction:
    """What `K.function` returns: runs a sub-graph of a functional model on NumPy inputs."""

    def __init__(self, inputs, outputs):
        self._single = not isinstance(outputs, (list, tuple))
        self.outputs = [outputs] if self._single else list(outputs)
        self.inputs = inputs
        self._phase_index = next((i for i, t in enumerate(inputs) if not isinstance(t, KerasTensor)), None)
        self._tensors = [t for t in inputs if isinstance(t, KerasTensor)]
        self._nodes = _nodes_between(self._tensors, self.outputs)
        self._layers = list({id(n.layer): n.layer for n in self._nodes}.values())

    def __call__(self, inputs):
        values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(values) != len(self.inputs):
            raise ValueError(f"This function takes {len(self.inputs)} inputs; received {len(values)}.")
        phase = 0
        if self._phase_index is not None:
            phase = int(np.asarray(values.pop(self._phase_index)))
        device = _device_of(self._layers)
        feed = {id(t): torch.as_tensor(np.asarray(v), dtype=common.torch_dtype(t.dtype)).to(device)
                for t, v in zip(self._tensors, values)}
        modes = [(layer, layer.training) for layer in self._layers]
        try:
            for layer in self._layers:
                layer.train(bool(phase))
            with torch.no_grad():
                results = _run(self._nodes, feed, self.outputs)
        finally:
            for layer, mode in modes:
                layer.train(mode)
        arrays = [r.detach().cpu().numpy() for r in results]
        return arrays


def _device_of(layers):
    for layer in layers:
        for tensor in layer.parameters():
            return tensor.device
        for tensor in layer.buffers():
            return tensor.device
    return torch.device("cpu")


def _nodes_between(inputs, outputs):
    """The nodes that compute `outputs` from `inputs`, in execution order.

    Raises:
        ValueError: if an output depends on a model input that is not among `inputs`.
    """
    given = {id(t) for t in inputs}
    order, seen = [], set()

    def visit(tensor):
        if id(tensor) in given:
            return
        node = tensor.node
        if id(node) in seen:
            return
        if not node.inbound_tensors:
            raise ValueError(f"K.function: the outputs depend on {tensor.name!r}, which is not among the function's "
                             f"inputs {[t.name for t in inputs]}.")
        seen.add(id(node))
        for parent in node.inbound_tensors:
            visit(parent)
        order.append(node)

    for tensor in outputs:
        if not isinstance(tensor, KerasTensor):
            raise RuntimeError(_EAGER + f"`K.function` outputs must be symbolic tensors of a model; received "
                               f"{type(tensor).__name__}.")
        visit(tensor)
    return order


def _run(nodes, feed, outputs):
    values = dict(feed)

    def value(v):
        return values[id(v)] if isinstance(v, KerasTensor) else v

    for node in nodes:
        args = map_structure(value, node.input_structure)
        out = node.layer(args, *map_structure(value, tuple(node.args)), **map_structure(value, dict(node.kwargs)))
        for tensor, result in zip(node.outputs, flatten(out)):
            values[id(tensor)] = result
    return [values[id(t)] for t in outputs]
