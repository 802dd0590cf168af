"""Sequence preprocessing of Keras 2 (`keras.preprocessing.sequence`, keras_preprocessing 1.1):
`pad_sequences`, `TimeseriesGenerator`, `make_sampling_table` and `skipgrams`."""
import json
import random

import numpy as np

from fitgen.data.sequence import Sequence

_PAD_MODES = ("pre", "post")


def _remove_long_seq(maxlen, seq, label):
    """Keeps the (sequence, label) pairs whose sequence is strictly shorter than `maxlen`, as Keras's datasets do."""
    kept = [(x, y) for x, y in zip(seq, label) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pads sequences to the same length.

    Turns a list of `num_samples` sequences (lists of integers, or of equally shaped items) into an array
    of shape `(num_samples, maxlen) + item_shape`. `maxlen` defaults to the length of the longest
    sequence; shorter sequences are padded with `value` and longer ones truncated, at the start
    (`'pre'`, the default) or at the end (`'post'`).

    Args:
        sequences: list of sequences (each a list or array).
        maxlen: optional int >= 0, the length of every output sequence.
        dtype: dtype of the output (use `object` for variable-length strings).
        padding: `'pre'` or `'post'`: pad before or after each sequence.
        truncating: `'pre'` or `'post'`: remove values from the start or the end of longer sequences.
        value: the padding value (float or string).

    Returns:
        NumPy array of shape `(len(sequences), maxlen) + item_shape`.

    Raises:
        ValueError: for an unknown `padding` or `truncating` mode, a negative `maxlen`, a string `value`
            with a non-string `dtype`, a non-iterable entry or items of inconsistent shapes.
        TypeError: items that `dtype` cannot hold (strings with the default integer dtype).

    Example:

    >>> pad_sequences([[1], [2, 3], [4, 5, 6]]).tolist()
    [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding='post', truncating='post').tolist()
    [[1, 0], [2, 3], [4, 5]]
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"`sequences` must be iterable (a list of sequences). Received: {type(sequences).__name__}.")
    if padding not in _PAD_MODES:
        raise ValueError(f'`padding` must be "pre" or "post". Received: padding={padding!r}.')
    if truncating not in _PAD_MODES:
        raise ValueError(f'`truncating` must be "pre" or "post". Received: truncating={truncating!r}.')
    if maxlen is not None and (not np.issubdtype(type(maxlen), np.integer) or maxlen < 0):
        raise ValueError(f"`maxlen` must be None or a non-negative integer. Received: maxlen={maxlen!r}.")
    is_str_dtype = dtype is not object and np.issubdtype(np.dtype(dtype), np.str_)
    if isinstance(value, str) and dtype is not object and not is_str_dtype:
        raise ValueError(
            f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}. "
            f"You should set `dtype=object` for variable length strings."
        )

    lengths = []
    sample_shape = ()
    shape_found = False
    for seq in sequences:
        try:
            lengths.append(len(seq))
        except TypeError as e:
            raise ValueError(f"`sequences` must be a list of iterables. Found non-iterable: {seq!r}") from e
        if not shape_found and len(seq):
            # The item shape comes from the first non-empty sequence; the others must agree.
            sample_shape = np.asarray(seq).shape[1:]
            shape_found = True
    if maxlen is None:
        maxlen = int(max(lengths)) if lengths else 0

    padded = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return padded
    for idx, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        kept = _as_dtype(kept, dtype, idx)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"Shape of sample {kept.shape[1:]} of sequence at position {idx} is different from "
                f"expected shape {sample_shape}."
            )
        if padding == "post":
            padded[idx, : len(kept)] = kept
        else:
            padded[idx, -len(kept):] = kept
    return padded


def _as_dtype(values, dtype, position):
    """One sequence as `dtype`, or a TypeError naming the sequence when its items cannot be stored so (text in
    an integer array)."""
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as error:
        items = list(values)[:3]
        kinds = sorted({type(v).__name__ for v in items})
        hint = (" To pad strings, pass dtype=object (or a string dtype such as '<U10'); to feed text to a model, "
                "turn it into integer ids first (fitgen.preprocessing.text.Tokenizer)."
                if any(isinstance(v, (str, bytes)) for v in items) else "")
        raise TypeError(f"`sequences[{position}]` holds {'/'.join(kinds)} values (e.g. {items!r}) that cannot be "
                        f"stored in an array of dtype {np.dtype(dtype)}.{hint}") from error


