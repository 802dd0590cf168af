"""imdb, reuters and boston_housing on tiny fake .npz files; expected values worked out by hand
(shuffle permutations are those of np.random.RandomState(seed), as in Keras; cross-checked with tf-keras 2.21)."""
import hashlib
import io
import json

import numpy as np
import pytest

from fitgen.datasets import boston_housing
from fitgen.datasets import imdb
from fitgen.datasets import reuters


def _objects(lists):
    out = np.empty(len(lists), dtype=object)
    for i, seq in enumerate(lists):
        out[i] = seq
    return out


def _npz(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


IMDB = _npz(x_train=_objects([[1, 2, 3], [4, 1], [2, 2, 5, 6], [7]]), y_train=np.array([1, 0, 1, 0]),
            x_test=_objects([[3], [5, 6, 1], [2, 4]]), y_test=np.array([0, 1, 1]))
REUTERS = _npz(x=_objects([[1, 2], [3, 4, 5], [6], [2, 2, 2], [1, 7]]), y=np.array([0, 3, 1, 2, 4]))


@pytest.fixture
def fake_imdb(server, homes, monkeypatch):
    server.serve_dataset(imdb, "imdb.npz", IMDB, monkeypatch=monkeypatch)
    return server


@pytest.fixture
def fake_reuters(server, homes, monkeypatch):
    server.serve_dataset(reuters, "reuters.npz", REUTERS, monkeypatch=monkeypatch)
    return server


def _lists(x):
    return [list(seq) for seq in x]


def test_imdb_num_words_start_and_oov(fake_imdb):
    # RandomState(113) orders train as [3, 2, 0, 1] and then test as [1, 0, 2]; words shift by 3 after a leading 1;
    # indexes >= num_words=9 (words 6 -> 9 and 7 -> 10) become oov_char=2.
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=9)
    assert _lists(x_train) == [[1, 2], [1, 5, 5, 8, 2], [1, 4, 5, 6], [1, 7, 4]]
    assert _lists(x_test) == [[1, 8, 2, 4], [1, 6], [1, 5, 7]]
    assert y_train.tolist() == [0, 1, 1, 0] and y_test.tolist() == [1, 0, 1]
    assert x_train.dtype == object and x_train.shape == (4,) and y_train.dtype == np.int64


def test_imdb_skip_top_and_maxlen(fake_imdb):
    # maxlen=5 keeps sequences of length < 5 (start char included): train drops [1, 5, 5, 8, 9];
    # skip_top=5 turns indexes < 5 (and the start char) into 2, num_words=8 turns 8 and 9 into 2.
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=8, skip_top=5, maxlen=5)
    assert _lists(x_train) == [[2, 2], [2, 2, 5, 6], [2, 7, 2]] and y_train.tolist() == [0, 1, 0]
    assert _lists(x_test) == [[2, 2, 2, 2], [2, 6], [2, 5, 7]] and y_test.tolist() == [1, 0, 1]


