"""Upload progress on stderr: a live bar on a terminal, a line now and then in CI logs.

On a terminal: one line redrawn in place at most ten times a second, with the
number of files, bytes sent of the total, the rate and the time left; colour
unless ``NO_COLOR`` is set. Elsewhere (a CI log): nothing for short runs, then
one plain line every ``ARTREG_PROGRESS_INTERVAL`` seconds (default 5), so a
long upload shows it is alive without flooding the log.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from artreg.render.terminal import counted, format_eta, human_size

INTERVAL_ENV = "ARTREG_PROGRESS_INTERVAL"
LOG_INTERVAL = 5.0  # seconds between lines in a log
REDRAW_INTERVAL = 0.1  # seconds between redraws on a terminal: ten a second at most
_WIDTH = 24
_GREEN, _RESET = "\x1b[32m", "\x1b[0m"


def log_interval(environ: Mapping[str, str]) -> float:
    """Seconds between progress lines in a log: ``ARTREG_PROGRESS_INTERVAL`` or 5."""
    text = environ.get(INTERVAL_ENV, "")
    try:
        value = float(text)
    except ValueError:
        return LOG_INTERVAL
    return value if value >= 0 else LOG_INTERVAL


class Progress:
    """Counts bytes sent; callable as a store's progress callback, from any thread."""

    def __init__(
        self,
        total: int,
        files: int,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.files = files
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        env = os.environ if environ is None else environ
        self.live = _is_terminal(self.stream) and env.get("TERM") != "dumb"
        self.colour = self.live and not env.get("NO_COLOR")
        self.enabled = not quiet and total > 0
        self.interval = REDRAW_INTERVAL if self.live else log_interval(env)
        self.redraws = 0
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self._shown = 0  # width of the line on screen, to blank what a shorter one leaves
        self._lock = threading.Lock()

    def __call__(self, sent: int) -> None:
        with self._lock:
            self.done += sent
            if not self.enabled:
                return
            now = self._clock()
            if now - self._last < self.interval and self.done < self.total:
                return
            if not self.live and self.done >= self.total and self.redraws == 0:
                return  # a short run in a log: the summary line says it all
            self._last = now
            self._draw(now)

    def close(self) -> None:
        """End the live line (redrawn complete) so later output starts on its own line."""
        with self._lock:
            if self.enabled and self.live and self.redraws:
                self._draw(self._clock())
                self.stream.write("\n")
                self.stream.flush()

    def line(self, now: float) -> str:
        """The progress text at ``now``: files, bytes, share, rate, time left."""
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        share = min(self.done / self.total, 1.0) if self.total else 1.0
        text = (
            f"uploading {counted(self.files, 'file')}: "
            f"{human_size(self.done)} of {human_size(self.total)} ({share:.0%})"
        )
        if self.done and elapsed >= 0.05:
            text += f", {human_size(int(rate))}/s"
            if self.done < self.total:
                text += f", {format_eta((self.total - self.done) / rate)} left"
        return text

    def _draw(self, now: float) -> None:
        self.redraws += 1
        text = self.line(now)
        if not self.live:
            self.stream.write(f"artreg: {text}\n")
            self.stream.flush()
            return
        share = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = "#" * int(share * _WIDTH)
        bar = f"[{filled:<{_WIDTH}}]"
        if self.colour:
            bar = f"[{_GREEN}{filled}{_RESET}{' ' * (_WIDTH - len(filled))}]"
        plain = f"  [{filled:<{_WIDTH}}] {text}"
        pad = " " * max(self._shown - len(plain), 0)
        self._shown = len(plain)
        self.stream.write(f"\r  {bar} {text}{pad}")
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