def make_sampling_table(size, sampling_factor=1e-5):
    """Generates a word rank-based probabilistic sampling table, for `skipgrams`.

    Entry `i` is the probability of keeping the `i`-th most common word of a text, assuming a Zipf-like
    word frequency (the word2vec subsampling rule): `min(1, sqrt(frequency_i / sampling_factor) /
    (frequency_i / sampling_factor))`, with `frequency_i ~ 1 / (i * (log(i) + gamma) + 1/2 - 1 / (12 * i))`.

    Args:
        size: number of possible words to sample.
        sampling_factor: the sampling factor of word2vec.

    Returns:
        1-D NumPy array of length `size`.
    """
    if size < 1:
        raise ValueError(f"`size` must be a positive integer. Received: size={size!r}.")
    euler_gamma = 0.577
    rank = np.arange(size)
    rank[0] = 1
    inverse_frequency = rank * (np.log(rank) + euler_gamma) + 0.5 - 1.0 / (12.0 * rank)
    scaled = sampling_factor * inverse_frequency
    return np.minimum(1.0, scaled / np.sqrt(scaled))


def skipgrams(
    sequence,
    vocabulary_size,
    window_size=4,
    negative_samples=1.0,
    shuffle=True,
    categorical=False,
    sampling_table=None,
    seed=None,
):
    """Generates skipgram word pairs.

    Every word `w` of `sequence` (word index 0 is skipped as padding) is paired with every word of its
    window (label 1) and, for `negative_samples > 0`, with random words of the vocabulary (label 0).
    Uses Python's `random` module, as Keras does, so `random.seed` reproduces Keras's pairs.

    Args:
        sequence: a word sequence (sentence), encoded as a list of word indices.
        vocabulary_size: int, maximum possible word index + 1.
        window_size: int, size of the sampling window on each side of a word.
        negative_samples: float >= 0; 1 gives as many negative pairs as positive ones.
        shuffle: whether to shuffle the pairs before returning them.
        categorical: labels as `[0, 1]` / `[1, 0]` instead of `1` / `0`.
        sampling_table: array where entry `i` is the probability of sampling the word of rank `i`.
        seed: random seed for the shuffle.

    Returns:
        `(couples, labels)`: `couples` is a list of `[word, context]` pairs, `labels` a list of 0/1
        (or one-hot pairs with `categorical=True`).
    """
    if window_size < 0:
        raise ValueError(f"`window_size` must be >= 0. Received: window_size={window_size!r}.")
    if negative_samples < 0:
        raise ValueError(f"`negative_samples` must be >= 0. Received: negative_samples={negative_samples!r}.")
    positive, negative = ([0, 1], [1, 0]) if categorical else (1, 0)
    couples = []
    labels = []
    for i, word in enumerate(sequence):
        if not word:
            continue
        if sampling_table is not None and sampling_table[word] < random.random():
            continue
        for j in range(max(0, i - window_size), min(len(sequence), i + window_size + 1)):
            if j == i or not sequence[j]:
                continue
            couples.append([word, sequence[j]])
            labels.append(positive)

    if negative_samples > 0:
        num_negative = int(len(labels) * negative_samples)
        words = [couple[0] for couple in couples]
        random.shuffle(words)
        couples += [[words[i % len(words)], random.randint(1, int(vocabulary_size - 1))] for i in range(num_negative)]
        labels += [negative] * num_negative

    if shuffle:
        if seed is None:
            seed = random.randint(0, int(10e6))
        # Same seed twice, so couples and labels get the same permutation.
        random.seed(seed)
        random.shuffle(couples)
        random.seed(seed)
        random.shuffle(labels)
    return couples, labels


