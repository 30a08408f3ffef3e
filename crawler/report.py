"""Board and analyst reports over the inventory: figures between two dates.

    store (snapshots, snapshot_counts, status_changes, registry_changes, notices)
      -> build_report(store, baseline, as_of)  -> Report (plain data, every figure with its rows)
      -> render(report, fmt, lang)             -> Markdown | CSV | JSON | self-contained HTML (SVG chart)

The inventory export is crawler/export.py, Datasette (`crawler browse`) crawler/browse.py.

Definitions (also written into the JSON output, so every figure traces back to rows):

- The point in time used for a DATE is a snapshot (one per full crawl cycle). With the default rule
  "nearest", a snapshot taken on that day wins (the last of the day), else the snapshot nearest the
  day within `tolerance_days`, ties to the earlier; with "before", the latest snapshot taken on or
  before the day, no older than `tolerance_days`. No such snapshot: the figures of that point are
  reported as not available, with the nearest snapshot there is, never as zero.
- Counts by status, registered, existing (registered and not gone) and pending review are the
  snapshot's own columns (snapshot_counts for the breakdowns).
- An account's status at a point is the `new` of its last status_changes row at or before the
  snapshot's taken_at, among the accounts registered then (registry_changes); the lists of ids come
  from there and agree with the snapshot's counts (a disagreement is written in the notes).
- "Announced the move" at a point: the account has a notice that is confirmed today (so a review made
  after the date counts for it) and whose detected_at is at or before the snapshot's taken_at. The
  crawler's detection time is used rather than the post's published_at, which comes from the web
  and can be missing or wrong; published_at is shown as evidence.

SQL lives in crawler.store: this module asks its named reads (records with datetimes) and keeps
times as ISO text itself. Every web-sourced string
(units, reasons, snippets, URLs) is escaped for the format it is written into.
"""

from __future__ import annotations

import html
import json
import re
import string
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from crawler.clock import day_text, utcnow
from crawler.errors import CrawlerError
from crawler.export import csv_text
from crawler.store import Store, iso, parse_iso
from crawler.store.records import Snapshot

FORMATS = ("md", "csv", "json", "html")
LANGS = ("en", "sv")
RULES = ("nearest", "before")
DEFAULT_TOLERANCE_DAYS = 8.0
SERIES = ("active", "dormant", "gone", "unknown")

# The figures of each point, in the order they are shown.
FIGURES = ("registered", "existing", "active", "dormant", "gone", "unknown", "unchecked", "announced",
           "pending_review")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Preschool social-media accounts: inventory report",
        "registered": "Accounts registered",
        "existing": "Accounts existing (not gone)",
        "active": "Active",
        "dormant": "Dormant",
        "gone": "Gone",
        "unknown": "Unknown status",
        "unchecked": "Not yet checked",
        "deregistered": "Deregistered",
        "unregistered": "Not yet registered",
        "announced": "Announced the move to Tempus Hemma",
        "pending_review": "Pending review",
        "figure": "Figure",
        "baseline": "Baseline",
        "as_of": "As of",
        "change": "Change",
        "requested": "requested",
        "snapshot": "snapshot",
        "not_available": "not available",
        "no_snapshot": "no snapshot within {days} days of {date} (nearest: {nearest})",
        "no_snapshot_none": "no snapshot in the inventory",
        "cohort_title": "Accounts active at the baseline",
        "cohort": ("Of the {active} accounts active at the baseline, {stopped} are no longer active as of "
                   "{as_of} ({parts}); {announced} of them announced the move to Tempus Hemma."),
        "cohort_pending": "{pending} more of them have a notice awaiting review.",
        "became_active": "{became} accounts not active at the baseline are active as of {as_of}.",
        "by_platform": "By platform",
        "by_area": "By area",
        "platform": "Platform",
        "area": "Area",
        "total": "Total",
        "changes_title": "Accounts whose status changed",
        "no_changes": "No account changed status between the two dates.",
        "id": "Id",
        "unit": "Unit",
        "old_new": "Old → new",
        "since": "Since",
        "last_post": "Last post",
        "estimated": "estimated",
        "reason": "Reason",
        "notice": "Notice",
        "chart_title": "Accounts by status over time (one point per crawl snapshot)",
        "chart_x": "Date of the crawl snapshot",
        "chart_y": "Accounts",
        "definitions": "Definitions",
        "def_snapshot": ("Each date is read from the crawl snapshot {rule_text} (within {days} days). "
                         "Status counts are the snapshot's; per-account statuses are the last status "
                         "change at or before the snapshot."),
        "rule_nearest": "nearest to it",
        "rule_before": "taken on or before it",
        "def_announced": ("Announced the move: the account has a notice confirmed by a reviewer and detected "
                          "by the crawler at or before the snapshot."),
        "generated": "Generated {now} from {db}.",
        "notes": "Notes",
        "state_confirmed": "confirmed",
        "state_pending": "pending review",
    },
    "sv": {
        "title": "Förskolornas konton i sociala medier: inventeringsrapport",
        "registered": "Registrerade",
        "existing": "Finns kvar",
        "active": "Aktiva",
        "dormant": "Vilande",
        "gone": "Borttagna",
        "unknown": "Okänd status",
        "unchecked": "Ej kontrollerade än",
        "deregistered": "Avregistrerade",
        "unregistered": "Ej registrerade än",
        "announced": "Meddelat flytt till Tempus Hemma",
        "pending_review": "Väntar på granskning",
        "figure": "Mått",
        "baseline": "Utgångsläge",
        "as_of": "Läge per",
        "change": "Förändring",
        "requested": "begärt",
        "snapshot": "ögonblicksbild",
        "not_available": "kan inte beräknas",
        "no_snapshot": "ingen ögonblicksbild inom {days} dagar från {date} (närmaste: {nearest})",
        "no_snapshot_none": "inventeringen har ingen ögonblicksbild",
        "cohort_title": "Konton som var aktiva vid utgångsläget",
        "cohort": ("Av de {active} konton som var aktiva vid utgångsläget är {stopped} inte längre aktiva per "
                   "{as_of} ({parts}); {announced} av dem har meddelat flytt till Tempus Hemma."),
        "cohort_pending": "Ytterligare {pending} av dem har ett meddelande som väntar på granskning.",
        "became_active": "{became} konton som inte var aktiva vid utgångsläget är aktiva per {as_of}.",
        "by_platform": "Per plattform",
        "by_area": "Per område",
        "platform": "Plattform",
        "area": "Område",
        "total": "Totalt",
        "changes_title": "Konton som bytt status",
        "no_changes": "Inget konto bytte status mellan de två datumen.",
        "id": "Id",
        "unit": "Enhet",
        "old_new": "Före → efter",
        "since": "Sedan",
        "last_post": "Senaste inlägg",
        "estimated": "uppskattat",
        "reason": "Skäl",
        "notice": "Meddelande",
        "chart_title": "Konton per status över tid (en punkt per ögonblicksbild)",
        "chart_x": "Datum för ögonblicksbilden",
        "chart_y": "Konton",
        "definitions": "Definitioner",
        "def_snapshot": ("Varje datum läses från den ögonblicksbild {rule_text} (inom {days} dagar). "
                         "Antalen per status är ögonblicksbildens; varje kontos status är den senaste "
                         "statusändringen före eller vid ögonblicksbilden."),
        "rule_nearest": "som ligger närmast",
        "rule_before": "som togs samma dag eller tidigare",
        "def_announced": ("Meddelat flytt: kontot har ett meddelande som en granskare har bekräftat och som "
                          "crawlern upptäckte före eller vid ögonblicksbilden."),
        "generated": "Skapad {now} från {db}.",
        "notes": "Anmärkningar",
        "state_confirmed": "bekräftat",
        "state_pending": "väntar på granskning",
    },
}

