"""Keras 2 callbacks (`from fitgen.callbacks import ModelCheckpoint, EarlyStopping, ...`)."""
from fitgen.callbacks.backup_and_restore import BackupAndRestore
from fitgen.callbacks.base_logger import BaseLogger
from fitgen.callbacks.callback import Callback
from fitgen.callbacks.callback_list import CallbackList
from fitgen.callbacks.csv_logger import CSVLogger
from fitgen.callbacks.early_stopping import EarlyStopping
from fitgen.callbacks.history import History
from fitgen.callbacks.lambda_callback import LambdaCallback
from fitgen.callbacks.learning_rate_scheduler import LearningRateScheduler
from fitgen.callbacks.model_checkpoint import ModelCheckpoint
from fitgen.callbacks.progbar_logger import ProgbarLogger
from fitgen.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from fitgen.callbacks.remote_monitor import RemoteMonitor
from fitgen.callbacks.tensorboard import TensorBoard
from fitgen.callbacks.terminate_on_nan import TerminateOnNaN
