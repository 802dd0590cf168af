"""The engine's one-kernel loss means (fitgen/_losses/fused.py) equal the general path (per-sample losses, then
their mean) in value and gradient, and are only used for tf-keras's default options."""
import pytest
import torch

from fitgen import activations, losses
from fitgen.engine.compile_utils import OutputSpec, output_loss


def _general(loss, y_true, y_pred):
    return output_loss(OutputSpec("out", 0, loss, None, 1.0, False), y_true, y_pred, None)


def _case(kind, shape, generator):
    logits = torch.randn(shape, generator=generator, requires_grad=True)
    if kind == "categorical":
        target = torch.softmax(torch.randn(shape, generator=generator), -1)  # soft labels too
        return logits, activations.softmax(logits), target
    if kind == "sparse":
        labels = torch.randint(0, shape[-1], shape[:-1], generator=generator)
        return logits, activations.softmax(logits), labels
    if kind == "sparse_column":
        labels = torch.randint(0, shape[-1], shape[:-1] + (1,), generator=generator).float()
        return logits, activations.softmax(logits), labels
    if kind == "binary":
        return logits, activations.sigmoid(logits), (torch.rand(shape, generator=generator) > 0.5).float()
    if kind == "mse":
        return logits, logits, torch.randn(shape, generator=generator)
    raise AssertionError(kind)


CASES = [
    ("categorical_crossentropy", "categorical", False),
    (losses.CategoricalCrossentropy(), "categorical", False),
    (losses.CategoricalCrossentropy(from_logits=True), "categorical", True),
    ("sparse_categorical_crossentropy", "sparse", False),
    ("sparse_categorical_crossentropy", "sparse_column", False),
    (losses.SparseCategoricalCrossentropy(from_logits=True), "sparse", True),
    ("binary_crossentropy", "binary", False),
    (losses.BinaryCrossentropy(from_logits=True), "binary", True),
    ("mse", "mse", False),
]


@pytest.mark.parametrize("loss,kind,from_logits", CASES, ids=lambda v: getattr(v, "name", None) or str(v))
@pytest.mark.parametrize("shape", [(17, 5), (3, 4, 6)], ids=["2d", "3d"])
def test_fused_mean_equals_the_general_mean_and_gradient(loss, kind, from_logits, shape):
    loss = losses.get(loss)
    fused = losses.fused_mean_for(loss)
    assert fused is not None
    generator = torch.Generator().manual_seed(11)
    logits, output, target = _case(kind, shape, generator)
    y_pred = logits if from_logits else output
    value = fused(target, y_pred)
    assert value is not None and value.dim() == 0
    (grad,) = torch.autograd.grad(value, logits)
    general = _general(loss, target, y_pred)
    (expected_grad,) = torch.autograd.grad(general, logits)
    torch.testing.assert_close(value, general, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("loss", [
    losses.CategoricalCrossentropy(label_smoothing=0.1), losses.CategoricalCrossentropy(axis=1),
    losses.SparseCategoricalCrossentropy(ignore_class=0), losses.BinaryCrossentropy(label_smoothing=0.2),
    losses.CategoricalCrossentropy(reduction="sum"), losses.MeanAbsoluteError(), "hinge",
    lambda y_true, y_pred: (y_true - y_pred).abs().mean(-1)])
def test_other_options_and_losses_keep_the_general_path(loss):
    assert losses.fused_mean_for(losses.get(loss)) is None


def test_a_subclass_with_its_own_call_keeps_the_general_path():
    class Scaled(losses.CategoricalCrossentropy):
        def call(self, y_true, y_pred):
            return 2.0 * super().call(y_true, y_pred)
    assert losses.fused_mean_for(Scaled()) is None


def test_batches_outside_the_fused_layouts_answer_none():
    fused = losses.fused_mean_for(losses.get("categorical_crossentropy"))
    logits = torch.randn(4, 3)
    assert fused(torch.eye(3)[:4 - 1], activations.softmax(logits)) is None  # shapes differ
    assert fused(torch.eye(3)[[0, 1, 2, 0]], torch.softmax(logits, -1)) is None  # no logits carried
    sparse = losses.fused_mean_for(losses.get("sparse_categorical_crossentropy"))
    assert sparse(torch.zeros(5, dtype=torch.long), activations.softmax(logits)) is None  # one label too many
    from_logits = losses.fused_mean_for(losses.CategoricalCrossentropy(from_logits=True))
    assert from_logits(torch.eye(3)[[0, 1, 2, 0]], activations.softmax(logits)) is None  # warns on the general path