STATUS_WORDS = {
    "en": {"active": "active", "dormant": "dormant", "gone": "gone", "unknown": "unknown",
           "unchecked": "unchecked", "deregistered": "deregistered", "unregistered": "not yet registered"},
    "sv": {"active": "aktiv", "dormant": "vilande", "gone": "borttagen", "unknown": "okänd",
           "unchecked": "ej kontrollerad", "deregistered": "avregistrerad", "unregistered": "ej registrerat än"},
}

# SQL-level definitions written into the JSON output next to each figure.
DEFINITIONS = {
    "registered": "snapshots.registered: accounts in the registry (deregistered_at IS NULL) when the snapshot was taken",
    "existing": "snapshots.existing = registered - gone",
    "active": "snapshots.active; ids: last status_changes.new at or before snapshots.taken_at = 'active'",
    "dormant": "snapshots.dormant; ids: last status_changes.new at or before snapshots.taken_at = 'dormant'",
    "gone": "snapshots.gone; ids: last status_changes.new at or before snapshots.taken_at = 'gone'",
    "unknown": "snapshots.unknown; ids: last status_changes.new at or before snapshots.taken_at = 'unknown'",
    "unchecked": "snapshots.unchecked: registered accounts without any status_changes row yet",
    "announced": ("accounts registered at snapshots.taken_at with a notice in view announcing_notices "
                  "(confirmed today as a move to Tempus Hemma) and detected_at <= snapshots.taken_at"),
    "pending_review": "snapshots.pending_review: notices in state 'pending' when the snapshot was taken",
}


@dataclass(frozen=True)
class AccountAt:
    """One registered account's status at a point, from its status history."""

    id: str
    unit: str
    area: str
    platform: str
    url: str
    status: str  # active | dormant | gone | unknown | unchecked
    since: str | None
    reason: str | None


@dataclass
class Point:
    """One end of the comparison: the date asked for and the snapshot that stands for it."""

    requested: str
    snapshot: dict[str, Any] | None = None
    nearest: str | None = None  # when no snapshot fits: taken_at of the nearest one there is
    accounts: dict[str, AccountAt] = field(default_factory=dict)
    announced: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # accounts with a notice pending then
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # dimension -> key -> status

    @property
    def available(self) -> bool:
        return self.snapshot is not None

    @property
    def at(self) -> str | None:
        return self.snapshot["taken_at"] if self.snapshot else None

    def value(self, figure: str) -> int | None:
        if self.snapshot is None:
            return None
        if figure == "announced":
            return len(self.announced)
        return int(self.snapshot[figure])

    def ids(self, status: str) -> list[str]:
        return sorted(i for i, a in self.accounts.items() if a.status == status)


