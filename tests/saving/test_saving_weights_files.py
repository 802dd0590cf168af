"""save_weights / load_weights: Keras 2's layout, topological and by-name loading, mismatches, and the older
forms Keras wrote (bytes attributes, chunked attributes, Keras 1 and cuDNN weight layouts, Keras 2.2 optimizer
state)."""
import json
import warnings

import h5py
import numpy as np
import pytest

from fitgen.engine.input_layer import Input
from fitgen.engine.model import Model
from fitgen.engine.sequential import Sequential
from fitgen.models import load_model
from fitgen.optimizers import Adam
from fitgen.saving import keras_compat
from fitgen.saving.serialization import layer_classes

L = layer_classes()


def _mlp(names=("d1", "d2"), units=(5, 3)):
    return Sequential([L["Dense"](units[0], input_shape=(4,), name=names[0]), L["Dropout"](0.1),
                       L["Dense"](units[1], name=names[1])])


def _randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.standard_normal(w.shape).astype("float32") for w in model.weights])


def test_weights_file_layout_is_keras2(tmp_path):
    model = _mlp()
    model.save_weights(tmp_path / "w.h5")
    with h5py.File(tmp_path / "w.h5", "r") as f:
        assert list(keras_compat.load_attributes(f, "layer_names")) == ["d1", "dropout", "d2"]
        assert keras_compat.decode(f.attrs["backend"]) == "tensorflow"
        assert keras_compat.decode(f.attrs["keras_version"]) not in ("", "1")
        assert list(keras_compat.load_attributes(f["d1"], "weight_names")) == ["d1/kernel:0", "d1/bias:0"]
        assert f["d1"]["d1/kernel:0"].shape == (4, 5) and f["d1/d1/bias:0"].shape == (5,)
        assert f["dropout"].attrs["weight_names"].shape == (0,)
        assert "top_level_model_weights" in f


def test_topological_load_ignores_layer_names(tmp_path):
    source = _mlp()
    _randomise(source)
    source.save_weights(tmp_path / "w.h5")
    target = _mlp(names=("a", "b"))
    target.load_weights(tmp_path / "w.h5")
    for u, v in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_topological_mismatches_name_layer_and_shapes_and_change_nothing(tmp_path):
    _mlp().save_weights(tmp_path / "w.h5")
    target = _mlp(units=(5, 2))
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"'d2'.*\(5, 2\).*\(5, 3\)"):
        target.load_weights(tmp_path / "w.h5")
    for u, v in zip(target.get_weights(), before):
        np.testing.assert_array_equal(u, v)
    bigger = Sequential([L["Dense"](5, input_shape=(4,)), L["Dense"](3), L["Dense"](1)])
    with pytest.raises(ValueError, match="Layer count mismatch.*expected 3 layers.*found 2"):
        bigger.load_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match="skip_mismatch can only be set to True when by_name is True"):
        target.load_weights(tmp_path / "w.h5", skip_mismatch=True)


def test_by_name_loads_matching_layers_and_skips_mismatches_on_request(tmp_path):
    source = _mlp()
    _randomise(source)
    source.save_weights(tmp_path / "w.h5")
    inputs = Input((4,))
    d1 = L["Dense"](5, name="d1")
    other = L["Dense"](3, name="other")
    d2 = L["Dense"](7, name="d2")
    target = Model(inputs, d2(other(d1(inputs))))
    with pytest.raises(ValueError, match=r"'d2'.*\(3, 7\).*\(5, 3\)"):
        target.load_weights(tmp_path / "w.h5", by_name=True)
    before_other = other.get_weights()
    with pytest.warns(UserWarning, match="Skipping loading of weight d2/kernel:0"):
        target.load_weights(tmp_path / "w.h5", by_name=True, skip_mismatch=True)
    for u, v in zip(d1.get_weights(), source.get_layer("d1").get_weights()):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(other.get_weights()[0], before_other[0])


def test_chunked_attributes_round_trip(tmp_path):
    names = [f"layer_{i:04d}_" + "x" * 240 for i in range(400)]  # ~100 kB: above HDF5's 64 kB header limit
    with h5py.File(tmp_path / "a.h5", "w") as f:
        keras_compat.save_attributes(f, "layer_names", names)
        assert "layer_names" not in f.attrs and "layer_names0" in f.attrs and "layer_names1" in f.attrs
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert keras_compat.load_attributes(f, "layer_names") == names
    with h5py.File(tmp_path / "b.h5", "w") as f, pytest.raises(ValueError, match="longer than 64512 bytes"):
        keras_compat.save_attributes(f, "weight_names", ["y" * 70000])


