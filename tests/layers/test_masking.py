"""Masking: zeroes padded timesteps and marks them for recurrent layers."""
import torch
from helpers.layer_harness import check_layer

from fitgen.layers.masking import Masking
from fitgen.layers.recurrent import LSTM


def test_masks_timesteps_equal_to_mask_value():
    x = torch.tensor([[[1.0, 1.0], [0.0, 0.0], [2.0, 0.0]]])
    out = Masking()(x)
    assert out._keras_mask.tolist() == [[True, False, True]]
    torch.testing.assert_close(out, x)
    out = Masking(mask_value=1.0)(x)
    assert out._keras_mask.tolist() == [[False, True, True]]
    torch.testing.assert_close(out[0, 0], torch.zeros(2))


def test_lstm_skips_masked_steps():
    x = torch.randn(2, 5, 3)
    x[0, 3:] = 0.0
    lstm = LSTM(4)
    masked = lstm(Masking()(x))
    torch.testing.assert_close(masked[0], lstm(x[:1, :3])[0])
    torch.testing.assert_close(masked[1], lstm(x[1:])[0])


def test_config_and_harness():
    assert Masking(mask_value=-1.0).get_config()["mask_value"] == -1.0
    check_layer(Masking, {"mask_value": 0.5}, (2, 4, 3), (2, 4, 3))
