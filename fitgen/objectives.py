"""Keras 2's `keras.objectives`: the old name of `keras.losses`, kept for scripts that still import it."""
from fitgen.losses import (KLD, MAE, MAPE, MSE, MSLE, binary_crossentropy, categorical_crossentropy,  # noqa: F401
                           categorical_hinge, cosine, cosine_proximity, deserialize, get, hinge,
                           kullback_leibler_divergence, logcosh, mae, mape, mean_absolute_error,
                           mean_absolute_percentage_error, mean_squared_error, mean_squared_logarithmic_error, mse,
                           msle, poisson, serialize, sparse_categorical_crossentropy, squared_hinge, kld)
