"""Issue 9's proof: Keras 2 user scripts run with only `keras.` changed to `fitgen.`.

* every Keras 2 import path those scripts use resolves under `fitgen.`;
* Keras's reuters_mlp script runs on a data set served from 127.0.0.1 (never the internet);
* the aliases scripts call behave (`rmsprop(lr=..., decay=...)`, `K.set_value(model.optimizer.lr, ...)`,
  the `get`/`serialize` helpers, regularizers and constraints, saving and loading);
* examples/keras2_imdb_lstm.py trains offline on a synthetic imdb.npz;
* `import fitgen` loads neither TensorFlow nor Keras, nor any optional dependency.
"""
import importlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers.local_server import LocalServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ISSUE_2_LAYERS = (
    "Dense Activation Dropout Flatten Reshape Permute RepeatVector Lambda Conv1D Conv2D Conv2DTranspose "
    "SeparableConv2D UpSampling2D ZeroPadding1D ZeroPadding2D Cropping2D MaxPooling1D MaxPooling2D AveragePooling1D "
    "AveragePooling2D GlobalAveragePooling1D GlobalAveragePooling2D GlobalMaxPooling1D GlobalMaxPooling2D "
    "BatchNormalization Embedding SimpleRNN LSTM GRU Bidirectional TimeDistributed Concatenate Add Subtract Multiply "
    "Average Maximum Dot concatenate add subtract multiply average maximum dot LeakyReLU PReLU ELU ReLU Softmax "
    "GaussianNoise SpatialDropout1D SpatialDropout2D Input InputLayer Layer Masking"
).split()

KERAS2_PATHS = [
    "datasets.mnist:load_data", "datasets.fashion_mnist:load_data", "datasets.cifar10:load_data",
    "datasets.cifar100:load_data", "datasets.imdb:load_data", "datasets.imdb:get_word_index",
    "datasets.reuters:load_data", "datasets.reuters:get_word_index", "datasets.boston_housing:load_data",
    "preprocessing.sequence:pad_sequences", "preprocessing.sequence:TimeseriesGenerator",
    "preprocessing.sequence:skipgrams", "preprocessing.sequence:make_sampling_table",
    "preprocessing.text:Tokenizer", "preprocessing.text:text_to_word_sequence", "preprocessing.text:one_hot",
    "preprocessing.text:hashing_trick", "preprocessing.text:tokenizer_from_json",
    "preprocessing.image:ImageDataGenerator", "preprocessing.image:load_img", "preprocessing.image:img_to_array",
    "preprocessing.image:array_to_img", "preprocessing.image:save_img",
    "utils.np_utils:to_categorical", "utils.np_utils:normalize", "utils:to_categorical", "utils:normalize",
    "utils:Sequence", "utils:HDF5Matrix", "utils.io_utils:HDF5Matrix", "utils:multi_gpu_model", "utils:plot_model",
    "utils.vis_utils:plot_model", "utils:get_file", "utils.data_utils:get_file", "utils:Progbar",
    "utils:CustomObjectScope", "utils:custom_object_scope", "utils:get_custom_objects", "utils:print_summary",
    "utils.generic_utils:CustomObjectScope", "utils.generic_utils:get_custom_objects",
    "optimizers:sgd", "optimizers:rmsprop", "optimizers:adagrad", "optimizers:adadelta", "optimizers:adam",
    "optimizers:adamax", "optimizers:nadam", "optimizers:SGD", "optimizers:RMSprop", "optimizers:Adam",
    "optimizers:get", "optimizers:serialize", "optimizers:deserialize", "losses:get", "activations:get",
    "initializers:get", "regularizers:l2", "regularizers:l1", "regularizers:l1_l2", "constraints:max_norm",
    "constraints:non_neg", "constraints:unit_norm",
    "wrappers.scikit_learn:KerasClassifier", "wrappers.scikit_learn:KerasRegressor",
    "backend:get_value", "backend:set_value", "backend:epsilon", "backend:image_data_format",
    "backend:clear_session", "backend:floatx",
    "models:load_model", "models:model_from_json", "models:Sequential", "models:Model", "models:save_model",
    ":Input", ":Model", ":Sequential",
] + [f"callbacks:{name}" for name in (
    "Callback", "History", "BaseLogger", "ProgbarLogger", "ModelCheckpoint", "EarlyStopping", "RemoteMonitor",
    "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger", "LambdaCallback", "TerminateOnNaN", "TensorBoard")
] + [f"layers:{name}" for name in ISSUE_2_LAYERS] + [
    "layers.core:Dense", "layers.core:Dropout", "layers.core:Activation", "layers.core:Flatten",
    "layers.recurrent:LSTM", "layers.recurrent:GRU", "layers.embeddings:Embedding",
    "layers.normalization:BatchNormalization", "layers.pooling:MaxPooling2D", "layers.merge:concatenate",
    "layers.advanced_activations:LeakyReLU", "layers.wrappers:TimeDistributed", "layers.noise:GaussianNoise",
    "layers.convolutional:Conv2D",
]

