"""Data-parallel training from an unchanged Keras 2 script.

Run it as usual (one process), or on N processes with torchrun, without changing a line:

    python examples/distributed_mlp.py
    torchrun --nproc_per_node=2 examples/distributed_mlp.py          # 2 CPU processes (gloo), or 2 GPUs (nccl)
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d \
             --rdzv_endpoint=host0:29500 examples/distributed_mlp.py  # 2 machines x 8 GPUs

Under torchrun every process trains on its own share of the arrays (batch_size is per process, so the
global batch is batch_size x processes), the gradients are averaged by DistributedDataParallel, the
logs are reduced over all processes, and only rank 0 prints and writes files.
The data is synthetic (an MNIST-sized 784-feature, 10-class problem), so the script needs no download.
"""
import numpy as np

from fitgen import distribute
from fitgen.callbacks import Callback
from fitgen.layers import BatchNormalization, Dense, Dropout
from fitgen.models import Sequential
from fitgen.utils import to_categorical

batch_size = 64
num_classes = 10
epochs = 3


def make_data(samples, seed):
    rng = np.random.RandomState(seed)
    centers = np.random.RandomState(0).normal(0, 1, (num_classes, 784)).astype("float32")
    labels = rng.randint(0, num_classes, samples)
    x = centers[labels] + rng.normal(0, 3.0, (samples, 784)).astype("float32")
    return x.astype("float32"), to_categorical(labels, num_classes)


class StopWhenGoodEnough(Callback):
    """Any callback may set stop_training: every process then stops at the same epoch."""

    def on_epoch_end(self, epoch, logs=None):
        if logs.get("val_acc", 0) > 0.999:
            self.model.stop_training = True


x_train, y_train = make_data(6000, seed=1)
x_test, y_test = make_data(1001, seed=2)  # not a multiple of the number of processes: nothing is padded

model = Sequential()
model.add(Dense(256, activation="relu", input_shape=(784,)))
model.add(BatchNormalization())
model.add(Dropout(0.2))
model.add(Dense(num_classes, activation="softmax"))
distribute.sync_batchnorm(model)  # global-batch statistics across processes; no-op in one process
model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["acc"])

history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=2,
                    validation_data=(x_test, y_test), callbacks=[StopWhenGoodEnough()])
score = model.evaluate(x_test, y_test, verbose=0)
predictions = model.predict(x_test, batch_size=256)  # all 1001 rows, in order, on every process

if distribute.is_chief():
    print(f"processes: {distribute.get_world_size()}")
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    print("Predictions:", predictions.shape)
    np.save("distributed_mlp_weights.npy", np.array(model.get_weights(), dtype=object), allow_pickle=True)
