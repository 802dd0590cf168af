"""fitgen.preprocessing.text against keras_preprocessing 1.1 / tf-keras 2.21 results (stored as literals)."""
import json

import numpy as np
import pytest

from fitgen.preprocessing.text import Tokenizer
from fitgen.preprocessing.text import hashing_trick
from fitgen.preprocessing.text import one_hot
from fitgen.preprocessing.text import text_to_word_sequence
from fitgen.preprocessing.text import tokenizer_from_json

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "Cat and dog: friends?", "the the THE"]


@pytest.fixture
def tokenizer():
    tok = Tokenizer(num_words=5)
    tok.fit_on_texts(TEXTS)
    return tok


def test_text_to_word_sequence():
    assert text_to_word_sequence("Hello, World!  It's fitgen.\tTab") == ["hello", "world", "it's", "fitgen", "tab"]
    assert text_to_word_sequence("a-b_c d", filters="-", lower=False, split="_") == ["a", "b", "c d"]


def test_hashing_trick_md5_is_stable_and_in_range():
    assert hashing_trick("the cat the", 10, hash_function="md5") == [6, 3, 6]
    assert hashing_trick("The quick brown fox jumps over", 7, hash_function="md5") == [6, 1, 4, 5, 1, 2]
    assert hashing_trick("a b", 5, hash_function=len) == [2, 2]
    assert hashing_trick("x y", 5, analyzer=lambda s: s.split(), hash_function=len) == [2, 2]


def test_one_hot_uses_python_hash():
    words = text_to_word_sequence("Alpha beta, alpha")
    assert one_hot("Alpha beta, alpha", 50) == [hash(w) % 49 + 1 for w in words]


def test_hashing_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n=1"):
        hashing_trick("a", 1)
    with pytest.raises(ValueError, match="hash_function='sha1'"):
        hashing_trick("a", 5, hash_function="sha1")


def test_fit_on_texts_vocabulary(tokenizer):
    assert tokenizer.word_index == {"the": 1, "cat": 2, "dog": 3, "sat": 4, "on": 5, "mat": 6, "ate": 7, "my": 8,
                                    "homework": 9, "and": 10, "friends": 11}
    assert tokenizer.index_word[3] == "dog"
    assert list(tokenizer.word_counts.items()) == [
        ("the", 6), ("cat", 2), ("sat", 1), ("on", 1), ("mat", 1), ("dog", 2), ("ate", 1), ("my", 1),
        ("homework", 1), ("and", 1), ("friends", 1)]
    assert dict(tokenizer.word_docs) == {"sat": 1, "on": 1, "mat": 1, "the": 3, "cat": 2, "ate": 1, "dog": 2, "my": 1,
                                         "homework": 1, "friends": 1, "and": 1}
    assert dict(tokenizer.index_docs) == {4: 1, 5: 1, 6: 1, 1: 3, 2: 2, 7: 1, 3: 2, 8: 1, 9: 1, 11: 1, 10: 1}
    assert tokenizer.document_count == 4


def test_texts_to_sequences_and_back(tokenizer):
    assert tokenizer.texts_to_sequences(TEXTS + ["unknown cat"]) == [[1, 2, 4, 1], [1, 3], [2, 3], [1, 1, 1], [2]]
    assert list(tokenizer.texts_to_sequences_generator(["cat"])) == [[2]]
    assert tokenizer.sequences_to_texts([[1, 2, 3, 4, 5, 6]]) == ["the cat dog sat"]


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("binary", [[0.0, 1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]]),
        ("count", [[0.0, 2.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]]),
        ("freq", [[0.0, 0.5, 0.25, 0.25, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]]),
        ("tfidf", [[0.0, 1.173600194478, 0.847297860387, 0.847297860387, 0.0], [0.0, 0.0, 0.0, 0.0, 1.098612288668]]),
    ],
)
def test_texts_to_matrix_modes(tokenizer, mode, expected):
    out = tokenizer.texts_to_matrix(["the cat the dog", "sat mat"], mode=mode)
    assert out.shape == (2, 5) and out.dtype == np.float64
    np.testing.assert_allclose(out, expected, atol=1e-11)


def test_matrix_width_without_num_words():
    tok = Tokenizer()
    tok.fit_on_texts(["a b", "b c"])
    assert tok.texts_to_matrix(["c c"], mode="count").tolist() == [[0.0, 0.0, 0.0, 2.0]]