# ------------------------------------------------------------------- every public module of Keras 2.2.4

# Each public module of Keras 2.2.4 (keras.X) and the public names it defined or re-exported, which must exist
# as fitgen.X.name. Left out on purpose: keras.backend (its own issue), keras.applications (pretrained
# networks are not part of fitgen), keras.legacy (Keras 1 conversion internals and the removed Merge layer),
# keras.utils.test_utils and keras.engine.training_* (Keras's test and engine internals), the TF-only
# optimizers.TFOptimizer and io_utils.H5Dict, and ConvRNN2D (the base class of user-written convolutional cells;
# fitgen's ConvLSTM2D runs its own loop with the input convolution of all timesteps hoisted out of it).
_LOSS_NAMES = (
    "mean_squared_error mean_absolute_error mean_absolute_percentage_error mean_squared_logarithmic_error squared_hinge "
    "hinge categorical_hinge logcosh categorical_crossentropy sparse_categorical_crossentropy binary_crossentropy "
    "kullback_leibler_divergence poisson cosine_proximity mse MSE mae MAE mape MAPE msle MSLE kld KLD cosine serialize "
    "deserialize get")
_CORE = ("Masking Dropout SpatialDropout1D SpatialDropout2D SpatialDropout3D Activation Reshape Permute Flatten "
         "RepeatVector Lambda Dense ActivityRegularization")
_CONVOLUTIONAL = (
    "Conv1D Conv2D SeparableConv1D SeparableConv2D DepthwiseConv2D Conv2DTranspose Conv3DTranspose Conv3D UpSampling1D "
    "UpSampling2D UpSampling3D ZeroPadding1D ZeroPadding2D ZeroPadding3D Cropping1D Cropping2D Cropping3D Convolution1D "
    "Convolution2D Convolution3D SeparableConvolution1D SeparableConvolution2D Convolution2DTranspose Deconvolution2D "
    "Deconv2D Deconvolution3D Deconv3D")
_POOLING = (
    "MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D AveragePooling3D GlobalAveragePooling1D "
    "GlobalAveragePooling2D GlobalAveragePooling3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D AvgPool1D "
    "AvgPool2D AvgPool3D MaxPool1D MaxPool2D MaxPool3D GlobalMaxPool1D GlobalMaxPool2D GlobalMaxPool3D GlobalAvgPool1D "
    "GlobalAvgPool2D GlobalAvgPool3D")
_RECURRENT = "RNN SimpleRNN GRU LSTM SimpleRNNCell GRUCell LSTMCell StackedRNNCells"
_MERGE = ("Add Subtract Multiply Average Maximum Minimum Concatenate Dot add subtract multiply average maximum minimum "
          "concatenate dot")
_ADVANCED = "LeakyReLU PReLU ELU ThresholdedReLU Softmax ReLU"
_OTHER_LAYERS = ("LocallyConnected1D LocallyConnected2D CuDNNGRU CuDNNLSTM BatchNormalization Embedding GaussianNoise "
                 "GaussianDropout AlphaDropout Wrapper TimeDistributed Bidirectional ConvLSTM2D ConvLSTM2DCell "
                 "Input InputLayer InputSpec Layer serialize deserialize")
