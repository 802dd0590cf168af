"""Replays the tf-keras cases recorded by tests/fixtures/layers/make_recurrent_fixtures.py on fitgen layers.

A case is a chain of layers rebuilt from tf-keras's own configs (so config compatibility is tested too),
given tf-keras's weights, called on the recorded input; outputs, gradients of sum(output 0) and, for
BatchNormalization, the moving statistics after a training call are compared with tf-keras's.
"""
import json
from pathlib import Path

import numpy as np
import torch

from fitgen.layers.wrappers import deserialize_layer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "layers"
RTOL, ATOL = 1e-5, 1e-6
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-5


def load_cases(filename):
    """{case name: {key: array}} from one of the recorded npz files."""
    cases = {}
    with np.load(FIXTURES / filename) as data:
        for key in data.files:
            name, field = key.split("__", 1)
            cases.setdefault(name, {})[field] = data[key]
    return cases


def _indexed(case, prefix):
    keys = sorted((k for k in case if k.startswith(prefix) and k[len(prefix):].isdigit()),
                  key=lambda k: int(k[len(prefix):]))
    return [case[k] for k in keys]


def build_chain(case, overrides=None):
    """The case's layers, rebuilt from tf-keras's configs (updated by `overrides`, a dict for the first
    layer), built and given tf-keras's weights."""
    layers = []
    shape = (None,) + tuple(case["x"].shape[1:])
    j = 0
    while f"config_{j}" in case:
        config = json.loads(str(case[f"config_{j}"]))
        if j == 0 and overrides:
            config["config"].update(overrides)
        layer = deserialize_layer(config)
        layer._maybe_build(shape)
        layer.set_weights(_indexed(case, f"w_{j}_"))
        out_shape = layer.compute_output_shape(shape)
        shape = out_shape[0] if isinstance(out_shape, list) else out_shape
        layers.append(layer)
        j += 1
    return layers


def run_chain(layers, case, training=False):
    """Calls the chain on the case's input; returns the flattened outputs."""
    out = torch.from_numpy(np.array(case["x"]))
    states = _indexed(case, "s_")
    for j, layer in enumerate(layers):
        kwargs = {"training": training}
        if states and j == len(layers) - 1:
            kwargs["initial_state"] = [torch.from_numpy(s) for s in states]
        out = layer(out, **kwargs)
        if j < len(layers) - 1 and isinstance(out, list):
            out = out[0]
    return out if isinstance(out, list) else [out]


def check_case(case, grads=True, overrides=None):
    """Asserts that fitgen reproduces a recorded case (outputs, gradients, moving statistics)."""
    training = bool(case.get("training", 0))
    layers = build_chain(case, overrides)
    outputs = run_chain(layers, case, training=training)
    expected = _indexed(case, "y_")
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected):
        assert tuple(got.shape) == want.shape
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=RTOL, atol=ATOL)
    if grads and any(k.startswith("g_") for k in case):
        outputs[0].sum().backward()
        for j, layer in enumerate(layers):
            want = _indexed(case, f"g_{j}_")
            if not want:
                continue
            got = [w.to_keras(w.tensor.grad).numpy() for w in layer.trainable_weights]
            assert len(got) == len(want)
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w, rtol=GRAD_RTOL, atol=GRAD_ATOL)
    if "y_infer" in case:
        for j, layer in enumerate(layers):
            for got, want in zip(layer.get_weights(), _indexed(case, f"after_{j}_")):
                np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
        out = torch.from_numpy(np.array(case["x"]))
        for layer in layers:
            out = layer(out, training=False)
        np.testing.assert_allclose(out.detach().numpy(), case["y_infer"], rtol=RTOL, atol=ATOL)
    return layers
