"""Stand-ins for the engine's trainable-variable objects that fitgen optimizers are built on."""
import numpy as np
import pytest
import torch


class StandInVariable:
    """The engine's duck type: `.tensor` (a Parameter), `.name`, `.to_keras` / `.from_keras`, `.constraint`.

    With `transposed=True` the torch tensor holds the Keras value transposed (as a Dense kernel would be in
    an nn.Linear), so tests can tell whether the optimizer reports slots in Keras layout.
    """

    def __init__(self, keras_value, name, transposed=False):
        self.name = name
        self.transposed = transposed
        self.constraint = None
        self.tensor = torch.nn.Parameter(self.from_keras(torch.as_tensor(np.array(keras_value, np.float32))))

    def to_keras(self, tensor):
        return tensor.T if self.transposed else tensor

    def from_keras(self, tensor):
        return tensor.T.contiguous() if self.transposed else tensor.clone()

    def keras_value(self):
        return self.to_keras(self.tensor.detach()).numpy().copy()

    def set_keras_grad(self, grad):
        self.tensor.grad = None if grad is None else self.from_keras(torch.as_tensor(np.array(grad, np.float32)))


@pytest.fixture
def stand_in():
    return StandInVariable


@pytest.fixture
def two_variables():
    """A transposed (3, 4) kernel 'dense/kernel' and a (5,) 'dense/bias', with fixed values."""
    rng = np.random.default_rng(7)
    return [StandInVariable(rng.standard_normal((3, 4)), "dense/kernel", transposed=True),
            StandInVariable(rng.standard_normal(5), "dense/bias")]
