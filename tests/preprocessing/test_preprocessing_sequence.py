"""fitgen.preprocessing.sequence against keras_preprocessing 1.1 / tf-keras 2.21 results (stored as literals)."""
import json
import random

import numpy as np
import pytest

from fitgen.data.sequence import Sequence
from fitgen.preprocessing.sequence import TimeseriesGenerator
from fitgen.preprocessing.sequence import _remove_long_seq
from fitgen.preprocessing.sequence import make_sampling_table
from fitgen.preprocessing.sequence import pad_sequences
from fitgen.preprocessing.sequence import skipgrams


def test_pad_sequences_defaults_pre_pad_and_pre_truncate():
    out = pad_sequences([[1, 2, 3], [4, 5], [6]])
    assert out.dtype == np.int32 and out.shape == (3, 3)
    assert out.tolist() == [[1, 2, 3], [0, 4, 5], [0, 0, 6]]
    assert pad_sequences([[1, 2, 3], [4, 5], [6]], maxlen=2).tolist() == [[2, 3], [4, 5], [0, 6]]


def test_pad_sequences_post_value_dtype():
    out = pad_sequences([[1, 2, 3], [4, 5], [6]], maxlen=4, padding="post", truncating="post", value=-1)
    assert out.tolist() == [[1, 2, 3, -1], [4, 5, -1, -1], [6, -1, -1, -1]]
    assert pad_sequences([[1, 2, 3]], maxlen=2, truncating="post").tolist() == [[1, 2]]
    out = pad_sequences([[1.5, 2.5], []], dtype="float32")
    assert out.dtype == np.float32 and out.tolist() == [[1.5, 2.5], [0.0, 0.0]]
    assert pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>").tolist() == [["a", "b"], ["<pad>", "c"]]


def test_pad_sequences_items_with_shape_and_edge_cases():
    assert pad_sequences([[[1, 2], [3, 4]], [[5, 6]]]).tolist() == [[[1, 2], [3, 4]], [[0, 0], [5, 6]]]
    assert pad_sequences([[1, 2], [3]], maxlen=0).shape == (2, 0)
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences(np.array([[1, 2], [3, 4]]), maxlen=3).tolist() == [[0, 1, 2], [0, 3, 4]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"padding": "middle"}, "padding='middle'"),
        ({"truncating": "both"}, "truncating='both'"),
        ({"maxlen": -1}, "maxlen=-1"),
        ({"maxlen": 2.5}, "maxlen=2.5"),
        ({"value": "x"}, "dtype=object"),
    ],
)
def test_pad_sequences_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pad_sequences([[1, 2]], **kwargs)


def test_pad_sequences_rejects_bad_sequences():
    with pytest.raises(ValueError, match="non-iterable: 3"):
        pad_sequences([[1], 3])
    with pytest.raises(ValueError, match="must be iterable"):
        pad_sequences(iter([[1]]))
    with pytest.raises(ValueError, match="position 1 is different from expected shape"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])


def test_make_sampling_table():
    np.testing.assert_allclose(
        make_sampling_table(6),
        [0.0031522478751942504, 0.0031522478751942504, 0.0054759726939176976, 0.007415564097374219,
         0.009128167456366161, 0.010684345040995184],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        make_sampling_table(4, sampling_factor=0.1),
        [0.31522478751942506, 0.31522478751942506, 0.5475972693917698, 0.7415564097374219], rtol=1e-12,
    )


