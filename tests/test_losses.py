"""fitgen.losses against tf-keras 2.21 values (computed once with tf-keras, stored as literals) and by hand."""
import warnings

import numpy as np
import pytest
import torch

from fitgen import activations
from fitgen import losses


def T(values):
    return torch.tensor(np.asarray(values, dtype=np.float32))


REG_T = T([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0], [2.0, 2.0, 0.5], [0.3, 0.0, 1.0]])
REG_P = T([[1.5, 1.0, 3.0], [0.2, -0.5, 3.0], [1.0, 2.5, 0.7], [0.1, 0.4, 2.0]])
ONE_HOT = T([[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]])
PROBS = T([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.05, 0.05, 0.9], [0.6, 0.3, 0.1]])
SPARSE = torch.tensor([1, 0, 2, 1])
BIN_T = T([[1, 0], [0, 0], [1, 1]])
BIN_P = T([[0.9, 0.2], [0.0, 1.0], [0.6, 0.4]])
SEQ_T = T([[[0.548813522, 0.715189338], [0.602763355, 0.544883192], [0.423654795, 0.64589411]],
           [[0.437587202, 0.891772985], [0.963662744, 0.383441508], [0.791725039, 0.528894901]]])
SEQ_P = T([[[0.568044543, 0.925596654], [0.0710360557, 0.0871293023], [0.0202183966, 0.832619846]],
           [[0.778156757, 0.870012164], [0.978618324, 0.799158573], [0.461479366, 0.780529201]]])

# tf_keras.losses.<name>(REG_T, REG_P) (|REG_P| for poisson and kl_divergence), tf-keras 2.21.
TF_REGRESSION = {
    "mean_squared_error": [0.416666657, 0.429999977, 0.429999977, 0.400000006],
    "mean_absolute_error": [0.5, 0.566666663, 0.566666663, 0.533333361],
    "mean_absolute_percentage_error": [33.3333359, 66666692, 38.3333321, 133333384],
    "mean_squared_logarithmic_error": [0.0713983402, 0.0276780576, 0.0679434091, 0.101840831],
    "log_cosh": [0.18463181, 0.191254497, 0.191254497, 0.17720075],
    "poisson": [0.599565804, -0.462532043, 0.848585188, 0.832542717],
    "kl_divergence": [0, -2.99336079e-06, -0.168236107, 0.329582185],
    "huber": [0.208333328, 0.214999989, 0.214999989, 0.200000003],
    "cosine_similarity": [-0.95450449, -0.994667053, -0.919792533, -0.952170551],
}


def check(got, expected, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got.detach().numpy() if isinstance(got, torch.Tensor) else got),
                               expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(TF_REGRESSION))
def test_regression_losses_match_tf_keras(name):
    y_pred = REG_P.abs() if name in ("poisson", "kl_divergence") else REG_P
    got = losses.get(name)(REG_T, y_pred)
    assert got.shape == (4,)
    check(got, TF_REGRESSION[name])


@pytest.mark.parametrize("alias, target", [
    ("mse", "mean_squared_error"), ("MSE", "mean_squared_error"), ("mae", "mean_absolute_error"),
    ("MAE", "mean_absolute_error"), ("mape", "mean_absolute_percentage_error"),
    ("MAPE", "mean_absolute_percentage_error"), ("msle", "mean_squared_logarithmic_error"),
    ("MSLE", "mean_squared_logarithmic_error"), ("kld", "kl_divergence"), ("KLD", "kl_divergence"),
    ("kullback_leibler_divergence", "kl_divergence"), ("logcosh", "log_cosh"), ("cosine_proximity", "cosine_similarity"),
    ("huber_loss", "huber"), ("bce", "binary_crossentropy"),
])
def test_aliases(alias, target):
    assert losses.get(alias) is getattr(losses, target)


def test_hinge_family():
    y_true, y_pred = T([[0, 1, 1], [1, 0, 0]]), T([[0.3, -0.8, 2.0], [1.5, 0.2, -0.4]])
    check(losses.hinge(y_true, y_pred), [1.0333333, 0.600000024])          # {0,1} labels -> {-1,1}
    check(losses.squared_hinge(y_true, y_pred), [1.64333308, 0.600000024])
    check(losses.hinge(2 * y_true - 0.5, y_pred), [1.11666667, 0.633333385])  # not binary: used as given
    # categorical hinge by hand: pos = p[true class], neg = max other p; max(neg - pos + 1, 0).
    check(losses.categorical_hinge(ONE_HOT, PROBS), [0.5, 0.8, 0.15, 1.3])


