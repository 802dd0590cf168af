"""`DataAdapter`: the one contract between a kind of user data and the training loop.

The loop (fitgen/engine/epoch.py) and the trainer (fitgen/engine/trainer.py) see data only through this class;
`fitgen.data.adapter.get_adapter` decides once which adapter a user's data gets. Subclasses: `ArrayAdapter`
(in-memory and out-of-core arrays, arrays.py) and `StreamAdapter` (Sequences, generators, torch Datasets and
DataLoaders, stream.py). Distribution wraps an adapter in a sharded one (fitgen/distribute/sharding.py) through
the same contract.
"""


class DataAdapter:
    """What every adapter offers the loop. Defaults describe a stream that needs nothing special.

    Attributes:
        num_samples: samples per epoch when known (arrays), else None.
        batch_size: samples per batch when the adapter decides it, else None.
        indexed: True when an epoch is a plan of batch keys (`epoch_plan`) that can be split among ranks;
            False for streams, which can only be run as they come.
        exhausted: True once a finite stream ran out of data (the trainer then ends training with a warning).
        batches_seen: batches delivered so far in this fit.
    """

    num_samples = None
    batch_size = None
    indexed = False
    exhausted = False
    batches_seen = 0
    seed = 0  # the data order's seed: epoch e's order is a function of (seed, e)

    def num_batches(self):
        """Batches per epoch, or None when only the data knows (a stream without steps)."""
        return None

    def epoch_plan(self, epoch):
        """The keys of epoch `epoch`'s batches in order (indexed adapters); sharding splits this plan."""
        raise NotImplementedError(f"{type(self).__name__} is a stream: its epochs have no plan to split.")

    def epoch_batches(self, epoch=0, skip=0, plan=None):
        """Yields epoch `epoch`'s batches as (x_list, y_list, sample_weight_list) of device tensors.

        Args:
            epoch: the epoch number (with the seed, it fixes the data order).
            skip: leading batches to drop without reading them (resuming mid-epoch).
            plan: batch keys to run instead of the epoch's own plan (a rank's share).
        """
        raise NotImplementedError

    def sample_inputs(self):
        """The first batch's inputs, to build a model that has not seen data yet (None when unknown)."""
        return None

    def epoch_stats(self):
        """Measurements of the last epoch beside Keras's logs, e.g. {'data_wait': share of time waiting}."""
        return {}

    def on_epoch_end(self):
        """Called by the trainer once an epoch's batches are consumed."""

    def close(self):
        """Releases workers, shared memory and files; idempotent."""
