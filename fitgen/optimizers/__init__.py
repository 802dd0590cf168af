"""Keras 2 optimizers (`keras.optimizers`) on torch tensors, with tf-keras 2.21's update rules and defaults."""
from fitgen.optimizers import schedules
from fitgen.optimizers.adadelta import Adadelta
from fitgen.optimizers.adagrad import Adagrad
from fitgen.optimizers.adam import Adam
from fitgen.optimizers.adamax import Adamax
from fitgen.optimizers.loss_scale import LossScaleOptimizer  # noqa: F401 (registers it for deserialize)
from fitgen.optimizers.nadam import Nadam
from fitgen.optimizers.optimizer import Optimizer
from fitgen.optimizers.rmsprop import RMSprop
from fitgen.optimizers.serialization import deserialize
from fitgen.optimizers.serialization import get
from fitgen.optimizers.serialization import serialize
from fitgen.optimizers.sgd import SGD

# Keras 2.2 spelled the classes in lower case too (`keras.optimizers.rmsprop(lr=1e-4, decay=1e-6)`).
sgd = SGD
rmsprop = RMSprop
adagrad = Adagrad
adadelta = Adadelta
adam = Adam
adamax = Adamax
nadam = Nadam

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam", "sgd", "rmsprop",
           "adagrad", "adadelta", "adam", "adamax", "nadam", "get", "serialize", "deserialize", "schedules"]
