"""Crontab lines: parsed by APScheduler (as the service runs them), with crontab's weekday numbers.

    cron_trigger(expr, jitter, tz) -> CronTrigger   what the service schedules
    problem(expr) -> str | None                      why a line is refused (settings validation)
    gaps(expr, tz) -> (shortest, longest) | None     the waits between two runs over a year

Only this module and crawler/service.py import APScheduler.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.triggers.cron import CronTrigger

_CRONTAB_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EXAMPLE = "minute hour day month weekday, e.g. '0 2 * * *' for 02:00 every day"


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field with numbers (0 and 7 = Sunday) turned into day names.

    APScheduler 3 numbers weekdays from Monday (0 = Monday) and from_crontab passes the field
    through unchanged, so "30 4 * * 0" would run on Mondays; names mean the same to both.
    """
    out = []
    for token in field.split(","):
        base, _, step = token.partition("/")
        if base == "*" and step:  # "*/2" counts from Sunday in crontab
            out.extend(_CRONTAB_DAYS[d] for d in range(0, 7, int(step)))
            continue
        if not any(c.isdigit() for c in base):  # "*", "mon-fri": the same in both
            out.append(token)
            continue
        first, _, last = base.partition("-")
        lo, hi = int(first), int(last or (6 if step else first))
        if not (0 <= lo <= 7 and 0 <= hi <= 7 and lo <= hi):
            raise ValueError(f"day of week {token!r} is out of range 0-7")
        out.extend(dict.fromkeys(_CRONTAB_DAYS[d] for d in range(lo, hi + 1, int(step or 1))))
    return ",".join(dict.fromkeys(",".join(out).split(",")))


def cron_trigger(expr: str, jitter: int | None = None, tz: Any = None) -> CronTrigger:
    """A CronTrigger from a crontab line (standard weekday numbers), with `jitter` seconds of delay."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"a crontab line has 5 fields, this one has {len(fields)}")
    fields[4] = crontab_weekdays(fields[4])
    trigger = CronTrigger.from_crontab(" ".join(fields), timezone=tz)
    # from_crontab takes no jitter argument; the attribute is what the trigger reads.
    trigger.jitter = jitter or None
    return trigger


def _fires(expr: str, tz: tzinfo, limit: int = 400) -> list[datetime]:
    trigger = cron_trigger(expr, None, tz)
    start = datetime(2026, 1, 1, tzinfo=tz)
    end = start + timedelta(days=366)
    fires: list[datetime] = []
    at = start
    while len(fires) < limit:
        nxt = trigger.get_next_fire_time(None, at)
        if nxt is None or nxt > end:
            break
        fires.append(nxt)
        at = (nxt.astimezone(UTC) + timedelta(seconds=1)).astimezone(tz)  # local arithmetic drops a DST fold
    return fires


def problem(expr: str) -> str | None:
    """Why `expr` cannot schedule anything (not a crontab line, or it never runs), or None."""
    try:
        trigger = cron_trigger(expr, None, UTC)
    except (ValueError, TypeError) as exc:
        return f"{expr!r} is not a crontab line ({_EXAMPLE}): {exc}"
    if trigger.get_next_fire_time(None, datetime(2026, 1, 1, tzinfo=UTC)) is None:
        return f"{expr!r} never runs (no date matches it)"
    return None


def gaps(expr: str, tz: tzinfo) -> tuple[timedelta, timedelta] | None:
    """The shortest and longest time between two consecutive runs over a year (at most 400 runs
    from 2026-01-01), or None when it runs less than twice."""
    fires = _fires(expr, tz)
    if len(fires) < 2:
        return None
    # APScheduler fires again in the repeated hour when DST ends (02:00 CEST, then 02:00 CET): that
    # repeat is not the schedule the operator wrote, so it does not count as a shorter wait.
    fires = [f for i, f in enumerate(fires) if i == 0 or f.replace(tzinfo=None) != fires[i - 1].replace(tzinfo=None)]
    instants = [f.astimezone(UTC) for f in fires]  # local subtraction ignores a DST fold
    between = [b - a for a, b in zip(instants, instants[1:], strict=False)]
    return min(between), max(between)
