"""ImageDataGenerator: random draws (Keras's order), apply_transform, standardize, fit and argument checks."""
import warnings

import numpy as np
import pytest

from fitgen.preprocessing.image import ImageDataGenerator
from fitgen.preprocessing.image import transforms

KEYS = ("theta", "tx", "ty", "shear", "zx", "zy")


def _images(n=6, h=10, w=12, c=3, seed=0):
    return (np.random.RandomState(seed).rand(n, h, w, c) * 255).astype("float32")


def test_random_parameters_follow_keras_draw_order():
    gen = ImageDataGenerator(rotation_range=40, width_shift_range=3, height_shift_range=0.3, zoom_range=(0.7, 1.2),
                             shear_range=20, horizontal_flip=True, vertical_flip=True, channel_shift_range=5,
                             brightness_range=(0.5, 1.5))
    params = gen.get_random_transform((12, 15, 3), seed=7)
    rng = np.random.RandomState(7)
    theta = rng.uniform(-40, 40)
    tx = rng.uniform(-0.3, 0.3) * 12  # np.random.choice(0.3) fails: a float range is uniform, x height
    ty = rng.choice(3) * rng.choice([-1, 1])  # an int range picks pixels in {-2..2} with a sign
    shear = rng.uniform(-20, 20)
    zx, zy = rng.uniform(0.7, 1.2, 2)
    flip_h, flip_v = (rng.random() < 0.5) * True, (rng.random() < 0.5) * True  # ints, as Keras gives
    expected = dict(theta=theta, tx=tx, ty=ty, shear=shear, zx=zx, zy=zy, flip_horizontal=flip_h,
                    flip_vertical=flip_v, channel_shift_intensity=rng.uniform(-5, 5),
                    brightness=rng.uniform(0.5, 1.5))
    assert set(params) == set(expected)
    for key, value in expected.items():
        assert params[key] == pytest.approx(value), key


def test_parameters_match_keras_preprocessing_for_a_seed():
    # keras_preprocessing 1.1.2's get_random_transform((12, 15, 3), seed=s) for this configuration.
    gen = ImageDataGenerator(rotation_range=40, width_shift_range=3, height_shift_range=0.3, zoom_range=(0.7, 1.2),
                             shear_range=20)
    keras = {0: [3.9050803141859802, 1.5493634378814205, 1.0, 5.835764522666246, 0.9187936056313462,
                 1.14588650039104],
             1: [-6.638239623794078, 1.5863363527835386, 1.0, 19.96162061296579, 0.818044488475988,
                 0.8982903636480131]}
    for seed, values in keras.items():
        params = gen.get_random_transform((12, 15, 3), seed=seed)
        np.testing.assert_allclose([float(params[k]) for k in KEYS], values, rtol=1e-12)


def test_seeded_draws_leave_the_global_state_alone_and_repeat():
    gen = ImageDataGenerator(rotation_range=30)
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    first = gen.get_random_transform((4, 4, 1), seed=3)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    assert gen.get_random_transform((4, 4, 1), seed=3) == first
    x = _images(1)[0]
    np.testing.assert_array_equal(gen.random_transform(x, seed=3), gen.random_transform(x, seed=3))


@pytest.mark.parametrize("shift_range, allowed", [
    (2, {-1, 0, 1}),
    ([1, 3], {-3, -1, 1, 3}),
    (0.5, None),
    (4.0, None),
])
def test_shift_range_forms(shift_range, allowed):
    gen = ImageDataGenerator(width_shift_range=shift_range)
    shifts = np.array([gen.get_random_transform((10, 20, 3), seed=s)["ty"] for s in range(200)])
    if allowed is not None:
        assert set(shifts.tolist()) <= allowed and len(set(shifts.tolist())) > 1
    elif shift_range < 1:  # a fraction of the width
        assert np.abs(shifts).max() <= 0.5 * 20 and np.abs(shifts).max() > 5
    else:  # pixels, as floats
        assert np.abs(shifts).max() <= 4 and shifts.dtype.kind == "f"


