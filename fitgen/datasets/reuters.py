"""Reuters newswire topic classification (Keras 2's `keras.datasets.reuters`)."""

import numpy as np

from fitgen.datasets import _word_sequences as ws
from fitgen.utils.data_utils import get_file

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz"
_FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
_WORD_INDEX_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters_word_index.json"
_WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"


def load_data(
    path="reuters.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    test_split=0.2,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
    cache_dir=None,
    **kwargs,
):
    """Loads the Reuters newswire dataset: 11,228 newswires labelled over 46 topics.

    Encoded as in `imdb.load_data` (word indexes are frequency ranks plus `index_from`, `start_char`
    first, cut words become `oov_char`); the shuffled newswires are split by `test_split`.

    Args:
        path: file name of the dataset in the cache (relative to `~/.fitgen/datasets`).
        num_words: keep only the words with index `< num_words`; None keeps every word.
        skip_top: replace the words with index `< skip_top` by `oov_char`.
        maxlen: keep only the newswires shorter than `maxlen` (start character included).
        test_split: fraction of the data kept as the test set, in `[0, 1)`.
        seed: seed of the shuffle before the split (`np.random.RandomState(seed)`, as Keras).
        start_char: index marking the start of every sequence; None for none.
        oov_char: index that replaces cut words; None removes them instead.
        index_from: offset added to every word's frequency rank.
        cache_dir: base folder of the cache instead of `~/.fitgen` (see `get_file`).
        **kwargs: `nb_words`, the Keras 1 name of `num_words`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` are 1-D object arrays of lists of ints, `y` int64
        arrays of topic indexes (8,982 training and 2,246 test newswires by default).

    Raises:
        ValueError: if `maxlen` leaves no newswire, or for arguments out of range.
    """
    num_words = ws.pop_legacy_num_words(num_words, kwargs)
    ws.check_arguments(num_words, skip_top, maxlen)
    if not 0 <= test_split < 1:
        raise ValueError(f"`test_split` must be in [0, 1). Received: test_split={test_split!r}.")
    path = get_file(path, origin=_ORIGIN, file_hash=_FILE_HASH, cache_dir=cache_dir)
    # Ragged lists stored as object arrays: pickle is needed, and only this hash-verified file is opened that way.
    with np.load(path, allow_pickle=True) as f:
        xs, labels = f["x"], f["y"]

    xs, labels = ws.shuffled(np.random.RandomState(seed), xs, labels)
    xs = ws.shift_indices(xs, start_char, index_from)
    xs, labels = ws.drop_long(maxlen, xs, labels)
    if not xs:
        raise ValueError(
            f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. Increase maxlen."
        )
    xs = ws.limit_vocabulary(xs, num_words, skip_top, oov_char)
    labels = np.asarray(labels)
    split = int(len(xs) * (1 - test_split))
    return (ws.object_array(xs[:split]), labels[:split]), (ws.object_array(xs[split:]), labels[split:])


def get_word_index(path="reuters_word_index.json"):
    """Retrieves the dict mapping each Reuters word to its frequency rank (add `index_from` for `load_data`'s indexes).

    Args:
        path: file name of the index in the cache (relative to `~/.fitgen/datasets`).

    Returns:
        A dict word -> rank (1 = most frequent).
    """
    return ws.load_word_index(path, _WORD_INDEX_ORIGIN, _WORD_INDEX_HASH)
