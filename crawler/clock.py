"""The one place that reads the wall clock, and the inventory's local time zone.

    utcnow() -> aware datetime in UTC         the only `datetime.now` of the crawler
    local_zone(name) -> tzinfo                 Europe/Stockholm unless named otherwise
    to_local(value, zone) -> aware datetime    a UTC (or naive-as-UTC) value in local time

Everything else takes a `clock` (a callable returning `utcnow()`-like values) or a `now`, so that
tests and the demo pass their own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo

DEFAULT_ZONE = "Europe/Stockholm"  # the inventory's local time (the municipality's)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


@functools.lru_cache(maxsize=16)
def local_zone(name: str = DEFAULT_ZONE) -> tzinfo:
    """The named IANA time zone (default Europe/Stockholm).

    Without a time zone database (a bare container without tzdata) Stockholm falls back to
    winter time, the lesser evil for day boundaries; any other unknown name is an error.
    """
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, or no zoneinfo support at all
        if name == DEFAULT_ZONE:
            return timezone(timedelta(hours=1), "CET")
        raise ValueError(f"unknown time zone {name!r}") from None


def to_local(value: datetime, zone: tzinfo | str | None = None) -> datetime:
    """`value` in the local zone (a naive value is taken as UTC)."""
    if isinstance(zone, str) or zone is None:
        zone = local_zone(zone or DEFAULT_ZONE)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone)
