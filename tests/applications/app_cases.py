"""Builds the cases of tests/fixtures/applications/make_application_fixtures.py in fitgen and compares them with
the tf-keras references (predictions rtol 1e-4, summary text exactly)."""
import importlib
import importlib.util
import json
import os

import numpy as np

from fitgen import backend

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "applications")
GENERATOR = os.path.join(FIXTURES, "make_application_fixtures.py")


def generator():
    """The fixture generator module (importable without tf-keras: it holds the case lists)."""
    spec = importlib.util.spec_from_file_location("make_application_fixtures", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(spec, folder):
    """The fitgen model of a case, with the weights of its file (or of its `weights_from` case, by name)."""
    module = importlib.import_module(f"fitgen.applications.{spec['module']}")
    builder = getattr(module, spec["builder"])
    kwargs = dict(spec["kwargs"])
    if "stack_fn" in kwargs:
        kwargs["stack_fn"] = generator().stack_fn(module, kwargs["stack_fn"])
    backend.clear_session()
    if "weights_from" in spec:
        model = builder(weights=None, **kwargs)
        model.load_weights(os.path.join(folder, spec["weights_from"] + ".h5"), by_name=True)
        return model
    return builder(weights=os.path.join(folder, spec["name"] + ".h5"), **kwargs)


def summary_text(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def check_case(name, folder, batch_size=None):
    """Builds case `name` from `folder` and asserts fitgen predicts and summarises as tf-keras did."""
    reference = np.load(os.path.join(folder, f"{name}.npz"))
    spec = dict(json.loads(str(reference["spec"])), name=name)
    model = build(spec, folder)
    got = model.predict(reference["x"], batch_size=batch_size, verbose=0)
    expected = reference["y"]
    assert got.shape == expected.shape, name
    scale = float(np.max(np.abs(expected))) or 1.0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale, err_msg=name)
    assert summary_text(model) == str(reference["summary"]), f"{name}: summary differs from tf-keras's"
    return model
