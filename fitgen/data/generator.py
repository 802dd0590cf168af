"""Python generators and iterables as batch streams: one producer, never duplicated.

A plain generator holds its position in its own frame; two producers advancing copies of it (Keras 2's
process pool) yield every batch twice, and two threads advancing the same one raise "generator already
executing". fitgen therefore runs a plain generator in exactly one producer (a thread, or one process
with use_multiprocessing=True) and warns once when more workers were asked for.

An iterable may instead opt into sharding, as a torch IterableDataset does: subclass
`ShardableIterable` (or set `shardable = True`) and let `__iter__` take its share from
`fitgen.data.pipeline.get_worker_info()`. Every worker then calls `iter()` on its own copy, and the
workers' outputs are interleaved round-robin.
"""
from fitgen.data.pipeline.sources import StreamSource


class ShardableIterable:
    """Base class for iterables that split their items among workers themselves.

    Example:

    ```python
    class Shards(ShardableIterable):
        def __init__(self, files):
            self.files = files

        def __iter__(self):
            info = get_worker_info()
            mine = self.files if info is None else self.files[info.id::info.num_workers]
            for name in mine:
                yield load_batch(name)
    ```
    """

    shardable = True

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__().")


class GeneratorSource(StreamSource):
    """A generator, iterator or iterable as a `StreamSource`.

    Args:
        generator: a generator object, any iterator, or an iterable. Epochs continue the same stream
            (Keras 2 semantics: a generator is never rewound); an iterable is iterated once per fit.
    """

    def __init__(self, generator):
        if not hasattr(generator, "__iter__") and not hasattr(generator, "__next__"):
            raise TypeError("GeneratorSource expects a generator, an iterator or an iterable. "
                            f"Received: {type(generator).__name__}")
        self.generator = generator
        self.shardable = bool(getattr(generator, "shardable", False))
        # A generator or iterator is the user's: Keras 2 scripts pass one generator to fit after fit.
        self.borrowed = hasattr(generator, "__next__")

    def stream(self):
        return iter(self.generator)

    def __repr__(self):
        return f"GeneratorSource({self.generator!r})"


def is_plain_generator(source):
    """True for a stream that must stay in one producer."""
    return isinstance(source, StreamSource) and not source.shardable
