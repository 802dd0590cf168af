"""get / serialize / deserialize / from_config across tf-keras 2.21, Keras 2.3 and Keras 2.2.4 config forms."""
import json

import pytest
import torch

from fitgen import optimizers
from fitgen.utils import generic_utils

TFK_ADAM = {"class_name": "Custom>Adam", "config": {
    "name": "Adam", "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None, "jit_compile": False,
    "is_legacy_optimizer": False, "learning_rate": 0.003000000026077032, "beta_1": 0.9, "beta_2": 0.999,
    "epsilon": 1e-07, "amsgrad": False}}
TFK_SGD = {"class_name": "Custom>SGD", "config": {
    "name": "SGD", "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None, "jit_compile": False,
    "is_legacy_optimizer": False, "learning_rate": 0.05000000074505806, "momentum": 0.9, "nesterov": True}}
TFK_RMSPROP = {"class_name": "Custom>RMSprop", "config": {
    "name": "RMSprop", "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": 100, "jit_compile": False,
    "is_legacy_optimizer": False, "learning_rate": 0.009999999776482582, "rho": 0.9, "momentum": 0.0,
    "epsilon": 1e-07, "centered": False}}
TFK_ADAGRAD = {"class_name": "Custom>Adagrad", "config": {
    "name": "Adagrad", "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None, "jit_compile": False,
    "is_legacy_optimizer": False, "learning_rate": 0.10000000149011612, "initial_accumulator_value": 0.1,
    "epsilon": 1e-07}}


@pytest.mark.parametrize("saved", [TFK_ADAM, TFK_SGD, TFK_RMSPROP, TFK_ADAGRAD], ids=lambda c: c["class_name"])
def test_tf_keras_h5_configs_load_and_round_trip_exactly(saved):
    optimizer = optimizers.deserialize(json.loads(json.dumps(saved)))
    assert type(optimizer).__name__ == saved["class_name"].split(">")[1]
    assert optimizer.get_config() == saved["config"]
    assert optimizers.serialize(optimizer, use_legacy_format=True) == saved


def test_serialize_has_tf_keras_form_and_round_trips():
    optimizer = optimizers.SGD(0.05, momentum=0.9, nesterov=True, clipnorm=1.0)
    config = optimizers.serialize(optimizer)
    assert config["module"] == "keras.optimizers" and config["class_name"] == "SGD"
    assert config["registered_name"] is None
    clone = optimizers.deserialize(config)
    assert isinstance(clone, optimizers.SGD) and clone.get_config() == optimizer.get_config()
    assert clone is not optimizer


@pytest.mark.parametrize("k224, cls, expected", [
    ({"class_name": "SGD", "config": {"lr": 0.01, "momentum": 0.0, "decay": 0.0, "nesterov": False}},
     optimizers.SGD, {"learning_rate": 0.009999999776482582, "momentum": 0.0, "nesterov": False}),
    ({"class_name": "Adam", "config": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "decay": 1e-4,
                                       "epsilon": None, "amsgrad": True}},
     optimizers.Adam, {"epsilon": 1e-7, "amsgrad": True, "decay": 1e-4}),
    ({"class_name": "RMSprop", "config": {"lr": 0.0001, "rho": 0.9, "decay": 1e-6, "epsilon": 1e-07}},
     optimizers.RMSprop, {"rho": 0.9, "decay": 1e-6}),
    ({"class_name": "Adagrad", "config": {"lr": 0.01, "decay": 0.0, "epsilon": None}},
     optimizers.Adagrad, {"epsilon": 1e-7, "initial_accumulator_value": 0.1}),
    ({"class_name": "Adadelta", "config": {"lr": 1.0, "rho": 0.95, "decay": 0.0, "epsilon": None}},
     optimizers.Adadelta, {"learning_rate": 1.0, "rho": 0.95}),
    ({"class_name": "Adamax", "config": {"lr": 0.002, "beta_1": 0.9, "beta_2": 0.999, "decay": 0.0,
                                         "epsilon": 1e-07}}, optimizers.Adamax, {"beta_2": 0.999}),
    ({"class_name": "Nadam", "config": {"lr": 0.002, "beta_1": 0.9, "beta_2": 0.999, "epsilon": None,
                                        "schedule_decay": 0.004}}, optimizers.Nadam, {"epsilon": 1e-7}),
    ({"class_name": "Adam", "config": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "decay": 0.0,
                                       "epsilon": 1e-07, "amsgrad": False, "name": "Adam",
                                       "is_legacy_optimizer": True}}, optimizers.Adam, {"amsgrad": False}),
], ids=lambda x: x["class_name"] if isinstance(x, dict) and "class_name" in x else None)
def test_keras_2_2_and_2_3_configs(k224, cls, expected):
    optimizer = optimizers.deserialize(k224)
    assert type(optimizer) is cls
    config = optimizer.get_config()
    for key, value in expected.items():
        assert config[key] == pytest.approx(value), key
    assert float(optimizer.lr) == pytest.approx(k224["config"].get("lr", k224["config"].get("learning_rate")))
    assert optimizers.deserialize(optimizers.serialize(optimizer)).get_config() == config


