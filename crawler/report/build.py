"""The arithmetic of the report: pure functions over the store's records (crawler.store.reads).

    build_report(store, baseline, as_of, settings=, every=)  -> model.Report
    pick_snapshot(snapshots, when, tolerance_days, rule)     -> the snapshot standing for a date
    periods(first, last, every)                              -> the dates of a series ("6m", "1m", "2w")

Every definition the report states (crawler.report.figures) is computed here, once.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from crawler import platforms
from crawler.clock import DEFAULT_ZONE, local_zone, to_local, utcnow
from crawler.errors import CrawlerError
from crawler.report.model import AccountAt, Change, Inactive, NoticeRow, Point, Report
from crawler.settings import Settings
from crawler.store import Store, parse_iso

RULES = ("nearest", "before")
DEFAULT_TOLERANCE_DAYS = 8.0
STATUSES = ("active", "dormant", "gone", "unknown")
_EVERY = re.compile(r"^\s*(\d+)\s*([mwdy])\s*$")


# --------------------------------------------------------------------------- dates and snapshots


def parse_when(text: str, zone: str | None = None) -> tuple[datetime, datetime]:
    """The interval a --baseline/--as-of value stands for, in UTC: a whole day of the inventory's
    time zone (YYYY-MM-DD, from local midnight to the next), or one instant (ISO 8601 with a time)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(0), tzinfo=local_zone(zone or DEFAULT_ZONE))
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=start.tzinfo)
            return start.astimezone(timezone.utc), (end - timedelta(microseconds=1)).astimezone(timezone.utc)
        moment = parse_iso(text)
    except ValueError:
        moment = None
    if moment is None:
        raise CrawlerError(f"{text!r} is not a date; write it as YYYY-MM-DD (e.g. 2023-03-01)")
    return moment, moment


def _taken(snap: dict[str, Any]) -> datetime:
    t = snap["taken_at"]
    return parse_iso(t) if isinstance(t, str) else t


def pick_snapshot(snapshots: list[dict[str, Any]], when: str, tolerance_days: float = DEFAULT_TOLERANCE_DAYS,
                  rule: str = "nearest", zone: str | None = None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the snapshot standing for `when`, or None; the nearest snapshot at all, for the message).

    "nearest": a snapshot taken on that day wins (the last of the day), else the nearest within
    `tolerance_days`, ties to the earlier; "before": the latest taken on or before the day, no older
    than `tolerance_days`. Days are the inventory's local days (`zone`)."""
    start, end = parse_when(when, zone)
    tolerance = timedelta(days=tolerance_days)
    best: tuple[timedelta, float, dict[str, Any]] | None = None
    nearest: tuple[timedelta, float, dict[str, Any]] | None = None
    for snap in snapshots:
        taken = _taken(snap)
        if start <= taken <= end:
            distance = timedelta(0)
            order = -taken.timestamp()  # on the day itself: the last one of the day wins
        else:
            distance = start - taken if taken < start else taken - end
            order = 0 if taken < start else 1  # ties go to the earlier snapshot
        key = (distance, order, snap)
        if nearest is None or key[:2] < nearest[:2]:
            nearest = key
        if distance > tolerance or (rule == "before" and taken > end):
            continue
        if best is None or key[:2] < best[:2]:
            best = key
    return (best[2] if best else None), (nearest[2] if nearest else None)


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months (negative: back), the day clamped to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from `earlier` to `later`."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - 1 if add_months(earlier, months) > later else months


def parse_every(text: str) -> tuple[int, str]:
    """ "6m" -> (6, "m"): months (m), weeks (w), days (d) or years (y)."""
    m = _EVERY.match(text or "")
    if not m or int(m.group(1)) == 0:
        raise CrawlerError(f"{text!r} is not a period; write a number and m, w, d or y (6m: every half year)")
    return int(m.group(1)), m.group(2)


def periods(first: date, last: date, every: str) -> list[date]:
    """The dates of a series: `first`, then every period after it up to `last` (and `last` itself)."""
    n, unit = parse_every(every)
    out, k = [], 0
    while True:
        if unit in "my":
            day = add_months(first, k * n * (12 if unit == "y" else 1))
        else:
            day = first + timedelta(days=k * n * (7 if unit == "w" else 1))
        if day > last:
            break
        out.append(day)
        k += 1
    if out[-1] != last:
        out.append(last)
    return out


def local_day(at: datetime, settings: Settings) -> date:
    return to_local(at, settings.timezone).date()


# --------------------------------------------------------------------------- one point


def _snapshot_row(snap) -> dict[str, Any]:
    return asdict(snap)


def accounts_at(store: Store, at: datetime) -> dict[str, AccountAt]:
    """Every account registered at `at` with its status then, from the history tables."""
    return {s.id: AccountAt(s.id, s.unit, s.area, s.platform, s.url, s.status, s.since, s.why)
            for s in store.statuses_at(at)}