_HDF5_GROUP_HELPERS = ("load_weights_from_hdf5_group load_weights_from_hdf5_group_by_name preprocess_weights_for_loading "
                       "save_weights_to_hdf5_group")

KERAS_224_MODULES = {
    "": "Input Model Sequential __version__ activations backend callbacks constraints datasets engine initializers "
        "layers losses metrics models optimizers preprocessing regularizers utils wrappers",
    "activations": "softmax elu selu softplus softsign relu tanh sigmoid hard_sigmoid exponential linear serialize "
                   "deserialize get",
    "callbacks": "Callback CallbackList BaseLogger TerminateOnNaN ProgbarLogger History ModelCheckpoint EarlyStopping "
                 "RemoteMonitor LearningRateScheduler TensorBoard ReduceLROnPlateau CSVLogger LambdaCallback",
    "constraints": "Constraint MaxNorm NonNeg UnitNorm MinMaxNorm max_norm non_neg unit_norm min_max_norm maxnorm nonneg "
                   "unitnorm serialize deserialize get",
    "datasets.mnist": "load_data", "datasets.fashion_mnist": "load_data", "datasets.cifar10": "load_data",
    "datasets.cifar100": "load_data", "datasets.cifar": "load_batch", "datasets.imdb": "load_data get_word_index",
    "datasets.reuters": "load_data get_word_index", "datasets.boston_housing": "load_data",
    "engine": "Input InputLayer InputSpec Layer get_source_inputs Model",
    "engine.base_layer": "Layer InputSpec Node",
    "engine.input_layer": "Input InputLayer",
    "engine.network": "Network get_source_inputs",
    "engine.sequential": "Sequential",
    "engine.training": "Model",
    "engine.saving": "save_model load_model model_from_config model_from_json model_from_yaml " + _HDF5_GROUP_HELPERS,
    "engine.topology": "Layer Node InputSpec Input InputLayer Network get_source_inputs " + _HDF5_GROUP_HELPERS,
    "initializers": "Initializer Zeros Ones Constant RandomNormal RandomUniform TruncatedNormal VarianceScaling "
                    "Orthogonal Identity lecun_uniform glorot_normal glorot_uniform he_normal lecun_normal he_uniform "
                    "zero zeros one ones constant uniform normal random_normal random_uniform truncated_normal "
                    "orthogonal identity _compute_fans serialize deserialize get",
    "layers": " ".join([_CORE, _CONVOLUTIONAL, _POOLING, _RECURRENT, _MERGE, _ADVANCED, _OTHER_LAYERS]),
    "layers.advanced_activations": _ADVANCED,
    "layers.convolutional": _CONVOLUTIONAL + " AveragePooling1D AveragePooling2D AveragePooling3D MaxPooling1D "
                                             "MaxPooling2D MaxPooling3D",
    "layers.convolutional_recurrent": "ConvRNN2D ConvLSTM2D ConvLSTM2DCell",
    "layers.core": _CORE,
    "layers.cudnn_recurrent": "CuDNNGRU CuDNNLSTM",
    "layers.embeddings": "Embedding",
    "layers.local": "LocallyConnected1D LocallyConnected2D",
    "layers.merge": _MERGE + " _Merge",
    "layers.noise": "GaussianNoise GaussianDropout AlphaDropout",
    "layers.normalization": "BatchNormalization",
    "layers.pooling": _POOLING,
    "layers.recurrent": _RECURRENT,
    "layers.wrappers": "Wrapper TimeDistributed Bidirectional",
    "losses": _LOSS_NAMES,
    "metrics": "binary_accuracy categorical_accuracy sparse_categorical_accuracy top_k_categorical_accuracy "
               "sparse_top_k_categorical_accuracy " + _LOSS_NAMES,
    "models": "Model Sequential save_model load_model model_from_config model_from_json model_from_yaml clone_model",
    "objectives": _LOSS_NAMES,
    "optimizers": "Optimizer SGD RMSprop Adagrad Adadelta Adam Adamax Nadam sgd rmsprop adagrad adadelta adam adamax "
                  "nadam serialize deserialize get",
    "preprocessing.image": "ImageDataGenerator Iterator DirectoryIterator NumpyArrayIterator array_to_img img_to_array "
                           "load_img save_img random_rotation random_shift random_shear random_zoom "
                           "random_channel_shift random_brightness apply_affine_transform apply_channel_shift "
                           "apply_brightness_shift flip_axis transform_matrix_offset_center list_pictures",
    "preprocessing.sequence": "pad_sequences make_sampling_table skipgrams TimeseriesGenerator",
    "preprocessing.text": "text_to_word_sequence one_hot hashing_trick Tokenizer",
    "regularizers": "Regularizer L1L2 l1 l2 l1_l2 serialize deserialize get",
    "utils": "np_utils generic_utils data_utils io_utils conv_utils HDF5Matrix get_file Sequence GeneratorEnqueuer "
             "OrderedEnqueuer CustomObjectScope custom_object_scope get_custom_objects serialize_keras_object "
             "deserialize_keras_object Progbar convert_all_kernels_in_model get_source_inputs print_summary "
             "model_to_dot plot_model to_categorical normalize multi_gpu_model",
    "utils.conv_utils": "normalize_tuple normalize_data_format normalize_padding convert_kernel conv_output_length "
                        "conv_input_length deconv_length",
    "utils.data_utils": "get_file validate_file Sequence SequenceEnqueuer OrderedEnqueuer GeneratorEnqueuer",
    "utils.generic_utils": "CustomObjectScope custom_object_scope get_custom_objects serialize_keras_object "
                           "deserialize_keras_object func_dump func_load getargspec has_arg Progbar to_list "
                           "object_list_uid is_all_none slice_arrays transpose_shape unpack_singleton",
    "utils.io_utils": "HDF5Matrix ask_to_proceed_with_overwrite",
    "utils.layer_utils": "count_params print_summary convert_all_kernels_in_model convert_dense_weights_data_format "
                         "get_source_inputs",
    "utils.multi_gpu_utils": "multi_gpu_model",
    "utils.np_utils": "to_categorical normalize",
    "utils.vis_utils": "model_to_dot plot_model",
    "wrappers.scikit_learn": "BaseWrapper KerasClassifier KerasRegressor",
}