def test_keras_224_style_file_with_bytes_attributes(tmp_path):
    source = _mlp()
    _randomise(source)
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Dense", "config": {"name": "d1", "units": 5, "batch_input_shape": [None, 4],
                                           "activation": "linear", "use_bias": True}},
        {"class_name": "Dropout", "config": {"name": "dropout_1", "rate": 0.1}},
        {"class_name": "Dense", "config": {"name": "d2", "units": 3}}]}}
    training = {"optimizer_config": {"class_name": "Adam", "config": {"lr": 0.002, "beta_1": 0.9, "beta_2": 0.999,
                                                                      "decay": 0.0, "epsilon": 1e-7}},
                "loss": "mse", "metrics": ["acc"], "sample_weight_mode": None, "loss_weights": None}
    with h5py.File(tmp_path / "k224.h5", "w") as f:  # fixed-length bytes everywhere, as Keras 2.2.4 wrote
        f.attrs["keras_version"] = np.bytes_(b"2.2.4")
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["model_config"] = np.bytes_(json.dumps(config).encode())
        f.attrs["training_config"] = np.bytes_(json.dumps(training).encode())
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"d1", b"dropout_1", b"d2"])
        g.attrs["keras_version"] = np.bytes_(b"2.2.4")
        for name, layer in (("d1", source.layers[0]), ("dropout_1", None), ("d2", source.layers[2])):
            sub = g.create_group(name)
            weights = layer.weights if layer is not None else []
            sub.attrs["weight_names"] = np.array([f"{name}_1/{w.weight_name}:0".encode() for w in weights],
                                                 dtype="S32")
            for w in weights:
                sub.create_dataset(f"{name}_1/{w.weight_name}:0", data=w.numpy())
        shapes = [w.shape for w in source.trainable_weights]
        ms = [np.full(s, 0.1, "float32") for s in shapes]
        vs = [np.full(s, 0.2, "float32") for s in shapes]
        opt = f.create_group("optimizer_weights")
        values = [np.asarray(5, "int64")] + ms + vs + [np.zeros((1,), "float32")] * len(shapes)
        names = [b"Adam/iterations:0"] + [f"training/Adam/Variable_{i}:0".encode() for i in range(len(values) - 1)]
        opt.attrs["weight_names"] = np.array(names)
        for name, value in zip(names, values):
            opt.create_dataset(name.decode(), data=value)
    model = load_model(tmp_path / "k224.h5")
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), source.predict(x, verbose=0), rtol=1e-6)
    assert model.metrics_names == ["loss", "acc"]
    assert abs(float(model.optimizer.learning_rate) - 0.002) < 1e-9
    state = model.optimizer.get_weights()
    assert int(state[0]) == 5
    np.testing.assert_allclose(state[1], ms[0])  # m of the first variable, then its v: interleaved
    np.testing.assert_allclose(state[2], vs[0])


def _lstm_model(units=3):
    model = Sequential([L["LSTM"](units, input_shape=(4, 2), name="lstm")])
    _randomise(model)
    return model


def _write_weights(path, layer_name, arrays, keras_version=None):
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer_name.encode()]
        if keras_version:
            f.attrs["keras_version"] = keras_version.encode()
        g = f.create_group(layer_name)
        names = [f"param_{i}" for i in range(len(arrays))]
        g.attrs["weight_names"] = [n.encode() for n in names]
        for n, a in zip(names, arrays):
            g.create_dataset(n, data=a)


def test_keras1_lstm_weights_with_one_triple_per_gate(tmp_path):
    source = _lstm_model()
    kernel, recurrent, bias = source.get_weights()
    gates = [np.split(a, 4, axis=-1) for a in (kernel, recurrent, bias)]  # Keras 2 gate order i, f, c, o
    keras1 = []
    for gate in (0, 2, 1, 3):  # Keras 1 stored i, c, f, o
        keras1 += [gates[0][gate], gates[1][gate], gates[2][gate]]
    _write_weights(tmp_path / "k1.h5", "lstm_1", keras1)  # no keras_version: a Keras 1 file
    target = _lstm_model()
    target.load_weights(tmp_path / "k1.h5")
    for u, v in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_cudnn_lstm_weights_are_converted(tmp_path):
    source = _lstm_model()
    kernel, recurrent, bias = source.get_weights()

    def per_gate(a, fn):
        return np.hstack([fn(k) for k in np.hsplit(a, 4)])

    cudnn = [per_gate(kernel, lambda k: k.T.reshape(k.shape, order="C")), per_gate(recurrent, np.transpose),
             np.concatenate([bias * 0.25, bias * 0.75])]
    _write_weights(tmp_path / "cudnn.h5", "cu_dnnlstm_1", cudnn, keras_version="2.2.4")
    target = _lstm_model()
    target.load_weights(tmp_path / "cudnn.h5")
    for u, v in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


def test_legacy_optimizer_layout_conversion():
    model = _mlp()
    optimizer = Adam()
    optimizer.build(model.trainable_weights)
    n = len(model.trainable_weights)
    ms = [np.full(w.shape, i, "float32") for i, w in enumerate(model.trainable_weights)]
    vs = [np.full(w.shape, 10 + i, "float32") for i, w in enumerate(model.trainable_weights)]
    names = ["Adam/iterations:0"] + [f"v{i}" for i in range(3 * n)]
    out = keras_compat.convert_legacy_optimizer_weights(optimizer, names, [np.asarray(3)] + ms + vs + ms)
    optimizer.set_weights(out)
    state = optimizer.get_weights()
    assert int(state[0]) == 3
    for i in range(n):
        np.testing.assert_array_equal(state[1 + 2 * i], ms[i])
        np.testing.assert_array_equal(state[2 + 2 * i], vs[i])
    assert keras_compat.convert_legacy_optimizer_weights(optimizer, names[:2], [np.asarray(3), ms[0]]) is None


def test_model_file_optimizer_state_mismatch_warns_and_starts_fresh(tmp_path):
    model = _mlp()
    model.compile("adam", "mse")
    model.fit(np.ones((4, 4), "float32"), np.ones((4, 3), "float32"), verbose=0)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r+") as f:
        del f["optimizer_weights"]["iteration:0"]
        f["optimizer_weights"].create_dataset("iteration:0", data=np.zeros((2, 2)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_model(tmp_path / "m.h5")
    assert any("freshly initialized optimizer" in str(w.message) for w in caught)
    assert int(loaded.optimizer.iterations) == 0
