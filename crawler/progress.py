"""Progress of a crawl cycle: a bar on a terminal (click's progress bar), log lines otherwise.

    with display() as show:        # stderr; a bar when it is a terminal
        crawl_once(..., progress=show)

`show(p)` is called after every account. On a terminal it moves the bar (done/total, errors,
accounts per second, ETA); elsewhere (the service under journald, a pipe) it logs a
`cycle.progress` line for the first account at once, then at most every `every` seconds on the
injected monotonic `clock`, and always for the last. Nothing crawled is ever printed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

import click

from crawler import log
from crawler.crawl import Progress

LOG_EVERY = 30.0  # seconds between progress log lines when the output is not a terminal


class Display:
    """A progress callback for one cycle; `close()` (or leaving the `with`) ends the bar's line."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None, every: float = LOG_EVERY,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every
        self.clock = clock
        self._last_logged: float | None = None  # None: the first line is logged at once
        self._bar = None
        self._progress: Progress | None = None

    def __call__(self, p: Progress) -> None:
        if self.tty:
            self._draw(p)
        else:
            self._log(p)

    def _draw(self, p: Progress) -> None:
        if self._bar is None:
            self._progress = p
            self._bar = click.progressbar(length=p.total, label="crawl", file=self.stream, show_pos=True,
                                          show_eta=True, item_show_func=self._info)
            self._bar.__enter__()
        self._progress = p
        self._bar.update(p.done - self._bar.pos, p)
        if p.done >= p.total:
            self.close()

    @staticmethod
    def _info(p: Progress | None) -> str | None:
        return None if p is None else f"errors {p.errors}  {p.rate:.1f}/s"

    def _log(self, p: Progress) -> None:
        now = self.clock()
        due = self._last_logged is None or now - self._last_logged >= self.every
        if not due and p.done < p.total:
            return
        self._last_logged = now
        eta = p.eta_seconds
        log.event("cycle.progress", done=p.done, total=p.total, errors=p.errors, rate=round(p.rate, 2),
                  eta_s=None if eta is None else int(eta))

    def close(self) -> None:
        """End the bar's line (a cycle stopped before its last account leaves it unfinished)."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.__exit__(None, None, None)

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def display(stream: TextIO | None = None, tty: bool | None = None, every: float = LOG_EVERY,
            clock: Callable[[], float] = time.monotonic) -> Display:
    """The progress callback for a cycle: a bar when `stream` (stderr) is a terminal, else log lines."""
    return Display(stream, tty, every, clock)
