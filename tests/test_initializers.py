import json
import math

import numpy as np
import pytest
import torch

from fitgen import backend
from fitgen import initializers
from fitgen.utils import generic_utils

TRUNC = 0.87962566103423978


def _stats(tensor):
    values = tensor.double()
    return values.mean().item(), values.std().item(), values.min().item(), values.max().item()


def test_zeros_ones_constant_values_shape_and_default_dtype():
    zeros = initializers.Zeros()((2, 3))
    assert zeros.shape == (2, 3) and zeros.dtype == torch.float32 and zeros.device.type == "cpu"
    assert torch.count_nonzero(zeros) == 0
    assert torch.equal(initializers.Ones()((4,)), torch.ones(4))
    assert torch.equal(initializers.Constant(3)((2, 2)), torch.full((2, 2), 3.0))
    assert initializers.Ones()(5, dtype="float64").dtype == torch.float64
    assert initializers.Zeros()((2,), dtype="int32").dtype == torch.int32


def test_constant_array_value_fills_row_major_like_keras():
    assert initializers.Constant([1, 2, 3, 4])((2, 2)).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert initializers.Constant(np.array([1.0, 2.0]))((2, 2)).tolist() == [[1.0, 2.0], [1.0, 2.0]]
    assert initializers.Constant(np.array([1.0, 2.0])).get_config() == {"value": [1.0, 2.0]}
    with pytest.raises(ValueError, match="cannot fill a tensor of shape"):
        initializers.Constant([1, 2, 3])((2, 2))


def test_random_uniform_bounds_and_mean():
    values = initializers.RandomUniform(-0.2, 0.6)((300, 200))
    mean, std, low, high = _stats(values)
    assert -0.2 <= low and high < 0.6
    assert mean == pytest.approx(0.2, abs=0.005)
    assert std == pytest.approx(0.8 / math.sqrt(12), rel=0.02)


def test_random_uniform_integer_dtype():
    values = initializers.RandomUniform(0, 5)((1000,), dtype="int64")
    assert values.dtype == torch.int64
    assert set(values.tolist()) == {0, 1, 2, 3, 4}


def test_random_normal_statistics():
    mean, std, _, _ = _stats(initializers.RandomNormal(mean=1.0, stddev=0.5)((300, 200)))
    assert mean == pytest.approx(1.0, abs=0.01)
    assert std == pytest.approx(0.5, rel=0.02)
    _, std, _, _ = _stats(initializers.RandomNormal()((300, 200)))
    assert std == pytest.approx(0.05, rel=0.02)


def test_truncated_normal_is_cut_at_two_stddev():
    mean, std, low, high = _stats(initializers.TruncatedNormal(mean=0.5, stddev=2.0)((300, 200)))
    assert 0.5 - 4.0 <= low and high <= 0.5 + 4.0
    assert low < 0.5 - 3.9 and high > 0.5 + 3.9  # the tails up to the cut are populated
    assert mean == pytest.approx(0.5, abs=0.03)
    assert std == pytest.approx(2.0 * TRUNC, rel=0.02)


@pytest.mark.parametrize("shape, fans", [
    ((), (1, 1)),
    ((7,), (7, 7)),
    ((20, 30), (20, 30)),
    ((5, 16, 32), (5 * 16, 5 * 32)),                 # Conv1D kernel (width, in, out)
    ((3, 3, 16, 32), (9 * 16, 9 * 32)),              # Conv2D kernel (rows, cols, in, out)
    ((2, 3, 3, 4, 8), (18 * 4, 18 * 8)),             # Conv3D kernel
])
def test_compute_fans_from_keras_layout(shape, fans):
    assert initializers.compute_fans(shape) == fans


