"""crawler/cron.py: crontab lines as the service schedules them, and the checks settings use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler import cron
from crawler.clock import local_zone


def test_schedule_triggers_with_jitter_and_crontab_weekdays():
    trigger = cron.cron_trigger("0 2 * * *", 1800, UTC)
    assert trigger.jitter == 1800
    fire = trigger.get_next_fire_time(None, datetime(2026, 3, 1, 3, 0, tzinfo=UTC))
    assert fire.date().isoformat() == "2026-03-02" and fire.hour == 2 and fire.minute < 31
    weekly = cron.cron_trigger("30 4 * * 0", None, UTC)
    assert weekly.get_next_fire_time(None, datetime(2026, 3, 2, tzinfo=UTC)).weekday() == 6  # Sunday


@pytest.mark.parametrize(("field", "expected"), [
    ("0", "sun"), ("7", "sun"), ("1-5", "mon,tue,wed,thu,fri"), ("*", "*"), ("*/2", "sun,tue,thu,sat"),
    ("0,6", "sun,sat"), ("mon-fri", "mon-fri"), ("5-7", "fri,sat,sun"),
])
def test_crontab_weekday_numbers_mean_what_crontab_says(field: str, expected: str):
    # APScheduler 3 counts weekdays from Monday; crontab from Sunday (regression: "30 4 * * 0" ran Mondays)
    assert cron.crontab_weekdays(field) == expected


@pytest.mark.parametrize(("expr", "expected"), [
    ("every night", "is not a crontab line"),
    ("0 2 * *", "has 5 fields, this one has 4"),
    ("0 25 * * *", "is not a crontab line"),
    ("0 2 * * 8", "out of range 0-7"),
    ("0 0 31 2 *", "never runs"),
])
def test_problems_of_bad_lines(expr: str, expected: str):
    assert expected in cron.problem(expr)


def test_good_lines_have_no_problem():
    assert cron.problem("0 2 * * *") is None and cron.problem("*/15 6-18 * * mon-fri") is None


def test_gaps_between_runs_in_local_time():
    zone = local_zone("Europe/Stockholm")
    daily = cron.gaps("0 2 * * *", zone)
    # DST: 23 h in spring, 25 h in autumn; APScheduler's second run in the repeated hour is not a gap
    assert daily == (timedelta(hours=23), timedelta(hours=25))
    assert cron.gaps("30 4 * * 0", zone)[1] == timedelta(days=7, hours=1)
    assert cron.gaps("*/10 * * * *", UTC) == (timedelta(minutes=10), timedelta(minutes=10))
    assert cron.gaps("0 0 1 1 *", UTC) == (timedelta(days=365), timedelta(days=365))
    assert cron.gaps("0 0 29 2 *", UTC) is None and cron.problem("0 0 29 2 *") is None  # leap days only
