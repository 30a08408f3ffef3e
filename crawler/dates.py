"""Dates as feeds and pages write them, turned into timezone-aware UTC datetimes.

Owns: machine dates (ISO 8601, RFC 822, unix timestamps), visible dates in Swedish and English
("12 mars 2023", "tisdag 14 febr. 2023 kl. 14:30", "March 12, 2023", "2023-03-12", "12/3 2023"),
relative dates ("igår", "i förrgår", "3 dagar sedan", "2 hours ago") resolved against a `now`
that the caller passes in, the plausibility rule (not too far in the future, not before 1995), and
`generic_page_day`: htmldate (the field's library) for a page whose posts our readers cannot find.

Naive times are Europe/Stockholm. A date without a time of day becomes 12:00 Stockholm time, so
that its UTC value falls on the same calendar day as the date that was written.
Pure: no clock, no I/O; regexes are compiled once at import (htmldate is imported on first use:
it costs ~0.3 s and is needed only for pages without recognisable posts).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from crawler.clock import local_zone

STOCKHOLM = local_zone()  # the inventory's local time zone (crawler.clock)

EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)  # no preschool blogged before this: older dates are junk
NOON = 12

# Month names and abbreviations, Swedish and English, lower case, without a trailing dot.
_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("januari", "jan", "january"),
        ("februari", "feb", "febr", "february"),
        ("mars", "mar", "march"),
        ("april", "apr"),
        ("maj", "may"),
        ("juni", "jun", "june"),
        ("juli", "jul", "july"),
        ("augusti", "aug", "august"),
        ("september", "sep", "sept"),
        ("oktober", "okt", "oct", "october"),
        ("november", "nov"),
        ("december", "dec"),
    ),
    start=1,
):
    for _name in _names:
        _MONTHS[_name] = _number

# Longest first so that "mars" is not read as "mar" + "s" and "februari" not as "feb".
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_TIME = r"(?:,?\s*(?:kl\.?|klockan|at|@)?\s*(?P<hh>[01]?\d|2[0-3])[:.](?P<mi>[0-5]\d)(?![\d]))?"

_DAY_MONTH_YEAR = re.compile(
    rf"(?<![\w-])(?P<d>[0-3]?\d)(?::e|:a|e|st|nd|rd|th)?\.?\s+(?P<m>{_MONTH_RE})\.?,?\s+(?P<y>(?:19|20)\d\d)(?!\d)"
    + _TIME,
    re.IGNORECASE,
)
_MONTH_DAY_YEAR = re.compile(
    rf"(?<![\w-])(?P<m>{_MONTH_RE})\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d\d)(?!\d)" + _TIME,
    re.IGNORECASE,
)
_DAY_MONTH = re.compile(
    rf"(?<![\w-])(?P<d>[0-3]?\d)(?::e|:a|e)?\.?\s+(?P<m>{_MONTH_RE})\b\.?(?!\s*(?:19|20)\d\d)" + _TIME,
    re.IGNORECASE,
)
_ISO_DAY = re.compile(
    r"(?<![\d/.-])(?P<y>(?:19|20)\d\d)-(?P<mo>[01]?\d)-(?P<d>[0-3]?\d)(?![\d])"
    r"(?:[T ](?P<hh>[01]\d|2[0-3])[:.](?P<mi>[0-5]\d))?"
)
# Swedish numeric dates put the day first: "12/3 2023", "12/3-2023", "12.3.2023", "12/03/2023".
_NUMERIC_DAY = re.compile(
    r"(?<![\d/.-])(?P<d>[0-3]?\d)[/.](?P<mo>[01]?\d)(?:[/.]|\s+|\s*-\s*)(?P<y>(?:19|20)\d\d)(?!\d)" + _TIME
)

_NUMBER_WORDS = {
    "en": 1, "ett": 1, "one": 1, "a": 1, "an": 1, "två": 2, "two": 2, "tre": 3, "three": 3,
    "fyra": 4, "four": 4, "fem": 5, "five": 5, "sex": 6, "six": 6, "sju": 7, "seven": 7,
}
_UNIT_SECONDS = {
    "sekund": 1, "sekunder": 1, "second": 1, "seconds": 1, "sec": 1, "s": 1,
    "minut": 60, "minuter": 60, "minute": 60, "minutes": 60, "min": 60, "m": 60,
    "timme": 3600, "timmar": 3600, "tim": 3600, "hour": 3600, "hours": 3600, "h": 3600, "t": 3600,
    "dag": 86400, "dagar": 86400, "dygn": 86400, "day": 86400, "days": 86400, "d": 86400,
    "vecka": 604800, "veckor": 604800, "week": 604800, "weeks": 604800, "v": 604800, "w": 604800,
    "månad": 2592000, "månader": 2592000, "month": 2592000, "months": 2592000,
    "år": 31536000, "year": 31536000, "years": 31536000,
}
_AGO = re.compile(
    r"(?<!\w)(?:för\s+)?(?P<n>\d{1,3}|en|ett|två|tre|fyra|fem|sex|sju|one|two|three|four|five|six|seven|an?)\s*"
    r"(?P<u>sekunder|sekund|minuter|minut|timmar|timme|tim|dagar|dag|dygn|veckor|vecka|månader|månad|år|"
    r"seconds|second|minutes|minute|hours|hour|days|day|weeks|week|months|month|years|year)\s+"
    r"(?:sedan|since|ago)\b",
    re.IGNORECASE,
)
_YESTERDAY = re.compile(r"(?<!\w)(?:i\s*går|yesterday)(?!\w)" + _TIME, re.IGNORECASE)
_DAY_BEFORE = re.compile(r"(?<!\w)i\s*förrgår(?!\w)" + _TIME, re.IGNORECASE)
_TODAY = re.compile(r"(?<!\w)(?:i\s*dag|idag|today)(?!\w)" + _TIME, re.IGNORECASE)

_ISO_FIX_TZ = re.compile(r"([+-]\d\d)(\d\d)$")
_ISO_MACHINE = re.compile(r"^\s*\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?)?\s*(?:Z|z|UTC|[+-]\d\d:?\d\d)?\s*$")
_UNIX = re.compile(r"^\s*(\d{10})(?:\d{3})?(?:\.\d+)?\s*$")
# A machine date whose year no calendar holds: year 0000 (email.utils reads it as 2000) or more
# than four digits (datetime overflows), in ISO ("0000-01-01", "99999999999-01-01") or RFC 822
# ("Sat, 01 Jan 0000", "01 Jan 99999999999") order.
_IMPOSSIBLE_YEAR = re.compile(
    r"^\s*(?:[+-]?(?:0000|\d{5,})-\d|(?:[A-Za-z]{2,9}\.?,?\s*)?\d{1,2}\s+[A-Za-z]{3,9}\.?,?\s+(?:0000|\d{5,})(?!\d))"
)


def to_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive value is taken as Europe/Stockholm local time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=STOCKHOLM)
    return value.astimezone(UTC)


def local_day(year: int, month: int, day: int, hour: int | None = None, minute: int | None = None) -> datetime | None:
    """A Stockholm calendar date (at noon unless a time is given) in UTC, or None if invalid."""
    try:
        return datetime(year, month, day, NOON if hour is None else hour, minute or 0, tzinfo=STOCKHOLM).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def from_timestamp(value: float | int | str) -> datetime | None:
    """A unix timestamp (seconds, or milliseconds when 13 digits) in UTC, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:  # milliseconds
        number /= 1000.0
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def impossible_year(text: str | None) -> bool:
    """Whether a machine date names a year that cannot exist (0000, or five digits and more)."""
    return bool(text) and len(text) <= 64 and _IMPOSSIBLE_YEAR.match(text) is not None