def test_imdb_without_start_and_oov_chars(fake_imdb):
    (x_train, _), (x_test, _) = imdb.load_data(num_words=7, start_char=None, oov_char=None, index_from=0, seed=1)
    # No start char, no shift, indexes >= 7 removed: the review [7] becomes empty and is kept, as in Keras.
    flat = sorted(w for seq in _lists(x_train) + _lists(x_test) for w in seq)
    assert flat == [1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    assert sorted(_lists(x_train)) == [[], [1, 2, 3], [2, 2, 5, 6], [4, 1]]


def test_imdb_default_keeps_every_word(fake_imdb):
    # Documented: num_words=None keeps all words (Keras 2's code turned the largest index, 10, into oov_char).
    (x_train, _), _ = imdb.load_data()
    assert _lists(x_train)[0] == [1, 10]


def test_imdb_equal_length_sequences_stay_a_1d_object_array(server, homes, monkeypatch):
    data = _npz(x_train=_objects([[1, 2], [3, 4]]), y_train=np.array([0, 1]),
                x_test=_objects([[1, 1], [2, 2]]), y_test=np.array([1, 0]))
    server.serve_dataset(imdb, "imdb.npz", data, monkeypatch=monkeypatch)
    (x_train, _), _ = imdb.load_data()
    assert x_train.shape == (2,) and isinstance(x_train[0], list)


def test_imdb_errors(fake_imdb):
    with pytest.raises(ValueError, match="maxlen=2, no sequence was kept"):
        imdb.load_data(maxlen=2)
    with pytest.raises(ValueError, match="num_words=-1"):
        imdb.load_data(num_words=-1)
    with pytest.raises(TypeError, match="Unrecognized keyword"):
        imdb.load_data(bogus=1)


def test_imdb_nb_words_alias(fake_imdb):
    with pytest.warns(UserWarning, match="renamed `num_words`"):
        (x_train, _), _ = imdb.load_data(nb_words=9)
    assert _lists(x_train)[0] == [1, 2]


def test_imdb_get_word_index(server, homes, monkeypatch):
    payload = json.dumps({"the": 1, "movie": 2}).encode()
    server.serve_dataset(imdb, "imdb_word_index.json", payload, origin_attr="_WORD_INDEX_ORIGIN", hash_attr=None,
                 monkeypatch=monkeypatch)
    monkeypatch.setattr(imdb, "_WORD_INDEX_HASH", hashlib.md5(payload).hexdigest())
    assert imdb.get_word_index() == {"the": 1, "movie": 2}


def test_reuters_split_and_vocabulary(fake_reuters):
    # RandomState(113) orders the 5 newswires as [1, 0, 3, 2, 4]; test_split=0.4 keeps int(5 * 0.6) = 3 for training;
    # 8 (word 5) and 9 (word 6) are >= num_words=8 and become oov_char=2.
    (x_train, y_train), (x_test, y_test) = reuters.load_data(num_words=8, test_split=0.4)
    assert _lists(x_train) == [[1, 6, 7, 2], [1, 4, 5], [1, 5, 5, 5]] and y_train.tolist() == [3, 0, 2]
    assert _lists(x_test) == [[1, 2], [1, 4, 2]] and y_test.tolist() == [1, 4]
    assert x_train.dtype == object and y_train.dtype == np.int64


def test_reuters_maxlen_skip_top_drop_oov(fake_reuters):
    # seed=3 orders [4, 1, 0, 2, 3]; maxlen=4 keeps lengths < 4; skip_top=4 and oov_char=None drop indexes < 4.
    (x_train, y_train), (x_test, y_test) = reuters.load_data(num_words=10, skip_top=4, maxlen=4, oov_char=None,
                                                             test_split=0.5, seed=3)
    assert _lists(x_train) == [[4]] and y_train.tolist() == [4]
    assert _lists(x_test) == [[4, 5], [9]] and y_test.tolist() == [0, 1]


def test_reuters_errors(fake_reuters):
    with pytest.raises(ValueError, match="test_split=1"):
        reuters.load_data(test_split=1)
    with pytest.raises(ValueError, match="no sequence was kept"):
        reuters.load_data(maxlen=1)


def test_boston_housing_shuffle_and_split(server, homes, monkeypatch):
    data = _npz(x=np.arange(30, dtype="float64").reshape(10, 3), y=np.arange(10, dtype="float64"))
    server.serve_dataset(boston_housing, "boston_housing.npz", data, monkeypatch=monkeypatch)
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data(test_split=0.3)
    assert y_train.tolist() == [9.0, 3.0, 6.0, 1.0, 0.0, 7.0, 4.0] and y_test.tolist() == [8.0, 2.0, 5.0]
    assert x_train.shape == (7, 3) and x_train.dtype == np.float64
    assert x_train[:, 0].tolist() == [27.0, 9.0, 18.0, 3.0, 0.0, 21.0, 12.0] and x_test[:, 0].tolist() == [24.0, 6.0, 15.0]
    with pytest.raises(ValueError, match="test_split=1.5"):
        boston_housing.load_data(test_split=1.5)