class TimeseriesGenerator(Sequence):
    """Utility class for generating batches of temporal data.

    Takes a series of data points at equal intervals, with stride, length of history, etc., and
    produces batches `(samples, targets)` for training or evaluation. The sample ending just before
    step `t` is `data[t - length:t:sampling_rate]` and its target is `targets[t]`.

    Args:
        data: indexable (list or NumPy array) with the time steps along axis 0.
        targets: targets for each time step of `data`; same length as `data`.
        length: length of the history window, in time steps (before sampling).
        sampling_rate: period between successive time steps within a sample.
        stride: period between successive output samples.
        start_index: data points before `start_index` are not used as targets (useful to hold out
            part of the data for validation).
        end_index: data points after `end_index` are not used as targets.
        shuffle: draw the target steps of each batch at random (with replacement) instead of in order.
        reverse: return the time steps of each sample in reverse chronological order.
        batch_size: number of samples per batch (the last batch may be smaller).

    Returns:
        A `Sequence` whose items are `(samples, targets)` arrays.

    Example:

    >>> data = np.arange(10).reshape(10, 1)
    >>> gen = TimeseriesGenerator(data, np.arange(10), length=3, batch_size=2)
    >>> len(gen)
    4
    >>> x, y = gen[0]
    >>> x[:, :, 0].tolist(), y.tolist()
    ([[0, 1, 2], [1, 2, 3]], [3, 4])
    """

    def __init__(
        self,
        data,
        targets,
        length,
        sampling_rate=1,
        stride=1,
        start_index=0,
        end_index=None,
        shuffle=False,
        reverse=False,
        batch_size=128,
    ):
        if len(data) != len(targets):
            raise ValueError(
                f"Data and targets have to be of same length. Data length is {len(data)} while target "
                f"length is {len(targets)}."
            )
        for name, number in (("length", length), ("sampling_rate", sampling_rate), ("stride", stride),
                             ("batch_size", batch_size)):
            if number < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={number!r}.")
        if start_index < 0:
            raise ValueError(f"`start_index` must be >= 0. Received: start_index={start_index!r}.")
        self.data = data
        self.targets = targets
        self.length = length
        self.sampling_rate = sampling_rate
        self.stride = stride
        self._start_index_arg = start_index
        # Keras stores the first usable target step here, not the argument.
        self.start_index = start_index + length
        self.end_index = len(data) - 1 if end_index is None else end_index
        self.shuffle = shuffle
        self.reverse = reverse
        self.batch_size = batch_size
        if self.start_index > self.end_index:
            raise ValueError(
                f"`start_index+length={self.start_index} > end_index={self.end_index}` is disallowed, as no "
                f"part of the sequence would be left to be used as current step."
            )

    def __len__(self):
        span = self.batch_size * self.stride
        return (self.end_index - self.start_index + span) // span

    def __getitem__(self, index):
        if self.shuffle:
            rows = np.random.randint(self.start_index, self.end_index + 1, size=self.batch_size)
        else:
            first = self.start_index + self.batch_size * self.stride * index
            rows = np.arange(first, min(first + self.batch_size * self.stride, self.end_index + 1), self.stride)
        samples = np.array([self.data[row - self.length:row:self.sampling_rate] for row in rows])
        targets = np.array([self.targets[row] for row in rows])
        if self.reverse:
            return samples[:, ::-1, ...], targets
        return samples, targets

    def get_config(self):
        """Returns the generator's arguments as a JSON-serialisable dict (data and targets as JSON strings).

        Unlike Keras 2, `start_index` is the argument given (Keras stored `start_index + length`).
        """
        return {
            "data": _json_or_raise(self.data, "Data"),
            "targets": _json_or_raise(self.targets, "Targets"),
            "length": self.length,
            "sampling_rate": self.sampling_rate,
            "stride": self.stride,
            "start_index": self._start_index_arg,
            "end_index": self.end_index,
            "shuffle": self.shuffle,
            "reverse": self.reverse,
            "batch_size": self.batch_size,
        }

    def to_json(self, **kwargs):
        """Returns a JSON string `{"class_name": "TimeseriesGenerator", "config": ...}`; kwargs go to `json.dumps`."""
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)


def _json_or_raise(values, what):
    if isinstance(values, np.ndarray):
        values = values.tolist()
    try:
        return json.dumps(values)
    except TypeError as e:
        raise TypeError(f"{what} not JSON Serializable: {values!r}") from e