@dataclass(frozen=True)
class Change:
    """An account whose status differs between the two points, with the evidence."""

    id: str
    unit: str
    area: str
    platform: str
    url: str
    old: str
    new: str
    since: str | None
    reason: str | None
    last_post_at: str | None
    last_post_estimated: bool
    notice: dict[str, Any] | None


@dataclass
class Report:
    """Everything a report shows, as data; the renderers only format it."""

    baseline: Point
    as_of: Point
    tolerance_days: float
    rule: str
    generated_at: str
    db: str
    cohort: dict[str, Any] | None
    changes: list[Change]
    series: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- dates and snapshots


def parse_when(text: str) -> tuple[datetime, datetime]:
    """The interval a --baseline/--as-of value stands for: a whole UTC day, or one instant."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(0), tzinfo=timezone.utc)
            return start, start + timedelta(days=1) - timedelta(seconds=1)
        moment = parse_iso(text)
    except ValueError:
        moment = None
    if moment is None:
        raise CrawlerError(f"{text!r} is not a date; write it as YYYY-MM-DD (e.g. 2023-03-01)")
    return moment, moment


def pick_snapshot(snapshots: list[dict[str, Any]], when: str, tolerance_days: float = DEFAULT_TOLERANCE_DAYS,
                  rule: str = "nearest") -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the snapshot standing for `when`, or None; the nearest snapshot at all, for the message)."""
    start, end = parse_when(when)
    tolerance = timedelta(days=tolerance_days)
    best: tuple[timedelta, float, dict[str, Any]] | None = None
    nearest: tuple[timedelta, float, dict[str, Any]] | None = None
    for snap in snapshots:
        taken = parse_iso(snap["taken_at"])
        if start <= taken <= end:
            # on the day itself: the last one of the day wins
            distance = timedelta(0)
            order = -taken.timestamp()
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


# --------------------------------------------------------------------------- reading the store


def accounts_at(store: Store, at: str) -> dict[str, AccountAt]:
    """Every account registered at `at` (ISO text) with its status then, from the history tables."""
    return {s.id: AccountAt(s.id, s.unit, s.area, s.platform, s.url, s.status, iso(s.since), s.reason)
            for s in store.statuses_at(parse_iso(at))}


def _snapshot_row(snap: Snapshot) -> dict[str, Any]:
    """A snapshot as the report keeps it (and writes it into the JSON output): its columns, times as text."""
    return {**asdict(snap), "taken_at": iso(snap.taken_at)}


def _point(store: Store, requested: str, snapshots: list[dict[str, Any]], tolerance_days: float,
           rule: str) -> Point:
    snap, nearest = pick_snapshot(snapshots, requested, tolerance_days, rule)
    point = Point(requested=requested, snapshot=snap, nearest=nearest["taken_at"] if nearest else None)
    if snap is None:
        return point
    at = snap["taken_at"]
    point.accounts = accounts_at(store, at)
    point.announced = [i for i in store.announced_accounts(parse_iso(at)) if i in point.accounts]
    point.pending = [i for i in store.accounts_with_pending_notices(parse_iso(at)) if i in point.accounts]
    for c in store.snapshot_counts(snap["id"]):
        point.counts.setdefault(c.dimension, {}).setdefault(c.key, {})[c.status] = c.count
    return point


def _last_posts(store: Store, ids: list[str], at: str) -> dict[str, tuple[str | None, bool]]:
    """The newest post date known at `at` per account, and whether it is an estimate."""
    return {i: (iso(p.at), p.estimated) for i, p in store.last_posts(ids, parse_iso(at)).items()} if ids else {}


def _evidence_notices(store: Store, ids: list[str], at: str) -> dict[str, dict[str, Any]]:
    """Per account the notice to show: confirmed before pending, then the earliest detected."""
    if not ids:
        return {}
    return {i: {"id": n.id, "account_id": n.account_id, "state": n.state, "post_url": n.post_url,
                "published_at": iso(n.published_at), "detected_at": iso(n.detected_at), "kind": n.kind,
                "snippet": n.snippet}
            for i, n in store.evidence_notices(ids, parse_iso(at)).items()}


