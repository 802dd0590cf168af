"""Keras 2 utilities (`from fitgen.utils import to_categorical, Sequence, HDF5Matrix, ...`)."""
from fitgen.backend import set_random_seed
from fitgen.data.pipeline import get_worker_info as _get_worker_info
from fitgen.data.sequence import Sequence
from fitgen.utils import data_utils, generic_utils, io_utils, layer_utils, np_utils
from fitgen.utils.data_utils import get_file
from fitgen.utils.enqueuers import GeneratorEnqueuer, OrderedEnqueuer, SequenceEnqueuer
from fitgen.utils.generic_utils import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    register_keras_serializable,
    serialize_keras_object,
)
from fitgen.utils.io_utils import HDF5Matrix
from fitgen.utils.layer_utils import convert_all_kernels_in_model, get_source_inputs, print_summary
from fitgen.utils.multi_gpu_utils import multi_gpu_model
from fitgen.utils.np_utils import normalize, to_categorical
from fitgen.utils.plot_history import plot_history
from fitgen.utils.progbar import Progbar
from fitgen.utils.vis_utils import model_to_dot, plot_model


def get_worker_info():
    """Inside a fitgen data worker: its id, the number of workers, its seed and the epoch; None elsewhere."""
    return _get_worker_info()
