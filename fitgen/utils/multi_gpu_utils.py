"""Keras 2's `keras.utils.multi_gpu_utils`: `multi_gpu_model` (implemented in fitgen.distribute.multi_gpu)."""


def multi_gpu_model(model, gpus=None, cpu_merge=True, cpu_relocation=False):
    """Keras 2's data-parallel wrapper: `fit` of the returned model trains on `gpus` GPUs (torch.distributed).

    `batch_size` keeps Keras 2's meaning: the global batch, split across the replicas. Raises ValueError on a
    machine with fewer GPUs, as Keras 2 did. See fitgen.distribute.multi_gpu.
    """
    from fitgen.distribute.multi_gpu import multi_gpu_model as _multi_gpu_model
    return _multi_gpu_model(model, gpus=gpus, cpu_merge=cpu_merge, cpu_relocation=cpu_relocation)
