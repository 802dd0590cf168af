"""The progress bar's text equals tf-keras 2.21's (reference lines were produced by tf-keras's Progbar fed the
same values and the same clock), and its terminal behaviour is fitgen's: in-place redraws with '\\r' on a
terminal, whole lines only elsewhere."""
import contextlib
import io
import time

import pytest
import torch

from fitgen.utils import progbar
from fitgen.utils.progbar import Progbar


class Clock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(progbar, "_now", fake)
    return fake


@pytest.fixture
def tty(monkeypatch):
    # pytest re-installs its own sys.stdout when the test body starts, so tests redirect inside their body.
    monkeypatch.setenv("COLUMNS", "500")
    return FakeTTY()


def _ten_steps(clock, bar, extra=None):
    for step in range(1, 11):
        clock.t += 2.0 if step == 1 else 0.37
        bar.update(step, [("loss", 1 / step), ("accuracy", 0.5 + step / 40)], extra=extra)


def test_non_tty_prints_only_the_final_line_of_a_short_bar(clock, capsys):
    bar = Progbar(10, stateful_metrics=["loss", "accuracy"])
    _ten_steps(clock, bar)
    # 5s elapsed; 370ms/step because the first step's 2 s are left out of the per-step time, as in tf-keras.
    assert capsys.readouterr().out == (
        "10/10 [==============================] - 5s 370ms/step - loss: 0.1000 - accuracy: 0.7500\n")


def test_non_tty_intermediate_lines_at_most_every_ten_seconds(clock, capsys):
    bar = Progbar(12, stateful_metrics=["loss"])
    for step in range(1, 13):
        clock.t += 4.0
        bar.update(step, [("loss", 0.4)])
    out = capsys.readouterr().out
    assert "\r" not in out and "\b" not in out
    assert out.splitlines() == [
        " 3/12 [======>.......................] - ETA: 36s - loss: 0.4000",
        " 6/12 [==============>...............] - ETA: 24s - loss: 0.4000",
        " 9/12 [=====================>........] - ETA: 12s - loss: 0.4000",
        "12/12 [==============================] - 48s 4s/step - loss: 0.4000",
    ]


def test_long_etas_and_sample_weighted_averages(clock, capsys):
    bar = Progbar(60000)
    for advance, current, loss in [(1.0, 32, 0.5), (400.0, 64, 1e-4), (5000.0, 96, -0.3), (3.0, 60000, 2e-3)]:
        clock.t += advance
        bar.update(current, [("loss", loss), ("mae", -1e-5)])
    assert capsys.readouterr().out.splitlines() == [
        "   64/60000 [..............................] - ETA: 104:18:56 - loss: 0.2500 - mae: -1.0000e-05",
        "   96/60000 [..............................] - ETA: 936:10:24 - loss: 0.0667 - mae: -1.0000e-05",
        "60000/60000 [==============================] - 5404s 90ms/step - loss: 0.0021 - mae: -1.0000e-05",
    ]


def test_verbose_2_prints_one_tf_keras_line_at_the_end(clock, capsys):
    bar = Progbar(5, verbose=2, stateful_metrics=["loss", "neg"])
    for step in range(1, 6):
        clock.t += 0.7
        bar.update(step, [("loss", 0.4), ("neg", -0.5)], finalize=False)
    assert capsys.readouterr().out == ""
    clock.t += 0.3
    bar.update(5, [("loss", 0.4), ("neg", -0.5), ("val_loss", 0.35)], finalize=True)
    # tf-keras's verbose=2 line tests `value > 1e-3`, so a negative value prints in exponent form.
    assert capsys.readouterr().out == (
        "5/5 - 4s - loss: 0.4000 - neg: -5.0000e-01 - val_loss: 0.3500 - 4s/epoch - 760ms/step\n")


def test_unknown_target(clock, capsys):
    bar = Progbar(None)
    for step in range(1, 4):
        clock.t += 0.02
        bar.update(step, [("loss", 0.4)], finalize=step == 3)
    assert capsys.readouterr().out == "      3/Unknown - 0s 20ms/step - loss: 0.4000\n"


def test_one_step_bar_and_microsecond_steps(clock, capsys):
    bar = Progbar(1, stateful_metrics=["loss"])
    clock.t += 0.0005
    bar.update(1, [("loss", 0.4)])
    bar = Progbar(1)
    bar.update(1, {"loss": 0.4})  # a dict of values works too
    assert capsys.readouterr().out.splitlines() == [
        "1/1 [==============================] - 0s 500us/step - loss: 0.4000",
        "1/1 [==============================] - 0s 0s/step - loss: 0.4000",
    ]


def test_extra_suffix_follows_the_metrics(clock, capsys):
    bar = Progbar(10, stateful_metrics=["loss", "accuracy"])
    _ten_steps(clock, bar, extra=" - data 38%")
    assert capsys.readouterr().out.endswith("- loss: 0.1000 - accuracy: 0.7500 - data 38%\n")


