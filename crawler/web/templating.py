"""The web app's templates: the report's Jinja2 environment over crawler/templates (autoescape on,
shared with `crawler report --format html`), and the report's words per language."""

from __future__ import annotations

import functools
from datetime import datetime

from crawler.clock import to_local
from crawler.report.render import environment as report_environment
from crawler.report.text import Words
from crawler.settings import Settings


@functools.cache
def environment():
    env = report_environment()
    env.filters.setdefault("local_time", local_time)
    env.filters.setdefault("local_time_text", _local_time_text)
    return env


def local_time(value: datetime | None, zone: str | None = None) -> str:
    """A stored UTC time as people read it: 2023-03-01 14:05 in the inventory's time zone."""
    if value is None:
        return "–"
    return to_local(value, zone).strftime("%Y-%m-%d %H:%M")


def words(lang: str, settings: Settings) -> Words:
    return _words(lang, settings.timezone)


@functools.cache
def _words(lang: str, zone: str) -> Words:
    return Words(lang, {"timezone": zone})


def _local_time_text(value: str | None, zone: str | None = None) -> str:
    """An ISO text time (as `crawler status` gathers them) as people read it."""
    from crawler.store import parse_iso

    return local_time(parse_iso(value), zone) if value else "–"
