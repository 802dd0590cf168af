"""Data-parallel training on torch.distributed from the unchanged Keras 2 script.

Launch the script with `torchrun --nproc_per_node=N train.py` (or torchrun's multi-machine rendezvous):
`fit`, `fit_generator`, `evaluate` and `predict` find (or create) the process group and train with
DistributedDataParallel, each rank on its share of the data. `batch_size` is per process under torchrun
(the global batch is `batch_size * world_size`); `multi_gpu_model` keeps Keras 2's global meaning.

Public helpers:

* `get_rank()`, `get_world_size()`: for generators that take their own share of the data.
* `is_chief()`: True on rank 0 and in any single process; guard file output with it.
* `initialize()`, `current()`, `barrier()`: the process group, when you want it earlier or explicitly.
* `sync_batchnorm(model)`: BatchNormalization layers use statistics of the global batch in training.
* `set_ddp_options(**kwargs)`: extra DistributedDataParallel arguments (e.g. find_unused_parameters).
* `multi_gpu_model(model, gpus)`: Keras 2's data parallelism on the GPUs of this machine.
"""
from fitgen.distribute.context import (
           DistributedContext,
           barrier,
           current,
           get_rank,
           get_world_size,
           initialize,
           is_chief,
)
from fitgen.distribute.ddp import set_ddp_options
from fitgen.distribute.multi_gpu import multi_gpu_model
from fitgen.distribute.sync_batchnorm import sync_batchnorm

__all__ = [
           "DistributedContext",
           "barrier",
           "current",
           "get_rank",
           "get_world_size",
           "initialize",
           "is_chief",
           "multi_gpu_model",
           "set_ddp_options",
           "sync_batchnorm",
]
