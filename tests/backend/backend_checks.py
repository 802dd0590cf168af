"""Shared checks of the backend tests: a function on eager tensors, and the same function recorded on symbolic
tensors (shape inference and the values the recorded graph computes)."""
import json
import os

import numpy as np
import torch

from fitgen.engine.functional import GraphNetwork
from fitgen.engine.keras_tensor import KerasTensor, flatten
from fitgen.layers import Input

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "backend", "backend.npz")


def fixture_cases():
    data = np.load(FIXTURES)
    names = sorted({key.split("/")[0] for key in data.files if not key.startswith("rnn")})
    cases = []
    for name in names:
        spec = json.loads(str(data[f"{name}/spec"]))
        args = []
        while f"{name}/a{len(args)}" in data.files:
            args.append(data[f"{name}/a{len(args)}"])
        results = []
        while f"{name}/y{len(results)}" in data.files:
            results.append(data[f"{name}/y{len(results)}"])
        cases.append((name, spec["function"], args, spec["kwargs"], results))
    return cases


def rnn_fixture():
    return np.load(FIXTURES)


def numpy_of(value):
    if isinstance(value, (list, tuple)):
        return [numpy_of(v) for v in value]
    return value.detach().cpu().numpy()


def assert_close(actual, expected, rtol=1e-5, atol=1e-6):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    if expected.dtype == bool or actual.dtype == bool:
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol)


def check_symbolic(fn, arrays, kwargs=None, symbolic=None, rtol=1e-5, atol=1e-6):
    """Records `fn` on Inputs standing for `arrays[i]` (i in `symbolic`, default all; batch axis None), checks the
    inferred shapes against the eager result and runs the recorded graph on the arrays.

    Returns:
        The symbolic outputs (for further checks).
    """
    kwargs = dict(kwargs or {})
    symbolic = range(len(arrays)) if symbolic is None else symbolic
    inputs, call_args, feed = [], [], []
    for i, array in enumerate(arrays):
        array = np.asarray(array)
        if i in symbolic:
            tensor = Input(batch_shape=(None,) + array.shape[1:], dtype=array.dtype.name)
            inputs.append(tensor)
            feed.append(torch.as_tensor(array))
            call_args.append(tensor)
        else:
            call_args.append(torch.as_tensor(array))
    symbolic_out = fn(*call_args, **kwargs)
    eager = fn(*[torch.as_tensor(np.asarray(a)) for a in arrays], **kwargs)
    outs, eagers = flatten(symbolic_out), flatten(eager)
    assert len(outs) == len(eagers)
    for out, value in zip(outs, eagers):
        assert isinstance(out, KerasTensor), f"{fn.__name__} did not record an op on symbolic inputs"
        assert len(out.shape) == value.dim() and all(d is None or d == s for d, s in zip(out.shape, value.shape)), \
            f"inferred {out.shape}, eager {tuple(value.shape)}"
        assert out.dtype == str(value.dtype).replace("torch.", "")
    results = GraphNetwork(inputs, outs).run(feed)
    for result, value in zip(results, eagers):
        assert_close(numpy_of(result), numpy_of(value), rtol=rtol, atol=atol)
    return symbolic_out
