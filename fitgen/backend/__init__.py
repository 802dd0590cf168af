"""Keras 2's backend API (`from fitgen import backend as K`), on PyTorch.

`common` holds the configuration (floatx, epsilon, image_data_format, the device, layer naming) and the
numpy-backed Variable of optimizers; the tensor functions live in `math_ops`, `array_ops`, `nn_ops`, `conv_ops`,
`random_ops`, `variables`, `control_ops` and `graph_ops`. Every function that takes tensors also takes the
symbolic tensors of the functional API and then records a layer (`dispatch`, `op_layer`).
"""
from fitgen.backend.common import (Variable, backend, batch_get_value, batch_set_value, clear_session,
                                   creation_device, device_scope, epsilon, floatx, get_device, get_uid, get_value,
                                   image_data_format, reset_uids, set_device, set_epsilon, set_floatx,
                                   set_image_data_format, set_random_seed, set_value, torch_dtype,
                                   unique_object_name)
from fitgen.backend.common import keras_config_path, normalize_data_format  # keras.json; K.normalize_data_format
from fitgen.backend.dispatch import keras_op
from fitgen.backend.variables import (KerasVariable, cast, cast_to_floatx, constant, count_params, dtype, eval, eye,
                                      get_variable_shape, identity, int_shape, is_keras_tensor, is_sparse, is_tensor,
                                      is_variable, moving_average_update, ndim, ones, ones_like, print_tensor, shape,
                                      to_dense, update, update_add, update_sub, variable, zeros, zeros_like)
from fitgen.backend.math_ops import (abs, all, any, argmax, argmin, batch_dot, clip, cos, cumprod, cumsum, dot, equal,
                                     exp, greater, greater_equal, less, less_equal, log, logsumexp, max, maximum,
                                     mean, min, minimum, not_equal, pow, prod, round, sign, sin, sqrt, square, std,
                                     sum, transpose, var)
from fitgen.backend.array_ops import (arange, batch_flatten, concatenate, expand_dims, flatten, gather, one_hot,
                                      permute_dimensions, repeat, repeat_elements, reshape, resize_images,
                                      resize_volumes, reverse, slice, spatial_2d_padding, spatial_3d_padding, squeeze,
                                      stack, temporal_padding, tile)
from fitgen.backend.nn_ops import (batch_normalization, bias_add, binary_crossentropy, categorical_crossentropy,
                                   ctc_batch_cost, ctc_decode, dropout, elu, hard_sigmoid, in_top_k, l2_normalize,
                                   moments, normalize_batch_in_training, relu, sigmoid, softmax, softplus, softsign,
                                   sparse_categorical_crossentropy, tanh)
from fitgen.backend.conv_ops import (conv1d, conv2d, conv2d_transpose, conv3d, conv3d_transpose, depthwise_conv2d,
                                     local_conv1d, local_conv2d,
                                     pool2d, pool3d, separable_conv1d, separable_conv2d)
from fitgen.backend.random_ops import (random_bernoulli, random_binomial, random_normal, random_normal_variable,
                                       random_uniform, random_uniform_variable, truncated_normal)
from fitgen.backend.control_ops import (foldl, foldr, in_test_phase, in_train_phase, learning_phase, map_fn, rnn,
                                        set_learning_phase, stop_gradient, switch)
from fitgen.backend.graph_ops import (function, get_session, gradients, is_placeholder, manual_variable_initialization,
                                      name_scope, placeholder, set_session)
from fitgen.backend import operators  # noqa: F401  (registers the KerasTensor operators)