def test_height_shift_moves_rows_and_width_shift_moves_columns():
    x = np.zeros((7, 9, 1), "float32")
    x[3, 4] = 1.0
    tall = ImageDataGenerator(height_shift_range=[2], fill_mode="constant")
    wide = ImageDataGenerator(width_shift_range=[2], fill_mode="constant")
    for s in range(4):
        rows, cols = np.nonzero(tall.random_transform(x, seed=s)[..., 0] > 0.5)
        assert cols.tolist() == [4] and abs(rows[0] - 3) == 2
        rows, cols = np.nonzero(wide.random_transform(x, seed=s)[..., 0] > 0.5)
        assert rows.tolist() == [3] and abs(cols[0] - 4) == 2


def test_apply_transform_composes_affine_then_channel_shift_flips_brightness():
    gen = ImageDataGenerator(fill_mode="reflect")
    x = _images(1)[0]
    params = dict(theta=12, tx=1, ty=-2, shear=5, zx=0.9, zy=1.1, flip_horizontal=True, flip_vertical=True,
                  channel_shift_intensity=20.0, brightness=0.8)
    got = gen.apply_transform(x, params)
    expected = transforms.apply_affine_transform(x, 12, 1, -2, 5, 0.9, 1.1, row_axis=0, col_axis=1, channel_axis=2,
                                                 fill_mode="reflect")
    expected = transforms.apply_channel_shift(expected, 20.0, 2)[::-1, ::-1]
    expected = transforms.apply_brightness_shift(expected, 0.8, scale=False)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_array_equal(gen.apply_transform(x, {}), x)


def test_flips_reverse_columns_and_rows():
    x = _images(1)[0]
    gen = ImageDataGenerator()
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_horizontal": True}), x[:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_vertical": True}), x[::-1])


def test_channels_first_generator_gives_the_transposed_result():
    x = _images(1)[0]
    params = dict(theta=20, tx=2, zx=1.2, zy=1.2, flip_horizontal=True, channel_shift_intensity=3.0)
    last = ImageDataGenerator().apply_transform(x, params)
    first = ImageDataGenerator(data_format="channels_first").apply_transform(x.transpose(2, 0, 1), params)
    np.testing.assert_allclose(first.transpose(1, 2, 0), last, atol=1e-5)


def test_standardize_rescale_and_samplewise():
    x = _images(1)[0]
    gen = ImageDataGenerator(rescale=1 / 255.0, samplewise_center=True, samplewise_std_normalization=True)
    out = gen.standardize(x.copy())
    scaled = x / 255.0
    np.testing.assert_allclose(out, (scaled - scaled.mean()) / (scaled.std() + 1e-6), rtol=1e-4, atol=1e-5)
    calls = []
    hooked = ImageDataGenerator(preprocessing_function=lambda im: calls.append(im.shape) or im * 2, rescale=0.5)
    np.testing.assert_allclose(hooked.standardize(x.copy()), x)  # the function runs before rescale
    assert calls == [x.shape]


def test_samplewise_std_normalization_implies_centering_with_a_warning():
    with pytest.warns(UserWarning, match="samplewise_center"):
        gen = ImageDataGenerator(samplewise_std_normalization=True)
    assert gen.samplewise_center


