"""Keras 2's classic imdb_lstm example (LSTM sentiment classifier on IMDB reviews) with fitgen imports.

The body below `main()`'s data section is the Keras 2 script with `keras.` replaced by `fitgen.`: it loads
the reviews with `imdb.load_data`, pads them with `sequence.pad_sequences`, and trains
Embedding -> LSTM -> Dense(sigmoid) with `fit` and `evaluate`.

The real data set downloads on first use (to `$FITGEN_HOME/datasets`, default `~/.fitgen/datasets`). To
run offline, ask for a synthetic imdb.npz with `--synthetic N` (or `FITGEN_SYNTHETIC_IMDB=N`): N made-up
reviews per split, written to the cache and used in place of the download. Without FITGEN_HOME the
synthetic file goes to a temporary cache, never over a real download.

Usage: python examples/keras2_imdb_lstm.py [--epochs 15] [--synthetic 2000]
"""
import argparse
import hashlib
import os
import tempfile

import numpy as np

from fitgen.datasets import imdb
from fitgen.layers import LSTM, Dense, Embedding
from fitgen.models import Sequential
from fitgen.preprocessing import sequence


def write_synthetic_imdb(path, reviews_per_split, seed=0):
    """An imdb.npz in Keras's format: object arrays of word-rank lists (ranks from 1) and 0/1 labels.

    Each review mixes common words (ranks 1..2000) with a few sentiment words: ranks 50..99 lean
    positive, 100..149 negative, so an LSTM can learn the labels.
    """
    rng = np.random.RandomState(seed)

    def split(n):
        labels = rng.randint(0, 2, n)
        reviews = np.empty(n, dtype=object)
        for i, label in enumerate(labels):
            length = rng.randint(20, 120)
            words = rng.zipf(1.3, length) % 2000 + 1
            marked = rng.rand(length) < 0.15
            words[marked] = rng.randint(50, 100, marked.sum()) + (0 if label else 50)
            reviews[i] = words.astype(int).tolist()
        return reviews, labels.astype(np.int64)

    (x_train, y_train), (x_test, y_test) = split(reviews_per_split), split(reviews_per_split)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def use_synthetic_imdb(reviews_per_split):
    """Puts a synthetic imdb.npz in the cache (if not there yet) and lets `imdb.load_data` accept it.

    load_data checks the cached file against the real data set's hash; the synthetic file's own hash is
    registered instead, so the script below runs unchanged and offline.
    """
    if not os.environ.get("FITGEN_HOME"):
        os.environ["FITGEN_HOME"] = tempfile.mkdtemp(prefix="fitgen_imdb_")
    path = os.path.join(os.environ["FITGEN_HOME"], "datasets", "imdb.npz")
    if not os.path.exists(path):
        write_synthetic_imdb(path, reviews_per_split)
    with open(path, "rb") as f:
        imdb._FILE_HASH = hashlib.sha256(f.read()).hexdigest()
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--synthetic", type=int, default=int(os.environ.get("FITGEN_SYNTHETIC_IMDB", "0")),
                        help="use N synthetic reviews per split instead of downloading IMDB")
    args = parser.parse_args(argv)
    if args.synthetic:
        print("Using a synthetic IMDB file:", use_synthetic_imdb(args.synthetic))

    # ----- Keras 2's imdb_lstm, imports changed from keras.* to fitgen.* -----
    max_features = 20000  # vocabulary: the most frequent words
    maxlen = 80  # reviews are cut (or padded) to this many words
    batch_size = 32

    print("Loading data...")
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=max_features)
    print(len(x_train), "train sequences")
    print(len(x_test), "test sequences")

    print("Pad sequences (samples x time)")
    x_train = sequence.pad_sequences(x_train, maxlen=maxlen)
    x_test = sequence.pad_sequences(x_test, maxlen=maxlen)
    print("x_train shape:", x_train.shape)
    print("x_test shape:", x_test.shape)

    print("Build model...")
    model = Sequential()
    model.add(Embedding(max_features, 128))
    model.add(LSTM(128, dropout=0.2, recurrent_dropout=0.2))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

    print("Train...")
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=args.epochs,
                        validation_data=(x_test, y_test))
    score, acc = model.evaluate(x_test, y_test, batch_size=batch_size)
    print("Test score:", score)
    print("Test accuracy:", acc)
    return history, score, acc


if __name__ == "__main__":
    main()