@pytest.mark.parametrize("name, scale, mode, distribution", [
    ("glorot_uniform", 1.0, "fan_avg", "uniform"),
    ("glorot_normal", 1.0, "fan_avg", "truncated_normal"),
    ("he_normal", 2.0, "fan_in", "truncated_normal"),
    ("he_uniform", 2.0, "fan_in", "uniform"),
    ("lecun_normal", 1.0, "fan_in", "truncated_normal"),
    ("lecun_uniform", 1.0, "fan_in", "uniform"),
])
@pytest.mark.parametrize("shape", [(400, 150), (3, 3, 40, 60)])
def test_variance_scaling_presets_have_keras_variance_and_bounds(name, scale, mode, distribution, shape):
    initializer = initializers.get(name)
    assert (initializer.scale, initializer.mode, initializer.distribution) == (scale, mode, distribution)
    fan_in, fan_out = initializers.compute_fans(shape)
    fan = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    expected_std = math.sqrt(scale / fan)
    values = initializer(shape)
    assert tuple(values.shape) == shape
    mean, std, low, high = _stats(values)
    assert std == pytest.approx(expected_std, rel=0.03)
    assert abs(mean) < 0.05 * expected_std
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale / fan)
        assert -limit <= low and high <= limit and high > 0.99 * limit
    else:
        cut = 2.0 * math.sqrt(scale / fan) / TRUNC
        assert -cut <= low and high <= cut and high > 0.98 * cut


def test_variance_scaling_modes_and_untruncated_normal():
    shape = (100, 400)
    _, std, _, _ = _stats(initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")(shape))
    assert std == pytest.approx(math.sqrt(2.0 / 400), rel=0.02)
    _, std, _, high = _stats(initializers.VarianceScaling(1.0, "fan_in", "normal")(shape))  # Keras 2.2 name
    assert std == pytest.approx(math.sqrt(1.0 / 100), rel=0.02)
    assert high <= 2 * 0.1 / TRUNC
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": 0.0}, "scale"),
    ({"mode": "fan_sum"}, "mode"),
    ({"distribution": "cauchy"}, "distribution"),
])
def test_variance_scaling_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        initializers.VarianceScaling(**kwargs)


@pytest.mark.parametrize("cls", [initializers.RandomUniform, initializers.RandomNormal, initializers.TruncatedNormal,
                                 initializers.GlorotUniform, initializers.HeNormal, initializers.Orthogonal])
def test_seeded_initializer_repeats_and_unseeded_follows_global_seed(cls):
    first = cls(seed=7)((6, 5))
    assert torch.equal(first, cls(seed=7)((6, 5)))
    seeded = cls(seed=7)
    assert torch.equal(seeded((6, 5)), seeded((6, 5)))
    assert not torch.equal(first, cls(seed=8)((6, 5)))
    unseeded = cls()
    backend.set_random_seed(3)
    a = unseeded((6, 5))
    b = unseeded((6, 5))
    backend.set_random_seed(3)
    assert torch.equal(a, unseeded((6, 5))) and torch.equal(b, unseeded((6, 5)))
    assert not torch.equal(a, b)


def test_seed_gives_same_values_for_every_float_dtype():
    a = initializers.GlorotUniform(seed=1)((4, 4), dtype="float32")
    b = initializers.GlorotUniform(seed=1)((4, 4), dtype="float16")
    assert b.dtype == torch.float16
    assert torch.allclose(a, b.float(), atol=1e-3)
    assert initializers.RandomNormal()((3,), dtype="float64").dtype == torch.float64
    assert initializers.RandomNormal()((3,), dtype=torch.bfloat16).dtype == torch.bfloat16


def test_random_initializers_reject_integer_dtypes():
    with pytest.raises(ValueError, match="floating point"):
        initializers.RandomNormal()((2,), dtype="int32")
    with pytest.raises(ValueError, match="floating point"):
        initializers.GlorotUniform()((2, 2), dtype="int32")


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (30, 30)])
def test_orthogonal_is_orthogonal(shape):
    q = initializers.Orthogonal(gain=1.0, seed=3)(shape).double()
    small = min(shape)
    gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
    assert torch.allclose(gram, torch.eye(small, dtype=torch.float64), atol=1e-5)


