"""Backend activations, crossentropies, normalisation, dropout, bias_add and CTC against tf-keras 2.21 and NumPy."""
import numpy as np
import pytest
import torch
from backend_checks import assert_close, check_symbolic, fixture_cases, numpy_of

from fitgen import activations
from fitgen import backend as K

NN_FUNCTIONS = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "relu", "elu",
                "softplus", "softsign", "hard_sigmoid", "softmax", "l2_normalize", "logsumexp", "in_top_k", "round",
                "normalize_batch_in_training", "batch_normalization", "ctc_batch_cost", "ctc_decode")
PARAMETERS = ("normalize_batch_in_training", "batch_normalization")
RNG = np.random.RandomState(2)


@pytest.mark.parametrize("case", [c for c in fixture_cases() if c[1] in NN_FUNCTIONS], ids=lambda c: c[0])
def test_matches_tf_keras(case):
    _, function, args, kwargs, expected = case
    fn = getattr(K, function)
    result = fn(*[torch.as_tensor(a) for a in args], **kwargs)
    results = list(result) if isinstance(result, (list, tuple)) else [result]
    if function == "ctc_decode":
        results[0] = results[0][0]
        expected = [expected[0][0], expected[1]]
    for actual, wanted in zip(results, expected):
        assert_close(numpy_of(actual), wanted, rtol=1e-5, atol=1e-5)
    if function != "ctc_decode":
        check_symbolic(fn, args, kwargs, symbolic=[0] if function in PARAMETERS else None, atol=1e-5)


def test_crossentropies_read_the_logits_of_fitgen_activations():
    logits = torch.as_tensor(RNG.uniform(-30, 30, (4, 3)).astype("float32"))
    target = torch.as_tensor(np.eye(3, dtype="float32")[[0, 2, 1, 1]])
    from_probs = K.categorical_crossentropy(target, activations.softmax(logits))
    assert_close(numpy_of(from_probs), numpy_of(K.categorical_crossentropy(target, logits, from_logits=True)))
    plain = K.categorical_crossentropy(target, K.softmax(logits))  # K.softmax is plain: clipped probabilities
    assert float(plain.max()) <= -np.log(1e-7) + 1e-3
    with pytest.warns(UserWarning, match="does not represent logits"):
        K.binary_crossentropy(target, activations.sigmoid(logits), from_logits=True)


def test_sparse_crossentropy_ignore_class_masks():
    output = torch.as_tensor(RNG.dirichlet(np.ones(4), size=5).astype("float32"))
    labels = torch.tensor([0, 3, -1, 2, -1])
    losses = K.sparse_categorical_crossentropy(labels, output, ignore_class=-1)
    expected = -np.log(np.clip(output.numpy(), 1e-7, 1 - 1e-7)[np.arange(5), [0, 3, 0, 2, 0]])
    assert_close(numpy_of(losses), expected * np.array([1, 1, 0, 1, 0]), rtol=1e-5)
    assert losses._keras_mask.tolist() == [True, True, False, True, False]


def test_sigmoid_tanh_and_relu_defaults():
    x = RNG.uniform(-3, 3, (2, 5)).astype("float32")
    assert_close(numpy_of(K.relu(torch.as_tensor(x))), np.maximum(x, 0))
    assert_close(numpy_of(K.softmax(torch.as_tensor(x))), np.exp(x) / np.exp(x).sum(-1, keepdims=True), rtol=1e-5)
    check_symbolic(K.relu, [x], {"alpha": 0.1, "max_value": 2.0})


def test_moments_and_bias_add():
    x = RNG.uniform(-1, 1, (3, 4, 5)).astype("float32")
    mean, variance = K.moments(torch.as_tensor(x), axes=[0, 1])
    assert_close(numpy_of(mean), x.mean((0, 1)), rtol=1e-5)
    assert_close(numpy_of(variance), x.var((0, 1)), rtol=1e-5, atol=1e-6)
    bias = RNG.rand(5).astype("float32")
    assert_close(numpy_of(K.bias_add(torch.as_tensor(x), torch.as_tensor(bias))), x + bias)
    first = K.bias_add(torch.as_tensor(x), torch.as_tensor(bias[:4]), data_format="channels_first")
    assert_close(numpy_of(first), x + bias[:4, None])
    full = RNG.rand(4, 5).astype("float32")  # a full bias is given channels-last, as in Keras
    assert_close(numpy_of(K.bias_add(torch.as_tensor(x), torch.as_tensor(full))), x + full)
    assert_close(numpy_of(K.bias_add(torch.as_tensor(x.transpose(0, 2, 1)), torch.as_tensor(full),
                                     data_format="channels_first")), (x + full).transpose(0, 2, 1))
    with pytest.raises(ValueError, match="Unexpected bias dimensions"):
        K.bias_add(torch.as_tensor(x), torch.ones(1, 1, 1))
    check_symbolic(K.bias_add, [x, bias], symbolic=[0])


def test_dropout_keeps_the_expectation_and_follows_its_seed():
    x = torch.ones(200, 50)
    out = K.dropout(x, 0.3, seed=5)
    kept = out != 0
    assert abs(float(kept.float().mean()) - 0.7) < 0.02
    assert_close(numpy_of(out[kept]), np.full(int(kept.sum()), 1 / 0.7, "float32"), rtol=1e-6)
    assert torch.equal(out, K.dropout(x, 0.3, seed=5))
    shared = K.dropout(x, 0.5, noise_shape=(1, 50), seed=1)
    assert torch.equal(shared[0], shared[7])  # the mask is broadcast over the axis of size 1
    with pytest.raises(ValueError, match=r"interval \[0, 1\["):
        K.dropout(x, 1.0)
    symbolic = K.dropout(check_symbolic(K.identity, [np.ones((2, 3), "float32")]), 0.5)
    assert symbolic.shape == (None, 3)


def _beam_cases():
    import json
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "keras2" / "ctc_beam_search.json"
    return json.loads(path.read_text())["cases"]


@pytest.mark.parametrize("index", range(len(_beam_cases())))
def test_ctc_beam_search_decodes_the_paths_and_probabilities_of_tf_keras(index):
    case = _beam_cases()[index]
    y_pred = np.array(case["y"], dtype="float32")
    lengths = np.array(case["lengths"])
    if case.get("error"):  # TensorFlow refuses when fewer sequences than top_paths survive; so does fitgen
        with pytest.raises(ValueError, match="top_paths"):
            K.ctc_decode(y_pred, lengths, greedy=False, beam_width=case["beam"], top_paths=case["top"])
        return
    decoded, log_prob = K.ctc_decode(y_pred, lengths, greedy=False, beam_width=case["beam"], top_paths=case["top"])
    assert len(decoded) == case["top"]
    for mine, theirs in zip(decoded, case["decoded"]):
        assert mine.dtype == torch.int64
        np.testing.assert_array_equal(mine.numpy(), np.array(theirs))
    np.testing.assert_allclose(log_prob.numpy(), np.array(case["log_prob"]), rtol=1e-4, atol=1e-5)


def test_ctc_beam_search_refuses_more_paths_than_its_width():
    y_pred = np.full((1, 3, 3), 1 / 3, dtype="float32")
    with pytest.raises(ValueError, match=r"top_paths.*beam_width=2"):
        K.ctc_decode(y_pred, np.array([3]), greedy=False, beam_width=2, top_paths=3)