def test_huber_delta():
    got = losses.huber(T([[0.0, 0.0]]), T([[0.5, 3.0]]), delta=2.0)
    check(got, [(0.5 * 0.25 + (2.0 * 3.0 - 0.5 * 4.0)) / 2])


def test_categorical_crossentropy_probabilities():
    check(losses.categorical_crossentropy(ONE_HOT, PROBS), [0.356674969, 0.693147182, 0.105360545, 1.20397282])
    check(losses.categorical_crossentropy(ONE_HOT, PROBS, label_smoothing=0.1),
          [0.463297427, 0.740717709, 0.298052013, 1.21748829])
    # Unnormalised probabilities are rescaled to sum to one first.
    check(losses.categorical_crossentropy(ONE_HOT, PROBS * 3), [0.356674969, 0.693147182, 0.105360545, 1.20397282])


def test_categorical_crossentropy_from_logits():
    logits = T([[2.0, -1.0, 0.5], [30.0, -30.0, 0.0], [0.0, 0.0, 0.0], [-5.0, 4.0, 1.0]])
    check(losses.categorical_crossentropy(ONE_HOT, logits, from_logits=True), [3.24131131, 0, 1.09861231, 0.0487048514])


def test_crossentropies_clip_saturated_probabilities():
    saturated = T([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    # -log(1e-7) = 16.118: clipping at epsilon, exactly as tf-keras.
    check(losses.categorical_crossentropy(T([[1, 0, 0], [1, 0, 0]]), saturated), [16.1180954, 1.1920929e-07])
    check(losses.sparse_categorical_crossentropy(torch.tensor([0, 0]), saturated), [16.1180954, 2.38418551e-07])
    check(losses.binary_crossentropy(BIN_T, BIN_P), [0.164251894, 7.6666193, 0.713557959])


def test_sparse_categorical_crossentropy_label_layouts():
    expected = [0.35667488, 0.693147123, 0.10536056, 1.20397282]
    check(losses.sparse_categorical_crossentropy(SPARSE, PROBS), expected)
    check(losses.sparse_categorical_crossentropy(SPARSE.reshape(-1, 1), PROBS), expected)
    check(losses.sparse_categorical_crossentropy(SPARSE.float(), PROBS), expected)  # integral floats
    check(losses.sparse_categorical_crossentropy(np.array([1, 0, 2, 1]), PROBS), expected)


def test_sparse_categorical_crossentropy_temporal_and_axis():
    probs = PROBS.reshape(2, 2, 3)
    got = losses.sparse_categorical_crossentropy(SPARSE.reshape(2, 2), probs)
    assert got.shape == (2, 2)
    check(got.reshape(-1), [0.35667488, 0.693147123, 0.10536056, 1.20397282])
    channels_first = PROBS.t().unsqueeze(0)  # (1, C, N)
    check(losses.sparse_categorical_crossentropy(SPARSE.reshape(1, 4), channels_first, axis=1).reshape(-1),
          [0.35667488, 0.693147123, 0.10536056, 1.20397282])


def test_sparse_categorical_crossentropy_bad_label_shape():
    with pytest.raises(ValueError, match="y_true.shape=\\(3,\\)"):
        losses.sparse_categorical_crossentropy(torch.tensor([0, 1, 2]), PROBS)


def test_binary_crossentropy_variants():
    check(losses.binary_crossentropy(BIN_T, BIN_P, label_smoothing=0.2), [0.343427718, 7.67120457, 0.713557959])
    check(losses.binary_crossentropy(BIN_T, T([[3, -2], [0, 50], [-1, 1]]), from_logits=True),
          [0.0877576768, 25.3465729, 0.813261747])
    elementwise = -(BIN_T * torch.log(BIN_P.clamp(1e-7, 1 - 1e-7) + 1e-7)
                    + (1 - BIN_T) * torch.log(1 - BIN_P.clamp(1e-7, 1 - 1e-7) + 1e-7))
    check(losses.binary_crossentropy(BIN_T, BIN_P, axis=0), elementwise.mean(0).numpy())


def test_y_true_cast_to_prediction_dtype():
    got = losses.mean_squared_error(torch.tensor([[1, 2]]), torch.tensor([[1.5, 2.5]], dtype=torch.float64))
    assert got.dtype == torch.float64
    check(got, [0.25])


# tf-keras values for Z, Y_LOGITS below, computed through tf_keras.activations.softmax/sigmoid inside tf.function.
Z = [[2.0, -1.0, 0.5], [30.0, -30.0, 0.0], [-5.0, 4.0, 1.0]]
Y_LOGITS = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
CCE_FROM_LOGITS = [0.24131132662296295, 60.0, 3.0487048625946045]
BCE_FROM_LOGITS = [0.4714222252368927, 20.231048583984375, 1.4460421800613403]


def test_softmax_output_uses_logits_path():
    z = T(Z).requires_grad_()
    out = activations.softmax(z)
    check(losses.categorical_crossentropy(T(Y_LOGITS), out), CCE_FROM_LOGITS)
    check(losses.sparse_categorical_crossentropy(torch.tensor([0, 1, 2]), out), CCE_FROM_LOGITS)
    # Equals log-softmax crossentropy; the probability path would clip row 2 at -log(1e-7) = 16.1.
    manual = -(T(Y_LOGITS) * torch.log_softmax(T(Z), -1)).sum(-1)
    check(losses.categorical_crossentropy(T(Y_LOGITS), out), manual.numpy())


def test_sigmoid_output_uses_logits_path_and_tf_keras_cross_quirk():
    z = T(Z)
    check(losses.binary_crossentropy(T(Y_LOGITS), activations.sigmoid(z)), BCE_FROM_LOGITS)
    # tf-keras takes `_keras_logits` whichever activation made them: softmax + binary_crossentropy computes
    # sigmoid crossentropy of the softmax's logits, and sigmoid + categorical_crossentropy a softmax one.
    check(losses.binary_crossentropy(T(Y_LOGITS), activations.softmax(z)), BCE_FROM_LOGITS)
    check(losses.categorical_crossentropy(T(Y_LOGITS), activations.sigmoid(z)), CCE_FROM_LOGITS)


def test_saturated_logits_give_finite_gradients():
    z = T([[80.0, -80.0, 0.0], [-100.0, 100.0, 3.0]]).requires_grad_()
    loss = losses.CategoricalCrossentropy()(T([[0, 1, 0], [1, 0, 0]]), activations.softmax(z))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    check(loss, (160.0 + 200.0) / 2, rtol=1e-4)
    z2 = T([[90.0], [-90.0]]).requires_grad_()
    loss2 = losses.BinaryCrossentropy()(T([[0.0], [1.0]]), activations.sigmoid(z2))
    loss2.backward()
    assert torch.isfinite(z2.grad).all()
    check(loss2, 90.0, rtol=1e-4)


def test_from_logits_with_softmax_output_warns():
    out = activations.softmax(T(Z))
    with pytest.warns(UserWarning, match="does not represent logits"):
        got = losses.categorical_crossentropy(T(Y_LOGITS), out, from_logits=True)
    check(got, CCE_FROM_LOGITS)


def test_plain_probabilities_take_the_clipping_path():
    probs = torch.softmax(T(Z), -1)  # no _keras_logits: computed by torch, not fitgen.activations
    got = losses.categorical_crossentropy(T(Y_LOGITS), probs)
    assert got[1].item() == pytest.approx(16.118, abs=1e-3)


def test_categorical_crossentropy_warns_for_single_unit():
    with pytest.warns(SyntaxWarning, match="binary_crossentropy"):
        losses.categorical_crossentropy(T([[1.0]]), T([[0.5]]))


def test_categorical_crossentropy_rejects_bool_axis():
    with pytest.raises(ValueError, match="axis"):
        losses.categorical_crossentropy(ONE_HOT, PROBS, axis=True)


# ---- Loss objects and the weighted reduction -------------------------------------------------------------

def test_loss_object_reductions_match_tf_keras():
    w = T([1.0, 0.0, 2.0, 0.5])
    check(losses.MeanSquaredError()(REG_T, REG_P, sample_weight=w), 0.369166672)
    check(losses.MeanSquaredError(reduction="sum")(REG_T, REG_P, sample_weight=w), 1.47666669)
    check(losses.MeanSquaredError(reduction="none")(REG_T, REG_P, sample_weight=w),
          [0.416666657, 0, 0.859999955, 0.200000003])
    check(losses.SparseCategoricalCrossentropy()(SPARSE.reshape(-1, 1), PROBS, sample_weight=w), 0.292345583)


def test_zero_weights_dilute_the_mean():
    values = T([1.0, 3.0, 5.0, 7.0])
    # sum(w * l) / number of elements (tf-keras), not / count of non-zero weights (Keras 2.2.4).
    check(losses.compute_weighted_loss(values, T([1, 1, 0, 0])), 4.0 / 4)
    check(losses.compute_weighted_loss(values), 4.0)
    check(losses.compute_weighted_loss(values, 2.0), 8.0)
    check(losses.compute_weighted_loss(values, T([[1], [0], [0], [1]])), 8.0 / 4)  # (N, 1) squeezed


def test_temporal_weights_match_tf_keras():
    check(losses.MeanSquaredError()(SEQ_T, SEQ_P, sample_weight=T([1.0, 3.0])), 0.176683649)
    check(losses.MeanSquaredError()(SEQ_T, SEQ_P, sample_weight=T([[1, 0, 2], [0, 0, 1]])), 0.0510231666)
    per_step = losses.mean_squared_error(SEQ_T, SEQ_P)
    assert per_step.shape == (2, 3)
    check(losses.compute_weighted_loss(per_step, T([1.0, 3.0])),
          (per_step * T([[1.0], [3.0]])).sum().item() / 6)


def test_compute_weighted_loss_is_differentiable_and_handles_empty():
    values = T([1.0, 2.0]).requires_grad_()
    losses.compute_weighted_loss(values, T([1.0, 3.0])).backward()
    check(values.grad, [0.5, 1.5])
    check(losses.compute_weighted_loss(torch.zeros(0)), 0.0)
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        losses.compute_weighted_loss(values, reduction="mean")


def test_loss_object_rank_matching():
    # tf-keras quirk kept: (N, 1) predictions against (N,) targets are squeezed to (N,), and the last-axis mean
    # then averages the batch, so reduction='none' yields a scalar. The engine avoids it by expanding the
    # targets first (match_dtype_and_rank), as tf-keras's compile_utils does.
    check(losses.MeanAbsoluteError(reduction="none")(T([1.0, 2.0]), T([[1.5], [1.0]])), 0.75)
    y_true, y_pred, _ = losses.match_dtype_and_rank(T([1.0, 2.0]), T([[1.5], [1.0]]))
    check(losses.MeanAbsoluteError(reduction="none")(y_true, y_pred), [0.5, 1.0])


def test_keras_mask_on_predictions_averages_over_valid_steps():
    y_pred = SEQ_P.clone()
    y_pred._keras_mask = torch.tensor([[True, True, False], [True, False, False]])
    per_step = losses.mean_squared_error(SEQ_T, SEQ_P)
    expected = (per_step[0, 0] + per_step[0, 1] + per_step[1, 0]) / 3
    check(losses.MeanSquaredError()(SEQ_T, y_pred), expected.item())


def test_match_dtype_and_rank():
    y_true, _, weights = losses.match_dtype_and_rank(torch.tensor([1.0, 0.0], dtype=torch.float64),
                                                     T([[0.5], [0.5]]), T([1.0, 2.0]))
    assert y_true.shape == (2, 1) and y_true.dtype == torch.float32 and weights.shape == (2, 1)
    labels, _, _ = losses.match_dtype_and_rank(torch.tensor([1, 2]), T([[0.1, 0.2, 0.7]] * 2))
    assert labels.dtype == torch.int64  # integer labels stay integers for sparse losses


@pytest.mark.parametrize("cls, kwargs, name", [
    (losses.MeanSquaredError, {}, "mean_squared_error"),
    (losses.MeanAbsoluteError, {}, "mean_absolute_error"),
    (losses.MeanAbsolutePercentageError, {}, "mean_absolute_percentage_error"),
    (losses.MeanSquaredLogarithmicError, {}, "mean_squared_logarithmic_error"),
    (losses.BinaryCrossentropy, {"from_logits": True, "label_smoothing": 0.1}, "binary_crossentropy"),
    (losses.CategoricalCrossentropy, {"label_smoothing": 0.2}, "categorical_crossentropy"),
    (losses.SparseCategoricalCrossentropy, {"from_logits": True}, "sparse_categorical_crossentropy"),
    (losses.Hinge, {}, "hinge"), (losses.SquaredHinge, {}, "squared_hinge"),
    (losses.CategoricalHinge, {}, "categorical_hinge"), (losses.LogCosh, {}, "log_cosh"),
    (losses.KLDivergence, {}, "kl_divergence"), (losses.Poisson, {}, "poisson"),
    (losses.CosineSimilarity, {"axis": -1}, "cosine_similarity"), (losses.Huber, {"delta": 2.5}, "huber_loss"),
])
def test_loss_classes_config_round_trip(cls, kwargs, name):
    loss = cls(**kwargs)
    assert loss.name == name and loss.reduction == "auto"
    config = loss.get_config()
    for key, value in kwargs.items():
        assert config[key] == value
    clone = losses.deserialize(losses.serialize(loss))
    assert type(clone) is cls and clone.get_config() == config
    y_true = SPARSE if name.startswith("sparse") else ONE_HOT
    np.testing.assert_allclose(clone(y_true, PROBS).item(), loss(y_true, PROBS).item())


def test_tf_keras_style_config_with_fn_key():
    loss = losses.get({"class_name": "CategoricalCrossentropy",
                       "config": {"reduction": "auto", "name": "categorical_crossentropy", "from_logits": True,
                                  "label_smoothing": 0.0, "axis": -1, "fn": "categorical_crossentropy"}})
    assert isinstance(loss, losses.CategoricalCrossentropy) and loss.from_logits is True


def test_loss_function_wrapper_custom_callable_and_config():
    def scaled_mae(y_true, y_pred, scale=1.0):
        return scale * torch.mean(torch.abs(y_true - y_pred), dim=-1)
    wrapper = losses.LossFunctionWrapper(scaled_mae, name="scaled", scale=3.0)
    check(wrapper(T([[0.0, 0.0]]), T([[1.0, 3.0]])), 6.0)
    config = wrapper.get_config()
    assert config == {"reduction": "auto", "name": "scaled", "scale": 3.0, "fn": "scaled_mae"}
    clone = losses.LossFunctionWrapper.from_config(dict(config, fn=scaled_mae))
    check(clone(T([[0.0, 0.0]]), T([[1.0, 3.0]])), 6.0)
    mse = losses.LossFunctionWrapper.from_config({"fn": "mse", "name": "mse", "reduction": "sum"})
    assert mse.fn is losses.mean_squared_error and mse.reduction == "sum"


def test_get_resolution():
    assert losses.get(None) is None
    assert losses.get("categorical_crossentropy") is losses.categorical_crossentropy
    assert isinstance(losses.get("MeanSquaredError"), losses.MeanSquaredError)  # a class name is instantiated
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    loss = losses.Huber()
    assert losses.get(loss) is loss
    assert losses.get({"module": "builtins", "class_name": "function", "config": "mae"}) is losses.mean_absolute_error
    assert losses.serialize(losses.mean_squared_error) == "mean_squared_error"


def test_get_unknown_and_bad_identifiers():
    with pytest.raises(ValueError) as info:
        losses.get("categorical_crossentropyy")
    assert "'categorical_crossentropyy'" in str(info.value) and "sparse_categorical_crossentropy" in str(info.value)
    with pytest.raises(ValueError, match="Could not interpret loss"):
        losses.get(42)
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        losses.MeanSquaredError(reduction="average")
    with pytest.raises(TypeError, match="unexpected keyword"):
        losses.Huber(delt=1.0)


def test_custom_objects_resolve_first():
    def my_loss(y_true, y_pred):
        return torch.zeros(y_pred.shape[0])
    assert losses.deserialize("my_loss", custom_objects={"my_loss": my_loss}) is my_loss


def test_is_categorical_crossentropy():
    assert losses.is_categorical_crossentropy("categorical_crossentropy")
    assert losses.is_categorical_crossentropy(losses.categorical_crossentropy)
    assert losses.is_categorical_crossentropy(losses.CategoricalCrossentropy())
    assert not losses.is_categorical_crossentropy("mse")


def test_no_warnings_on_plain_path():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses.CategoricalCrossentropy()(ONE_HOT, PROBS)
        losses.BinaryCrossentropy()(BIN_T, BIN_P)


def test_sparse_categorical_crossentropy_ignore_class_averages_over_kept_labels():
    per_sample = losses.sparse_categorical_crossentropy(SPARSE, PROBS)
    kept = losses.sparse_categorical_crossentropy(torch.tensor([1, -1, 2, 1]), PROBS, ignore_class=-1)
    check(kept, [per_sample[0].item(), 0.0, per_sample[2].item(), per_sample[3].item()])
    reduced = losses.SparseCategoricalCrossentropy(ignore_class=-1)(torch.tensor([1, -1, 2, 1]), PROBS)
    check(reduced, (per_sample[0] + per_sample[2] + per_sample[3]).item() / 3)


def test_subclassing_loss():
    class DoubleMAE(losses.Loss):
        def call(self, y_true, y_pred):
            return 2 * torch.mean(torch.abs(y_true - y_pred), dim=-1)
    loss = DoubleMAE(name="double_mae")
    check(loss(T([[0.0], [0.0]]), T([[1.0], [3.0]]), sample_weight=T([1.0, 0.0])), 1.0)
    assert loss.get_config() == {"reduction": "auto", "name": "double_mae"}
