"""Geometric and photometric transforms against SciPy (Keras's resampler) and hand-computed cases."""
import numpy as np
import pytest

from fitgen.preprocessing.image import transforms

ndimage = pytest.importorskip("scipy.ndimage")

MODES = ("constant", "nearest", "reflect", "wrap")


def _scipy_warp(image, matrix, mode, cval=0.0, order=1):
    """What keras_preprocessing does with SciPy: one affine_transform per channel of an (h, w, c) image."""
    return np.stack([ndimage.affine_transform(image[..., c], matrix[:2, :2], matrix[:2, 2], order=order, mode=mode,
                                              cval=cval) for c in range(image.shape[-1])], axis=-1)


def _apply(x, **params):
    return transforms.apply_affine_transform(x, row_axis=0, col_axis=1, channel_axis=2, **params)


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(5, 7), (16, 16), (9, 4), (1, 5)])
def test_random_affine_warps_match_scipy(shape, mode, order):
    rng = np.random.RandomState(sum(shape) + len(mode) + order)
    x = rng.rand(*shape, 3).astype("float32")
    for _ in range(10):
        params = dict(theta=rng.uniform(-180, 180), tx=rng.uniform(-20, 20), ty=rng.uniform(-20, 20),
                      shear=rng.uniform(-40, 40), zx=rng.uniform(0.3, 1.6), zy=rng.uniform(0.3, 1.6))
        matrix = transforms.affine_transform_matrix(**params, height=shape[0], width=shape[1])
        expected = _scipy_warp(x, matrix, mode, cval=0.25, order=order)
        got = _apply(x, **params, fill_mode=mode, cval=0.25, order=order)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=2e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_batched_resample_matches_per_image_scipy(threads):
    # One torch thread (as in worker processes) takes one batched grid_sample call, more take one per image.
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _check_batched_resample()
    finally:
        torch.set_num_threads(previous)


def _check_batched_resample():
    rng = np.random.RandomState(0)
    batch = (rng.rand(6, 20, 24, 3) * 255).astype("float32")
    matrices = np.stack([transforms.affine_transform_matrix(theta=rng.uniform(-30, 30), tx=rng.uniform(-3, 3),
                                                            zx=1.1, zy=0.9, height=20, width=24) for _ in range(6)])
    for mode in MODES:
        got = transforms.affine_resample(batch, matrices, mode, cval=3.0)
        for i in range(6):
            np.testing.assert_allclose(got[i], _scipy_warp(batch[i], matrices[i], mode, cval=3.0), atol=2e-3)


def test_rotation_by_90_degrees_is_an_exact_turn():
    x = np.arange(25, dtype="float32").reshape(5, 5, 1)
    out = _apply(x, theta=90, fill_mode="constant", cval=-1)
    # Keras's positive angle with its (row, col) matrix: output[r, c] = input[4 - c, r] (clockwise on screen).
    np.testing.assert_allclose(out[..., 0], np.rot90(x[..., 0], k=-1), atol=1e-4)
    out = _apply(x, theta=-90, fill_mode="constant", cval=-1)
    np.testing.assert_allclose(out[..., 0], np.rot90(x[..., 0], k=1), atol=1e-4)
    np.testing.assert_allclose(_apply(x, theta=180)[..., 0], x[::-1, ::-1, 0], atol=1e-4)


@pytest.mark.parametrize("tx, ty", [(1, 0), (0, 2), (-2, 1), (3, -3)])
def test_integer_shifts_move_rows_by_tx_and_columns_by_ty(tx, ty):
    x = np.arange(42, dtype="float32").reshape(6, 7, 1)
    out = _apply(x, tx=tx, ty=ty, fill_mode="constant", cval=-1)[..., 0]
    expected = np.full((6, 7), -1.0)
    for r in range(6):
        for c in range(7):
            if 0 <= r + tx < 6 and 0 <= c + ty < 7:
                expected[r, c] = x[r + tx, c + ty, 0]  # the output reads the input at o + t
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_shear_reads_along_the_sheared_row_axis():
    x = np.arange(49, dtype="float32").reshape(7, 7, 1)
    angle = 30.0
    out = _apply(x, shear=angle, fill_mode="nearest")[..., 0]
    s, c = np.sin(np.deg2rad(angle)), np.cos(np.deg2rad(angle))
    # input row = r - sin * (col - 3), input col = cos * (col - 3) + 3, bilinear on a linear ramp is exact.
    for r in range(7):
        for col in range(7):
            in_r = np.clip(r - s * (col - 3), 0, 6)
            in_c = np.clip(c * (col - 3) + 3, 0, 6)
            assert out[r, col] == pytest.approx(in_r * 7 + in_c, abs=1e-3)


def test_zoom_scales_distances_from_the_centre():
    x = np.arange(81, dtype="float32").reshape(9, 9, 1)
    out = _apply(x, zx=0.5, zy=2.0, fill_mode="constant", cval=-1)[..., 0]
    for r in range(9):
        for col in range(9):
            in_r, in_c = 0.5 * (r - 4) + 4, 2.0 * (col - 4) + 4
            expected = in_r * 9 + in_c if 0 <= in_c <= 8 else -1
            assert out[r, col] == pytest.approx(expected, abs=1e-3)


