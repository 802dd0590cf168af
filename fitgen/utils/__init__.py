"""Keras 2 utilities (`from fitgen.utils import to_categorical, Sequence, HDF5Matrix, ...`)."""
from fitgen.backend import set_random_seed
from fitgen.data.sequence import Sequence
from fitgen.utils import data_utils, generic_utils, io_utils, np_utils
from fitgen.utils.data_utils import get_file
from fitgen.utils.generic_utils import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                        register_keras_serializable)
from fitgen.utils.io_utils import HDF5Matrix
from fitgen.utils.np_utils import normalize, to_categorical
from fitgen.utils.progbar import Progbar


def print_summary(model, line_length=None, positions=None, print_fn=None):
    """Prints `model.summary()` (Keras 2's `keras.utils.print_summary`)."""
    model.summary(line_length=line_length, positions=positions, print_fn=print_fn)


def get_worker_info():
    """Inside a fitgen data worker: its id, the number of workers, its seed and the epoch; None elsewhere."""
    from fitgen.data.pipeline import get_worker_info as _get_worker_info
    return _get_worker_info()
