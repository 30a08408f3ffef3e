"""The one place that reads the wall clock, and the inventory's local time zone.

    utcnow() -> aware datetime in UTC         the only `datetime.now` of the crawler
    local_zone(name) -> tzinfo                 Europe/Stockholm unless named otherwise
    to_local(value, zone) -> aware datetime    a UTC (or naive-as-UTC) value in local time
    day_text / time_text / local_iso           stored UTC times as people read them (local day, time, ISO)

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


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def day_text(value: datetime | str | None, zone: tzinfo | str | None = None) -> str:
    """The calendar day a person means ("2023-04-14") of a stored UTC time (a datetime or ISO text),
    in the local zone; a bare day ("2023-04-14") is already one and stays; "" for nothing.

    A post at 00:20 Swedish time on 14 April is stored as 2023-04-13T22:20Z: its day is the 14th.
    """
    if isinstance(value, str) and len(value.strip()) == 10:
        return value.strip()
    at = _as_datetime(value)
    if at is None:
        return value if isinstance(value, str) else ""
    return to_local(at, zone).date().isoformat()


def time_text(value: datetime | str | None, zone: tzinfo | str | None = None) -> str:
    """A stored UTC time as a person reads it: local, to the minute, with the zone ("2023-04-14 00:20 CEST")."""
    at = _as_datetime(value)
    if at is None:
        return value if isinstance(value, str) else ""
    return to_local(at, zone).strftime("%Y-%m-%d %H:%M %Z")


def local_iso(value: datetime | str | None, zone: tzinfo | str | None = None) -> str | None:
    """A stored UTC time as ISO 8601 with the local offset (2023-04-14T00:20:00+02:00): the same
    instant, but its date part is the local day (exports read in spreadsheets)."""
    at = _as_datetime(value)
    return None if at is None else to_local(at, zone).isoformat()
