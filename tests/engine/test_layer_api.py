"""Keras 2's Layer API beyond build/call: InputSpec, compute_mask, losses/updates per input, mask and shape
accessors, `_keras_shape`, weight-list setters."""
import warnings

import numpy as np
import pytest
import torch

from fitgen import layers
from fitgen.engine import InputSpec
from fitgen.engine.base_layer import Layer
from fitgen.layers import Input
from fitgen.models import Model, Sequential


# ------------------------------------------------------------------------------------------------ InputSpec

class NeedsRank3(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = InputSpec(ndim=3)


class FeaturesSpecInBuild(Layer):
    def build(self, input_shape):
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_shape[-1]})
        self.built = True


def test_input_spec_is_the_same_class_under_keras2_paths():
    from fitgen.engine.base_layer import InputSpec as from_base_layer
    from fitgen.engine.input_spec import InputSpec as from_module
    assert layers.InputSpec is InputSpec is from_base_layer is from_module


def test_input_spec_ndim_checked_on_eager_and_symbolic_calls():
    layer = NeedsRank3(name="needs3")
    with pytest.raises(ValueError, match=r'Input 0 of layer "needs3" is incompatible with the layer: '
                                         r"expected ndim=3, found ndim=2"):
        layer(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        NeedsRank3()(Input((4,)))
    assert layer(torch.zeros(2, 3, 4)).shape == (2, 3, 4)


def test_input_spec_set_in_build_checks_later_calls():
    layer = FeaturesSpecInBuild(name="feat")
    layer(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 5, but received input "
                                         r"with shape \(2, 3\)"):
        layer(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        layer(torch.zeros(5))


@pytest.mark.parametrize("spec, tensor, message", [
    (InputSpec(max_ndim=2), torch.zeros(1, 2, 3), "expected max_ndim=2, found ndim=3"),
    (InputSpec(dtype="int64"), torch.zeros(2, 3), "expected dtype=int64, found dtype=float32"),
    (InputSpec(shape=(None, 4)), torch.zeros(2, 3), r"expected shape=\(None, 4\), found shape=\(2, 3\)"),
])
def test_input_spec_other_checks(spec, tensor, message):
    layer = Layer(name="plain")
    layer.input_spec = spec
    with pytest.raises(ValueError, match=message):
        layer(tensor)


def test_input_spec_list_checks_the_number_of_inputs():
    layer = layers.Add(name="adder")
    layer.input_spec = [InputSpec(ndim=2), InputSpec(ndim=2)]
    with pytest.raises(ValueError, match='Layer "adder" expects 2 input'):
        layer([torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1, 2)])
    assert layer([torch.ones(1, 2), torch.ones(1, 2)]).tolist() == [[2.0, 2.0]]


def test_input_spec_repr_and_config_round_trip():
    spec = InputSpec(dtype="float32", ndim=3, axes={2: 8})
    assert repr(spec) == "InputSpec(dtype=float32, ndim=3, axes={2: 8})"
    again = InputSpec.from_config(spec.get_config())
    assert (again.dtype, again.ndim, again.axes, again.shape) == ("float32", 3, {2: 8}, None)
    assert InputSpec(shape=(None, 3)).ndim == 2
    with pytest.raises(TypeError, match="integer keys"):
        InputSpec(axes={"last": 3})
    with pytest.raises(ValueError, match="Axis 3"):
        InputSpec(ndim=2, axes={3: 1})


# --------------------------------------------------------------------------------------------- compute_mask

class PassThrough(Layer):
    """A Keras 2 user layer that only declares supports_masking."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs * 2


class SeesMask(Layer):
    """Keras 2 passes the inputs' mask to `call(inputs, mask=None)` and consumes it (no supports_masking)."""

    def call(self, inputs, mask=None):
        self.seen = mask
        return inputs.sum(dim=1)


class MaskedMean(Layer):
    """compute_mask returning None ends the mask, as Keras 2 pooling-style user layers do."""

    def call(self, inputs, mask=None):
        if mask is None:  # e.g. while fitgen infers output shapes on placeholder data
            return inputs.mean(1)
        weights = mask.to(inputs.dtype).unsqueeze(-1)
        return (inputs * weights).sum(1) / weights.sum(1)

    def compute_mask(self, inputs, mask=None):
        return None


def _tokens():
    return torch.tensor([[3, 1, 0, 0], [2, 0, 0, 0]])


def test_user_layer_with_supports_masking_passes_the_mask_on():
    embedded = layers.Embedding(5, 3, mask_zero=True)(_tokens())
    out = PassThrough()(embedded)
    assert out._keras_mask.tolist() == [[True, True, False, False], [True, False, False, False]]


def test_call_receives_the_implicit_mask_and_a_layer_without_masking_drops_it():
    embedded = layers.Embedding(5, 3, mask_zero=True)(_tokens())
    layer = SeesMask()
    out = layer(embedded)
    assert layer.seen is embedded._keras_mask
    assert getattr(out, "_keras_mask", None) is None
    explicit = torch.tensor([[True] * 4, [True] * 4])
    layer(embedded, mask=explicit)
    assert layer.seen is explicit


def test_compute_mask_override_decides_the_output_mask():
    embedding = layers.Embedding(5, 3, mask_zero=True, embeddings_initializer="ones")
    layer = MaskedMean()
    assert layer.supports_masking  # a layer defining compute_mask supports masking (tf-keras's default)
    out = layer(embedding(_tokens()))
    np.testing.assert_allclose(out.detach().numpy(), np.ones((2, 3)))
    assert getattr(out, "_keras_mask", None) is None


def test_base_compute_mask_rules():
    dense = layers.Dense(2)  # supports masking: the mask passes through
    mask = torch.tensor([[True, False]])
    assert dense.compute_mask(torch.zeros(1, 2, 3), mask) is mask
    flatten = layers.Flatten(name="flat")
    assert flatten.compute_mask(torch.zeros(1, 2, 3)) is None
    with pytest.raises(TypeError, match="Layer flat does not support masking, but was passed an input_mask"):
        flatten.compute_mask(torch.zeros(1, 2, 3), mask)


def test_builtin_compute_masks_match_what_the_outputs_carry():
    tokens = _tokens()
    embedding = layers.Embedding(5, 3, mask_zero=True)
    embedded = embedding(tokens)
    assert torch.equal(embedding.compute_mask(tokens), tokens != 0)
    assert torch.equal(embedded._keras_mask, tokens != 0)
    assert layers.Embedding(5, 3).compute_mask(tokens) is None

    x = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])
    masking = layers.Masking()
    assert masking(x)._keras_mask.tolist() == [[False, True]]
    assert masking.compute_mask(x).tolist() == [[False, True]]

    other = torch.tensor([[True, True, True, False], [True, True, False, False]])
    added = layers.Add()([embedded, embedded.detach() + 0])
    assert torch.equal(added._keras_mask, tokens != 0)
    both = layers.Add().compute_mask([embedded, embedded], [tokens != 0, other])
    assert torch.equal(both, (tokens != 0) & other)
    assert layers.Add().compute_mask([embedded, embedded], [None, None]) is None
    with pytest.raises(ValueError, match="should be a list"):
        layers.Add().compute_mask([embedded, embedded], other)
    concatenated = layers.Concatenate()([embedded, torch.zeros(2, 4, 2)])
    assert torch.equal(concatenated._keras_mask, tokens != 0)
    assert layers.Dot(axes=2).compute_mask([embedded, embedded], [other, other]) is None


