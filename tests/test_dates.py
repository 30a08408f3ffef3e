"""crawler.dates: machine and visible dates, Swedish and English, relative dates, plausibility."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler import dates
from crawler.dates import STOCKHOLM, find_dates, from_timestamp, implausible, parse_machine, parse_visible

NOW = datetime(2023, 4, 15, 12, 0, tzinfo=UTC)  # a Saturday


def day(value: datetime | None) -> str | None:
    return value.astimezone(STOCKHOLM).date().isoformat() if value else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-03-12T10:00:00+01:00", datetime(2023, 3, 12, 9, 0, tzinfo=UTC)),
        ("2023-03-12T10:00:00.000+0100", datetime(2023, 3, 12, 9, 0, tzinfo=UTC)),
        ("2023-03-12T10:00:00Z", datetime(2023, 3, 12, 10, 0, tzinfo=UTC)),
        ("2023-03-12 10:00:00", datetime(2023, 3, 12, 9, 0, tzinfo=UTC)),  # naive: Stockholm (CET)
        ("2023-07-12T10:00:00", datetime(2023, 7, 12, 8, 0, tzinfo=UTC)),  # naive: Stockholm (CEST)
        ("Sun, 12 Mar 2023 10:00:00 +0000", datetime(2023, 3, 12, 10, 0, tzinfo=UTC)),
        ("Sun, 12 Mar 2023 10:00:00 GMT", datetime(2023, 3, 12, 10, 0, tzinfo=UTC)),
        ("Sun, 12 Mar 2023 10:00:00 -0000", datetime(2023, 3, 12, 10, 0, tzinfo=UTC)),
        ("1678615200", datetime(2023, 3, 12, 10, 0, tzinfo=UTC)),
        ("1678615200000", datetime(2023, 3, 12, 10, 0, tzinfo=UTC)),
        ("2100-01-01T00:00:00Z", datetime(2100, 1, 1, tzinfo=UTC)),  # parsed, so that it can be noted
    ],
)
def test_machine_dates(text, expected):
    assert parse_machine(text) == expected


def test_a_bare_day_stays_on_its_day_in_utc():
    value = parse_machine("2023-03-12")
    assert value.tzinfo is not None and value.date().isoformat() == "2023-03-12"


@pytest.mark.parametrize("text", ["", "junk", "2023-13-45T10:00:00Z", "99999999999999999999", None])
def test_machine_garbage_is_none(text):
    assert parse_machine(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 mars 2023", "2023-03-12"),
        ("Publicerad 6 mars 2023", "2023-03-06"),
        ("tisdag 14 febr. 2023 kl. 14:30", "2023-02-14"),
        ("1 jan 2023", "2023-01-01"),
        ("31 maj 2022", "2022-05-31"),
        ("2 okt. 2022", "2022-10-02"),
        ("7 sept 2022", "2022-09-07"),
        ("March 12, 2023", "2023-03-12"),
        ("Posted on February 2nd, 2023 at 10:15", "2023-02-02"),
        ("mars 26, 2023", "2023-03-26"),
        ("2023-03-12", "2023-03-12"),
        ("12/3 2023", "2023-03-12"),
        ("12/3-2023", "2023-03-12"),
        ("12.3.2023", "2023-03-12"),
        ("igår kl. 10:15", "2023-04-14"),
        ("i går", "2023-04-14"),
        ("i förrgår", "2023-04-13"),
        ("idag", "2023-04-15"),
        ("3 dagar sedan", "2023-04-12"),
        ("för 2 veckor sedan", "2023-04-01"),
        ("yesterday", "2023-04-14"),
        ("5 days ago", "2023-04-10"),
    ],
)
def test_visible_dates(text, expected):
    assert day(parse_visible(text, NOW)) == expected


def test_time_of_day_is_kept_and_local():
    assert parse_visible("14 februari 2023 kl. 14:30", NOW) == datetime(2023, 2, 14, 13, 30, tzinfo=UTC)
    assert parse_visible("för 2 timmar sedan", NOW) == datetime(2023, 4, 15, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["© 2012–2023 Förskolan", "Vecka 12", "Tel 040-34 10 00", "april 2023", "1234-5678"])
def test_things_that_are_not_dates(text):
    assert parse_visible(text, NOW) is None


def test_relative_dates_need_now():
    assert parse_visible("igår", None) is None


def test_yearless_dates_only_on_request_and_never_in_the_future():
    assert parse_visible("tis 11 apr", NOW) is None
    assert day(parse_visible("tis 11 apr", NOW, yearless=True)) == "2023-04-11"
    assert day(parse_visible("fre 30 dec", NOW, yearless=True)) == "2022-12-30"


def test_find_dates_in_order_of_appearance():
    found = find_dates("Först 2 februari 2023, sedan 2023-03-01 och 5/4 2023.", NOW)
    assert [day(d) for d in found] == ["2023-02-02", "2023-03-01", "2023-04-05"]


def test_implausible():
    assert implausible(datetime(2100, 1, 1, tzinfo=UTC), NOW, 36) == "future"
    assert implausible(datetime(1970, 1, 1, tzinfo=UTC), NOW, 36) == "before 1995"
    assert implausible(datetime(2023, 4, 16, 12, tzinfo=UTC), NOW, 36) is None  # within the skew
    assert implausible(datetime(2023, 4, 17, 12, tzinfo=UTC), NOW, 36) == "future"


def test_from_timestamp_rejects_nonsense():
    assert from_timestamp("abc") is None
    assert from_timestamp(1e20) is None


# 17.5: one bad field never raises; impossible years are refused, not re-read as 2000.
@pytest.mark.parametrize(
    "text",
    [
        "Mon, 01 Jan 99999999999 00:00:00 +0000",  # 0.1: OverflowError, the whole feed lost
        "99999999999-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "Sat, 01 Jan 0000 00:00:00 +0000",  # 0.1: read as 2000-01-01 (email.utils' two-digit years)
        "01 Jan 0000",
        "Mon, 01 Jan 10000 00:00:00 +0000",
    ],
)
def test_impossible_years_are_none(text):
    assert dates.impossible_year(text)
    assert dates.parse_machine(text) is None


@pytest.mark.parametrize(
    "text",
    ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00", "1e400", "-99999999999", "nan", "2023-02-30",
     "2023-03-01T10:00:00+99:00", "\x00" * 10, "9" * 64, "Mon, 32 Jan 2023 00:00:00 +0000"],
)
def test_out_of_range_values_never_raise(text):
    assert dates.parse_machine(text) is None or dates.parse_machine(text).tzinfo is not None
    assert dates.from_timestamp(text) is None or dates.from_timestamp(text).tzinfo is not None


@pytest.mark.parametrize("text", ["Sun, 12 Mar 2023 10:00:00 +0000", "12 Mar 23 10:00 GMT", "2023-03-12", "1678613400",
                                  "2023-03-12T10:00:00Z"])
def test_possible_years_are_not_impossible(text):
    assert not dates.impossible_year(text)
    assert dates.parse_machine(text) is not None
