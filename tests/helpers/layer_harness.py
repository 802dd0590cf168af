"""Shared checks for layer tests: `check_layer` runs a layer the ways a model will and compares the views.

Import from a test with `from helpers.layer_harness import check_layer` (tests/ is on sys.path through its
conftest.py).
"""
import json

import numpy as np
import torch


def _is_shape(value):
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)


def _make_input(shape, dtype, rng):
    if np.dtype(dtype).kind in "iu":
        return torch.as_tensor(rng.integers(0, 5, size=shape).astype(dtype))
    return torch.as_tensor(rng.standard_normal(shape).astype(dtype))


def _shape_matches(actual, expected):
    return len(actual) == len(expected) and all(e is None or a == e for a, e in zip(actual, expected))


def _config_json_safe(config):
    # Keras configs must survive JSON (HDF5 files store them as JSON); tuples come back as lists.
    return json.loads(json.dumps(config))


def check_layer(layer_cls, kwargs, input_shape, expected_output_shape, input_dtype="float32", rtol=1e-6,
                atol=1e-6, check_backward=True, custom_objects=None):
    """Builds `layer_cls(**kwargs)` and checks it end to end; returns the (eval mode) output tensor.

    Checks:
      - the output of a forward pass on random data of `input_shape` (batch axis included; a list of shapes
        for multi-input layers) has `expected_output_shape` (None entries match anything);
      - `compute_output_shape` with a None batch axis agrees with that output, and so does a symbolic call on
        `Input`s;
      - `get_config()` survives JSON, `from_config` rebuilds a layer that, after `set_weights(get_weights())`,
        gives the same output;
      - `get_weights()` shapes are the weights' Keras shapes, and `set_weights` round-trips;
      - a training-mode forward and backward pass runs and gives finite gradients to the float inputs and
        every trainable weight.
    """
    from fitgen.engine.input_layer import Input

    rng = np.random.default_rng(0)
    multi = bool(input_shape) and isinstance(input_shape[0], (list, tuple))
    shapes = [tuple(s) for s in input_shape] if multi else [tuple(input_shape)]
    dtypes = input_dtype if isinstance(input_dtype, (list, tuple)) else [input_dtype] * len(shapes)
    inputs = [_make_input(s, d, rng) for s, d in zip(shapes, dtypes)]
    feed = inputs if multi else inputs[0]

    layer = layer_cls(**kwargs)
    layer.eval()
    output = layer(feed)
    assert isinstance(output, torch.Tensor), f"expected one output tensor, got {type(output)}"
    actual = tuple(output.shape)
    assert _shape_matches(actual, tuple(expected_output_shape)), \
        f"{layer_cls.__name__}{kwargs}: output shape {actual}, expected {tuple(expected_output_shape)}"

    # compute_output_shape with an unknown batch size agrees with the real output.
    symbolic_shapes = [(None,) + s[1:] for s in shapes]
    computed = layer.compute_output_shape(symbolic_shapes if multi else symbolic_shapes[0])
    assert tuple(computed)[1:] == actual[1:] and tuple(computed)[0] is None, \
        f"{layer_cls.__name__}{kwargs}: compute_output_shape {computed} vs real output {actual}"

    # Symbolic call on Inputs.
    symbolic_layer = layer_cls(**kwargs)
    keras_inputs = [Input(shape=s[1:], dtype=d) for s, d in zip(shapes, dtypes)]
    symbolic_out = symbolic_layer(keras_inputs if multi else keras_inputs[0])
    assert tuple(symbolic_out.shape) == tuple(computed), \
        f"{layer_cls.__name__}{kwargs}: symbolic output {symbolic_out.shape} vs compute_output_shape {computed}"

    # Weights: Keras shapes and a set/get round trip.
    weights = layer.get_weights()
    assert [w.shape for w in weights] == [tuple(w.shape) for w in layer.weights]
    perturbed = [w + 0.1 * rng.standard_normal(w.shape).astype(w.dtype) for w in weights]
    layer.set_weights(perturbed)
    for got, want in zip(layer.get_weights(), perturbed):
        np.testing.assert_array_equal(got, want)
    with torch.no_grad():
        output = layer(feed)

    # Config round trip.
    config = _config_json_safe(layer.get_config())
    assert config["name"] == layer.name
    if custom_objects is not None:
        clone = layer_cls.from_config(config, custom_objects=custom_objects)
    else:
        clone = layer_cls.from_config(config)
    clone.eval()
    clone(feed)
    clone.set_weights(layer.get_weights())
    with torch.no_grad():
        clone_output = clone(feed)
    np.testing.assert_allclose(clone_output.numpy(), output.numpy(), rtol=rtol, atol=atol)
    assert _config_json_safe(clone.get_config()) == config

    if check_backward:
        layer.train()
        grads_inputs = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
        out = layer(grads_inputs if multi else grads_inputs[0])
        (out.float() * torch.linspace(0.5, 1.5, out.numel()).reshape(out.shape)).sum().backward()
        for x in grads_inputs:
            if x.requires_grad and x.grad is not None:
                assert torch.isfinite(x.grad).all()
        for w in layer.trainable_weights:
            assert w.tensor.grad is not None, f"no gradient reached {w.name}"
            assert torch.isfinite(w.tensor.grad).all(), f"non-finite gradient for {w.name}"
        layer.eval()
    return output
