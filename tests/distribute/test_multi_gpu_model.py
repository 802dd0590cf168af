"""multi_gpu_model: Keras 2's errors, and replica processes whose fit equals one process's fit."""
import distribute_worker as worker
import numpy as np
import pytest
import torch

from fitgen.distribute import multi_gpu, multi_gpu_model


def test_too_few_gpus_raises_keras2_error():
    model = worker.build_model()
    have = torch.cuda.device_count()
    expected = rf"To call `multi_gpu_model` with `gpus={have + 2}`, we expect the following devices to be available: "
    with pytest.raises(ValueError, match=expected + r"\['/cpu:0'") as info:
        multi_gpu_model(model, gpus=have + 2)
    assert "However this machine only has: ['/cpu:0'" in str(info.value)
    assert str(info.value).endswith("Try reducing `gpus`.")


@pytest.mark.parametrize("gpus, text", [(1, "`gpus >= 2`. Received: `gpus=1`"),
                                        ([0], "`len(gpus) >= 2`. Received: `gpus=[0]`")])
def test_fewer_than_two_gpus_is_refused(gpus, text):
    with pytest.raises(ValueError, match=text.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        multi_gpu_model(worker.build_model(), gpus=gpus)


def test_replicas_with_global_batch_train_like_one_process(capsys):
    """Two gloo replicas on the CPU (the path nccl takes on GPUs): batch_size is the global batch."""
    (x, y), (x_val, y_val) = worker.data()
    reference = worker.build_model()
    np.random.seed(3)
    expected = reference.fit(x, y, batch_size=20, epochs=2, validation_data=(x_val, y_val), verbose=0)

    template = worker.build_model()
    parallel = multi_gpu.MultiGpuModel(template, [0, 1], device_type="cpu")
    np.random.seed(3)
    history = parallel.fit(x, y, batch_size=20, epochs=2, validation_data=(x_val, y_val), verbose=0)
    for got, want in zip(template.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for key, values in expected.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-5, err_msg=key)
    assert template.history is history and history.epoch == [0, 1]
    np.testing.assert_allclose(parallel.predict(x_val), reference.predict(x_val), rtol=1e-5, atol=1e-6)
