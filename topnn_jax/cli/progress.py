"""Progress of long commands: a tqdm bar on a terminal, one-line status updates in a log.

When stderr is not a terminal (a log file, a batch job), tqdm's redrawn bars would write raw
escape codes; there a `Counter` prints a plain line at most every `LOG_INTERVAL` seconds and one
when it closes. The rate and time left are measured from the first finished item, so that a
stage that waits before its first item (Betti jobs waiting on training) does not show an ETA of
hours.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

LOG_INTERVAL = 15.0
"""Seconds between status lines when stderr is not a terminal."""


class Counter:
    """Items done out of a total that may grow (Betti jobs are queued as networks finish).

    Args:
        desc: what is counted, e.g. "Betti jobs".
        unit: one item, e.g. "job".
        total: items expected (may be raised later with `add`).
        position: the bar's line on a terminal (several counters at once).
        stream: where to write (default stderr).
        enabled: False shows nothing.
    """

    def __init__(
        self,
        desc: str,
        unit: str,
        total: int = 0,
        position: int = 0,
        stream: TextIO | None = None,
        enabled: bool = True,
    ) -> None:
        self.desc, self.unit = desc, unit
        self.stream = stream or sys.stderr
        self.total, self.done = total, 0
        self.postfix = ""
        self._first_done: float | None = None  # when the first items were done
        self._first_count = 0  # how many that was
        self._last_line = 0.0
        self._bar: tqdm | None = None
        self.enabled = enabled
        if enabled and self.stream.isatty():
            from tqdm import tqdm  # imported only where a bar is shown

            self._bar = tqdm(
                total=total,
                desc=desc,
                unit=unit,
                position=position,
                dynamic_ncols=True,
                file=self.stream,
            )

    def add(self, count: int) -> None:
        """`count` more items are expected."""
        self.set(self.done, self.total + count)

    def update(self, count: int = 1) -> None:
        """`count` more items are done."""
        self.set(self.done + count)

    def set(self, done: int, total: int | None = None, postfix: str | None = None) -> None:
        """Set the items done (and the total, and a short note after the count)."""
        if self._first_done is None and done > 0:
            self._first_done, self._first_count = time.monotonic(), done
            if self._bar is not None:  # the rate starts at the first finished items
                self._bar.reset(total=self.total)
                self._bar.initial = done
        self.done = done
        self.total = self.total if total is None else total
        self.postfix = self.postfix if postfix is None else postfix
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.n = done
            self._bar.set_postfix_str(self.postfix, refresh=False)
            self._bar.refresh()
        elif self.enabled and time.monotonic() - self._last_line >= LOG_INTERVAL:
            self._write_line()

    def write(self, message: str) -> None:
        """A message on its own line (above the bars on a terminal)."""
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        """Finish: the bar stays at its last count; in a log, a last status line."""
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and (self.done or self.total):
            self._write_line()

    def _write_line(self) -> None:
        self._last_line = time.monotonic()
        line = f"{self.desc}: {self.done}/{self.total} {self.unit}s"
        left = self._time_left()
        if left is not None:
            line += f", about {left} left"
        if self.postfix:
            line += f" ({self.postfix})"
        print(line, file=self.stream, flush=True)

    def _time_left(self) -> str | None:
        """h:mm:ss at the rate since the first finished items, or None until more are done."""
        if self._first_done is None or self.done <= self._first_count or self.total <= self.done:
            return None
        rate = (self.done - self._first_count) / max(time.monotonic() - self._first_done, 1e-9)
        return str(timedelta(seconds=round((self.total - self.done) / rate)))

    def __enter__(self) -> Counter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
