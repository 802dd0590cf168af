"""Iterator semantics: Sequence contract, exactly once per epoch, seeded order and batches, pickling."""
import multiprocessing
import pickle
import threading

import numpy as np
import pytest

from fitgen.data.sequence import Sequence
from fitgen.preprocessing.image import ImageDataGenerator
from fitgen.preprocessing.image import NumpyArrayIterator

AUGMENT = dict(rotation_range=30, width_shift_range=0.2, height_shift_range=[1, 2, 3], zoom_range=0.2,
               shear_range=10, horizontal_flip=True, vertical_flip=True, channel_shift_range=20)


def _data(n=37, seed=0):
    x = (np.random.RandomState(seed).rand(n, 12, 15, 3) * 255).astype("float32")
    return x, np.arange(n)


def test_flow_is_a_sequence_with_ceil_batches():
    x, y = _data()
    it = ImageDataGenerator().flow(x, y, batch_size=8)
    assert isinstance(it, Sequence) and isinstance(it, NumpyArrayIterator)
    assert len(it) == 5
    assert [len(it[i][1]) for i in range(5)] == [8, 8, 8, 8, 5]
    with pytest.raises(ValueError, match="has length 5"):
        it[5]


def test_every_sample_once_per_epoch_and_reshuffled_each_epoch():
    x, y = _data()
    it = ImageDataGenerator(**AUGMENT).flow(x, y, batch_size=8, seed=3)
    orders = []
    for _ in range(3):
        labels = np.concatenate([it[i][1] for i in range(len(it))])
        assert sorted(labels.tolist()) == list(range(37))
        orders.append(labels.tolist())
        it.on_epoch_end()
    assert orders[0] != orders[1] != orders[2]


def test_seeded_first_epoch_matches_keras_order():
    # keras_preprocessing 1.1.2: flow(x, y, batch_size=8, seed=3) over 37 samples, batches 0..4 of epoch 0.
    keras_batches = [[4, 26, 18, 22, 17, 36, 15, 28], [13, 34, 5, 27, 35, 1, 30, 16], [2, 14, 7, 12, 20, 33, 6, 23],
                     [32, 31, 9, 25, 11, 10, 19, 29], [21, 0, 8, 3, 24]]
    x, y = _data()
    it = ImageDataGenerator(**AUGMENT).flow(x, y, batch_size=8, seed=3)
    assert [it[i][1].tolist() for i in range(5)] == keras_batches


def test_seeded_batches_depend_only_on_epoch_and_index():
    x, y = _data()
    gen = ImageDataGenerator(**AUGMENT)
    first = gen.flow(x, y, batch_size=8, seed=3)
    second = gen.flow(x, y, batch_size=8, seed=3)
    for i in (4, 0, 2):  # any order, any number of times
        np.testing.assert_array_equal(first[i][0], second[i][0])
        np.testing.assert_array_equal(first[i][0], first[i][0])
    first.on_epoch_end()
    second.on_epoch_end()
    np.testing.assert_array_equal(first[1][0], second[1][0])
    assert not np.array_equal(first[1][1], gen.flow(x, y, batch_size=8, seed=3)[1][1])


def test_seeded_batch_applies_keras_parameters_per_sample():
    x, y = _data()
    gen = ImageDataGenerator(**AUGMENT)
    batch_x, batch_y = gen.flow(x, y, batch_size=8, seed=3)[1]
    rng = np.random.RandomState(3 + 1)  # batch 1 of epoch 0
    for i, j in enumerate(batch_y):
        params = gen._draw_transform(x[j].shape, rng)
        np.testing.assert_allclose(batch_x[i], gen.apply_transform(x[j], params), atol=1e-3)


def test_unshuffled_flow_keeps_order_and_unseeded_flow_uses_global_state():
    x, y = _data()
    it = ImageDataGenerator().flow(x, y, batch_size=10, shuffle=False)
    assert it[1][1].tolist() == list(range(10, 20))
    np.testing.assert_array_equal(it[0][0], x[:10])
    np.random.seed(11)
    a = ImageDataGenerator(rotation_range=20).flow(x, y, batch_size=10)[0]
    np.random.seed(11)
    b = ImageDataGenerator(rotation_range=20).flow(x, y, batch_size=10)[0]
    np.testing.assert_array_equal(a[0], b[0])


