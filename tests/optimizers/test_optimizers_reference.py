"""fitgen's optimizers reproduce tf-keras 2.21's numbers (tests/fixtures/optimizers, made by tf-keras itself)."""
import glob
import json
import os

import numpy as np
import pytest

from fitgen import optimizers

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "optimizers")
CASES = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(FIXTURES, "*.npz"))
               if not p.endswith("schedules.npz"))
RTOL = 1e-5
ATOL = 1e-6


def _schedule(name):
    with np.load(os.path.join(FIXTURES, "schedules.npz")) as data:
        config = json.loads(str(data[f"{name}__config"]))
    return optimizers.schedules.deserialize(config)


def _load(case):
    with np.load(os.path.join(FIXTURES, f"{case}.npz")) as data:
        return {key: data[key] for key in data.files}


def test_fixture_cases_cover_every_optimizer_and_option():
    assert len(CASES) >= 25
    metas = [json.loads(str(_load(case)["meta"])) for case in CASES]
    assert {m["class_name"] for m in metas} == {"SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam"}
    options = set().union(*(m["kwargs"] for m in metas))
    assert {"momentum", "nesterov", "amsgrad", "centered", "clipnorm", "clipvalue", "global_clipnorm", "decay",
            "weight_decay", "initial_accumulator_value", "rho"} <= options


@pytest.mark.parametrize("case", CASES)
def test_matches_tf_keras(case, stand_in):
    data = _load(case)
    meta = json.loads(str(data["meta"]))
    kwargs = dict(meta["kwargs"])
    if meta["schedule"]:
        kwargs["learning_rate"] = _schedule(meta["schedule"])
    optimizer = getattr(optimizers, meta["class_name"])(**kwargs)
    # The kernel is stored transposed on the torch side: slots must still come out in Keras layout.
    variables = [stand_in(data["init_0"], "w0", transposed=True), stand_in(data["init_1"], "w1")]
    optimizer.build([v for v in variables])
    steps = data["grads_0"].shape[0]
    for step in range(steps):
        for i, variable in enumerate(variables):
            grad = data[f"grads_{i}"][step]
            variable.set_keras_grad(None if np.isnan(grad).any() else grad)
        optimizer.apply_gradients()
        for i, variable in enumerate(variables):
            np.testing.assert_allclose(variable.keras_value(), data[f"after_{i}"][step], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{case}: variable {i} after step {step + 1}")
    assert int(optimizer.iterations) == steps
    if meta["legacy"]:
        return
    names = [str(n) for n in data["opt_names"]]
    assert optimizer.weight_names() == names
    weights = optimizer.get_weights()
    assert len(weights) == len(names)
    assert weights[0].dtype == np.int64 and int(weights[0]) == int(data["opt_0"])
    for j in range(1, len(names)):
        expected = data[f"opt_{j}"]
        if meta["class_name"] == "SGD" and not kwargs.get("momentum"):
            # tf-keras fills the unused momentum slot with -lr * g; fitgen keeps it at zero (same training).
            expected = np.zeros_like(expected)
        np.testing.assert_allclose(weights[j], expected, rtol=RTOL, atol=ATOL, err_msg=f"{case}: {names[j]}")