def test_fill_modes_extend_the_image_like_scipy():
    row = np.array([1.0, 2.0, 4.0, 8.0, 16.0], dtype="float32").reshape(1, 5, 1)
    shifted = {mode: _apply(row, ty=-3, fill_mode=mode, cval=-1)[0, :, 0] for mode in MODES}
    np.testing.assert_allclose(shifted["constant"], [-1, -1, -1, 1, 2])
    np.testing.assert_allclose(shifted["nearest"], [1, 1, 1, 1, 2])
    np.testing.assert_allclose(shifted["reflect"], [4, 2, 1, 1, 2])  # d c b a | a b c d
    np.testing.assert_allclose(shifted["wrap"], [2, 4, 8, 1, 2])  # SciPy's wrap has period n - 1


def test_identity_parameters_return_the_input_untouched():
    x = np.random.RandomState(0).rand(4, 5, 3)
    assert transforms.apply_affine_transform(x, row_axis=0, col_axis=1, channel_axis=2) is x
    assert transforms.affine_transform_matrix() is None


def test_channels_first_image_gives_the_same_warp():
    x = np.random.RandomState(1).rand(6, 8, 3).astype("float32")
    params = dict(theta=17, tx=1.5, ty=-2, shear=8, zx=0.9, zy=1.2)
    last = _apply(x, **params)
    first = transforms.apply_affine_transform(x.transpose(2, 0, 1), **params, row_axis=1, col_axis=2,
                                              channel_axis=0)
    np.testing.assert_allclose(first.transpose(1, 2, 0), last, atol=1e-6)


def test_bad_fill_mode_and_order_raise_value_errors():
    x = np.zeros((4, 4, 1), "float32")
    with pytest.raises(ValueError, match="fill_mode.*'mirror'"):
        _apply(x, theta=10, fill_mode="mirror")
    with pytest.raises(ValueError, match="order=3"):
        _apply(x, theta=10, order=3)
    with pytest.raises(ValueError, match="3 dimensions"):
        transforms.apply_affine_transform(np.zeros((4, 4)), theta=10)


def test_flip_axis_reverses_one_axis():
    x = np.arange(12).reshape(2, 3, 2)
    np.testing.assert_array_equal(transforms.flip_axis(x, 1), x[:, ::-1])
    np.testing.assert_array_equal(transforms.flip_axis(x, 0), x[::-1])


def test_channel_shift_adds_and_clips_to_the_image_range():
    x = np.array([[[10.0, 50.0], [20.0, 90.0]]], dtype="float32")
    np.testing.assert_allclose(transforms.apply_channel_shift(x, 30.0, 2), [[[40, 80], [50, 90]]])
    np.testing.assert_allclose(transforms.apply_channel_shift(x, -15.0, 2), [[[10, 35], [10, 75]]])


def _pil_brightness(x, factor):
    """Keras's route: 8-bit image through PIL.ImageEnhance.Brightness and back."""
    from PIL import Image
    from PIL import ImageEnhance
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[x.shape[-1]]
    img = Image.fromarray(x.astype("uint8")[..., 0] if mode == "L" else x.astype("uint8"), mode)
    out = np.asarray(ImageEnhance.Brightness(img).enhance(factor), dtype="float32")
    return out.reshape(x.shape)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("factor", [0.3, 0.77, 1.0, 1.6])
def test_brightness_matches_pillow_enhance(channels, factor):
    pytest.importorskip("PIL")
    x = (np.random.RandomState(channels).rand(6, 5, channels) * 255).astype("float32")
    got = transforms.apply_brightness_shift(x, factor, scale=False)
    np.testing.assert_array_equal(got, _pil_brightness(x, factor))


def test_brightness_keeps_the_range_of_images_outside_0_255():
    x = np.linspace(-1, 1, 30, dtype="float32").reshape(5, 2, 3)
    kept = transforms.apply_brightness_shift(x, 1.0, scale=False)
    assert kept.min() == pytest.approx(-1) and kept.max() == pytest.approx(1)
    darker = transforms.apply_brightness_shift(x, 0.5, scale=False)
    assert darker.max() < 0.05
    stretched = transforms.apply_brightness_shift(x, 1.0, scale=True)
    assert stretched.min() == 0 and stretched.max() == 255


def test_brightness_channels_first_and_bad_channel_count():
    x = (np.random.RandomState(3).rand(3, 4, 5) * 255).astype("float32")
    np.testing.assert_array_equal(transforms.apply_brightness_shift(x, 0.6, False, channel_axis=0),
                                  transforms.apply_brightness_shift(x.transpose(1, 2, 0), 0.6, False).transpose(2, 0, 1))
    with pytest.raises(ValueError, match="1, 3 or 4 channels"):
        transforms.apply_brightness_shift(np.zeros((4, 4, 2)), 0.5)


def test_random_functions_use_the_global_numpy_state():
    x = np.random.RandomState(0).rand(3, 8, 8).astype("float32")  # channels first, Keras's default axes
    for fn, arg in ((transforms.random_rotation, 30), (transforms.random_shear, 20),
                    (transforms.random_zoom, (0.8, 1.2))):
        np.random.seed(5)
        first = fn(x, arg)
        np.random.seed(5)
        np.testing.assert_array_equal(first, fn(x, arg))
        assert first.shape == x.shape
    np.random.seed(1)
    shifted = transforms.random_shift(x, 0.2, 0.2)
    np.random.seed(1)
    tx, ty = np.random.uniform(-0.2, 0.2) * 8, np.random.uniform(-0.2, 0.2) * 8
    np.testing.assert_allclose(shifted, transforms.apply_affine_transform(x, tx=tx, ty=ty), atol=1e-6)
    with pytest.raises(ValueError, match="zoom_range"):
        transforms.random_zoom(x, (0.5,))
    with pytest.raises(ValueError, match="brightness_range"):
        transforms.random_brightness(x, (0.5, 1, 2))