def _inactive_since(account: AccountAt, last_post: Any, settings: Settings) -> tuple[date | None, bool]:
    """The day since which an account posted nothing, as far as the crawler can show: its last post
    (an estimate from a post count is an upper bound, so still a safe "since"), else the first reading
    of a post count that has not changed since."""
    if last_post is not None and last_post.at is not None:
        return local_day(last_post.at, settings), False
    why = account.why
    if why is not None and why.kind == "post_count_unchanged" and why.get("since"):
        return date.fromisoformat(why.get("since")), True
    return None, False


def _guideline(point: Point, store: Store, settings: Settings) -> None:
    """The city's guideline at a point: accounts inactive past it, and blogs posting each month."""
    day = local_day(point.at, settings)
    cutoff = add_months(day, -settings.guideline_inactive_months)
    blog_cutoff = add_months(day, -settings.guideline_blog_months)
    told = [a for a in point.accounts.values() if a.status in ("active", "dormant")]
    posts = store.last_posts([a.id for a in told], point.at) if told else {}
    for a in sorted(told, key=lambda a: (natural_key(a.area), natural_key(a.unit), a.id)):
        since, by_count = _inactive_since(a, posts.get(a.id), settings)
        if since is not None and since < cutoff:
            point.past_guideline.append(Inactive(a.id, a.unit, a.area, a.platform, a.url, since, by_count,
                                                 months_between(since, day)))
        platform = platforms.get(a.platform)
        if platform is not None and platform.kind == "blog":
            point.blogs.append(a.id)
            if since is not None and not by_count and since >= blog_cutoff:
                point.blogs_monthly.append(a.id)


def _point(store: Store, requested: str, snapshots: list[dict[str, Any]], settings: Settings,
           tolerance_days: float, rule: str, warm_until: datetime | None) -> Point:
    snap, nearest = pick_snapshot(snapshots, requested, tolerance_days, rule, settings.timezone)
    point = Point(requested=requested, snapshot=snap, nearest=nearest["taken_at"] if nearest else None)
    if snap is None:
        return point
    at = snap["taken_at"]
    point.accounts = accounts_at(store, at)
    point.announced = [i for i in store.announced_accounts(at) if i in point.accounts]
    announced = set(point.announced)
    point.pending = [i for i in store.accounts_with_pending_notices(at) if i in point.accounts and i not in announced]
    for c in store.snapshot_counts(snap["id"]):
        point.counts.setdefault(c.dimension, {}).setdefault(c.key, {})[c.status] = c.count
    point.warmup = warm_until is not None and at < warm_until
    _guideline(point, store, settings)
    return point


def warm_up_end(store: Store, snapshots: list[dict[str, Any]]) -> datetime | None:
    """When the inventory's first weeks end: the first snapshot at which every account registered at
    the first snapshot has been told apart (visited, and not waiting for a second post count or for
    `active_days` to pass since the first one: status unknown with reason "post count N, no post date
    yet"). Snapshots before it are warm-up: their counts say more about the crawler's start than
    about the accounts, and trends leave them out. None: no snapshot was warm-up."""
    if not snapshots:
        return None
    first = {a.id for a in store.statuses_at(snapshots[0]["taken_at"])}
    for snap in snapshots:
        waiting = [a for a in store.statuses_at(snap["taken_at"]) if a.id in first and (
            a.status == "unchecked" or (a.status == "unknown" and a.why is not None
                                        and a.why.kind == "post_count_no_date"))]
        if not waiting:
            return None if snap is snapshots[0] else snap["taken_at"]
    return snapshots[-1]["taken_at"] + timedelta(seconds=1)  # still warming up at the latest snapshot


# --------------------------------------------------------------------------- the report


def build_report(store: Store, baseline: str | None = None, as_of: str | None = None, *,
                 settings: Settings | None = None, tolerance_days: float = DEFAULT_TOLERANCE_DAYS,
                 rule: str = "nearest", every: str | None = None, now: datetime | None = None) -> Report:
    """The board's figures at `baseline` and `as_of` (YYYY-MM-DD; defaults: first and latest snapshot),
    and with `every` ("6m") the figures at each period since the first snapshot."""
    settings = settings or Settings()
    if rule not in RULES:
        raise CrawlerError(f"unknown snapshot rule {rule!r}; use one of {', '.join(RULES)}")
    if every is not None:
        parse_every(every)
    snapshots = [_snapshot_row(s) for s in store.snapshots()]
    if not snapshots:
        raise CrawlerError("the inventory has no snapshot yet: a snapshot is taken at the end of every full "
                           "crawl cycle.\n\nRun `crawler crawl` (all accounts) first.")
    warm_until = warm_up_end(store, snapshots)

    def point(when: str) -> Point:
        return _point(store, when, snapshots, settings, tolerance_days, rule, warm_until)

    base = point(baseline or snapshots[0]["taken_at"].isoformat())
    last = point(as_of or snapshots[-1]["taken_at"].isoformat())
    if base.available and last.available and last.at < base.at:
        raise CrawlerError(f"the as-of date ({local_day(last.at, settings)}) lies before the baseline "
                           f"({local_day(base.at, settings)}); swap --baseline and --as-of")
    notes: list[dict[str, Any]] = []
    for name, p in (("baseline", base), ("as_of", last)):
        if not p.available:
            continue
        for status in (*STATUSES, "unchecked"):
            history, counted = len(p.ids(status)), int(p.snapshot[status])
            if history != counted:
                notes.append({"point": name, "status": status, "counted": counted, "history": history})
    both = base.available and last.available
    cohort = _cohort(base, last) if both else None
    changes = _changes(store, base, last) if both else []
    until = last.at or snapshots[-1]["taken_at"]
    timeline = [_light(s, warm_until) for s in snapshots if s["taken_at"] <= until]
    if every is None:
        series = timeline
    else:
        first_day = local_day(snapshots[0]["taken_at"], settings)
        last_day = local_day(until, settings)
        series = [point(d.isoformat()) for d in periods(first_day, last_day, every)]
        seen: set[int] = set()
        series = [p for p in series if p.available and not (p.snapshot["id"] in seen or seen.add(p.snapshot["id"]))]
    notices = _notices(store, until)
    return Report(base, last, tolerance_days, rule, now or utcnow(), store.path, cohort, changes, series, every,
                  notices, _settings_shown(settings), notes, timeline, warm_until)