def test_oov_token():
    tok = Tokenizer(oov_token="<OOV>", num_words=4)
    tok.fit_on_texts(TEXTS)
    assert tok.word_index["<OOV>"] == 1
    assert tok.texts_to_sequences(["the cat ate a fish"]) == [[2, 3, 1, 1, 1]]
    assert tok.sequences_to_texts([[1, 2, 3, 4, 9]]) == ["<OOV> the cat <OOV> <OOV>"]


def test_char_level_and_pretokenized_lists():
    tok = Tokenizer(char_level=True)
    tok.fit_on_texts(["abca", "Bd"])
    assert tok.word_index == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert tok.texts_to_sequences(["dab"]) == [[4, 1, 2]]
    tok = Tokenizer(lower=False)
    tok.fit_on_texts([["Hello", "world"], ["hello"]])
    assert tok.word_index == {"Hello": 1, "world": 2, "hello": 3}


def test_fit_on_sequences_and_tfidf():
    tok = Tokenizer(num_words=4)
    tok.fit_on_sequences([[1, 2, 2], [2, 3]])
    assert tok.document_count == 2 and dict(tok.index_docs) == {1: 1, 2: 2, 3: 1}
    np.testing.assert_allclose(tok.sequences_to_matrix([[1, 2, 2], [3]], mode="tfidf"),
                               [[0.0, 0.69314718056, 0.864902964637, 0.0], [0.0, 0.0, 0.0, 0.69314718056]], atol=1e-11)


def test_matrix_errors():
    with pytest.raises(ValueError, match="Specify a dimension"):
        Tokenizer().sequences_to_matrix([[1]])
    with pytest.raises(ValueError, match="tfidf"):
        Tokenizer(num_words=3).sequences_to_matrix([[1]], mode="tfidf")
    with pytest.raises(ValueError, match="mode='onehot'"):
        Tokenizer(num_words=3).sequences_to_matrix([[1]], mode="onehot")
    with pytest.raises(ValueError, match="num_words=-2"):
        Tokenizer(num_words=-2)
    with pytest.raises(TypeError, match="Unrecognized keyword"):
        Tokenizer(foo=1)


def test_nb_words_alias_warns():
    with pytest.warns(UserWarning, match="renamed `num_words`"):
        assert Tokenizer(nb_words=7).num_words == 7


def test_json_round_trip(tokenizer):
    config = tokenizer.get_config()
    assert sorted(config) == ["char_level", "document_count", "filters", "index_docs", "index_word", "lower",
                              "num_words", "oov_token", "split", "word_counts", "word_docs", "word_index"]
    assert json.loads(config["word_counts"])["the"] == 6
    payload = json.loads(tokenizer.to_json())
    assert payload["class_name"] == "Tokenizer" and payload["config"]["num_words"] == 5
    restored = tokenizer_from_json(tokenizer.to_json())
    assert restored.word_index == tokenizer.word_index and restored.index_word == tokenizer.index_word
    assert restored.texts_to_sequences(TEXTS[:2]) == [[1, 2, 4, 1], [1, 3]]
    np.testing.assert_allclose(restored.texts_to_matrix(["the cat"], mode="tfidf"),
                               tokenizer.texts_to_matrix(["the cat"], mode="tfidf"))
    restored.fit_on_texts(["brand new words"])  # Keras 2 failed here with a KeyError
    assert restored.word_index["brand"] == 12 and restored.document_count == 5


def test_reads_tokenizer_json_written_by_keras():
    keras_json = (
        '{"class_name": "Tokenizer", "config": {"num_words": null, "filters": "!", "lower": true, "split": " ", '
        '"char_level": false, "oov_token": null, "document_count": 2, "word_counts": "{\\"b\\": 2, \\"a\\": 1}", '
        '"word_docs": "{\\"b\\": 2, \\"a\\": 1}", "index_docs": "{\\"1\\": 2, \\"2\\": 1}", '
        '"index_word": "{\\"1\\": \\"b\\", \\"2\\": \\"a\\"}", "word_index": "{\\"b\\": 1, \\"a\\": 2}"}}'
    )
    tok = tokenizer_from_json(keras_json)
    assert tok.index_word == {1: "b", 2: "a"} and tok.index_docs == {1: 2, 2: 1}
    assert tok.texts_to_sequences(["a b!"]) == [[2, 1]]