def test_tty_redraws_in_place_with_carriage_returns_only(clock, tty):
    with contextlib.redirect_stdout(tty):
        bar = Progbar(10, stateful_metrics=["loss", "accuracy"])
        _ten_steps(clock, bar)
    out = tty.getvalue()
    assert "\b" not in out
    draws = out.split("\r")[1:]
    assert out.startswith("\r") and len(draws) == 10 and out.endswith("\n") and out.count("\n") == 1
    assert draws[0] == " 1/10 [==>...........................] - ETA: 18s - loss: 1.0000 - accuracy: 0.5250"
    assert draws[1] == " 2/10 [=====>........................] - ETA: 2s - loss: 0.5000 - accuracy: 0.5500 "
    assert draws[-1] == "10/10 [==============================] - 5s 370ms/step - loss: 0.1000 - accuracy: 0.7500\n"


def test_tty_redraws_are_throttled_by_interval(clock, tty):
    with contextlib.redirect_stdout(tty):
        bar = Progbar(100, interval=0.1)
        for step in range(1, 101):
            clock.t += 0.01
            bar.update(step, [("loss", 0.5)])
    draws = tty.getvalue().split("\r")[1:]
    # Steps 1, 11, 21, ... 91 pass the 0.1 s interval; the last update always draws.
    assert len(draws) == 11
    assert [d.split("/")[0].strip() for d in draws] == [str(s) for s in range(1, 92, 10)] + ["100"]


def test_tty_shorter_line_is_padded_over_the_previous_one(clock, tty):
    with contextlib.redirect_stdout(tty):
        bar = Progbar(3, stateful_metrics=["loss"])
        clock.t += 1
        bar.update(1, [("loss", 123456.0)])
        clock.t += 1
        bar.update(2, [("loss", 0.5)])
    first, second = tty.getvalue().split("\r")[1:]
    assert len(second) == len(first) and second.endswith("    ")


def test_tty_line_wider_than_the_terminal_is_redrawn_from_its_first_row(clock, tty, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    with contextlib.redirect_stdout(tty):
        bar = Progbar(10, stateful_metrics=["loss", "accuracy"])
        _ten_steps(clock, bar)
    draws = tty.getvalue().split("\r")[1:]
    assert not draws[0].startswith("\x1b")
    # 85 characters on 40 columns take three rows: go up two before redrawing.
    assert all(d.startswith("\x1b[2A") for d in draws[1:])


def test_verbose_0_prints_nothing(clock, capsys):
    bar = Progbar(10, verbose=0)
    _ten_steps(clock, bar)
    assert capsys.readouterr().out == ""


def test_add_advances_from_the_last_position(clock, capsys):
    bar = Progbar(6)
    clock.t += 1
    bar.add(2, [("loss", 1.0)])
    clock.t += 1
    bar.add(4, [("loss", 0.25)])
    # Weighted running mean: (1.0 * 2 + 0.25 * 4) / 6.
    assert capsys.readouterr().out == "6/6 [==============================] - 2s 333ms/step - loss: 0.5000\n"


def test_torch_values_are_accepted(clock, capsys):
    bar = Progbar(2, stateful_metrics=["acc"])
    bar.update(1, [("loss", torch.tensor(0.5)), ("acc", torch.tensor(0.25))])
    bar.update(2, [("loss", torch.tensor(1.5)), ("acc", torch.tensor(0.75))])
    assert capsys.readouterr().out.endswith("- loss: 1.0000 - acc: 0.7500\n")


def test_writes_to_the_stdout_current_at_draw_time(clock):
    bar = Progbar(2)
    first, second = io.StringIO(), FakeTTY()
    with contextlib.redirect_stdout(first):
        bar.update(2, [("loss", 0.5)], finalize=True)
    with contextlib.redirect_stdout(second):
        bar.update(2, [("loss", 0.5)], finalize=True)
    assert first.getvalue().startswith("2/2 [") and second.getvalue().startswith("\r2/2 [")


@pytest.mark.parametrize("seconds, text", [(65, "1:05"), (3700, "1:01:40"), (59.9, "59s"), (60, "60s"),
                                           (3600, "60:00"), (0, "0s")])
def test_eta_format(seconds, text):
    assert progbar.format_eta(seconds) == text


@pytest.mark.parametrize("value, text", [(1e-4, "1.0000e-04"), (1e-3, "1.0000e-03"), (0.0011, "0.0011"),
                                         (-0.5, "-0.5000"), (-1e-5, "-1.0000e-05"), (0.0, "0.0000e+00"),
                                         (12345.678, "12345.6780"), (float("nan"), "nan")])
def test_value_format(value, text):
    assert progbar.format_value(value) == text


def test_update_without_drawing_costs_microseconds(tty):
    with contextlib.redirect_stdout(tty):
        bar = Progbar(10 ** 6, interval=3600.0)
        bar.update(1, [("loss", 0.5), ("accuracy", 0.5)])
        values = [("loss", 0.5), ("accuracy", 0.5)]
        start = time.perf_counter()
        for step in range(2, 5002):
            bar.update(step, values)
        per_update = (time.perf_counter() - start) / 5000
    assert tty.getvalue().count("\r") == 1
    assert per_update < 50e-6  # ~1-2 us measured; generous for loaded CI machines