def test_orthogonal_gain_conv_shape_and_rank_check():
    kernel = initializers.Orthogonal(gain=2.0)((3, 3, 4, 8))
    assert kernel.shape == (3, 3, 4, 8)
    flat = kernel.reshape(36, 8).double()
    assert torch.allclose(flat.T @ flat, 4.0 * torch.eye(8, dtype=torch.float64), atol=1e-4)
    with pytest.raises(ValueError, match="at least two-dimensional"):
        initializers.Orthogonal()((5,))


def test_identity():
    assert initializers.Identity(gain=2.0)((2, 3)).tolist() == [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    assert torch.equal(initializers.identity()((3, 3)), torch.eye(3))
    with pytest.raises(ValueError, match="2D matrices"):
        initializers.Identity()((2, 2, 2))


NAMES = [
    ("zeros", initializers.Zeros), ("zero", initializers.Zeros), ("Zeros", initializers.Zeros),
    ("ones", initializers.Ones), ("one", initializers.Ones), ("constant", initializers.Constant),
    ("uniform", initializers.RandomUniform), ("random_uniform", initializers.RandomUniform),
    ("normal", initializers.RandomNormal), ("random_normal", initializers.RandomNormal),
    ("truncated_normal", initializers.TruncatedNormal), ("TruncatedNormal", initializers.TruncatedNormal),
    ("glorot_uniform", initializers.GlorotUniform), ("glorot_normal", initializers.GlorotNormal),
    ("he_normal", initializers.HeNormal), ("he_uniform", initializers.HeUniform),
    ("lecun_normal", initializers.LecunNormal), ("lecun_uniform", initializers.LecunUniform),
    ("orthogonal", initializers.Orthogonal), ("identity", initializers.Identity),
    ("variance_scaling", initializers.VarianceScaling), ("VarianceScaling", initializers.VarianceScaling),
    ("GlorotUniformV2", initializers.GlorotUniform),
]


def test_get_by_every_keras_2_name():
    for name, cls in NAMES:
        assert type(initializers.get(name)) is cls, name
        assert getattr(initializers, name, cls) is cls, name


def test_get_tf_keras_2_21_dict_form():
    config = {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None},
              "registered_name": None}
    initializer = initializers.get(config)
    assert isinstance(initializer, initializers.GlorotUniform) and initializer.seed is None
    assert config == {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None},
                      "registered_name": None}
    assert initializers.get({"module": "keras.initializers", "class_name": "Zeros", "config": {},
                             "registered_name": None}).get_config() == {}


def test_get_keras_2_2_dict_forms():
    legacy = {"class_name": "VarianceScaling",
              "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}}
    initializer = initializers.get(legacy)
    assert type(initializer) is initializers.VarianceScaling
    assert initializer.get_config() == legacy["config"]
    normal = initializers.get({"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.1, "seed": 5,
                                                                      "dtype": "float32"}})
    assert normal.get_config() == {"mean": 0.0, "stddev": 0.1, "seed": 5}


def test_get_class_instance_function_and_none():
    assert initializers.get(None) is None
    assert type(initializers.get(initializers.HeUniform)) is initializers.HeUniform
    instance = initializers.Ones()
    assert initializers.get(instance) is instance

    def my_init(shape, dtype=None):
        return torch.ones(shape)
    assert initializers.get(my_init) is my_init


def test_get_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="Unknown initializer: 'glorot_uniformm'") as info:
        initializers.get("glorot_uniformm")
    assert "glorot_uniform" in str(info.value) and "he_normal" in str(info.value)
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        initializers.get(3)


ALL_INSTANCES = [
    initializers.Zeros(), initializers.Ones(), initializers.Constant(2.5), initializers.RandomUniform(-1, 1, seed=2),
    initializers.RandomNormal(0.5, 2.0), initializers.TruncatedNormal(stddev=0.3, seed=1),
    initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=4), initializers.Orthogonal(gain=1.5),
    initializers.Identity(gain=0.5), initializers.GlorotUniform(seed=9), initializers.GlorotNormal(),
    initializers.HeNormal(), initializers.HeUniform(), initializers.LecunNormal(), initializers.LecunUniform(),
]


