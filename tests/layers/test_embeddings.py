"""Embedding: tf-keras 2.21 parity, masks, input shapes and index errors."""
import numpy as np
import pytest
import torch
from helpers.layer_harness import check_layer
from recurrent_case_runner import check_case, load_cases

from fitgen.layers.embeddings import Embedding

CASES = load_cases("embeddings_cases.npz")


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_tf_keras(name):
    check_case(CASES[name])


def test_mask_zero_sets_keras_mask():
    case = CASES["embedding_mask_zero"]
    layer = Embedding(10, 3, mask_zero=True)
    out = layer(torch.from_numpy(case["x"]))
    np.testing.assert_array_equal(out._keras_mask.numpy(), case["mask"])
    np.testing.assert_array_equal(layer.compute_mask(case["x"]).numpy(), case["mask"])
    assert not hasattr(Embedding(10, 3)(torch.from_numpy(case["x"])), "_keras_mask")


def test_input_length_declares_the_model_input_shape():
    assert Embedding(100, 16, input_length=12).get_config()["batch_input_shape"] == [None, 12]
    assert Embedding(100, 16).get_config()["batch_input_shape"] == [None, None]
    layer = Embedding(100, 16, input_length=12)
    assert layer.compute_output_shape((None, 12)) == (None, 12, 16)
    assert Embedding(5, 2).compute_output_shape((None, 3, 4)) == (None, 3, 4, 2)
    with pytest.raises(ValueError, match="input_length"):
        layer.compute_output_shape((None, 11))


def test_weight_and_config():
    layer = Embedding(7, 2, embeddings_initializer="zeros")
    out = layer(torch.tensor([[1, 2]]))
    assert out.dtype == torch.float32 and tuple(out.shape) == (1, 2, 2)
    assert [w.name for w in layer.weights] == ["embedding/embeddings:0"]
    assert layer.get_weights()[0].shape == (7, 2)
    config = layer.get_config()
    assert list(config)[3:] == ["batch_input_shape", "input_dim", "output_dim", "embeddings_initializer",
                                "embeddings_regularizer", "activity_regularizer", "embeddings_constraint",
                                "mask_zero", "input_length"]


def test_out_of_range_index_is_a_clear_error():
    layer = Embedding(5, 2)
    with pytest.raises(ValueError, match=r"index 5.*\[0, 5\)"):
        layer(torch.tensor([[1, 5]]))
    with pytest.raises(ValueError, match="index -1"):
        layer(torch.tensor([[-1, 0]]))
    with pytest.raises(ValueError, match="positive"):
        Embedding(0, 3)


def test_regularizer_penalises_embeddings():
    layer = Embedding(4, 2, embeddings_regularizer="l2", embeddings_initializer="ones")
    layer(torch.tensor([[0]]))
    np.testing.assert_allclose(float(layer.losses[0].detach()), 0.01 * 8, rtol=1e-6)


def test_layer_harness():
    check_layer(Embedding, {"input_dim": 6, "output_dim": 3}, (2, 4), (2, 4, 3), input_dtype="int64")