def build_report(store: Store, baseline: str | None = None, as_of: str | None = None, *,
                 tolerance_days: float = DEFAULT_TOLERANCE_DAYS, rule: str = "nearest",
                 now: datetime | None = None) -> Report:
    """The board's figures at `baseline` and `as_of` (YYYY-MM-DD; defaults: first and latest snapshot)."""
    if rule not in RULES:
        raise CrawlerError(f"unknown snapshot rule {rule!r}; use one of {', '.join(RULES)}")
    snapshots = [_snapshot_row(s) for s in store.snapshots()]
    if not snapshots:
        raise CrawlerError("the inventory has no snapshot yet: a snapshot is taken at the end of every full "
                           "crawl cycle.\n\nRun `crawler crawl` (all accounts) first.")
    base = _point(store, baseline or snapshots[0]["taken_at"], snapshots, tolerance_days, rule)
    last = _point(store, as_of or snapshots[-1]["taken_at"], snapshots, tolerance_days, rule)
    if base.available and last.available and last.at < base.at:
        raise CrawlerError(f"the as-of date ({_day(last.at)}) lies before the baseline ({_day(base.at)}); "
                           "swap --baseline and --as-of")
    notes: list[str] = []
    for name, point in (("baseline", base), ("as_of", last)):
        if not point.available:
            continue
        for status in (*SERIES, "unchecked"):
            history, counted = len(point.ids(status)), int(point.snapshot[status])
            if history != counted:
                notes.append(f"{name}: the snapshot counted {counted} {status}, the status history gives {history}")
    cohort = _cohort(base, last) if base.available and last.available else None
    changes = _changes(store, base, last) if base.available and last.available else []
    until = last.at or snapshots[-1]["taken_at"]
    series = [{k: s[k] for k in ("id", "taken_at", *SERIES, "registered")}
              for s in snapshots if s["taken_at"] <= until]
    return Report(base, last, tolerance_days, rule, iso(now or utcnow()), store.path,
                  cohort, changes, series, notes)


def _cohort(base: Point, last: Point) -> dict[str, Any]:
    """Of the accounts active at the baseline: which are no longer active, and which announced."""
    active = base.ids("active")
    after = {i: (last.accounts[i].status if i in last.accounts else "deregistered") for i in active}
    stopped = sorted(i for i, s in after.items() if s != "active")
    by_status: dict[str, list[str]] = {}
    for i in stopped:
        by_status.setdefault(after[i], []).append(i)
    announced = set(last.announced)
    pending = set(last.pending) - announced
    became = sorted(i for i, a in last.accounts.items()
                    if a.status == "active" and (i not in base.accounts or base.accounts[i].status != "active"))
    return {
        "active_at_baseline": active,
        "no_longer_active": stopped,
        "no_longer_active_by_status": by_status,
        "announced": [i for i in stopped if i in announced],
        "pending_review": [i for i in stopped if i in pending],
        "became_active": became,
        "definition": ("active_at_baseline: status 'active' at the baseline snapshot; no_longer_active: of "
                       "those, status other than 'active' at the as-of snapshot (or deregistered); announced: "
                       "of those, a notice confirmed today and detected at or before the as-of snapshot"),
    }


def _changes(store: Store, base: Point, last: Point) -> list[Change]:
    ids = sorted(set(base.accounts) | set(last.accounts))
    moved = []
    for i in ids:
        old = base.accounts[i].status if i in base.accounts else "unregistered"
        new = last.accounts[i].status if i in last.accounts else "deregistered"
        if old != new:
            moved.append((i, old, new))
    changed = [i for i, _, _ in moved]
    posts = _last_posts(store, changed, last.at)
    notices = _evidence_notices(store, changed, last.at)
    out = []
    for i, old, new in moved:
        a = last.accounts.get(i) or base.accounts[i]
        post, estimated = posts.get(i, (None, False))
        out.append(Change(a.id, a.unit, a.area, a.platform, a.url, old, new,
                          a.since if i in last.accounts else None, a.reason if i in last.accounts else None,
                          post, estimated, notices.get(i)))
    order = {s: n for n, s in enumerate(("gone", "dormant", "unknown", "deregistered", "unchecked", "active"))}
    return sorted(out, key=lambda c: (order.get(c.new, 9), c.area, c.unit, c.id))


# --------------------------------------------------------------------------- shared formatting


def _day(text: str | None) -> str:
    """The local calendar day of a stored UTC time (Europe/Stockholm by default: crawler.clock)."""
    return day_text(text)


def _change(b: int | None, a: int | None) -> int | None:
    return None if b is None or a is None else a - b


def _signed(n: int | None) -> str:
    if n is None:
        return "–"
    return f"+{n}" if n > 0 else ("±0" if n == 0 else f"−{-n}")


def _unavailable(point: Point, report: Report, lang: str) -> str:
    t = LABELS[lang]
    if point.nearest is None:
        return t["no_snapshot_none"]
    return t["no_snapshot"].format(days=_num(report.tolerance_days), date=_day(point.requested),
                                   nearest=_day(point.nearest))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def figure_rows(report: Report) -> list[tuple[str, int | None, int | None, int | None]]:
    """(figure, baseline, as_of, change) in display order; 'unchecked' only when there are some."""
    rows = []
    for f in FIGURES:
        b, a = report.baseline.value(f), report.as_of.value(f)
        if f == "unchecked" and not b and not a:
            continue
        rows.append((f, b, a, _change(b, a)))
    return rows


def _cohort_sentences(report: Report, lang: str) -> list[str]:
    c = report.cohort
    if c is None:
        return []
    t = LABELS[lang]
    as_of = _day(report.as_of.at)
    parts = ", ".join(f"{len(v)} {t[k].lower()}" for k, v in sorted(c["no_longer_active_by_status"].items())) or "–"
    out = [t["cohort"].format(active=len(c["active_at_baseline"]), stopped=len(c["no_longer_active"]),
                              as_of=as_of, parts=parts, announced=len(c["announced"]))]
    if c["pending_review"]:
        out.append(t["cohort_pending"].format(pending=len(c["pending_review"])))
    out.append(t["became_active"].format(became=len(c["became_active"]), as_of=as_of))
    return out


