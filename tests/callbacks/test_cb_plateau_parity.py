"""EarlyStopping and ReduceLROnPlateau decisions, checked against tf-keras 2.21 on the same value sequences.

The expected values were recorded by driving tf_keras.callbacks.EarlyStopping / ReduceLROnPlateau with the
sequences below: [stopped at epoch, best, wait, stopped_epoch, restored kernel value] and the 'lr' logged at
each epoch end followed by the final learning rate.
"""
import numpy as np
import pytest

from fitgen import backend
from fitgen.callbacks.early_stopping import EarlyStopping
from fitgen.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from fitgen.engine.sequential import Sequential
from fitgen.layers.core import Dense
from fitgen.optimizers.sgd import SGD

SEQUENCES = {"a": [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.9, 0.91], "b": [0.5, 0.5, 0.5, 0.4, 0.41, 0.42, 0.43],
             "c": [0.3, 0.4, 0.5, 0.45, 0.44, 0.43, 0.6, 0.2]}
ES_CONFIGS = [{"patience": 0}, {"patience": 2}, {"patience": 1, "min_delta": 0.05}, {"patience": 2, "baseline": 0.85},
              {"patience": 1, "mode": "max"}, {"patience": 1, "start_from_epoch": 2},
              {"patience": 2, "restore_best_weights": True}]
RL_CONFIGS = [{"patience": 1}, {"patience": 2, "cooldown": 1, "factor": 0.5}, {"patience": 1, "min_lr": 0.0003, "factor": 0.5},
              {"patience": 0, "mode": "max", "min_delta": 0.0}]
ES_EXPECTED = {
    "es-a-0": [2, 0.9, 1, 2, 2.0],
    "es-a-1": [3, 0.9, 2, 3, 3.0],
    "es-a-2": [2, 0.9, 1, 2, 2.0],
    "es-a-3": [2, 0.9, 3, 2, 2.0],
    "es-a-4": [1, 1.0, 1, 1, 1.0],
    "es-a-5": [3, 0.95, 1, 3, 3.0],
    "es-a-6": [3, 0.9, 2, 3, 1.0],
    "es-b-0": [1, 0.5, 1, 1, 1.0],
    "es-b-1": [2, 0.5, 2, 2, 2.0],
    "es-b-2": [1, 0.5, 1, 1, 1.0],
    "es-b-3": [2, 0.5, 2, 2, 2.0],
    "es-b-4": [1, 0.5, 1, 1, 1.0],
    "es-b-5": [4, 0.4, 1, 4, 4.0],
    "es-b-6": [2, 0.5, 2, 2, 0.0],
    "es-c-0": [1, 0.3, 1, 1, 1.0],
    "es-c-1": [2, 0.3, 2, 2, 2.0],
    "es-c-2": [1, 0.3, 1, 1, 1.0],
    "es-c-3": [2, 0.3, 2, 2, 2.0],
    "es-c-4": [3, 0.5, 1, 3, 3.0],
    "es-c-5": [6, 0.43, 1, 6, 6.0],
    "es-c-6": [2, 0.3, 2, 2, 0.0],
}
RL_EXPECTED = {
    "rl-a-0": [0.0010000000474974513, 0.0010000000474974513, 0.0010000000474974513, 0.00010000000474974513, 1.0000000656873453e-05, 1.0000001111620804e-06, 1.0000001111620804e-06, 1.0000001537946446e-07, 1.000000171558213e-08, 1.0000001937626735e-09],
    "rl-a-1": [0.0010000000474974513, 0.0010000000474974513, 0.0010000000474974513, 0.0010000000474974513, 0.0005000000237487257, 0.0005000000237487257, 0.0005000000237487257, 0.0005000000237487257, 0.0002500000118743628, 0.0002500000118743628],
    "rl-a-2": [0.0010000000474974513, 0.0010000000474974513, 0.0010000000474974513, 0.0005000000237487257, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354],
    "rl-a-3": [0.0010000000474974513, 0.0010000000474974513, 0.00010000000474974513, 1.0000000656873453e-05, 1.0000001111620804e-06, 1.0000001537946446e-07, 1.000000171558213e-08, 1.0000001937626735e-09, 1.0000002215182491e-10, 1.0000002562127186e-11],
    "rl-b-0": [0.0010000000474974513, 0.0010000000474974513, 0.00010000000474974513, 1.0000000656873453e-05, 1.0000000656873453e-05, 1.0000001111620804e-06, 1.0000001537946446e-07, 1.000000171558213e-08],
    "rl-b-1": [0.0010000000474974513, 0.0010000000474974513, 0.0010000000474974513, 0.0005000000237487257, 0.0005000000237487257, 0.0005000000237487257, 0.0002500000118743628, 0.0002500000118743628],
    "rl-b-2": [0.0010000000474974513, 0.0010000000474974513, 0.0005000000237487257, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354],
    "rl-b-3": [0.0010000000474974513, 0.0010000000474974513, 0.00010000000474974513, 1.0000000656873453e-05, 1.0000001111620804e-06, 1.0000001537946446e-07, 1.000000171558213e-08, 1.0000001937626735e-09],
    "rl-c-0": [0.0010000000474974513, 0.0010000000474974513, 0.00010000000474974513, 1.0000000656873453e-05, 1.0000001111620804e-06, 1.0000001537946446e-07, 1.000000171558213e-08, 1.0000001937626735e-09, 1.0000001937626735e-09],
    "rl-c-1": [0.0010000000474974513, 0.0010000000474974513, 0.0010000000474974513, 0.0005000000237487257, 0.0005000000237487257, 0.0002500000118743628, 0.0002500000118743628, 0.0001250000059371814, 0.0001250000059371814],
    "rl-c-2": [0.0010000000474974513, 0.0010000000474974513, 0.0005000000237487257, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354, 0.0003000000142492354],
    "rl-c-3": [0.0010000000474974513, 0.0010000000474974513, 0.0010000000474974513, 0.0010000000474974513, 0.00010000000474974513, 1.0000000656873453e-05, 1.0000001111620804e-06, 1.0000001111620804e-06, 1.0000001537946446e-07],
}


