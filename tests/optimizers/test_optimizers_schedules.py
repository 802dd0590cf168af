"""Learning-rate schedules: tf-keras 2.21's values (tests/fixtures/optimizers/schedules.npz) and configs."""
import json
import os

import numpy as np
import pytest

from fitgen import backend as K
from fitgen.optimizers import schedules

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "optimizers", "schedules.npz")


def _cases():
    with np.load(FIXTURE) as data:
        return [(name, json.loads(str(data[f"{name}__config"])), data[name]) for name in data.files
                if not name.endswith("__config")]


@pytest.mark.parametrize("name, config, expected", _cases(), ids=lambda x: x if isinstance(x, str) else "")
def test_schedule_values_match_tf_keras(name, config, expected):
    schedule = schedules.deserialize(config)
    assert type(schedule).__name__ == config["class_name"]
    values = np.array([schedule(step) for step in range(len(expected))], np.float32)
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-8)
    assert schedule.get_config() == config["config"]


@pytest.mark.parametrize("schedule", [
    schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True, name="exp"),
    schedules.InverseTimeDecay(0.1, 5, 0.5),
    schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
    schedules.PolynomialDecay(0.1, 100, end_learning_rate=0.001, power=2.0, cycle=True),
    schedules.CosineDecay(0.1, 100, alpha=0.01, warmup_target=0.2, warmup_steps=5),
], ids=lambda s: type(s).__name__)
def test_serialize_round_trip(schedule):
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    assert config["module"] == "keras.optimizers.schedules"
    clone = schedules.deserialize(config)
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()
    assert clone(7) == schedule(7)


def test_step_may_be_a_backend_variable():
    schedule = schedules.ExponentialDecay(0.1, 2, 0.5)
    assert schedule(K.variable(4, dtype="int64")) == pytest.approx(0.025)


def test_piecewise_lengths_must_agree():
    with pytest.raises(ValueError, match="boundaries should be 1 less than the length of values"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])


def test_decay_steps_must_be_positive():
    with pytest.raises(ValueError, match="`decay_steps` must be > 0. Received: decay_steps=0"):
        schedules.ExponentialDecay(0.1, 0, 0.5)


def test_custom_schedule_subclass_drives_an_optimizer(stand_in):
    from fitgen import optimizers

    class Halving(schedules.LearningRateSchedule):
        def __call__(self, step):
            return 1.0 / 2 ** step

        def get_config(self):
            return {}

    variable = stand_in(np.zeros(2), "w")
    optimizer = optimizers.SGD(learning_rate=Halving())
    optimizer.build([variable])
    for _ in range(3):
        variable.set_keras_grad(np.ones(2))
        optimizer.apply_gradients()
    np.testing.assert_allclose(variable.keras_value(), -(1 + 0.5 + 0.25) * np.ones(2))
    config = optimizers.serialize(optimizer)
    assert config["config"]["learning_rate"]["class_name"] == "Halving"
    clone = optimizers.deserialize(config, custom_objects={"Halving": Halving})
    assert isinstance(clone._schedule, Halving)


def test_base_class_requires_call_and_config():
    with pytest.raises(NotImplementedError, match="must override `__call__"):
        schedules.LearningRateSchedule()(0)
    with pytest.raises(NotImplementedError, match="get_config"):
        schedules.LearningRateSchedule().get_config()
