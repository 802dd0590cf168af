"""Keras 2 callbacks (`from fitgen.callbacks import ModelCheckpoint, EarlyStopping, ...`)."""
from fitgen.callbacks.callback import Callback
from fitgen.callbacks.callback_list import CallbackList
from fitgen.callbacks.history import History
from fitgen.callbacks.progbar_logger import ProgbarLogger
