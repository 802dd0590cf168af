def multi_gpu_model(model, gpus=None, cpu_merge=True, cpu_relocation=False):
    raise NotImplementedError