@pytest.mark.parametrize("instance", ALL_INSTANCES, ids=lambda i: type(i).__name__)
def test_serialize_round_trip_in_tf_keras_form(instance):
    config = initializers.serialize(instance)
    assert config == {"module": "keras.initializers", "class_name": type(instance).__name__,
                      "config": instance.get_config(), "registered_name": None}
    restored = initializers.deserialize(json.loads(json.dumps(config)))
    assert type(restored) is type(instance) and restored.get_config() == instance.get_config()
    assert type(instance).from_config(instance.get_config()).get_config() == instance.get_config()


def test_tf_keras_configs_of_presets():
    assert initializers.serialize(initializers.GlorotUniform()) == {
        "module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None},
        "registered_name": None}
    assert initializers.RandomUniform().get_config() == {"minval": -0.05, "maxval": 0.05, "seed": None}
    assert initializers.VarianceScaling().get_config() == {"scale": 1.0, "mode": "fan_in",
                                                           "distribution": "truncated_normal", "seed": None}
    assert initializers.Orthogonal().get_config() == {"gain": 1.0, "seed": None}


class Halves(initializers.Initializer):
    def __init__(self, value=0.5):
        self.value = value

    def __call__(self, shape, dtype=None):
        return torch.full(tuple(shape), self.value)

    def get_config(self):
        return {"value": self.value}


def test_custom_initializer_serialization_and_lookup():
    config = initializers.serialize(Halves(0.25))
    assert config["class_name"] == "Halves" and config["config"] == {"value": 0.25}
    assert config["registered_name"] == "Halves"
    with pytest.raises(ValueError, match="Unknown initializer"):
        initializers.deserialize(config)
    restored = initializers.deserialize(config, custom_objects={"Halves": Halves})
    assert restored((2,)).tolist() == [0.25, 0.25]
    with generic_utils.custom_object_scope({"Halves": Halves}):
        assert isinstance(initializers.get("Halves"), Halves)

    def my_init(shape, dtype=None):
        return torch.zeros(shape)
    assert initializers.serialize(my_init) == "my_init"
    with generic_utils.custom_object_scope({"my_init": my_init}):
        assert initializers.get("my_init") is my_init


class ScaledOnes(initializers.Initializer):
    """A user initializer with its own config."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.scale, dtype=dtype or "float32")

    def get_config(self):
        return {"scale": self.scale}


def test_user_initializer_round_trips_through_serialize_layers_and_files(tmp_path):
    from fitgen.layers import Dense
    from fitgen.models import Sequential, load_model
    from fitgen.utils import custom_object_scope

    config = initializers.serialize(ScaledOnes(2.0))
    assert config["class_name"] == "ScaledOnes" and config["config"] == {"scale": 2.0}
    with pytest.raises(ValueError, match="Unknown initializer"):
        initializers.deserialize(config)
    assert initializers.deserialize(config, custom_objects={"ScaledOnes": ScaledOnes}).scale == 2.0
    with custom_object_scope({"ScaledOnes": ScaledOnes}):
        assert initializers.get({"class_name": "ScaledOnes", "config": {"scale": 4.0}}).scale == 4.0
    assert ScaledOnes.from_config(ScaledOnes(3.0).get_config()).scale == 3.0

    model = Sequential([Dense(2, input_shape=(3,), kernel_initializer=ScaledOnes(0.5))])
    np.testing.assert_array_equal(model.get_weights()[0], np.full((3, 2), 0.5))
    model.save(tmp_path / "m.h5")
    loaded = load_model(tmp_path / "m.h5", custom_objects={"ScaledOnes": ScaledOnes}, compile=False)
    assert loaded.layers[0].kernel_initializer.scale == 0.5


def test_registered_initializer_needs_no_custom_objects():
    @generic_utils.register_keras_serializable(package="tests")
    class Halves(ScaledOnes):
        pass

    config = initializers.serialize(Halves(0.5))
    restored = initializers.deserialize(json.loads(json.dumps(config)))
    assert type(restored) is Halves and restored.scale == 0.5
