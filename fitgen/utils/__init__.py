"""Keras 2 utilities (`from fitgen.utils import to_categorical, Sequence, HDF5Matrix, ...`)."""
from fitgen.backend import set_random_seed
from fitgen.data.sequence import Sequence
from fitgen.utils import data_utils, generic_utils, io_utils, np_utils
from fitgen.utils.data_utils import get_file
from fitgen.utils.generic_utils import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                        register_keras_serializable)
from fitgen.utils.io_utils import HDF5Matrix
from fitgen.utils.np_utils import normalize, to_categorical
from fitgen.utils.plot_history import plot_history
from fitgen.utils.progbar import Progbar
from fitgen.utils.vis_utils import model_to_dot, plot_model


def multi_gpu_model(model, gpus=None, cpu_merge=True, cpu_relocation=False):
    """Keras 2's data-parallel wrapper: `fit` of the returned model trains on `gpus` GPUs (torch.distributed).

    `batch_size` keeps Keras 2's meaning: the global batch, split across the replicas. Raises ValueError on a
    machine with fewer GPUs, as Keras 2 did. See fitgen.distribute.multi_gpu.
    """
    from fitgen.distribute.multi_gpu import multi_gpu_model as _multi_gpu_model
    return _multi_gpu_model(model, gpus=gpus, cpu_merge=cpu_merge, cpu_relocation=cpu_relocation)


def print_summary(model, line_length=None, positions=None, print_fn=None):
    """Prints `model.summary()` (Keras 2's `keras.utils.print_summary`)."""
    model.summary(line_length=line_length, positions=positions, print_fn=print_fn)


def get_worker_info():
    """Inside a fitgen data worker: its id, the number of workers, its seed and the epoch; None elsewhere."""
    from fitgen.data.pipeline import get_worker_info as _get_worker_info
    return _get_worker_info()
