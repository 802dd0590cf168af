"""Backend convolutions and pooling against tf-keras 2.21 (both data formats), eager and recorded symbolically."""
import numpy as np
import pytest
import torch
from backend_checks import assert_close, check_symbolic, fixture_cases, numpy_of

from fitgen import backend as K

CONV = ("conv1d", "conv2d", "conv3d", "conv2d_transpose", "depthwise_conv2d", "separable_conv2d", "pool2d", "pool3d",
        "local_conv1d", "local_conv2d")


@pytest.mark.parametrize("case", [c for c in fixture_cases() if c[1] in CONV], ids=lambda c: c[0])
def test_matches_tf_keras(case):
    _, function, args, kwargs, (expected,) = case
    fn = getattr(K, function)
    assert_close(numpy_of(fn(*[torch.as_tensor(a) for a in args], **kwargs)), expected, rtol=1e-4, atol=1e-5)
    if function != "conv2d_transpose":  # its output_shape names the batch size
        check_symbolic(fn, args, kwargs, symbolic=[0], rtol=1e-4, atol=1e-5)


def test_channels_first_equals_channels_last_transposed():
    rng = np.random.RandomState(4)
    x, kernel = rng.rand(2, 6, 5, 3).astype("float32"), rng.rand(3, 3, 3, 4).astype("float32")
    last = K.conv2d(torch.as_tensor(x), torch.as_tensor(kernel), strides=(2, 1), padding="same")
    first = K.conv2d(torch.as_tensor(x.transpose(0, 3, 1, 2)), torch.as_tensor(kernel), strides=(2, 1),
                     padding="same", data_format="channels_first")
    assert_close(numpy_of(first), numpy_of(last).transpose(0, 3, 1, 2), rtol=1e-5)
    pooled = K.pool2d(torch.as_tensor(x.transpose(0, 3, 1, 2)), (2, 2), (2, 2), data_format="channels_first",
                      pool_mode="avg")
    assert_close(numpy_of(pooled), numpy_of(K.pool2d(torch.as_tensor(x), (2, 2), (2, 2), pool_mode="avg"))
                 .transpose(0, 3, 1, 2), rtol=1e-5)


def test_separable_conv1d_is_depthwise_then_pointwise():
    rng = np.random.RandomState(5)
    x = rng.rand(2, 7, 2).astype("float32")
    depthwise, pointwise = rng.rand(3, 2, 2).astype("float32"), rng.rand(1, 4, 3).astype("float32")
    out = numpy_of(K.separable_conv1d(torch.as_tensor(x), torch.as_tensor(depthwise), torch.as_tensor(pointwise)))
    steps = np.stack([x[:, t:t + 3] for t in range(5)], 1)  # (batch, 5, 3, channels)
    depth = np.einsum("btkc,kcm->btcm", steps, depthwise).reshape(2, 5, 4)
    assert_close(out, depth @ pointwise[0], rtol=1e-5)


def test_bad_arguments_raise():
    x = torch.ones(1, 4, 4, 2)
    with pytest.raises(ValueError, match="expects a 4-D input"):
        K.conv2d(torch.ones(4, 4, 2), torch.ones(2, 2, 2, 1))
    with pytest.raises(ValueError, match="Invalid padding"):
        K.conv2d(x, torch.ones(2, 2, 2, 1), padding="causal")
    with pytest.raises(ValueError, match="pool_mode"):
        K.pool2d(x, (2, 2), pool_mode="sum")
    with pytest.raises(ValueError, match="strides"):
        K.pool2d(x, (2, 2), strides=(1, 1, 1))