def test_wrappers_and_lambda_compute_mask():
    tokens = _tokens()
    embedded = layers.Embedding(5, 3, mask_zero=True)(tokens)
    distributed = layers.TimeDistributed(layers.Dense(2))(embedded)
    assert torch.equal(distributed._keras_mask, tokens != 0)
    sequences = layers.Bidirectional(layers.LSTM(2, return_sequences=True))(embedded)
    assert torch.equal(sequences._keras_mask, tokens != 0)
    last = layers.Bidirectional(layers.LSTM(2))(embedded)
    assert getattr(last, "_keras_mask", None) is None
    fixed = layers.Lambda(lambda x: x + 1, mask=lambda inputs, mask: mask[:, :1])(embedded)
    assert fixed._keras_mask.tolist() == [[True], [True]]


def test_symbolic_masks_and_mask_accessors():
    tokens = Input((4,), dtype="int32")
    embedding = layers.Embedding(5, 3, mask_zero=True)
    dense = layers.Dense(2)
    hidden = dense(embedding(tokens))
    pooled = MaskedMean()(hidden)
    assert embedding.input_mask is None and tokens._keras_history[0].input_mask is None
    assert embedding.output_mask.shape == (None, 4) and embedding.output_mask.dtype == "bool"
    assert dense.get_input_mask_at(0) is embedding.output_mask
    assert dense.output_mask is embedding.output_mask
    assert getattr(pooled, "_keras_mask", None) is None
    merged = layers.Concatenate()([hidden, Input((4, 1))])
    assert merged._keras_mask.shape == (None, 4)
    model = Model(tokens, pooled)
    out = model(torch.tensor([[1, 2, 0, 0]]))
    assert out.shape == (1, 2)