# Modules and names that helpers working in parallel are adding (issue 16): skipped here until their branches are
# merged; the lead empties this set after merging. A whole module ("layers.local") or one "module:name".
_3D = ("Conv3DTranspose UpSampling3D ZeroPadding3D Cropping3D Deconvolution3D Deconv3D MaxPooling3D AveragePooling3D "
       "GlobalAveragePooling3D GlobalMaxPooling3D AvgPool3D MaxPool3D GlobalMaxPool3D GlobalAvgPool3D SpatialDropout3D")
PENDING_OTHER_BRANCHES = set()  # names a helper branch working in parallel adds; empty once merged

KERAS_224_PATHS = [f"{module}:{name}" for module, names in KERAS_224_MODULES.items() for name in names.split()]


def _resolve(path):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module("fitgen." + module if module else "fitgen"), name)


@pytest.mark.parametrize("path", KERAS2_PATHS)
def test_keras2_import_path_exists_under_fitgen(path):
    assert _resolve(path) is not None


@pytest.mark.parametrize("path", KERAS_224_PATHS)
def test_every_keras_224_public_name_resolves_under_fitgen(path):
    if path in PENDING_OTHER_BRANCHES or path.partition(":")[0] in PENDING_OTHER_BRANCHES:
        pytest.skip("added by a helper branch working in parallel (PENDING_OTHER_BRANCHES)")
    assert _resolve(path) is not None


def test_keras_224_names_are_the_same_objects_as_fitgen_s():
    from fitgen import layers, models
    from fitgen.engine import saving, topology, training
    from fitgen.utils import generic_utils, layer_utils
    assert training.Model is models.Model is topology.Network
    assert topology.Input is layers.Input and topology.InputSpec is layers.InputSpec
    assert saving.load_model is models.load_model
    assert generic_utils.Progbar is importlib.import_module("fitgen.utils").Progbar
    assert layer_utils.get_source_inputs is importlib.import_module("fitgen.engine").get_source_inputs
    from fitgen.layers import core, masking, noise
    assert core.Masking is masking.Masking and core.SpatialDropout1D is noise.SpatialDropout1D
    with pytest.raises(AttributeError):
        core.NoSuchLayer  # noqa: B018


