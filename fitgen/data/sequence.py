"""`Sequence`: the Keras 2 base class for indexable batch sources (exported as fitgen.utils.Sequence)."""


class Sequence:
    """Base object for fitting to a sequence of data, such as a dataset.

    Every `Sequence` must implement `__getitem__(index)` (one whole batch) and `__len__()` (the number of
    batches per epoch); `on_epoch_end()` may change the data between epochs (e.g. reshuffle a file list).
    fitgen delivers every index exactly once per epoch, whatever the number of workers, and calls
    `on_epoch_end` once after every epoch in the process that owns the Sequence.

    Example:

    ```python
    class CIFAR10Sequence(Sequence):
        def __init__(self, x_set, y_set, batch_size):
            self.x, self.y, self.batch_size = x_set, y_set, batch_size

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, idx):
            lo = idx * self.batch_size
            return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]
    ```
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index) returning one batch.")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__() returning the number of batches.")

    def on_epoch_end(self):
        """Called once at the end of every epoch; does nothing by default."""

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]