def test_shape_accessors_and_keras_shape():
    x = Input((3,))
    dense = layers.Dense(4)
    y = dense(x)
    z = dense(Input((3,)))
    assert y._keras_shape == (None, 4) and x._keras_shape == (None, 3)
    with pytest.raises(AttributeError):
        y._keras_shape = (1, 4)
    assert dense.get_input_shape_at(0) == (None, 3) and dense.get_output_shape_at(1) == (None, 4)
    assert dense.get_output_at(1) is z
    assert dense.count_params() == 16


# ------------------------------------------------------------------------------------ losses and updates

def test_get_losses_for_separates_input_losses_from_unconditional_ones():
    layer = layers.Dense(2, kernel_regularizer="l2")
    x = torch.ones(1, 3)
    layer(x)
    a, b = torch.tensor(1.0), torch.tensor(2.0)
    layer.add_loss(a, inputs=x)
    layer.add_loss([b])
    unconditional = layer.get_losses_for(None)
    assert len(unconditional) == 2 and unconditional[1] is b
    assert layer.get_losses_for(x) == [a]
    assert layer.get_losses_for(torch.ones(1, 3)) == []
    assert len(layer.losses) == 3


@pytest.mark.parametrize("make", [
    lambda: Sequential([layers.Dense(2, input_shape=(3,)), layers.BatchNormalization()]),
    lambda: _functional(),
    lambda: layers.BatchNormalization(),
    lambda: layers.TimeDistributed(layers.Dense(2)),
    lambda: layers.Bidirectional(layers.LSTM(2)),
])
def test_updates_are_an_empty_list_as_in_tf_keras(make):
    obj = make()
    with pytest.warns(UserWarning, match="always empty"):
        assert obj.updates == []
    assert obj.get_updates_for(None) == [] and obj.get_updates_for(torch.zeros(1)) == []


def _functional():
    x = Input((3,))
    return Model(x, layers.BatchNormalization()(layers.Dense(2)(x)))


def test_add_update_runs_callables_now():
    calls = []
    layer = layers.Dense(1)
    layer.add_update([lambda: calls.append(1), torch.zeros(1)], inputs=None)
    assert calls == [1]


# ---------------------------------------------------------------------------------- weight list setters

class Keras1Style(Layer):
    def build(self, input_shape):
        self.W = self.add_weight("W", (input_shape[-1], 2), initializer="ones")
        self.frozen = self.add_weight("frozen", (2,), initializer="zeros")
        self.trainable_weights = [self.W]
        self.non_trainable_weights = [self.frozen]
        self.built = True

    def call(self, inputs):
        return inputs @ self.W + self.frozen


def test_weight_list_setters_as_keras1_style_layers_use_them():
    layer = Keras1Style()
    layer(torch.ones(1, 3))
    assert [w.name for w in layer.trainable_weights] == [f"{layer.name}/W:0"]
    assert [w.name for w in layer.non_trainable_weights] == [f"{layer.name}/frozen:0"]
    assert not layer.frozen.requires_grad and layer.W.requires_grad
    extra = torch.nn.Parameter(torch.zeros(2))
    layer.non_trainable_weights = [extra]  # a Parameter made by hand is adopted
    assert any(w.tensor is extra for w in layer.non_trainable_weights) and not extra.requires_grad
    with pytest.raises(TypeError, match="is not one of its weights"):
        layer.trainable_weights = [np.zeros(2)]
    with pytest.raises(ValueError, match="created with trainable=False"):
        buffer_layer = layers.BatchNormalization()
        buffer_layer(torch.ones(2, 3))
        buffer_layer.trainable_weights = [buffer_layer.non_trainable_weights[0]]


def test_no_warning_from_ordinary_calls():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layers.Dense(2)(torch.ones(1, 3))
