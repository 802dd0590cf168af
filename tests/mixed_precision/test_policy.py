"""Keras 2 dtype policies: names, global and per-layer policies, what layers report, what they compute in,
and what saved files keep."""
import numpy as np
import pytest
import torch

from fitgen import mixed_precision
from fitgen.layers import Activation, Dense
from fitgen.mixed_precision import Policy, experimental
from fitgen.models import Sequential, load_model


@pytest.mark.parametrize("name,compute,variable", [
    ("mixed_float16", "float16", "float32"), ("mixed_bfloat16", "bfloat16", "float32"),
    ("float32", "float32", "float32"), ("float64", "float64", "float64"), ("bfloat16", "bfloat16", "bfloat16")])
def test_policy_dtypes(name, compute, variable):
    policy = Policy(name)
    assert (policy.name, policy.compute_dtype, policy.variable_dtype) == (name, compute, variable)
    assert repr(policy) == f'<Policy "{name}">'
    assert Policy.from_config(policy.get_config()) == policy


def test_bad_policies_are_rejected_with_the_value_named():
    with pytest.raises(ValueError, match="mixed_float33"):
        Policy("mixed_float33")
    with pytest.raises(TypeError, match="name"):
        Policy(16)
    with pytest.raises(ValueError, match="floating-point"):
        mixed_precision.set_global_policy("int32")


def test_global_policy_defaults_to_floatx_and_can_be_set_and_reset():
    assert mixed_precision.global_policy() == Policy("float32")
    mixed_precision.set_global_policy("mixed_bfloat16")
    assert mixed_precision.global_policy().name == "mixed_bfloat16"
    mixed_precision.set_global_policy(None)
    assert mixed_precision.global_policy().name == "float32"


def test_experimental_spellings():
    policy = experimental.Policy("mixed_float16", loss_scale="dynamic")
    assert policy.compute_dtype == "float16" and policy.loss_scale == "dynamic"
    experimental.set_policy(policy)
    assert experimental.global_policy().name == "mixed_float16"
    dense = Dense(2)
    assert dense.compute_dtype == "float16"
    fixed = experimental.LossScaleOptimizer("sgd", loss_scale=128)
    assert not fixed.dynamic and float(fixed.loss_scale) == 128.0


def test_layer_dtypes_follow_the_global_policy_and_dtype_argument():
    mixed_precision.set_global_policy("mixed_bfloat16")
    mixed, full = Dense(3), Activation("softmax", dtype="float32")
    by_policy = Dense(3, dtype=Policy("mixed_float16"))
    assert (mixed.dtype, mixed.variable_dtype, mixed.compute_dtype) == ("float32", "float32", "bfloat16")
    assert mixed.dtype_policy == Policy("mixed_bfloat16")
    assert (full.dtype, full.compute_dtype) == ("float32", "float32")
    assert by_policy.compute_dtype == "float16"
    mixed_precision.set_global_policy(None)
    assert Dense(3).compute_dtype == "float32" and mixed.compute_dtype == "bfloat16"  # taken at creation


def test_mixed_layers_compute_in_half_precision_with_float32_weights_and_a_float32_last_layer():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(3), Activation("softmax", dtype="float32")])
    x = torch.randn(5, 4)
    hidden = model.layers[1](model.layers[0](x))
    assert hidden.dtype == torch.bfloat16
    output = model.layers[2](hidden)
    assert output.dtype == torch.float32 and output._keras_logits.dtype == torch.float32
    assert all(w.dtype == np.float32 for w in model.get_weights())
    model.compile("adam", "categorical_crossentropy", metrics=["acc"])
    y = np.eye(3, dtype="float32")[np.arange(32) % 3]
    history = model.fit(np.random.default_rng(0).standard_normal((32, 4)).astype("float32"), y, epochs=2,
                        batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert all(w.dtype == np.float32 for w in model.get_weights())
    predictions = model.predict(np.zeros((2, 4), "float32"))
    assert predictions.dtype == np.float32


def test_bfloat16_outputs_are_predicted_as_float32_and_losses_computed_in_float32():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = Sequential([Dense(2, input_shape=(3,))])  # a bfloat16 output
    model.compile("sgd", "mse")
    x = np.random.default_rng(1).standard_normal((8, 3)).astype("float32")
    assert model.predict(x).dtype == np.float32
    loss = model.evaluate(x, np.zeros((8, 2), "float32"), verbose=0)
    expected = np.mean(np.square(model.predict(x)))
    assert abs(loss - expected) < 1e-6 * max(1.0, expected)  # the float32 loss of the bfloat16 outputs


def test_a_saved_mixed_model_keeps_float32_weights_and_its_policies(tmp_path):
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(2), Activation("softmax", dtype="float32")])
    model.compile("adam", "categorical_crossentropy")
    x = np.random.default_rng(2).standard_normal((16, 3)).astype("float32")
    model.fit(x, np.eye(2, dtype="float32")[np.arange(16) % 2], verbose=0)
    config = model.layers[0].get_config()["dtype"]
    assert config["class_name"] == "Policy" and config["config"] == {"name": "mixed_bfloat16"}
    assert model.layers[2].get_config()["dtype"] == "float32"
    model.save(tmp_path / "mixed.h5")
    mixed_precision.set_global_policy(None)
    loaded = load_model(tmp_path / "mixed.h5")  # as a float32 model (fitgen/saving/keras_compat.py)
    assert [layer.compute_dtype for layer in loaded.layers] == ["float32", "float32", "float32"]
    for mine, saved in zip(loaded.get_weights(), model.get_weights()):
        assert mine.dtype == np.float32
        np.testing.assert_array_equal(mine, saved)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=2e-2, atol=2e-2)  # bfloat16 rounding
    import h5py
    with h5py.File(tmp_path / "mixed.h5", "r") as f:
        def dtypes(group):
            for item in group.values():
                yield from (dtypes(item) if isinstance(item, h5py.Group) else [item.dtype])
        assert {str(d) for d in dtypes(f["model_weights"])} == {"float32"}
