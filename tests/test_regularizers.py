import json

import numpy as np
import pytest
import torch

from fitgen import regularizers
from fitgen.utils import generic_utils

W = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.0, -1.5]])
F32_001 = 0.009999999776482582  # 0.01 as tf-keras stores it (float32), visible in its saved configs


@pytest.mark.parametrize("regularizer, expected", [
    # Reference values computed with tf-keras 2.21 on the same tensor.
    (regularizers.L1(0.01), 0.07999999821186066),
    (regularizers.L2(0.01), 0.16499999165534973),
    (regularizers.L1L2(0.1, 0.2), 4.099999904632568),
    (regularizers.l1_l2(), 0.2449999898672104),
    (regularizers.OrthogonalRegularizer(0.5), 0.14638499915599823),
    (regularizers.OrthogonalRegularizer(0.5, mode="columns"), 0.23874258995056152),
], ids=["l1", "l2", "l1l2", "l1_l2", "orthogonal_rows", "orthogonal_columns"])
def test_penalties_match_tf_keras(regularizer, expected):
    penalty = regularizer(W)
    assert isinstance(penalty, torch.Tensor) and penalty.dim() == 0 and penalty.dtype == torch.float32
    assert penalty.item() == pytest.approx(expected, rel=1e-6)


def test_l2_is_not_halved_and_penalty_is_differentiable():
    w = torch.ones(2, 2, requires_grad=True)
    penalty = regularizers.L2(0.5)(w)
    assert penalty.item() == 2.0
    penalty.backward()
    assert torch.equal(w.grad, torch.ones(2, 2))


def test_defaults_like_keras_2():
    assert regularizers.L1().get_config() == {"l1": F32_001}
    assert regularizers.L2().get_config() == {"l2": F32_001}
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.l1_l2().get_config() == {"l1": F32_001, "l2": F32_001}
    assert regularizers.l1(0.3).get_config() == {"l1": pytest.approx(0.3)}
    assert regularizers.l2(l=0.2).get_config() == {"l2": pytest.approx(0.2)}  # Keras 2.2 keyword
    assert regularizers.L1L2(l1=None, l2=0.5).get_config() == {"l1": 0.0, "l2": 0.5}
    assert regularizers.L1L2()(W).item() == 0.0
    assert regularizers.OrthogonalRegularizer().get_config() == {"factor": F32_001, "mode": "rows"}


def test_accepts_numpy_weights():
    assert regularizers.L1(1.0)(np.array([-1.0, 2.0], dtype="float32")).item() == 3.0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.1"])
def test_invalid_factors_are_rejected(bad):
    with pytest.raises(ValueError, match="not a valid regularization penalty number"):
        regularizers.L2(bad)


def test_invalid_arguments():
    with pytest.raises(TypeError, match="unexpected keyword"):
        regularizers.L1(scale=0.1)
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(torch.ones(2, 2, 2))


def test_get_by_name():
    assert type(regularizers.get("l1")) is regularizers.L1 and regularizers.get("l1").l1 == F32_001
    assert type(regularizers.get("L2")) is regularizers.L2 and regularizers.get("l2").l2 == F32_001
    assert regularizers.get("l1_l2").get_config() == {"l1": F32_001, "l2": F32_001}
    assert regularizers.get("L1L2").get_config() == {"l1": 0.0, "l2": 0.0}
    assert type(regularizers.get("orthogonal_regularizer")) is regularizers.OrthogonalRegularizer
    with pytest.raises(ValueError, match="Unknown regularizer: 'l3'"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier"):
        regularizers.get(0.01)


def test_get_config_dict_forms_of_tf_keras_and_keras_2_2():
    tfk = regularizers.get({"class_name": "L2", "config": {"l2": 0.01}})
    assert type(tfk) is regularizers.L2 and tfk(W).item() == pytest.approx(0.165, rel=1e-6)
    k224 = regularizers.get({"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}})
    assert type(k224) is regularizers.L1L2 and k224.get_config() == {"l1": 0.0, "l2": F32_001}
    with_module = regularizers.get({"module": "keras.regularizers", "class_name": "L1",
                                    "config": {"l1": 0.2}, "registered_name": None})
    assert with_module(W).item() == pytest.approx(1.6, rel=1e-6)


def test_get_passes_instances_and_functions_through():
    instance = regularizers.L2()
    assert regularizers.get(instance) is instance
    assert regularizers.get(None) is None

    def my_penalty(x):
        return 0.1 * torch.sum(x)
    assert regularizers.get(my_penalty) is my_penalty
    assert regularizers.serialize(my_penalty) == "my_penalty"
    assert type(regularizers.get(regularizers.L1)) is regularizers.L1


@pytest.mark.parametrize("instance", [regularizers.L1(0.3), regularizers.L2(), regularizers.L1L2(0.1, 0.2),
                                      regularizers.OrthogonalRegularizer(0.2, "columns")],
                         ids=lambda r: type(r).__name__)
def test_serialize_round_trip_in_tf_keras_form(instance):
    config = regularizers.serialize(instance)
    assert config == {"module": "keras.regularizers", "class_name": type(instance).__name__,
                      "config": instance.get_config(), "registered_name": None}
    restored = regularizers.deserialize(json.loads(json.dumps(config)))
    assert type(restored) is type(instance) and restored.get_config() == instance.get_config()
    assert restored(W).item() == instance(W).item()


def test_tf_keras_serialized_l2_config():
    assert regularizers.serialize(regularizers.L2()) == {
        "module": "keras.regularizers", "class_name": "L2", "config": {"l2": F32_001}, "registered_name": None}


class Sum(regularizers.Regularizer):
    def __init__(self, factor=1.0):
        self.factor = factor

    def __call__(self, x):
        return self.factor * torch.sum(x)

    def get_config(self):
        return {"factor": self.factor}


def test_custom_regularizer():
    config = regularizers.serialize(Sum(2.0))
    assert config["class_name"] == "Sum" and config["registered_name"] == "Sum"
    restored = regularizers.deserialize(config, custom_objects={"Sum": Sum})
    assert restored(torch.ones(3)).item() == 6.0
    with generic_utils.custom_object_scope({"Sum": Sum}):
        assert type(regularizers.get("Sum")) is Sum
    with pytest.raises(NotImplementedError, match="get_config"):
        regularizers.Regularizer().get_config()
    assert regularizers.Regularizer()(W).item() == 0.0