def test_import_fitgen_loads_no_tensorflow_keras_or_optional_dependency():
    code = ("import sys, fitgen; roots = {m.split('.')[0] for m in sys.modules}; "
            "print(sorted(roots & {'tensorflow', 'keras', 'tf_keras', 'PIL', 'pandas', 'matplotlib', 'sklearn', "
            "'tensorboard', 'scipy'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------------------------------ a script on served data

def _fake_reuters(rng, n=300, topics=4, vocabulary=60):
    """reuters.npz in Keras's format: word-rank lists whose topic shows in which ranks they use."""
    labels = rng.randint(0, topics, n)
    xs = np.empty(n, dtype=object)
    for i, topic in enumerate(labels):
        common = rng.randint(1, 10, rng.randint(3, 8))
        own = rng.randint(10 + topic * 10, 20 + topic * 10, rng.randint(3, 8))
        xs[i] = rng.permutation(np.concatenate([common, own])).tolist()
    buffer = io.BytesIO()
    np.savez(buffer, x=xs, y=labels)
    return buffer.getvalue()


@pytest.fixture
def homes(tmp_path, monkeypatch):
    for var, sub in (("HOME", "home"), ("FITGEN_HOME", "fitgen_home"), ("KERAS_HOME", "keras_home")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    return tmp_path


def test_reuters_mlp_script_runs_with_only_imports_changed(homes, monkeypatch, capsys):
    from fitgen.datasets import reuters
    with LocalServer() as server:
        server.serve_dataset(reuters, "reuters.npz", _fake_reuters(np.random.RandomState(0)), monkeypatch)

        # ----- Keras 2's reuters_mlp, imports changed from keras.* to fitgen.* -----
        import fitgen
        from fitgen import backend as K
        from fitgen.callbacks import EarlyStopping, ReduceLROnPlateau
        from fitgen.layers import Activation, Dense, Dropout
        from fitgen.models import Sequential
        from fitgen.preprocessing.text import Tokenizer

        max_words = 100
        batch_size = 32
        epochs = 5

        print("Loading data...")
        (x_train, y_train), (x_test, y_test) = reuters.load_data(num_words=max_words, test_split=0.2)
        num_classes = np.max(y_train) + 1
        tokenizer = Tokenizer(num_words=max_words)
        x_train = tokenizer.sequences_to_matrix(x_train, mode="binary")
        x_test = tokenizer.sequences_to_matrix(x_test, mode="binary")
        y_train = fitgen.utils.to_categorical(y_train, num_classes)
        y_test = fitgen.utils.np_utils.to_categorical(y_test, num_classes)

        model = Sequential()
        model.add(Dense(64, input_shape=(max_words,)))
        model.add(Activation("relu"))
        model.add(Dropout(0.5))
        model.add(Dense(num_classes))
        model.add(Activation("softmax"))
        model.compile(loss="categorical_crossentropy",
                      optimizer=fitgen.optimizers.rmsprop(lr=0.01, decay=1e-6), metrics=["accuracy"])
        K.set_value(model.optimizer.lr, 0.005)
        history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=1,
                            validation_split=0.1,
                            callbacks=[EarlyStopping(monitor="val_loss", patience=10),
                                       ReduceLROnPlateau(monitor="val_loss", patience=10)])
        score = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=1)
        print("Test score:", score[0])
        print("Test accuracy:", score[1])
        # -----

    out = capsys.readouterr().out
    assert server.requests == ["/reuters.npz"]
    assert os.path.isfile(homes / "fitgen_home" / "datasets" / "reuters.npz")
    assert x_train.shape == (240, max_words) and x_test.shape == (60, max_words) and num_classes == 4
    assert y_train.shape == (240, 4) and set(np.unique(x_train)) == {0.0, 1.0}
    assert "Epoch 5/5" in out and "val_loss" in out and "Test accuracy:" in out
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert score[1] > 0.8
    np.testing.assert_allclose(K.get_value(model.optimizer.lr), 0.005, rtol=1e-6)
    # A second load hits the cache, not the server.
    reuters.load_data(num_words=max_words)