def parse_machine(text: str | None) -> datetime | None:
    """A machine-written date (ISO 8601, RFC 822/1123, unix seconds) in UTC, or None.

    Never raises: an impossible year or an out-of-range value is None (see `impossible_year`).
    """
    if not text:
        return None
    text = text.strip()
    if not text or len(text) > 64 or impossible_year(text):
        return None
    if _ISO_MACHINE.match(text):
        if len(text) == 10:  # a bare day: noon, so the UTC value stays on that day
            return local_day(int(text[:4]), int(text[5:7]), int(text[8:10]))
        iso = text.replace(" UTC", "Z").replace("UTC", "Z").replace(",", ".")
        iso = _ISO_FIX_TZ.sub(r"\1:\2", iso)
        try:
            return to_utc(datetime.fromisoformat(iso))
        except (ValueError, OverflowError):  # 9999-12-31T23:00-05:00 is past datetime.max in UTC
            return None
    unix = _UNIX.match(text)
    if unix:
        return from_timestamp(text)
    if text[:1].isalpha() or text[:1].isdigit():
        try:
            value = parsedate_to_datetime(text)
            # RFC 5322 "-0000" is UTC without a claim about the sender's zone (parsedate gives a
            # naive value for it); a date without any zone is local time.
            if value is not None and value.tzinfo is None and text.rstrip().endswith("-0000"):
                value = value.replace(tzinfo=UTC)
            if value is not None:
                return to_utc(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    # Sloppy machine dates ("2023-03-12 10:00:00 +0100" with odd spacing, "12 Mar 2023") fall
    # through to the visible-date reader without relative forms (there is no `now` here).
    return parse_visible(text, None)


def _int(group: str | None) -> int | None:
    return int(group) if group is not None else None


def _relative(text: str, now: datetime) -> datetime | None:
    local_now = now.astimezone(STOCKHOLM)
    for pattern, days in ((_DAY_BEFORE, 2), (_YESTERDAY, 1), (_TODAY, 0)):
        m = pattern.search(text)
        if m:
            day = local_now - timedelta(days=days)
            return local_day(day.year, day.month, day.day, _int(m.group("hh")), _int(m.group("mi")))
    m = _AGO.search(text)
    if m:
        raw = m.group("n").lower()
        count = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 1)
        seconds = count * _UNIT_SECONDS[m.group("u").lower()]
        value = now.astimezone(UTC) - timedelta(seconds=seconds)
        if seconds >= 86400:  # "3 dagar sedan" names a day, not an instant: keep the day at noon
            local = value.astimezone(STOCKHOLM)
            return local_day(local.year, local.month, local.day)
        return value
    return None