def test_legacy_next_loops_forever_and_matches_keras():
    # keras_preprocessing 1.1.2: next() on flow(x, y, batch_size=8, seed=5), first six calls.
    keras_labels = [[32, 18, 3, 19, 22, 5, 0, 23], [20, 10, 33, 2, 6, 31, 36, 24], [1, 11, 13, 25, 29, 26, 21, 17],
                    [15, 12, 30, 28, 34, 27, 7, 4], [8, 9, 16, 14, 35], [24, 32, 2, 12, 7, 5, 33, 3]]
    x, y = _data()
    it = ImageDataGenerator(**AUGMENT).flow(x, y, batch_size=8, seed=5)
    assert iter(it) is it
    assert [next(it)[1].tolist() for _ in range(6)] == keras_labels
    it.reset()
    assert it.batch_index == 0


def test_outputs_with_misc_inputs_and_sample_weights():
    x, y = _data(10)
    extra = np.arange(10) * 10
    weights = np.linspace(0, 1, 10)
    batch = ImageDataGenerator().flow((x, extra), y, batch_size=4, shuffle=False, sample_weight=weights)[1]
    (images, misc), labels, w = batch
    assert images.shape == (4, 12, 15, 3)
    assert misc.tolist() == [40, 50, 60, 70] and labels.tolist() == [4, 5, 6, 7]
    np.testing.assert_allclose(w, weights[4:8])
    only_x = ImageDataGenerator().flow(x, None, batch_size=4, shuffle=False)[0]
    assert isinstance(only_x, np.ndarray) and only_x.shape == (4, 12, 15, 3)


def test_subsets_split_the_arrays_at_validation_split():
    x, y = _data(20)
    labels = np.tile([0, 1], 10)
    gen = ImageDataGenerator(validation_split=0.25)
    train = gen.flow(x, labels, batch_size=100, shuffle=False, subset="training")
    val = gen.flow(x, labels, batch_size=100, shuffle=False, subset="validation")
    np.testing.assert_array_equal(val[0][0], x[:5])
    np.testing.assert_array_equal(train[0][0], x[5:])
    with pytest.raises(ValueError, match="different number of classes"):
        gen.flow(x, np.repeat([0, 1], 10), subset="validation")
    assert gen.flow(x, np.repeat([0, 1], 10), subset="validation", ignore_class_split=True).n == 5
    with pytest.raises(ValueError, match="subset"):
        gen.flow(x, y, subset="test")


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(x=np.zeros((4, 5, 5)), y=None), ValueError, "rank 4"),
    (dict(x=np.zeros((4, 5, 5, 3)), y=np.zeros(3)), ValueError, "same length"),
    (dict(x=np.zeros((4, 5, 5, 3)), y=None, sample_weight=np.ones(2)), ValueError, "sample_weight"),
    (dict(x=np.zeros((4, 5, 5, 3)), y=None, batch_size=0), ValueError, "batch_size"),
])
def test_bad_flow_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        ImageDataGenerator().flow(**kwargs)


def test_iterator_pickles_without_its_lock_and_rebuilds_the_same_batches():
    x, y = _data()
    it = ImageDataGenerator(**AUGMENT).flow(x, y, batch_size=8, seed=9)
    it.on_epoch_end()
    copy = pickle.loads(pickle.dumps(it))
    assert isinstance(copy._lock, type(threading.Lock()))
    np.testing.assert_array_equal(copy[3][0], it[3][0])
    state = it.get_epoch_state()
    fresh = ImageDataGenerator(**AUGMENT).flow(x, y, batch_size=8, seed=9)
    fresh.set_epoch_state(state)
    np.testing.assert_array_equal(fresh[2][0], it[2][0])


def _child_batch(iterator, index, conn):
    try:
        conn.send(iterator[index])
    finally:
        conn.close()


def test_a_forked_process_builds_the_same_batch():
    # torch's OpenMP pool does not survive fork(); the resampler must still work in a forked child.
    x, y = _data()
    it = ImageDataGenerator(**AUGMENT).flow(x, y, batch_size=8, seed=4)
    expected = it[2]
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child_batch, args=(it, 2, child))
    process.start()
    child.close()
    try:
        assert parent.poll(60), "the forked child did not answer within 60 s"
        batch_x, batch_y = parent.recv()
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join(5)
        parent.close()
    np.testing.assert_array_equal(batch_y, expected[1])
    np.testing.assert_allclose(batch_x, expected[0], atol=1e-4)


def test_threads_building_batches_concurrently_agree_with_serial():
    x, y = _data()
    it = ImageDataGenerator(**AUGMENT).flow(x, y, batch_size=8, seed=2)
    serial = [it[i][0] for i in range(len(it))]
    results = {}

    def work(i):
        results[i] = it[i][0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(it))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for i in range(len(it)):
        np.testing.assert_array_equal(results[i], serial[i])
