import json

import numpy as np
import pytest
import torch

from fitgen import constraints
from fitgen.utils import generic_utils

W = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.0, -1.5]])

# Reference outputs computed with tf-keras 2.21 on W (Dense-like kernel layout (input_dim, units)).
EXPECTED = {
    "max_norm": [[0.6324555277824402, -2.0, 0.4999999701976776], [1.8973665237426758, 0.0, -1.4999998807907104]],
    "max_norm_axis1": [[0.4364357590675354, -0.8728715181350708, 0.2182178795337677],
                       [0.8944271802902222, 0.0, -0.4472135901451111]],
    "non_neg": [[1.0, 0.0, 0.5], [3.0, 0.0, 0.0]],
    "unit_norm": [[0.3162277638912201, -1.0, 0.3162277340888977], [0.9486832618713379, 0.0, -0.9486832022666931]],
    "min_max_norm": [[0.8162277340888977, -2.0, 0.4999999701976776], [2.448683261871338, 0.0, -1.4999998807907104]],
}


@pytest.mark.parametrize("key, constraint", [
    ("max_norm", constraints.MaxNorm(2.0)),
    ("max_norm_axis1", constraints.MaxNorm(1.0, axis=1)),
    ("non_neg", constraints.NonNeg()),
    ("unit_norm", constraints.UnitNorm()),
    ("min_max_norm", constraints.MinMaxNorm(1.0, 2.0, rate=0.5)),
])
def test_outputs_match_tf_keras(key, constraint):
    out = constraint(W)
    assert isinstance(out, torch.Tensor) and out.shape == W.shape and out.dtype == W.dtype
    assert np.allclose(out.numpy(), EXPECTED[key], rtol=1e-6, atol=1e-7)


def test_max_norm_on_a_conv_kernel_with_axis_list():
    kernel = torch.arange(24, dtype=torch.float32).reshape(2, 2, 2, 3) - 10  # (rows, cols, in, filters)
    out = constraints.MaxNorm(3.0, axis=[0, 1, 2])(kernel)
    norms = out.reshape(-1, 3).norm(dim=0)
    assert torch.all(norms <= 3.0 + 1e-5)
    assert out[0, 0, 0].tolist() == pytest.approx([-1.5389679670333862, -1.3568010330200195, -1.1600840091705322])


def test_norm_constraints_bound_norms_along_axis():
    w = torch.randn(50, 8) * 3
    assert torch.allclose(constraints.UnitNorm()(w).norm(dim=0), torch.ones(8), atol=1e-5)
    norms = constraints.MinMaxNorm(0.5, 1.5)(w).norm(dim=0)
    assert torch.all((norms >= 0.5 - 1e-5) & (norms <= 1.5 + 1e-5))
    small = torch.full((4, 2), 0.01)
    assert torch.allclose(constraints.MaxNorm(2)(small), small, atol=1e-6)  # inside the ball: unchanged


def test_base_constraint_is_identity_and_numpy_input_is_accepted():
    assert constraints.Constraint()(W) is W
    assert constraints.NonNeg()(np.array([-1.0, 2.0], dtype="float32")).tolist() == [0.0, 2.0]


def test_aliases_and_get_by_name():
    for name, cls in [("max_norm", constraints.MaxNorm), ("maxnorm", constraints.MaxNorm),
                      ("MaxNorm", constraints.MaxNorm), ("non_neg", constraints.NonNeg),
                      ("nonneg", constraints.NonNeg), ("unit_norm", constraints.UnitNorm),
                      ("unitnorm", constraints.UnitNorm), ("min_max_norm", constraints.MinMaxNorm),
                      ("MinMaxNorm", constraints.MinMaxNorm)]:
        assert type(constraints.get(name)) is cls, name
        assert getattr(constraints, name) is cls, name
    with pytest.raises(ValueError, match="Unknown constraint: 'max_normm'"):
        constraints.get("max_normm")
    with pytest.raises(ValueError, match="Could not interpret constraint identifier"):
        constraints.get(2)


def test_defaults_and_configs():
    assert constraints.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert constraints.UnitNorm().get_config() == {"axis": 0}
    assert constraints.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}
    assert constraints.NonNeg().get_config() == {}


@pytest.mark.parametrize("instance", [constraints.MaxNorm(3, axis=[0, 1, 2]), constraints.NonNeg(),
                                      constraints.UnitNorm(axis=1), constraints.MinMaxNorm(0.1, 0.9, 0.5, 1)],
                         ids=lambda c: type(c).__name__)
def test_serialize_round_trip_in_tf_keras_form(instance):
    config = constraints.serialize(instance)
    assert config == {"module": "keras.constraints", "class_name": type(instance).__name__,
                      "config": instance.get_config(), "registered_name": None}
    restored = constraints.deserialize(json.loads(json.dumps(config)))
    assert type(restored) is type(instance) and restored.get_config() == instance.get_config()


def test_keras_2_2_dict_form_and_passthrough():
    restored = constraints.get({"class_name": "MaxNorm", "config": {"max_value": 3, "axis": 0}})
    assert type(restored) is constraints.MaxNorm and restored.max_value == 3
    instance = constraints.NonNeg()
    assert constraints.get(instance) is instance
    assert constraints.get(None) is None and constraints.serialize(None) is None

    def clip(w):
        return torch.clamp(w, -1, 1)
    assert constraints.get(clip) is clip and constraints.serialize(clip) == "clip"
    assert type(constraints.get(constraints.UnitNorm)) is constraints.UnitNorm


class Clip(constraints.Constraint):
    def __init__(self, limit=1.0):
        self.limit = limit

    def __call__(self, w):
        return torch.clamp(w, -self.limit, self.limit)

    def get_config(self):
        return {"limit": self.limit}


def test_custom_constraint():
    config = constraints.serialize(Clip(0.5))
    assert config["class_name"] == "Clip" and config["registered_name"] == "Clip"
    restored = constraints.deserialize(config, custom_objects={"Clip": Clip})
    assert restored(W).max().item() == 0.5
    with generic_utils.custom_object_scope({"Clip": Clip}):
        assert type(constraints.get("Clip")) is Clip