def _model():
    model = Sequential([Dense(1, input_shape=(1,))])
    model.compile(SGD(learning_rate=0.001), "mse")
    return model


@pytest.mark.parametrize("name", sorted(SEQUENCES))
@pytest.mark.parametrize("index", range(len(ES_CONFIGS)))
def test_early_stopping_matches_tf_keras(name, index):
    model = _model()
    callback = EarlyStopping(monitor="val_loss", **ES_CONFIGS[index])
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    stopped_at = None
    for epoch, value in enumerate(SEQUENCES[name]):
        # The kernel holds the epoch number, so the restored weights tell which epoch was "best".
        model.set_weights([np.full((1, 1), epoch, "float32"), np.zeros(1, "float32")])
        callback.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            stopped_at = epoch
            break
    callback.on_train_end()
    got = [stopped_at, float(callback.best), callback.wait, callback.stopped_epoch, float(model.get_weights()[0][0, 0])]
    assert got == ES_EXPECTED[f"es-{name}-{index}"]


@pytest.mark.parametrize("name", sorted(SEQUENCES))
@pytest.mark.parametrize("index", range(len(RL_CONFIGS)))
def test_reduce_lr_on_plateau_matches_tf_keras(name, index):
    model = _model()
    callback = ReduceLROnPlateau(monitor="val_loss", **RL_CONFIGS[index])
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(SEQUENCES[name]):
        logs = {"val_loss": value}
        callback.on_epoch_end(epoch, logs)
        rates.append(logs["lr"])
    rates.append(float(np.float32(backend.get_value(model.optimizer.lr))))
    assert rates == RL_EXPECTED[f"rl-{name}-{index}"]
