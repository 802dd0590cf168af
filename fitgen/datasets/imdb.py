"""IMDB movie review sentiment classification (Keras 2's `keras.datasets.imdb`)."""

import numpy as np

from fitgen.datasets import _word_sequences as ws
from fitgen.utils.data_utils import get_file

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
_FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
_WORD_INDEX_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
_WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"


def load_data(
    path="imdb.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
    cache_dir=None,
    **kwargs,
):
    """Loads the IMDB dataset: 25,000 training and 25,000 test reviews labelled by sentiment (1 positive, 0 negative).

    Each review is a list of word indexes; a word's index is its frequency rank in the data set plus
    `index_from` (so 4 is the most frequent word with the defaults), 0 is left for padding, every
    review starts with `start_char`, and words cut by `num_words` or `skip_top` become `oov_char`.

    Args:
        path: file name of the dataset in the cache (relative to `~/.fitgen/datasets`).
        num_words: keep only the words with index `< num_words` (the `num_words - index_from` most
            frequent ones); None keeps every word.
        skip_top: replace the words with index `< skip_top` (the most frequent) by `oov_char`.
        maxlen: keep only the reviews shorter than `maxlen` (start character included); None keeps all.
        seed: seed of the shuffle of each split (`np.random.RandomState(seed)`, as Keras).
        start_char: index marking the start of every review; None for none.
        oov_char: index that replaces cut words; None removes them instead.
        index_from: offset added to every word's frequency rank.
        cache_dir: base folder of the cache instead of `~/.fitgen` (see `get_file`).
        **kwargs: `nb_words`, the Keras 1 name of `num_words`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` are 1-D object arrays of lists of ints, `y` int64
        arrays of 0/1 labels.

    Raises:
        ValueError: if `maxlen` leaves no review in one of the splits, or for negative arguments.
    """
    num_words = ws.pop_legacy_num_words(num_words, kwargs)
    ws.check_arguments(num_words, skip_top, maxlen)
    path = get_file(path, origin=_ORIGIN, file_hash=_FILE_HASH, cache_dir=cache_dir)
    # The reviews are ragged lists stored as object arrays: pickle is needed, and only this
    # hash-verified file is opened that way.
    with np.load(path, allow_pickle=True) as f:
        x_train, labels_train = f["x_train"], f["y_train"]
        x_test, labels_test = f["x_test"], f["y_test"]

    rng = np.random.RandomState(seed)
    x_train, labels_train = ws.shuffled(rng, x_train, labels_train)
    x_test, labels_test = ws.shuffled(rng, x_test, labels_test)

    x_train = ws.shift_indices(x_train, start_char, index_from)
    x_test = ws.shift_indices(x_test, start_char, index_from)
    x_train, labels_train = ws.drop_long(maxlen, x_train, labels_train)
    x_test, labels_test = ws.drop_long(maxlen, x_test, labels_test)
    if not x_train or not x_test:
        raise ValueError(
            f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. Increase maxlen."
        )

    xs = ws.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([np.asarray(labels_train), np.asarray(labels_test)])
    split = len(x_train)
    return (ws.object_array(xs[:split]), labels[:split]), (ws.object_array(xs[split:]), labels[split:])


def get_word_index(path="imdb_word_index.json"):
    """Retrieves the dict mapping each IMDB word to its frequency rank (add `index_from` to get `load_data`'s indexes).

    Args:
        path: file name of the index in the cache (relative to `~/.fitgen/datasets`).

    Returns:
        A dict word -> rank (1 = most frequent).
    """
    return ws.load_word_index(path, _WORD_INDEX_ORIGIN, _WORD_INDEX_HASH)