def _light(snap: dict[str, Any], warm_until: datetime | None) -> Point:
    """A snapshot as a point of the chart: its own counts only."""
    return Point(requested=snap["taken_at"].isoformat(), snapshot=snap,
                 warmup=warm_until is not None and snap["taken_at"] < warm_until)


def _settings_shown(settings: Settings) -> dict[str, Any]:
    """The settings the definitions name (written into the report, so a reader knows the rules)."""
    names = ("active_days", "gone_after", "gone_min_hours", "unknown_after", "guideline_inactive_months",
             "guideline_blog_months", "launch_date", "timezone")
    return {n: getattr(settings, n) for n in names}


def _cohort(base: Point, last: Point) -> dict[str, Any]:
    """Of the accounts active at the baseline: which are no longer active, and which announced."""
    active = base.ids("active")
    after = {i: (last.accounts[i].status if i in last.accounts else "deregistered") for i in active}
    stopped = sorted(i for i, s in after.items() if s != "active")
    by_status: dict[str, list[str]] = {}
    for i in stopped:
        by_status.setdefault(after[i], []).append(i)
    announced, pending = set(last.announced), set(last.pending)
    became = sorted(i for i, a in last.accounts.items()
                    if a.status == "active" and (i not in base.accounts or base.accounts[i].status != "active"))
    return {
        "active_at_baseline": active,
        "no_longer_active": stopped,
        "no_longer_active_by_status": by_status,
        "announced": [i for i in stopped if i in announced],
        "pending_review": [i for i in stopped if i in pending],
        "became_active": became,
    }


_CHANGE_ORDER = {s: n for n, s in enumerate(("gone", "dormant", "unknown", "deregistered", "unchecked", "active"))}


def _changes(store: Store, base: Point, last: Point) -> list[Change]:
    moved = []
    for i in sorted(set(base.accounts) | set(last.accounts)):
        old = base.accounts[i].status if i in base.accounts else "unregistered"
        new = last.accounts[i].status if i in last.accounts else "deregistered"
        if old != new:
            moved.append((i, old, new))
    changed = [i for i, _, _ in moved]
    posts = store.last_posts(changed, last.at) if changed else {}
    notices = store.evidence_notices(changed, last.at) if changed else {}
    out = []
    for i, old, new in moved:
        a = last.accounts.get(i) or base.accounts[i]
        post = posts.get(i)
        n = notices.get(i)
        notice = None if n is None else {"id": n.id, "state": n.state, "kind": n.decided_kind or n.kind,
                                         "post_url": n.post_url, "published_at": n.published_at,
                                         "detected_at": n.detected_at, "snippet": n.snippet}
        current = i in last.accounts
        out.append(Change(a.id, a.unit, a.area, a.platform, a.url, old, new, a.since if current else None,
                          a.why if current else None, post.at if post else None,
                          bool(post and post.estimated), notice))
    return sorted(out, key=lambda c: (_CHANGE_ORDER.get(c.new, 9), natural_key(c.area), natural_key(c.unit), c.id))


def _notices(store: Store, until: datetime) -> list[NoticeRow]:
    """Confirmed notices detected by `until`: moves to Tempus Hemma, closings, moves elsewhere."""
    rows = [NoticeRow(n.account_id, n.unit, n.area, n.platform, n.decided_kind or n.kind, n.detected_at,
                      n.published_at, n.snippet, n.link)
            for n in store.notices("confirmed") if n.detected_at <= until]
    return sorted(rows, key=lambda r: (r.kind, natural_key(r.area), natural_key(r.unit), r.account_id))


# --------------------------------------------------------------------------- ordering

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str | None) -> tuple:
    """Sort key that reads numbers as numbers: "Område 2" before "Område 10"; case and å/ä/ö as in
    Swedish (after z)."""
    parts = _DIGITS.split((text or "").casefold())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.translate(_SWEDISH)) for p in parts if p != "")


_SWEDISH = str.maketrans({"å": "{", "ä": "|", "ö": "}", "æ": "|", "ø": "}"})  # after z, in Swedish order