def test_fit_featurewise_mean_and_std_per_channel():
    x = _images(8)
    with pytest.warns(UserWarning, match="featurewise_center"):
        gen = ImageDataGenerator(featurewise_std_normalization=True, rescale=0.5)
    gen.fit(x)
    scaled = x * 0.5  # tf-keras applies rescale before computing the statistics
    np.testing.assert_allclose(gen.mean.ravel(), scaled.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(gen.std.ravel(), scaled.std(axis=(0, 1, 2)), rtol=1e-4)
    assert gen.mean.shape == (1, 1, 3)
    out = gen.standardize(x[0].copy())
    np.testing.assert_allclose(out, (scaled[0] - gen.mean) / (gen.std + 1e-6), rtol=1e-4, atol=1e-5)


def test_fit_zca_whitens_the_data():
    x = np.random.RandomState(0).randn(200, 2, 2, 1).astype("float64")
    x[..., 0, 0, 0] = x[..., 0, 1, 0] * 0.9 + 0.1 * x[..., 0, 0, 0]  # correlated pixels
    with pytest.warns(UserWarning):
        gen = ImageDataGenerator(zca_whitening=True, zca_epsilon=1e-9, dtype="float64")
    gen.fit(x)
    assert gen.principal_components is gen.zca_whitening_matrix
    white = gen.standardize(x.copy()).reshape(200, -1)
    # Keras centres per channel, then whitens the second moments of the flattened images.
    np.testing.assert_allclose(white.T @ white / 200, np.eye(4), atol=1e-6)
    flat = (x - x.mean(axis=0).mean(axis=(0, 1))).reshape(200, -1)
    u, s, _ = np.linalg.svd(flat.T, full_matrices=False)  # tf-keras's formula
    np.testing.assert_allclose(gen.zca_whitening_matrix, (u * (np.sqrt(200) / (s + 1e-9))) @ u.T, rtol=1e-6)


def test_fit_with_augmentation_is_seeded():
    x = _images(4)
    first = ImageDataGenerator(featurewise_center=True, rotation_range=30)
    second = ImageDataGenerator(featurewise_center=True, rotation_range=30)
    first.fit(x, augment=True, rounds=2, seed=1)
    second.fit(x, augment=True, rounds=2, seed=1)
    np.testing.assert_array_equal(first.mean, second.mean)
    assert not np.allclose(first.mean, x.mean(axis=(0, 1, 2)))
    with pytest.raises(ValueError, match="rank 4"):
        first.fit(x[0])


def test_standardize_warns_when_not_fit():
    gen = ImageDataGenerator(featurewise_center=True)
    with pytest.warns(UserWarning, match="hasn't been fit"):
        gen.standardize(_images(1)[0])


@pytest.mark.parametrize("kwargs, message", [
    (dict(zoom_range=(0.5, 1, 2)), "zoom_range"),
    (dict(zoom_range="big"), "zoom_range"),
    (dict(brightness_range=0.5), "brightness_range"),
    (dict(validation_split=1.5), "validation_split"),
    (dict(data_format="channels_middle"), "data_format"),
    (dict(fill_mode="mirror"), "fill_mode"),
    (dict(interpolation_order=3), "order"),
])
def test_bad_constructor_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageDataGenerator(**kwargs)


def test_zoom_range_float_becomes_an_interval():
    assert ImageDataGenerator(zoom_range=0.25).zoom_range == [0.75, 1.25]
    assert ImageDataGenerator(zoom_range=[0.5, 0.9]).zoom_range == [0.5, 0.9]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ImageDataGenerator(rotation_range=10)  # nothing to warn about


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect", "wrap"])
def test_float64_generator_warps_in_float64(fill_mode):
    # Keras 2.2.4's suite ran ImageDataGenerator(dtype='float64'); the bilinear resampler got a float64 image
    # and a float32 grid ("expected scalar type Double but found Float").
    x = np.random.RandomState(0).rand(3, 9, 7, 3)
    kwargs = dict(rotation_range=40, zoom_range=0.2, shear_range=10, fill_mode=fill_mode)
    batch64 = next(ImageDataGenerator(dtype="float64", **kwargs).flow(x, batch_size=3, shuffle=False, seed=2))
    batch32 = next(ImageDataGenerator(dtype="float32", **kwargs).flow(x, batch_size=3, shuffle=False, seed=2))
    assert batch64.dtype == np.float64 and batch32.dtype == np.float32
    np.testing.assert_allclose(batch64, batch32, atol=1e-5)
