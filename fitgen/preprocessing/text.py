"""Text preprocessing of Keras 2 (`keras.preprocessing.text`, keras_preprocessing 1.1): `Tokenizer`,
`tokenizer_from_json`, `text_to_word_sequence`, `one_hot` and `hashing_trick`."""
import collections
import hashlib
import json
import warnings

import numpy as np

_DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_MATRIX_MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(text, filters=_DEFAULT_FILTERS, lower=True, split=" "):
    """Converts a text to a sequence of words (tokens).

    Args:
        text: input text (string).
        filters: characters to remove (each is replaced by `split`). Defaults to all punctuation,
            plus tabs and line breaks, minus the `'` character.
        lower: whether to convert the text to lowercase.
        split: separator for word splitting.

    Returns:
        A list of words; empty strings are dropped.

    Example:

    >>> text_to_word_sequence("Hello, World!  It's fitgen.")
    ['hello', 'world', "it's", 'fitgen']
    """
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({char: split for char in filters}))
    return [word for word in text.split(split) if word]


def one_hot(text, n, filters=_DEFAULT_FILTERS, lower=True, split=" ", analyzer=None):
    """One-hot encodes a text into a list of word indexes in `[1, n)`, by hashing with Python's `hash`.

    Not a true one-hot encoding: different words may collide. Python's `hash` is randomised per
    process unless `PYTHONHASHSEED` is set; use `hashing_trick(..., hash_function='md5')` for indexes
    that are stable across runs.

    Args:
        text: input text (string).
        n: int, size of the vocabulary (indexes are in `1..n-1`).
        filters, lower, split: as in `text_to_word_sequence`.
        analyzer: optional callable turning the text into a list of tokens (replaces the splitting).

    Returns:
        List of integers in `[1, n)`.
    """
    return hashing_trick(text, n, hash_function=hash, filters=filters, lower=lower, split=split, analyzer=analyzer)


def hashing_trick(text, n, hash_function=None, filters=_DEFAULT_FILTERS, lower=True, split=" ", analyzer=None):
    """Converts a text to a sequence of indexes in a fixed-size hashing space.

    Each word `w` becomes `hash_function(w) % (n - 1) + 1`; 0 is never produced (reserved for padding).

    Args:
        text: input text (string).
        n: dimension of the hashing space (indexes are in `1..n-1`).
        hash_function: `None` (Python's `hash`, not stable across runs), `'md5'` (stable), or any
            callable taking a string and returning an int.
        filters, lower, split: as in `text_to_word_sequence`.
        analyzer: optional callable turning the text into a list of tokens.

    Returns:
        A list of integer word indexes (unicity not guaranteed).

    Example:

    >>> hashing_trick("the cat the", 10, hash_function='md5')
    [6, 3, 6]
    """
    if n is None or n < 2:
        raise ValueError(f"`n` (the size of the hashing space) must be an integer >= 2. Received: n={n!r}.")
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        hash_function = _md5_hash
    elif not callable(hash_function):
        raise ValueError(f"`hash_function` must be None, 'md5' or a callable. Received: hash_function={hash_function!r}.")
    if analyzer is None:
        words = text_to_word_sequence(text, filters=filters, lower=lower, split=split)
    else:
        words = analyzer(text)
    return [hash_function(word) % (n - 1) + 1 for word in words]


def _md5_hash(word):
    return int(hashlib.md5(word.encode()).hexdigest(), 16)


