"""crawler/progress.py: a bar on a terminal, log lines otherwise, the first line at once.

The log clock is injected and starts at 0.0, as time.monotonic() does on a machine just booted
(regression: the first line was held back until the clock passed 30 s, so a service started
within an hour of boot, under `every=3600`, logged none).
"""

from __future__ import annotations

import io
import logging

import pytest

from crawler import progress
from crawler.crawl import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def events():
    logger, recorder = logging.getLogger("crawler"), Recorder()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(recorder)
    yield lambda: [r.fields for r in recorder.records if r.getMessage() == "cycle.progress"]
    logger.removeHandler(recorder)
    logger.setLevel(level)


class Clock:
    def __init__(self, start: float = 0.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_log_lines_first_at_once_then_every_interval_then_the_last(events):
    clock = Clock(0.0)  # a machine up for no time at all
    show = progress.display(io.StringIO(), every=30, clock=clock)
    assert not show.tty
    p = Progress(total=10)
    for second in (0, 5, 29, 30, 31, 59, 61, 62, 63, 64):  # when each account finishes
        clock.now = float(second)
        p.done += 1
        show(p)
    assert [e["done"] for e in events()] == [1, 4, 7, 10]  # at 0 s, 30 s, 61 s, and the last
    assert set(events()[0]) == {"done", "total", "errors", "rate", "eta_s"}


def test_a_long_interval_still_logs_the_first_and_the_last(events):
    show = progress.display(io.StringIO(), tty=False, every=3600, clock=Clock(12.5))
    p = Progress(total=5)
    for _ in range(5):
        p.done += 1
        show(p)
    assert [e["done"] for e in events()] == [1, 5]


def test_a_bar_on_a_terminal_from_clicks_progress_bar(events):
    out = Terminal()
    with progress.display(out) as show:
        assert show.tty
        p = Progress(total=10)
        for i in range(10):
            p.done += 1
            p.errors += i == 3
            show(p)
    text = out.getvalue()
    assert text.count("\r") >= 10 and "crawl" in text
    assert "10/10" in text and "errors 1" in text and "/s" in text
    assert text.endswith("\n") and text.count("\n") == 1  # one line, ended once
    assert events() == []  # a bar, not log lines


def test_an_interrupted_cycle_ends_the_bar_line(events):
    out = Terminal()
    with progress.display(out) as show:
        p = Progress(total=10)
        for _ in range(3):
            p.done += 1
            show(p)
    text = out.getvalue()
    assert "3/10" in text and text.endswith("\n")
