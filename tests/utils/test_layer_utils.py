"""keras.utils.layer_utils / generic_utils helpers and keras.engine.saving's HDF5 group helpers."""
import h5py
import numpy as np
import pytest

from fitgen import initializers
from fitgen.engine import saving
from fitgen.layers import Concatenate, Conv2D, Dense, Flatten, Input
from fitgen.models import Model, Sequential, model_from_yaml
from fitgen.utils import generic_utils, layer_utils


def test_get_source_inputs_follows_the_graph_back_to_the_inputs():
    a, b = Input((3,), name="a"), Input((2,), name="b")
    merged = Concatenate()([Dense(2)(a), b])
    out = Dense(1)(Dense(4)(merged))
    sources = layer_utils.get_source_inputs(out)
    assert len(sources) == 2 and sources[0] is a and sources[1] is b
    assert layer_utils.get_source_inputs(a) == [a]
    assert layer_utils.get_source_inputs("not a tensor") == "not a tensor"


def test_count_params_counts_each_weight_once():
    dense = Dense(3)
    dense.build((None, 4))
    assert layer_utils.count_params(dense.weights + dense.weights) == 15


def test_convert_all_kernels_in_model_flips_spatial_axes_only():
    model = Sequential([Conv2D(2, (2, 3), input_shape=(5, 5, 1)), Flatten(), Dense(1)])
    kernel, dense_kernel = model.layers[0].get_weights()[0], model.layers[2].get_weights()[0]
    layer_utils.convert_all_kernels_in_model(model)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], kernel[::-1, ::-1])
    np.testing.assert_array_equal(model.layers[2].get_weights()[0], dense_kernel)


def test_convert_dense_weights_data_format_keeps_the_function():
    rng = np.random.RandomState(0)
    dense = Dense(2)
    dense.build((None, 2 * 3 * 4))
    maps_last = rng.rand(5, 2, 3, 4).astype("float32")  # (batch, h, w, c)
    before = maps_last.reshape(5, -1) @ dense.get_weights()[0]
    layer_utils.convert_dense_weights_data_format(dense, (4, 2, 3), "channels_first")
    maps_first = maps_last.transpose(0, 3, 1, 2)  # the same feature maps, channels first
    np.testing.assert_allclose(maps_first.reshape(5, -1) @ dense.get_weights()[0], before, rtol=1e-5)
    layer_utils.convert_dense_weights_data_format(dense, (2, 3, 4), "channels_last")
    np.testing.assert_allclose(maps_last.reshape(5, -1) @ dense.get_weights()[0], before, rtol=1e-5)
    with pytest.raises(ValueError, match="target_data_format"):
        layer_utils.convert_dense_weights_data_format(dense, (2, 3, 4), "channels_middle")


def test_hdf5_group_helpers_round_trip(tmp_path):
    x = Input((3,))
    source = Model(x, Dense(2, name="out")(Dense(4, name="hidden")(x)))
    y = Input((3,))
    target = Model(y, Dense(2, name="out")(Dense(4, name="hidden")(y)))
    with h5py.File(tmp_path / "w.h5", "w") as f:
        saving.save_weights_to_hdf5_group(f, source.layers)
    with h5py.File(tmp_path / "w.h5", "r") as f:
        saving.load_weights_from_hdf5_group(f, target.layers)
    for got, want in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(got, want)
    only_out = Sequential([Dense(2, name="out", input_shape=(4,))])
    with h5py.File(tmp_path / "w.h5", "r") as f:
        saving.load_weights_from_hdf5_group_by_name(f, only_out)
    np.testing.assert_array_equal(only_out.get_weights()[0], source.get_layer("out").get_weights()[0])
    values = saving.preprocess_weights_for_loading(only_out.layers[0], only_out.get_weights(), "2.2.4")
    assert [v.shape for v in values] == [(4, 2), (2,)]


def test_model_from_yaml_is_refused_as_in_tf_keras():
    with pytest.raises(RuntimeError, match="model_from_yaml.*security risk"):
        model_from_yaml("class_name: Sequential")
    assert saving.model_from_yaml is model_from_yaml


def test_generic_utils_helpers():
    def f(a, b=1, *, c=2, **kwargs):
        return a

    assert generic_utils.has_arg(f, "b") and generic_utils.has_arg(f, "c")
    assert not generic_utils.has_arg(f, "d") and generic_utils.has_arg(f, "d", accept_all=True)
    assert generic_utils.getargspec(f).args == ["a", "b"]
    assert generic_utils.to_list((1, 2)) == [(1, 2)] and generic_utils.to_list((1, 2), allow_tuple=True) == [1, 2]
    assert generic_utils.unpack_singleton([5]) == 5 and generic_utils.unpack_singleton([5, 6]) == [5, 6]
    assert generic_utils.is_all_none([None, None]) and not generic_utils.is_all_none([None, 0])
    a, b = object(), object()
    assert generic_utils.object_list_uid([a, b]) == f"{abs(id(a))}, {abs(id(b))}"
    arrays = [np.arange(6), None]
    assert generic_utils.slice_arrays(arrays, 1, 3)[0].tolist() == [1, 2]
    assert generic_utils.slice_arrays(arrays, [0, 5])[0].tolist() == [0, 5]
    assert generic_utils.slice_arrays(None) == [None]
    assert generic_utils.transpose_shape((None, 8, 9, 3), "channels_first", [1, 2]) == (None, 3, 8, 9)
    assert generic_utils.transpose_shape([None, 8, 3], "channels_last", [1]) == [None, 8, 3]
    with pytest.raises(ValueError, match="data_format"):
        generic_utils.transpose_shape((1, 2), "rows_first", [1])
    code = generic_utils.func_dump(lambda x, y=3: x * y)
    assert generic_utils.func_load(code)(2) == 6


def test_private_compute_fans_as_user_initializers_import_it():
    assert initializers._compute_fans((3, 3, 4, 8)) == (36, 72)
    assert initializers._compute_fans((8, 4, 3, 3), data_format="channels_first") == (36, 72)
    assert initializers._compute_fans((5, 7)) == (5, 7)
    with pytest.raises(ValueError, match="data_format"):
        initializers._compute_fans((3, 3, 4, 8), data_format="nchw")