def breakdown(report: Report, dimension: str) -> list[tuple[str, dict[str, tuple[int | None, int | None]]]]:
    """Per key of `dimension` (platform | area): status -> (baseline count, as-of count), plus total."""
    keys = sorted(set(report.baseline.counts.get(dimension, {})) | set(report.as_of.counts.get(dimension, {})))
    out = []
    for key in keys:
        cells: dict[str, tuple[int | None, int | None]] = {}
        for status in (*SERIES, "total"):
            pair = []
            for point in (report.baseline, report.as_of):
                if not point.available:
                    pair.append(None)
                    continue
                counts = point.counts.get(dimension, {}).get(key, {})
                pair.append(sum(counts.values()) if status == "total" else counts.get(status, 0))
            cells[status] = (pair[0], pair[1])
        out.append((key, cells))
    return out


def _pair(b: int | None, a: int | None) -> str:
    left = "–" if b is None else str(b)
    right = "–" if a is None else str(a)
    diff = _change(b, a)
    return f"{left} → {right}" + ("" if diff is None else f" ({_signed(diff)})")


def _point_label(point: Point, report: Report, lang: str) -> str:
    t = LABELS[lang]
    if point.available:
        return f"{_day(point.at)} ({t['snapshot']} #{point.snapshot['id']}; {t['requested']} {_day(point.requested)})"
    return f"{t['not_available']}: {_unavailable(point, report, lang)}"


def _notice_text(notice: dict[str, Any] | None, lang: str) -> tuple[str, str, str]:
    """(state label, snippet, url) of a change's notice."""
    if notice is None:
        return "", "", ""
    state = LABELS[lang]["state_confirmed" if notice["state"] == "confirmed" else "state_pending"]
    return state, notice["snippet"] or "", notice["post_url"] or ""


# --------------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md_escape(text: Any) -> str:
    """One table cell of Markdown: no line breaks, Markdown and HTML characters neutralised."""
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def render_markdown(report: Report, lang: str = "en") -> str:
    t, words = LABELS[lang], STATUS_WORDS[lang]
    lines = [f"# {t['title']}", "",
             f"- {t['baseline']}: {md_escape(_point_label(report.baseline, report, lang))}",
             f"- {t['as_of']}: {md_escape(_point_label(report.as_of, report, lang))}", "",
             f"| {t['figure']} | {t['baseline']} | {t['as_of']} | {t['change']} |", "|---|---:|---:|---:|"]
    na = t["not_available"]
    for f, b, a, d in figure_rows(report):
        lines.append(f"| {t[f]} | {na if b is None else b} | {na if a is None else a} | {_signed(d)} |")
    if report.cohort is not None:
        lines += ["", f"## {t['cohort_title']}", "", *_cohort_sentences(report, lang)]
    for dimension, title in (("platform", "by_platform"), ("area", "by_area")):
        rows = breakdown(report, dimension)
        if not rows:
            continue
        lines += ["", f"## {t[title]}", "",
                  f"| {t[dimension]} | " + " | ".join(t[s] for s in (*SERIES, "total")) + " |",
                  "|---|" + "---:|" * (len(SERIES) + 1)]
        for key, cells in rows:
            lines.append(f"| {md_escape(key)} | " + " | ".join(_pair(*cells[s]) for s in (*SERIES, "total")) + " |")
    if report.baseline.available and report.as_of.available:
        lines += ["", f"## {t['changes_title']} ({len(report.changes)})", ""]
        if not report.changes:
            lines.append(t["no_changes"])
        else:
            lines += [f"| {t['unit']} | {t['area']} | {t['platform']} | {t['old_new']} | {t['last_post']} | "
                      f"{t['reason']} | {t['notice']} |", "|---|---|---|---|---|---|---|"]
            for c in report.changes:
                state, snippet, url = _notice_text(c.notice, lang)
                notice = f"{state}: “{snippet}” {url}".strip() if state else ""
                post = _day(c.last_post_at) + (f" ({t['estimated']})" if c.last_post_estimated else "")
                lines.append(
                    f"| {md_escape(c.unit)} ({md_escape(c.id)}) | {md_escape(c.area)} | {md_escape(c.platform)} | "
                    f"{words.get(c.old, c.old)} → {words.get(c.new, c.new)} | {post} | "
                    f"{md_escape(c.reason or '')} | {md_escape(notice)} |")
    lines += ["", f"## {t['definitions']}", "", "- " + _definition_snapshot(report, lang),
              "- " + t["def_announced"]]
    if report.notes:
        lines += ["", f"## {t['notes']}", "", *(f"- {md_escape(n)}" for n in report.notes)]
    lines += ["", t["generated"].format(now=report.generated_at, db=md_escape(report.db))]
    return "\n".join(lines) + "\n"


