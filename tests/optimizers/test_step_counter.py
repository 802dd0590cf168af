"""`optimizer.iterations` is a plain int inside the step, and the Keras 2 variable everywhere else."""
import numpy as np
import torch

from fitgen import backend as K
from fitgen import optimizers
from fitgen.layers import Dense
from fitgen.models import Sequential


def test_iterations_reads_and_writes_like_a_backend_variable():
    opt = optimizers.Adam()
    assert isinstance(opt.iterations, K.Variable)
    assert opt.iterations.dtype == "int64" and opt.iterations.shape == ()
    K.set_value(opt.iterations, 5)
    assert K.get_value(opt.iterations) == 5 and K.get_value(opt.iterations).dtype == np.int64
    assert int(opt.iterations) == 5 and opt.iterations + 1 == 6 and opt.iterations == 5
    opt.iterations = 7
    assert int(opt.iterations) == 7


def test_steps_count_and_saved_weights_keep_the_int64_iteration(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile(optimizers.SGD(momentum=0.5), "mse")
    model.fit(np.ones((10, 3), "float32"), np.zeros((10, 2), "float32"), batch_size=4, verbose=0)
    assert K.get_value(model.optimizer.iterations) == 3
    first = model.optimizer.get_weights()[0]
    assert first.dtype == np.int64 and first.shape == () and first == 3
    model.save(tmp_path / "m.h5")
    from fitgen.models import load_model
    loaded = load_model(tmp_path / "m.h5")
    assert int(loaded.optimizer.iterations) == 3


def test_torch_dtype_is_cached_and_still_follows_floatx():
    assert K.torch_dtype("float32") is torch.float32
    assert K.torch_dtype(np.float64) is torch.float64
    assert K.torch_dtype("bfloat16") is torch.bfloat16
    assert K.torch_dtype(torch.int8) is torch.int8
    previous = K.floatx()
    try:
        K.set_floatx("float64")
        assert K.torch_dtype() is torch.float64
    finally:
        K.set_floatx(previous)
    assert K.torch_dtype() is torch.float32