# ------------------------------------------------------------------------ aliases scripts rely on

def test_optimizer_aliases_and_backend_helpers_on_a_compiled_model(tmp_path):
    from fitgen import backend as K
    from fitgen import optimizers
    from fitgen.layers import Dense
    from fitgen.models import Sequential

    opt = optimizers.rmsprop(lr=1e-4, decay=1e-6)
    assert isinstance(opt, optimizers.RMSprop)
    config = opt.get_config()
    np.testing.assert_allclose(config["learning_rate"], 1e-4, rtol=1e-6)
    np.testing.assert_allclose(config["decay"], 1e-6, rtol=1e-6)
    restored = optimizers.deserialize(optimizers.serialize(opt))
    assert isinstance(restored, optimizers.RMSprop)
    np.testing.assert_allclose(K.get_value(restored.lr), 1e-4, rtol=1e-6)
    assert isinstance(optimizers.get("sgd"), optimizers.SGD) and optimizers.get(opt) is opt

    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile(optimizer=optimizers.sgd(lr=0.1), loss="mse")
    np.testing.assert_allclose(K.get_value(model.optimizer.lr), 0.1, rtol=1e-6)
    K.set_value(model.optimizer.lr, 0.0)
    before = model.get_weights()
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # a learning rate of 0 leaves the weights alone
    assert K.epsilon() == 1e-7 and K.floatx() == "float32" and K.image_data_format() == "channels_last"
    K.clear_session()


def test_get_helpers_resolve_keras_names():
    from fitgen import activations, initializers, losses
    y_true, y_pred = np.array([[0.0, 1.0]], "float32"), np.array([[0.5, 0.5]], "float32")
    np.testing.assert_allclose(np.asarray(losses.get("mse")(y_true, y_pred)), [0.25], rtol=1e-6)
    import torch
    np.testing.assert_allclose(activations.get("relu")(torch.tensor([-1.0, 2.0])).numpy(), [0, 2])
    assert activations.get(None)(3.0) == 3.0  # None is the linear activation
    init = initializers.get("glorot_uniform")
    assert isinstance(init, initializers.GlorotUniform)
    with pytest.raises(ValueError, match="no_such_loss"):
        losses.get("no_such_loss")


def test_regularizer_constraint_save_and_reload(tmp_path):
    from fitgen.constraints import max_norm
    from fitgen.layers import Dense
    from fitgen.models import Sequential, load_model, model_from_json
    from fitgen.regularizers import l2

    model = Sequential([Dense(4, input_shape=(3,), kernel_regularizer=l2(0.01), kernel_constraint=max_norm(0.5)),
                        Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x, y = np.random.RandomState(0).randn(16, 3), np.random.RandomState(1).randn(16, 1)
    model.fit(x, y, epochs=3, verbose=0)
    kernel = model.get_weights()[0]
    assert (np.sqrt((kernel ** 2).sum(axis=0)) <= 0.5 + 1e-5).all()  # max_norm per output unit
    path = str(tmp_path / "model.h5")
    model.save(path)
    reloaded = load_model(path)
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), rtol=1e-5)
    rebuilt = model_from_json(model.to_json())
    assert [w.shape for w in rebuilt.get_weights()] == [w.shape for w in model.get_weights()]


# ------------------------------------------------------------------------------ the imdb_lstm example

def test_imdb_lstm_example_runs_offline_on_a_synthetic_file(tmp_path):
    env = dict(os.environ, FITGEN_HOME=str(tmp_path / "fitgen_home"), HOME=str(tmp_path / "home"),
               KERAS_HOME=str(tmp_path / "keras_home"), FITGEN_SYNTHETIC_IMDB="48")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "keras2_imdb_lstm.py"), "--epochs", "1"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp_path), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert os.path.isfile(tmp_path / "fitgen_home" / "datasets" / "imdb.npz")
    assert "48 train sequences" in out and "x_train shape: (48, 80)" in out
    assert "Epoch 1/1" in out and "val_accuracy" in out and "Test accuracy:" in out