@pytest.mark.parametrize("name, cls", [("sgd", optimizers.SGD), ("RMSprop", optimizers.RMSprop),
                                       ("adagrad", optimizers.Adagrad), ("Adadelta", optimizers.Adadelta),
                                       ("adam", optimizers.Adam), ("ADAMAX", optimizers.Adamax),
                                       ("nadam", optimizers.Nadam)])
def test_get_by_name_gives_tf_keras_defaults(name, cls):
    optimizer = optimizers.get(name)
    assert type(optimizer) is cls
    assert optimizer.get_config()["learning_rate"] == pytest.approx(0.01 if cls is optimizers.SGD else 0.001)


def test_tf_keras_defaults():
    assert optimizers.RMSprop().get_config()["rho"] == 0.9
    assert optimizers.RMSprop().epsilon == 1e-7
    assert optimizers.Adagrad().initial_accumulator_value == 0.1
    assert optimizers.Adadelta().rho == 0.95
    adam = optimizers.Adam()
    assert (adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (0.9, 0.999, 1e-7, False)


def test_get_passes_instances_and_dicts():
    optimizer = optimizers.Adam()
    assert optimizers.get(optimizer) is optimizer
    assert isinstance(optimizers.get(TFK_SGD), optimizers.SGD)


def test_get_unknown_name_lists_accepted_ones():
    with pytest.raises(ValueError, match=r"Unknown optimizer: 'adamw'.*adadelta, adagrad, adam, adamax, nadam"):
        optimizers.get("adamw")


@pytest.mark.parametrize("identifier", [torch.optim.Adam, "instance"])
def test_get_rejects_torch_optimizers(identifier):
    if identifier == "instance":
        identifier = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="torch.optim"):
        optimizers.get(identifier)


def test_get_rejects_other_objects():
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: 3"):
        optimizers.get(3)


def test_deserialize_unknown_class_name():
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.deserialize({"class_name": "Lion", "config": {}})


def test_custom_optimizer_via_custom_objects_and_scope():
    class MySGD(optimizers.SGD):
        pass

    config = {"class_name": "MySGD", "config": optimizers.SGD(0.2).get_config()}
    assert type(optimizers.deserialize(config, custom_objects={"MySGD": MySGD})) is MySGD
    with generic_utils.custom_object_scope({"MySGD": MySGD}):
        assert type(optimizers.deserialize(config)) is MySGD
        assert type(optimizers.get("MySGD")) is MySGD
    # A custom class registered under a built-in's name wins over the built-in.
    assert type(optimizers.deserialize({"class_name": "SGD", "config": {}}, custom_objects={"SGD": MySGD})) is MySGD


def test_schedule_learning_rate_round_trips_in_config():
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    optimizer = optimizers.Adam(learning_rate=schedule)
    config = optimizer.get_config()
    assert config["learning_rate"] == {"module": "keras.optimizers.schedules", "class_name": "ExponentialDecay",
                                       "config": schedule.get_config(), "registered_name": None}
    clone = optimizers.deserialize(json.loads(json.dumps(optimizers.serialize(optimizer))))
    assert isinstance(clone._schedule, optimizers.schedules.ExponentialDecay)
    assert clone.get_config() == config


def test_lowercase_keras_2_2_aliases():
    optimizer = optimizers.rmsprop(lr=0.0001, decay=1e-6)
    assert isinstance(optimizer, optimizers.RMSprop)
    assert float(optimizer.lr) == pytest.approx(0.0001)
    assert optimizer.decay == 1e-6
    for alias, cls in [(optimizers.sgd, optimizers.SGD), (optimizers.adagrad, optimizers.Adagrad),
                       (optimizers.adadelta, optimizers.Adadelta), (optimizers.adam, optimizers.Adam),
                       (optimizers.adamax, optimizers.Adamax), (optimizers.nadam, optimizers.Nadam)]:
        assert isinstance(alias(), cls)