def _definition_snapshot(report: Report, lang: str) -> str:
    t = LABELS[lang]
    return t["def_snapshot"].format(rule_text=t[f"rule_{report.rule}"], days=_num(report.tolerance_days))


# --------------------------------------------------------------------------- CSV and JSON

REPORT_CSV_COLUMNS = ("section", "dimension", "key", "measure", "baseline", "as_of", "change", "unit", "area",
                      "platform", "last_post_at", "reason", "notice_state", "notice_url", "notice_snippet")


def render_csv(report: Report, lang: str = "en") -> str:
    """One flat table: figures, the cohort, breakdowns by platform and area, then changed accounts."""
    rows: list[dict[str, Any]] = []
    for f, b, a, d in figure_rows(report):
        rows.append({"section": "figure", "key": f, "measure": LABELS[lang][f], "baseline": b, "as_of": a,
                     "change": d})
    if report.cohort is not None:
        for key in ("active_at_baseline", "no_longer_active", "announced", "pending_review", "became_active"):
            rows.append({"section": "cohort", "key": key, "as_of": len(report.cohort[key])})
    for dimension in ("platform", "area"):
        for key, cells in breakdown(report, dimension):
            for status, (b, a) in cells.items():
                rows.append({"section": "breakdown", "dimension": dimension, "key": key, "measure": status,
                             "baseline": b, "as_of": a, "change": _change(b, a)})
    for c in report.changes:
        state, snippet, url = _notice_text(c.notice, lang)
        rows.append({"section": "change", "key": c.id, "measure": "status", "baseline": c.old, "as_of": c.new,
                     "unit": c.unit, "area": c.area, "platform": c.platform, "last_post_at": c.last_post_at,
                     "reason": c.reason, "notice_state": c.notice["state"] if c.notice else None,
                     "notice_url": url, "notice_snippet": snippet})
    return csv_text(REPORT_CSV_COLUMNS, rows)