def find_dates(text: str, now: datetime | None, *, yearless: bool = False) -> list[datetime]:
    """Every visible date in `text`, in order of appearance, in UTC.

    Relative dates need `now` (skipped when it is None). `yearless` also reads "12 mars" without
    a year (only sensible inside an element that is known to hold a date), taking the latest such
    day that is not after `now`.
    """
    found: list[tuple[int, datetime]] = []
    taken: list[tuple[int, int]] = []

    def overlaps(span: tuple[int, int]) -> bool:
        return any(span[0] < end and start < span[1] for start, end in taken)

    def add(m: re.Match, value: datetime | None) -> None:
        if value is not None and not overlaps(m.span()):
            taken.append(m.span())
            found.append((m.start(), value))

    for m in _DAY_MONTH_YEAR.finditer(text):
        add(m, local_day(int(m["y"]), _MONTHS[m["m"].lower()], int(m["d"]), _int(m["hh"]), _int(m["mi"])))
    for m in _MONTH_DAY_YEAR.finditer(text):
        add(m, local_day(int(m["y"]), _MONTHS[m["m"].lower()], int(m["d"]), _int(m["hh"]), _int(m["mi"])))
    for m in _ISO_DAY.finditer(text):
        add(m, local_day(int(m["y"]), int(m["mo"]), int(m["d"]), _int(m["hh"]), _int(m["mi"])))
    for m in _NUMERIC_DAY.finditer(text):
        add(m, local_day(int(m["y"]), int(m["mo"]), int(m["d"]), _int(m["hh"]), _int(m["mi"])))
    if now is not None:
        if yearless:
            local_now = now.astimezone(STOCKHOLM)
            for m in _DAY_MONTH.finditer(text):
                month, day = _MONTHS[m["m"].lower()], int(m["d"])
                value = local_day(local_now.year, month, day, _int(m["hh"]), _int(m["mi"]))
                if value is not None and value > now + timedelta(days=1):
                    value = local_day(local_now.year - 1, month, day, _int(m["hh"]), _int(m["mi"]))
                add(m, value)
        if not found:
            relative = _relative(text, now)
            if relative is not None:
                found.append((0, relative))
    found.sort(key=lambda pair: pair[0])
    return [value for _, value in found]


def parse_visible(text: str | None, now: datetime | None, *, yearless: bool = False) -> datetime | None:
    """The first visible date in `text` (see find_dates), or None."""
    if not text:
        return None
    dates = find_dates(text[:2000], now, yearless=yearless)
    return dates[0] if dates else None


def implausible(value: datetime, now: datetime, future_skew_hours: float) -> str | None:
    """Why `value` cannot be a post date ("future", "before 1995"), or None when it can."""
    if value > now + timedelta(hours=future_skew_hours):
        return "future"
    if value < EARLIEST:
        return "before 1995"
    return None


def generic_page_day(html: str, url: str | None, now: datetime) -> datetime | None:
    """The page's newest date as htmldate reads it (noon of that Stockholm day, in UTC), or None.

    For pages where no post, page metadata or date element of ours gives a date (issue 13: measured
    on tests/fixtures/real, docs/ACCURACY.md). htmldate's settings: `original_date=False` (the
    newest date it trusts, not the oldest: its default picks the first post of a listing) and
    `extensive_search=False` (its free-text search takes any date string; `find_dates` over the
    page's text comes after it instead, newest first). Dates in the URL count (a post's permalink).
    Never raises: a library failure on a hostile page is no date.
    """
    try:
        from htmldate import find_date
    except ImportError:  # a dependency, but the crawler still reads pages without it
        return None
    latest = now.astimezone(STOCKHOLM).date()
    try:
        found = find_date(html, url=url, extensive_search=False, original_date=False,
                          outputformat="%Y-%m-%d", min_date="1995-01-01", max_date=latest.isoformat())
    except Exception:  # noqa: BLE001 - htmldate or lxml on a page that breaks them: no date, never a crash
        return None
    if not found or len(found) != 10:
        return None
    return local_day(int(found[:4]), int(found[5:7]), int(found[8:10]))