class Tokenizer:
    """Text tokenization utility class.

    Vectorizes a corpus of texts, turning each text into a sequence of integers (each integer the
    index of a token in a dictionary) or into a vector where the coefficient of each token is binary,
    a word count, a frequency or tf-idf. Index 0 is reserved and never assigned to a word; the most
    frequent word gets index 1 (or 2 when an `oov_token` takes index 1).

    Args:
        num_words: the maximum number of words to keep, based on word frequency. Only the most common
            `num_words - 1` words are kept by `texts_to_sequences` and the matrix methods.
        filters: characters filtered out of the texts (default: all punctuation, tabs and line
            breaks, minus `'`).
        lower: whether to convert the texts to lowercase.
        split: separator for word splitting.
        char_level: if True, every character is treated as a token.
        oov_token: if given, added to `word_index` and used to replace out-of-vocabulary words in
            `texts_to_sequences`.
        analyzer: optional callable turning a text into a list of tokens (replaces the splitting).
        document_count: number of documents already seen (used when restoring a tokenizer).

    Attributes:
        word_counts: ordered dict word -> number of occurrences in the fitted texts.
        word_docs: dict word -> number of documents the word appeared in.
        word_index: dict word -> index; `index_word` is the inverse mapping.
        index_docs: dict index -> number of documents the word appeared in.
        document_count: number of documents (texts or sequences) fitted.

    Example:

    >>> tokenizer = Tokenizer(num_words=3)
    >>> tokenizer.fit_on_texts(["the cat", "the dog", "a cat"])
    >>> tokenizer.word_index
    {'the': 1, 'cat': 2, 'dog': 3, 'a': 4}
    >>> tokenizer.texts_to_sequences(["the cat and the dog"])
    [[1, 2, 1]]
    """

    def __init__(
        self,
        num_words=None,
        filters=_DEFAULT_FILTERS,
        lower=True,
        split=" ",
        char_level=False,
        oov_token=None,
        analyzer=None,
        **kwargs,
    ):
        if "nb_words" in kwargs:
            warnings.warn("The `nb_words` argument in `Tokenizer` has been renamed `num_words`.", stacklevel=2)
            num_words = kwargs.pop("nb_words")
        document_count = kwargs.pop("document_count", 0)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments: {kwargs}")
        if num_words is not None and num_words < 0:
            raise ValueError(f"`num_words` must be None or a non-negative integer. Received: num_words={num_words!r}.")
        self.word_counts = collections.OrderedDict()
        self.word_docs = collections.defaultdict(int)
        self.filters = filters
        self.split = split
        self.lower = lower
        self.num_words = num_words
        self.document_count = document_count
        self.char_level = char_level
        self.oov_token = oov_token
        self.index_docs = collections.defaultdict(int)
        self.word_index = {}
        self.index_word = {}
        self.analyzer = analyzer

    def _tokens(self, text):
        # A list is taken as already tokenized; only lowercasing applies to it, as in Keras.
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [token.lower() for token in text] if isinstance(text, list) else text.lower()
            return text
        if self.analyzer is not None:
            return self.analyzer(text)
        return text_to_word_sequence(text, filters=self.filters, lower=self.lower, split=self.split)

    def fit_on_texts(self, texts):
        """Updates the vocabulary from a list of texts.

        Args:
            texts: list of strings, a generator of strings, or a list of lists of tokens.
        """
        for text in texts:
            self.document_count += 1
            tokens = self._tokens(text)
            for token in tokens:
                self.word_counts[token] = self.word_counts.get(token, 0) + 1
            for token in set(tokens):
                self.word_docs[token] += 1

        # Stable sort: words with equal counts keep their order of first appearance.
        by_count = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)
        vocabulary = [] if self.oov_token is None else [self.oov_token]
        vocabulary.extend(word for word, _ in by_count)
        self.word_index = {word: index for index, word in enumerate(vocabulary, start=1)}
        self.index_word = {index: word for word, index in self.word_index.items()}
        for word, count in self.word_docs.items():
            self.index_docs[self.word_index[word]] = count

    def fit_on_sequences(self, sequences):
        """Updates the document statistics used by tf-idf from a list of index sequences.

        Required before `sequences_to_matrix(mode='tfidf')` when `fit_on_texts` was never called.

        Args:
            sequences: list of sequences of word indexes.
        """
        self.document_count += len(sequences)
        for seq in sequences:
            for index in set(seq):
                self.index_docs[index] += 1

    def texts_to_sequences(self, texts):
        """Transforms each text into a sequence of word indexes.

        Only the top `num_words - 1` words are kept; unknown words are dropped, or replaced by the
        `oov_token`'s index when one was given.

        Args:
            texts: list of strings (or of lists of tokens).

        Returns:
            A list of lists of integers.
        """
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts):
        """Yields the sequence of word indexes of each text in turn (see `texts_to_sequences`)."""
        oov_index = self.word_index.get(self.oov_token)
        for text in texts:
            sequence = []
            for token in self._tokens(text):
                index = self.word_index.get(token)
                if index is not None and not (self.num_words and index >= self.num_words):
                    sequence.append(index)
                elif oov_index is not None:
                    sequence.append(oov_index)
            yield sequence

    def sequences_to_texts(self, sequences):
        """Transforms each sequence of word indexes back into a text (words joined by spaces).

        Args:
            sequences: list of sequences of integers.

        Returns:
            A list of strings.
        """
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences):
        """Yields the text of each sequence of word indexes in turn (see `sequences_to_texts`)."""
        oov_index = self.word_index.get(self.oov_token)
        for seq in sequences:
            words = []
            for index in seq:
                word = self.index_word.get(index)
                if word is not None and not (self.num_words and index >= self.num_words):
                    words.append(word)
                elif oov_index is not None:
                    words.append(self.index_word[oov_index])
            yield " ".join(words)

    def texts_to_matrix(self, texts, mode="binary"):
        """Converts a list of texts to a NumPy matrix of shape `(len(texts), num_words)`.

        Args:
            texts: list of strings.
            mode: one of `'binary'`, `'count'`, `'tfidf'`, `'freq'`.

        Returns:
            A float64 NumPy matrix.
        """
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode="binary"):
        """Converts a list of index sequences into a NumPy matrix of shape `(len(sequences), num_words)`.

        Column `j` holds, for each sequence: 1 if index `j` occurs (`'binary'`), its number of
        occurrences (`'count'`), that number divided by the sequence length (`'freq'`), or
        `(1 + log(count)) * log(1 + document_count / (1 + docs_with_j))` (`'tfidf'`). Indexes
        `>= num_words` are ignored. Without `num_words`, the width is `len(word_index) + 1`.

        Args:
            sequences: list of sequences of integers.
            mode: one of `'binary'`, `'count'`, `'tfidf'`, `'freq'`.

        Returns:
            A float64 NumPy matrix.

        Raises:
            ValueError: for an unknown `mode`, when the width is unknown (no `num_words` and nothing
                fitted), or for `'tfidf'` before any fitting.
        """
        if mode not in _MATRIX_MODES:
            raise ValueError(f"Unknown vectorization mode: `mode` must be one of {_MATRIX_MODES}. Received: mode={mode!r}.")
        if self.num_words:
            num_words = self.num_words
        elif self.word_index:
            num_words = len(self.word_index) + 1
        else:
            raise ValueError("Specify a dimension (`num_words` argument), or fit on some text data first.")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")

        matrix = np.zeros((len(sequences), num_words))
        for row, seq in enumerate(sequences):
            if not len(seq):
                continue
            counts = collections.Counter(index for index in seq if index < num_words)
            for index, count in counts.items():
                if mode == "count":
                    matrix[row, index] = count
                elif mode == "freq":
                    matrix[row, index] = count / len(seq)
                elif mode == "binary":
                    matrix[row, index] = 1
                else:
                    term_frequency = 1 + np.log(count)
                    inverse_doc_frequency = np.log(1 + self.document_count / (1 + self.index_docs.get(index, 0)))
                    matrix[row, index] = term_frequency * inverse_doc_frequency
        return matrix

    def get_config(self):
        """Returns the tokenizer's configuration and vocabulary; the dicts are stored as JSON strings, as in Keras."""
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs):
        """Returns a JSON string of the tokenizer, to be loaded with `tokenizer_from_json`.

        Args:
            **kwargs: passed to `json.dumps`.
        """
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string):
    """Rebuilds a `Tokenizer` from the JSON string of `Tokenizer.to_json()` (also one written by Keras).

    Args:
        json_string: JSON string of a tokenizer configuration.

    Returns:
        A `Tokenizer` with the saved vocabulary and statistics.
    """
    config = dict(json.loads(json_string).get("config"))
    word_counts = json.loads(config.pop("word_counts"), object_pairs_hook=collections.OrderedDict)
    word_docs = json.loads(config.pop("word_docs"))
    index_docs = {int(k): v for k, v in json.loads(config.pop("index_docs")).items()}
    index_word = {int(k): v for k, v in json.loads(config.pop("index_word")).items()}
    word_index = json.loads(config.pop("word_index"))
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = word_counts
    # defaultdicts again, so that fitting more texts after loading works (it failed in Keras).
    tokenizer.word_docs = collections.defaultdict(int, word_docs)
    tokenizer.index_docs = collections.defaultdict(int, index_docs)
    tokenizer.word_index = word_index
    tokenizer.index_word = index_word
    return tokenizer
