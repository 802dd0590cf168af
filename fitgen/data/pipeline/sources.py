"""The two kinds of batch source the Prefetcher understands (torch's Map vs Iterable split).

An `IndexedSource` is asked for batch `i` (exactly once per epoch by construction, so any number of
workers may share it); a `StreamSource` hands out one iterator that only one producer may advance,
unless it opts into sharding.
"""
from fitgen.data.sequence import Sequence


class IndexedSource:
    """Protocol for indexable batch sources: `__len__`, `get_batch(index)`, `on_epoch_end()`.

    Optional refinements a source may define:

    * `changes_on_epoch_end` (bool): False promises that `on_epoch_end` changes nothing process workers
      need, so the Prefetcher does not re-send the source's state to them after each epoch.
    * `get_epoch_state()` / `set_epoch_state(state)`: a small picklable state that process workers apply
      after `on_epoch_end`, instead of receiving a pickle of the whole source (the default).
    * `deterministic` (bool): True promises `get_batch` draws no random numbers, so process workers need not
      reseed per batch (and its keys need not be integers).
    """

    changes_on_epoch_end = True
    deterministic = False

    def __len__(self):
        raise NotImplementedError

    def get_batch(self, index):
        raise NotImplementedError

    def on_epoch_end(self):
        pass


class StreamSource:
    """Protocol for streaming sources: `stream()` returns the iterator, called once per fit.

    Attributes:
        shardable: True when `stream()` may be called once in every worker, each call yielding that
            worker's share (decided through `get_worker_info()`), as a torch IterableDataset does.
        runs_own_workers: True when the source parallelises itself (a torch DataLoader): the
            Prefetcher then iterates it in the caller's thread whatever `workers` says.
        keeps_tensors: True to receive torch tensors as the stream made them; by default they become
            NumPy arrays like every other source's batches.
        borrowed: True when `stream()` hands out the user's own iterator (a generator object): fitgen then
            stops pulling from it when a fit ends but never closes it, so the next fit can go on with it.
    """

    shardable = False
    runs_own_workers = False
    keeps_tensors = False
    borrowed = False

    def stream(self):
        raise NotImplementedError


class SequenceSource(IndexedSource):
    """Adapts a Keras `Sequence` (anything with `__len__` and `__getitem__`) to `IndexedSource`."""

    def __init__(self, sequence):
        self.sequence = sequence
        own = getattr(type(sequence), "on_epoch_end", None)
        # Only a Sequence that overrides on_epoch_end can change state that workers must see again.
        self.changes_on_epoch_end = own is not None and own is not Sequence.on_epoch_end
        if hasattr(sequence, "get_epoch_state") and hasattr(sequence, "set_epoch_state"):
            # Workers then receive only this small state after on_epoch_end, not a pickle of the Sequence.
            self.get_epoch_state = sequence.get_epoch_state
            self.set_epoch_state = sequence.set_epoch_state

    def __len__(self):
        return len(self.sequence)

    def get_batch(self, index):
        return self.sequence[index]

    def on_epoch_end(self):
        hook = getattr(self.sequence, "on_epoch_end", None)
        if hook is not None:
            hook()