def _point_json(point: Point, report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {"requested": point.requested, "available": point.available,
                           "snapshot": point.snapshot, "nearest_snapshot_at": point.nearest}
    if not point.available:
        out["why_not"] = _unavailable(point, report, "en")
        return out
    out["ids"] = {s: point.ids(s) for s in (*SERIES, "unchecked")}
    out["ids"]["announced"] = point.announced
    out["ids"]["pending_review_accounts"] = point.pending
    out["counts"] = point.counts
    return out


def to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data: each figure with its definition and the ids behind it."""
    return {
        "generated_at": report.generated_at,
        "db": report.db,
        "rule": report.rule,
        "tolerance_days": report.tolerance_days,
        "baseline": _point_json(report.baseline, report),
        "as_of": _point_json(report.as_of, report),
        "figures": [{"figure": f, "baseline": b, "as_of": a, "change": d, "definition": DEFINITIONS[f]}
                    for f, b, a, d in figure_rows(report)],
        "no_longer_active": report.cohort,
        "breakdowns": {dim: [{"key": k, **{s: {"baseline": b, "as_of": a} for s, (b, a) in cells.items()}}
                             for k, cells in breakdown(report, dim)] for dim in ("platform", "area")},
        "changes": [asdict(c) for c in report.changes],
        "series": report.series,
        "definitions": {"point": _definition_snapshot(report, "en"), "announced": LABELS["en"]["def_announced"]},
        "notes": report.notes,
    }


def render_json(report: Report, lang: str = "en") -> str:
    return json.dumps(to_dict(report), ensure_ascii=False, indent=2, default=str) + "\n"


# --------------------------------------------------------------------------- HTML and SVG

COLORS = {"active": "#2e7d32", "dormant": "#e0a800", "gone": "#c62828", "unknown": "#6b6b6b"}
# Distinct dashes keep the lines apart when the report is printed in black and white.
DASHES = {"active": "", "dormant": "8 4", "gone": "2 3", "unknown": "10 3 2 3"}


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _link(url: str | None, text: str | None = None) -> str:
    """An escaped link, only for http(s) URLs (a javascript: URL from the web stays plain text)."""
    if not url:
        return ""
    label = _e(text if text is not None else url)
    if url.lower().startswith(("http://", "https://")):
        css = "" if text is not None else ' class="url"'  # long bare URLs may break anywhere
        return f'<a href="{_e(url)}"{css} rel="noopener noreferrer nofollow">{label}</a>'
    return label


def render_svg(report: Report, lang: str = "en", width: int = 960, height: int = 360) -> str:
    """Active / dormant / gone / unknown over time: one point per snapshot, axes, legend."""
    t = LABELS[lang]
    series = report.series
    left, right, top, bottom = 56, 150, 30, 56
    w, h = width - left - right, height - top - bottom
    times = [parse_iso(s["taken_at"]).timestamp() for s in series]
    t0, t1 = (min(times), max(times)) if times else (0.0, 1.0)
    if t1 <= t0:
        t0, t1 = t0 - 86_400, t1 + 86_400
    top_value = max([max((s[k] for k in SERIES), default=0) for s in series] + [1])
    step = _nice_step(top_value)
    y_max = step * -(-top_value // step)

    def x(ts: float) -> float:
        return left + (ts - t0) / (t1 - t0) * w

    def y(v: float) -> float:
        return top + h - v / y_max * h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-labelledby="chart-title">',
             f'<title id="chart-title">{_e(t["chart_title"])}</title>',
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>']
    for v in range(0, int(y_max) + 1, int(step)):
        parts.append(f'<line class="grid" x1="{left}" x2="{left + w}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     f'stroke="#ddd"/><text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>')
    for ts, label in _time_ticks(t0, t1):
        parts.append(f'<line x1="{x(ts):.1f}" x2="{x(ts):.1f}" y1="{top + h}" y2="{top + h + 5}" stroke="#666"/>'
                     f'<text x="{x(ts):.1f}" y="{top + h + 18}" text-anchor="middle">{_e(label)}</text>')
    parts.append(f'<text x="{left + w / 2:.1f}" y="{height - 8}" text-anchor="middle" class="axis">'
                 f'{_e(t["chart_x"])}</text>')
    parts.append(f'<text transform="translate(14 {top + h / 2:.1f}) rotate(-90)" text-anchor="middle" '
                 f'class="axis">{_e(t["chart_y"])}</text>')
    for name, point in (("baseline", report.baseline), ("as_of", report.as_of)):
        if point.available:
            px = x(parse_iso(point.at).timestamp())
            # labelled above the frame, clear of the lines; leftwards in the right half (the as-of
            # line is usually the right edge, where a label would run into the legend)
            anchor = "end" if px > left + w / 2 else "start"
            parts.append(f'<line class="marker" x1="{px:.1f}" x2="{px:.1f}" y1="{top - 4}" y2="{top + h}" '
                         f'stroke="#333" stroke-dasharray="4 4"/><text x="{px:.1f}" y="{top - 8}" '
                         f'text-anchor="{anchor}" class="marker-label">{_e(t[name])}</text>')
    for k in SERIES:
        pts = [(x(ts), y(s[k])) for ts, s in zip(times, series, strict=True)]
        dash = f' stroke-dasharray="{DASHES[k]}"' if DASHES[k] else ""
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            parts.append(f'<polyline class="line" data-series="{k}" points="{path}" fill="none" '
                         f'stroke="{COLORS[k]}" stroke-width="2"{dash}/>')
        for (px, py), s in zip(pts, series, strict=True):
            parts.append(f'<circle class="point" data-series="{k}" cx="{px:.1f}" cy="{py:.1f}" r="2.5" '
                         f'fill="{COLORS[k]}"><title>{_e(_day(s["taken_at"]))}: {s[k]} {_e(t[k])}</title></circle>')
    for n, k in enumerate(SERIES):
        ly = top + 10 + n * 22
        dash = f' stroke-dasharray="{DASHES[k]}"' if DASHES[k] else ""
        parts.append(f'<g class="legend"><line x1="{left + w + 14}" x2="{left + w + 44}" y1="{ly}" y2="{ly}" '
                     f'stroke="{COLORS[k]}" stroke-width="2"{dash}/><text x="{left + w + 50}" y="{ly + 4}">'
                     f'{_e(t[k])}</text></g>')
    parts.append("</svg>")
    return "\n".join(parts)


def _nice_step(top: float) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if top / step <= 6:
            return step
    return 10_000


def _time_ticks(t0: float, t1: float) -> list[tuple[float, str]]:
    """Month starts when the span is long enough, else evenly spaced days; at most ~8 labels."""
    start = datetime.fromtimestamp(t0, timezone.utc)
    end = datetime.fromtimestamp(t1, timezone.utc)
    months = []
    cursor = datetime(start.year, start.month, 1, tzinfo=timezone.utc)
    while cursor <= end:
        if cursor >= start:
            months.append(cursor)
        cursor = datetime(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1, tzinfo=timezone.utc)
    if len(months) >= 2:
        every = max(1, -(-len(months) // 8))
        return [(m.timestamp(), m.strftime("%Y-%m-%d")) for m in months[::every]]
    count = 4
    return [(t0 + (t1 - t0) * i / count, datetime.fromtimestamp(t0 + (t1 - t0) * i / count, timezone.utc)
             .strftime("%Y-%m-%d")) for i in range(count + 1)]


_HTML = string.Template("""<!DOCTYPE html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .92rem; }
table.figures { width: auto; min-width: 60%; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.na { color: #a00; font-style: italic; }
.points { margin: 0; padding-left: 1.2rem; }
.cohort { background: #f6f8fa; border-left: 4px solid #2e7d32; padding: .6rem 1rem; }
.chart text { font-size: 12px; fill: #333; }
.chart .axis { font-size: 13px; font-weight: 600; }
.snippet { font-style: italic; }
.small { color: #555; font-size: .85rem; }
a { color: #0b57d0; }
a.url { word-break: break-all; }
td.date { white-space: nowrap; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  table, .chart, .cohort { break-inside: avoid; }
  tr { break-inside: avoid; }
  table { font-size: 8.5pt; }
  .changes { break-inside: auto; }
  thead { display: table-header-group; }
  a { color: #000; text-decoration: none; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .chart { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
</style>
</head>
<body>
<h1>$title</h1>
<ul class="points"><li>$baseline_label: $baseline</li><li>$as_of_label: $as_of</li></ul>
<table class="figures"><thead><tr><th>$figure_label</th><th class="num">$baseline_label</th>
<th class="num">$as_of_label</th><th class="num">$change_label</th></tr></thead>
<tbody>
$figures
</tbody></table>
$cohort
<h2>$chart_title</h2>
$chart
$breakdowns
$changes
<h2>$definitions_label</h2>
<ul class="small">$definitions</ul>
$notes
<p class="small">$generated</p>
</body>
</html>
""")


def render_html(report: Report, lang: str = "en") -> str:
    """One self-contained page: inline CSS, tables, the SVG chart; prints on A4 without cut tables."""
    t, words = LABELS[lang], STATUS_WORDS[lang]
    na = f'<td class="num na">{_e(t["not_available"])}</td>'
    figures = "\n".join(
        f"<tr><td>{_e(t[f])}</td>" + (na if b is None else f'<td class="num">{b}</td>')
        + (na if a is None else f'<td class="num">{a}</td>') + f'<td class="num">{_e(_signed(d))}</td></tr>'
        for f, b, a, d in figure_rows(report))
    cohort = ""
    if report.cohort is not None:
        cohort = (f"<h2>{_e(t['cohort_title'])}</h2><div class=\"cohort\">"
                  + "".join(f"<p>{_e(s)}</p>" for s in _cohort_sentences(report, lang)) + "</div>")
    blocks = []
    for dimension, title in (("platform", "by_platform"), ("area", "by_area")):
        rows = breakdown(report, dimension)
        if not rows:
            continue
        head = "".join(f'<th class="num">{_e(t[s])}</th>' for s in (*SERIES, "total"))
        body = "\n".join(f"<tr><td>{_e(key)}</td>" + "".join(f'<td class="num">{_e(_pair(*cells[s]))}</td>'
                                                             for s in (*SERIES, "total")) + "</tr>"
                         for key, cells in rows)
        blocks.append(f"<h2>{_e(t[title])}</h2><table><thead><tr><th>{_e(t[dimension])}</th>{head}</tr></thead>"
                      f"<tbody>\n{body}\n</tbody></table>")
    changes = ""
    if report.baseline.available and report.as_of.available:
        if report.changes:
            body = []
            for c in report.changes:
                state, snippet, url = _notice_text(c.notice, lang)
                notice = (f'{_e(state)}: <span class="snippet">“{_e(snippet)}”</span> {_link(url)}'
                          if state else "")
                post = _e(_day(c.last_post_at)) + (f" ({_e(t['estimated'])})" if c.last_post_estimated else "")
                body.append(f"<tr><td>{_link(c.url, c.unit)} <span class=\"small\">{_e(c.id)}</span></td>"
                            f"<td>{_e(c.area)}</td><td>{_e(c.platform)}</td>"
                            f"<td>{_e(words.get(c.old, c.old))} → {_e(words.get(c.new, c.new))}</td>"
                            f"<td class=\"date\">{post}</td><td>{_e(c.reason)}</td><td>{notice}</td></tr>")
            changes = (f"<h2>{_e(t['changes_title'])} ({len(report.changes)})</h2><table class=\"changes\"><thead><tr>"
                       + "".join(f"<th>{_e(t[k])}</th>" for k in ("unit", "area", "platform", "old_new",
                                                                    "last_post", "reason", "notice"))
                       + "</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>")
        else:
            changes = f"<h2>{_e(t['changes_title'])}</h2><p>{_e(t['no_changes'])}</p>"
    notes = ""
    if report.notes:
        notes = f"<h2>{_e(t['notes'])}</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in report.notes) + "</ul>"
    return _HTML.substitute(
        lang=lang, title=_e(t["title"]),
        baseline_label=_e(t["baseline"]), as_of_label=_e(t["as_of"]), figure_label=_e(t["figure"]),
        change_label=_e(t["change"]),
        baseline=_e(_point_label(report.baseline, report, lang)), as_of=_e(_point_label(report.as_of, report, lang)),
        figures=figures, cohort=cohort, chart_title=_e(t["chart_title"]), chart=render_svg(report, lang),
        breakdowns="\n".join(blocks), changes=changes, definitions_label=_e(t["definitions"]),
        definitions=f"<li>{_e(_definition_snapshot(report, lang))}</li><li>{_e(t['def_announced'])}</li>",
        notes=notes, generated=_e(t["generated"].format(now=report.generated_at, db=report.db)),
    )


RENDERERS = {"md": render_markdown, "csv": render_csv, "json": render_json, "html": render_html}


def render(report: Report, fmt: str = "md", lang: str = "en") -> str:
    """The report in one of FORMATS, in `lang` (en | sv)."""
    if fmt not in RENDERERS:
        raise CrawlerError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if lang not in LANGS:
        raise CrawlerError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    return RENDERERS[fmt](report, lang)


def default_html_path(report: Report, reports_dir: str | Path) -> Path:
    """reports/report-<as-of day>.html"""
    day = _day(report.as_of.at) or _day(report.as_of.requested) or "latest"
    return Path(reports_dir) / f"report-{day}.html"
