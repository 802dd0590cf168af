"""Keras 2's console progress bar, with tf-keras 2.21's text, that behaves well outside a terminal.

NOTE [ fitgen progbar output modes ]
Keras redraws its bar with backspaces and carriage returns whatever stdout is, which floods log files, CI
logs and `nohup` output with one line (or one burst of `^H`) per update. fitgen picks the mode per stream:

* dynamic (stdout is a TTY, or a Jupyter/IPython kernel stream, or PyCharm's console): the line is redrawn in
  place, starting with `'\\r'` (never `'\\b'`), at most once per `interval` seconds; a line that wrapped in a
  narrow terminal is overwritten from its first row.
* line mode (anything else): only whole lines are written, never `'\\r'` or `'\\b'`: the final line of each
  bar, plus at most one intermediate line every `LOG_LINE_INTERVAL` (10) seconds so that long epochs
  still show progress in a log.

The text of each line is tf-keras 2.21's, character for character.
"""
import math
import os
import shutil
import sys
import time

import numpy as np

# Seconds between two intermediate lines when stdout is not a terminal.
LOG_LINE_INTERVAL = 10.0

# The clock the bar reads; a module attribute so that tests can substitute a fake clock.
_now = time.monotonic


class Progbar:
    """Displays a progress bar.

    Args:
        target: Total number of steps (or samples) expected, None if unknown.
        width: Width of the bar in characters.
        verbose: 0 (silent), 1 (bar) or 2 (one line when the bar finishes).
        interval: Minimum number of seconds between two redraws on a terminal. Keras's default is 0.05;
            fitgen's is 0.1, which looks the same and halves the cost of drawing during fast epochs.
        stateful_metrics: Names of the values to display as given (the engine passes every model
            metric here, so the final line equals the epoch logs). Other values are averaged over the
            updates, weighted by the increase of `current`.
        unit_name: The unit of time per unit (`'step'` or `'sample'`).

    Example:

    >>> bar = Progbar(2, stateful_metrics=["loss"])
    >>> bar.update(1, [("loss", 0.5)])
    >>> bar.update(2, [("loss", 0.25)])  # doctest: +ELLIPSIS
    2/2 [==============================] - 0s ...s/step - loss: 0.2500

    When stdout is not a terminal, intermediate updates are printed at most every `LOG_LINE_INTERVAL` (10)
    seconds; the final line is always printed. On a terminal the line is redrawn in place.
    """

    def __init__(self, target, width=30, verbose=1, interval=0.1, stateful_metrics=None, unit_name="step"):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics else set()
        self._values = {}  # name -> [weighted sum, weight]; dicts keep the order names first appeared in
        self._seen_so_far = 0
        self._start = _now()
        self._last_draw = -math.inf
        self._last_line = self._start
        self._total_width = 0
        self._time_after_first_step = None
        self._time_at_epoch_start = self._start
        self._time_at_epoch_end = None
        self._stream = None
        self._dynamic = False

    def update(self, current, values=None, finalize=None, extra=None):
        """Updates the progress bar.

        Args:
            current: Index of the current step (or number of samples seen).
            values: `(name, value)` pairs (or a dict) for the last step. Names in `stateful_metrics` are
                shown as given; others are averaged over updates.
            finalize: Whether this is the last update; by default `current >= target`.
            extra: Optional short text appended after the values, e.g. `' - data 38%'`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if values:
            self._add_values(values.items() if isinstance(values, dict) else values, current)
        self._seen_so_far = current
        now = _now()
        if current == 1:
            self._time_after_first_step = now
        if current == self.target:
            self._time_at_epoch_end = now
        if self.verbose == 1:
            self._update_bar(current, now, finalize, extra)
        elif self.verbose == 2 and finalize:
            self._write(self._summary_line(current, now, extra) + "\n")

    def add(self, n, values=None):
        """Advances the bar by `n` steps (or samples)."""
        self.update(self._seen_so_far + n, values)

    def _add_values(self, values, current):
        # Weighted by how far `current` moved, so averages are per sample when counting samples; at least 1
        # because a repeated `current` (a final update after the last batch) must still count.
        weight = max(current - self._seen_so_far, 1)
        for name, value in values:
            if name in self.stateful_metrics:
                self._values[name] = [value, 1]
            elif name in self._values:
                entry = self._values[name]
                entry[0] = entry[0] + value * weight
                entry[1] += weight
            else:
                self._values[name] = [value * weight, weight]

    def _update_bar(self, current, now, finalize, extra):
        stream = sys.stdout
        if stream is not self._stream:
            self._stream = stream
            self._dynamic = _is_dynamic(stream)
        if not finalize:
            if self._dynamic:
                if now - self._last_draw < self.interval:
                    return
            elif now - self._last_line < LOG_LINE_INTERVAL:
                return
        line = self._bar_line(current, now, finalize) + (extra or "")
        if self._dynamic:
            message = "\r" + self._rows_up(stream) + line
            if len(line) < self._total_width:
                message += " " * (self._total_width - len(line))
            self._total_width = len(line)
            if finalize:
                message += "\n"
                self._total_width = 0
        else:
            message = line + "\n"
            self._last_line = now
        self._last_draw = now
        self._write(message)

    def _bar_line(self, current, now, finalize):
        if self.target is not None:
            digits = len(str(int(self.target)))
            bar = f"{current:{digits}d}/{self.target} ["
            progress = current / self.target if self.target > 0 else 1.0
            filled = min(int(self.width * progress), self.width)
            if filled > 0:
                bar += "=" * (filled - 1) + (">" if current < self.target else "=")
            bar += "." * (self.width - filled) + "]"
        else:
            bar = f"{current:7d}/Unknown"
        time_per_unit = self._step_duration(current, now)
        if self.target is None or finalize:
            info = f" - {now - self._start:.0f}s" + _format_time(time_per_unit, self.unit_name)
        else:
            info = " - ETA: " + format_eta(time_per_unit * (self.target - current))
        for name, (total, count) in self._values.items():
            info += f" - {name}: " + format_value(_mean(total, count))
        return bar + info

    def _summary_line(self, current, now, extra):
        if self.target is not None:
            digits = len(str(int(self.target)))
            line = f"{current:{digits}d}/{self.target}"
        else:
            line = f"{current}/Unknown"
        line += f" - {now - self._start:.0f}s"
        for name, (total, count) in self._values.items():
            value = _mean(total, count)
            # tf-keras tests `value > 1e-3` here (not abs), so negative values print in exponent form.
            line += f" - {name}: " + (f"{value:.4f}" if value > 1e-3 else f"{value:.4e}")
        line += extra or ""
        epoch_end = self._time_at_epoch_end if self._time_at_epoch_end is not None else now
        steps = self.target if self._time_at_epoch_end is not None else max(current, 1)
        epoch_time = epoch_end - self._time_at_epoch_start
        self._time_at_epoch_start = now
        self._time_at_epoch_end = None
        return line + " -" + _format_time(epoch_time, "epoch") + " -" + _format_time(epoch_time / steps,
                                                                                     self.unit_name)

    def _step_duration(self, current, now):
        # tf-keras leaves the first step (graph tracing there, cudnn autotuning and worker start-up here) out
        # of the estimate once later steps exist.
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            return (now - self._time_after_first_step) / (current - 1)
        return (now - self._start) / current

    def _rows_up(self, stream):
        # A line longer than the terminal wraps, and '\r' alone would only return to its last row; move the
        # cursor up to the first row so that the redraw overwrites the whole previous line.
        if not self._total_width or not _isatty(stream):
            return ""
        columns = shutil.get_terminal_size((0, 0)).columns
        rows = (self._total_width - 1) // columns if columns > 0 else 0
        return f"\x1b[{rows}A" if rows > 0 else ""

    @staticmethod
    def _write(message):
        stream = sys.stdout
        stream.write(message)
        stream.flush()


def format_eta(seconds):
    """Keras's ETA text: `h:mm:ss` above an hour, `m:ss` above a minute, else `Ns` (truncated)."""
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def format_value(value):
    """Keras's metric text: `%.4f` when `abs(value) > 1e-3`, else `%.4e` (so 1e-4 gives `1.0000e-04`)."""
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def _format_time(seconds, unit_name):
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def _mean(total, count):
    value = total / max(1, count)
    if hasattr(value, "detach"):  # a torch tensor: reading it is a device sync, done only when drawing
        return value.detach().double().mean().item()
    return float(np.mean(value))


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _is_dynamic(stream):
    if _isatty(stream):
        return True
    # Jupyter/IPython kernels and PyCharm's run console render '\r' in place although they are no TTY.
    if "ipykernel" in sys.modules and type(stream).__module__.startswith("ipykernel"):
        return True
    return "PYCHARM_HOSTED" in os.environ and stream is sys.__stdout__
