"""Keras 2's backend API (`from fitgen import backend as K`), on PyTorch.

`common` holds the configuration (floatx, epsilon, image_data_format, the device, layer naming) and the
Variable type, as Keras 2's `keras/backend/common.py` did.
"""
from fitgen.backend.common import (Variable, backend, batch_get_value, batch_set_value, clear_session, count_params,
                                   epsilon, floatx, get_device, get_value, image_data_format, int_shape,
                                   learning_phase, reset_uids, set_device, set_epsilon, set_floatx,
                                   set_image_data_format, set_random_seed, set_value, torch_dtype,
                                   unique_object_name, variable)
from fitgen.backend.common import keras_config_path, normalize_data_format  # keras.json; K.normalize_data_format
