"""Shared index arithmetic of the IMDB and Reuters loaders (start/oov characters, vocabulary cut)."""
import warnings

import numpy as np

from fitgen.preprocessing.sequence import _remove_long_seq
from fitgen.utils.data_utils import get_file


def pop_legacy_num_words(num_words, kwargs):
    """Accepts Keras 1's `nb_words` with a warning; rejects any other unknown keyword."""
    if "nb_words" in kwargs:
        warnings.warn("The `nb_words` argument in `load_data` has been renamed `num_words`.", stacklevel=3)
        num_words = kwargs.pop("nb_words")
    if kwargs:
        raise TypeError(f"Unrecognized keyword arguments: {kwargs}.")
    return num_words


def check_arguments(num_words, skip_top, maxlen):
    if num_words is not None and num_words < 0:
        raise ValueError(f"`num_words` must be None or a non-negative integer. Received: num_words={num_words!r}.")
    if skip_top < 0:
        raise ValueError(f"`skip_top` must be >= 0. Received: skip_top={skip_top!r}.")
    if maxlen is not None and maxlen < 0:
        raise ValueError(f"`maxlen` must be None or a non-negative integer. Received: maxlen={maxlen!r}.")


def shuffled(rng, xs, labels):
    indices = np.arange(len(xs))
    rng.shuffle(indices)
    return xs[indices], labels[indices]


def shift_indices(xs, start_char, index_from):
    """Adds `index_from` to every word index and prepends `start_char` (when not None) to every sequence."""
    head = [] if start_char is None else [start_char]
    return [head + [int(w) + index_from for w in x] for x in xs]


def drop_long(maxlen, xs, labels):
    """Keeps sequences strictly shorter than `maxlen` (Keras's rule, start character included)."""
    if not maxlen:
        return list(xs), list(labels)
    return _remove_long_seq(maxlen, xs, labels)


def limit_vocabulary(xs, num_words, skip_top, oov_char):
    """Replaces (or, with `oov_char=None`, removes) indexes outside `[skip_top, num_words)`.

    With `num_words=None` every word is kept, as documented; Keras 2's code used the largest index as
    the (exclusive) limit and so turned the rarest word into `oov_char`.
    """
    if not num_words:
        num_words = max((max(x) for x in xs if x), default=0) + 1
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def object_array(sequences):
    """1-D object array of lists, even when all lists have the same length (np.array would make it 2-D)."""
    out = np.empty(len(sequences), dtype=object)
    for i, seq in enumerate(sequences):
        out[i] = seq
    return out


def load_word_index(path, origin, file_hash):
    """The word -> rank dict of a Keras word-index file, fetched into the cache as needed."""
    import json
    with open(get_file(path, origin=origin, file_hash=file_hash)) as f:
        return json.load(f)