def test_skipgrams_match_keras_for_the_same_random_seed():
    random.seed(7)
    assert skipgrams([1, 2, 3, 0, 4], vocabulary_size=5, window_size=1) == (
        [[3, 2], [1, 1], [3, 1], [2, 1], [1, 2], [2, 3], [2, 3], [2, 1]], [1, 0, 0, 1, 1, 0, 1, 0])
    random.seed(3)
    couples, labels = skipgrams([1, 2, 3, 4], vocabulary_size=6, window_size=2, negative_samples=0.5,
                                categorical=True, seed=11)
    assert couples == [[1, 4], [3, 1], [1, 2], [1, 3], [4, 3], [2, 4], [3, 2], [2, 1], [2, 3], [3, 5], [3, 3],
                       [4, 2], [4, 2], [1, 2], [3, 4]]
    assert labels == [[1, 0], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1], [1, 0], [1, 0],
                      [1, 0], [0, 1], [1, 0], [0, 1]]
    random.seed(5)
    assert skipgrams([1, 2, 3, 4, 5, 6], vocabulary_size=7, window_size=1, shuffle=False,
                     sampling_table=make_sampling_table(7, 0.05)) == ([[5, 4], [5, 6], [5, 4], [5, 2]], [1, 1, 0, 0])


def test_skipgrams_positive_pairs_without_negatives():
    assert skipgrams([1, 2, 3], 4, window_size=1, negative_samples=0, shuffle=False) == (
        [[1, 2], [2, 1], [2, 3], [3, 2]], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="negative_samples=-1"):
        skipgrams([1, 2], 3, negative_samples=-1)


def test_timeseries_generator_windows_stride_sampling_reverse():
    data, targets = np.arange(20).reshape(10, 2), np.arange(10) * 10
    gen = TimeseriesGenerator(data, targets, length=3, sampling_rate=2, stride=2, start_index=1, end_index=8,
                              batch_size=2, reverse=True)
    assert isinstance(gen, Sequence) and len(gen) == 2
    x, y = gen[0]
    assert x.tolist() == [[[6, 7], [2, 3]], [[10, 11], [6, 7]]] and y.tolist() == [40, 60]
    x, y = gen[1]
    assert x.tolist() == [[[14, 15], [10, 11]]] and y.tolist() == [80]


def test_timeseries_generator_batches_and_shuffle():
    data, targets = np.arange(20).reshape(10, 2), np.arange(10) * 10
    gen = TimeseriesGenerator(data, targets, length=4, batch_size=3)
    assert len(gen) == 2
    assert [gen[i][1].tolist() for i in range(2)] == [[40, 50, 60], [70, 80, 90]]
    assert gen[1][0].shape == (3, 4, 2)
    assert gen[0][0][0].tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    np.random.seed(1)
    assert TimeseriesGenerator(data, targets, length=2, batch_size=4, shuffle=True)[0][1].tolist() == [70, 50, 60, 20]


def test_timeseries_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="same length"):
        TimeseriesGenerator(np.zeros(5), np.zeros(4), length=2)
    with pytest.raises(ValueError, match="start_index\\+length=5 > end_index=4"):
        TimeseriesGenerator(np.zeros(5), np.zeros(5), length=5)
    with pytest.raises(ValueError, match="batch_size=0"):
        TimeseriesGenerator(np.zeros(5), np.zeros(5), length=2, batch_size=0)
    with pytest.raises(ValueError, match="length=0"):
        TimeseriesGenerator(np.zeros(5), np.zeros(5), length=0)


def test_timeseries_generator_to_json():
    gen = TimeseriesGenerator(np.arange(6), np.arange(6), length=2, batch_size=2)
    config = json.loads(gen.to_json())
    assert config["class_name"] == "TimeseriesGenerator"
    assert json.loads(config["config"]["data"]) == [0, 1, 2, 3, 4, 5]
    assert config["config"]["start_index"] == 0 and config["config"]["end_index"] == 5
    with pytest.raises(TypeError, match="not JSON Serializable"):
        TimeseriesGenerator([object()] * 3, [0] * 3, length=1).get_config()


def test_remove_long_seq_keeps_strictly_shorter():
    assert _remove_long_seq(3, [[1, 2], [1, 2, 3], [4]], ["a", "b", "c"]) == ([[1, 2], [4]], ["a", "c"])
