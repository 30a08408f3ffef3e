"""crawler.clock: the one reader of the wall clock, and the inventory's local time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler import clock


def test_utcnow_is_aware_and_in_utc():
    now = clock.utcnow()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_local_zone_is_stockholm_by_default_with_summer_time():
    zone = clock.local_zone()
    assert clock.local_zone("Europe/Stockholm") is zone
    assert datetime(2023, 1, 15, 12, tzinfo=zone).utcoffset() == timedelta(hours=1)
    assert datetime(2023, 7, 15, 12, tzinfo=zone).utcoffset() == timedelta(hours=2)


def test_to_local_takes_naive_values_as_utc():
    summer = datetime(2023, 3, 26, 1, 30, tzinfo=UTC)  # the hour Stockholm moves to summer time
    assert clock.to_local(summer).hour == 3
    assert clock.to_local(summer.replace(tzinfo=None)) == clock.to_local(summer)
    assert clock.to_local(summer, "Europe/Helsinki").hour == 4


def test_an_unknown_zone_is_an_error():
    with pytest.raises(ValueError, match="unknown time zone"):
        clock.local_zone("Europe/Atlantis")


def test_dates_read_naive_times_in_the_clock_modules_zone():
    from crawler import dates

    assert dates.STOCKHOLM is clock.local_zone()


def test_only_the_clock_module_reads_the_wall_clock():
    """Everything else takes a `clock` or a `now` (crawler/clock.py owns utcnow)."""
    import re
    from pathlib import Path

    package = Path(clock.__file__).parent
    reads = re.compile(r"datetime\.now\(|datetime\.utcnow\(|date\.today\(|datetime\.today\(")
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if p.name != "clock.py" and p.relative_to(package).parts[0] != "demo" and reads.search(p.read_text())]
    assert not offenders, offenders


def test_stored_utc_times_are_shown_as_local_days_and_times():
    from crawler.clock import day_text, local_iso, time_text

    at = datetime(2023, 4, 13, 22, 20, tzinfo=UTC)  # 00:20 on 14 April, Swedish summer time
    assert day_text(at) == "2023-04-14" and day_text("2023-04-13T22:20:00Z") == "2023-04-14"
    assert day_text(at, "UTC") == "2023-04-13" and day_text("2023-04-13") == "2023-04-13" and day_text(None) == ""
    assert time_text(at) == "2023-04-14 00:20 CEST" and time_text(datetime(2023, 1, 16, 23, 30, tzinfo=UTC)) == "2023-01-17 00:30 CET"
    assert local_iso(at) == "2023-04-14T00:20:00+02:00" and local_iso(None) is None
