"""The report laid out once, in its language: headings, paragraphs, tables, the chart, definitions.

Markdown, HTML (crawler/templates/report.html), xlsx and DOCX all render this one layout, so every
figure has the same number, label and place in each of them (CSV and JSON carry the data itself).
Cells are text, numbers or Links; nothing here is escaped: each renderer escapes for its format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crawler.report import figures as F
from crawler.report.build import natural_key
from crawler.report.model import Point, Report
from crawler.report.text import Words


class Signed(int):
    """A change: a number that reads "+3", "−3", "±0" (a spreadsheet keeps the number)."""

    def __str__(self) -> str:
        n = int(self)
        return f"+{n}" if n > 0 else ("±0" if n == 0 else f"−{-n}")


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[Any]]
    numeric: set[int] = field(default_factory=set)  # columns of numbers (right-aligned)
    sub: set[int] = field(default_factory=set)  # rows shown indented ("of which ...")
    marked: set[int] = field(default_factory=set)  # rows of start-up crawls
    name: str = ""  # a short name (sheet names, CSS classes)


@dataclass
class Section:
    title: str
    blocks: list[Any] = field(default_factory=list)  # str (a paragraph), Table, "chart", ("dl", [(term, text)])
    name: str = ""


@dataclass
class Document:
    lang: str
    title: str
    intro: list[str]
    sections: list[Section]
    footer: str
    words: Words

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]


def layout(report: Report, lang: str) -> Document:
    w = Words(lang, report.settings)
    base, last = report.baseline, report.as_of
    intro = [f"{w._('Baseline')}: {w.point_label(base, report)}", f"{w._('As of')}: {w.point_label(last, report)}"]
    sections = [_figures(report, w)]
    if report.cohort is not None:
        sections.append(Section(w._("Accounts active on the baseline"), w.cohort(report), "cohort"))
    sections.append(_over_time(report, w))
    sections.append(_guideline(report, w))
    if report.notices:
        sections.append(_notices(report, w))
    for dimension, title in (("platform", w._("By platform")), ("area", w._("By area"))):
        table = _breakdown(report, dimension, w)
        if table is not None:
            sections.append(Section(title, [table], f"by_{dimension}"))
    if base.available and last.available:
        sections.append(_changes(report, w))
    sections.append(Section(w._("Definitions"), [("dl", w.definitions(report))], "definitions"))
    if report.notes:
        sections.append(Section(w._("Notes"), w.notes(report), "notes"))
    footer = w._("Made {now} from the inventory {db}.", now=w.day(report.generated_at), db=report.db)
    return Document(lang, w._("The preschools' accounts in social media: follow-up"), intro, sections, footer, w)


def figure_table(report: Report, w: Words) -> Table:
    """The board's figures at both points and the change."""
    points = [report.baseline, report.as_of]
    head = [w._("Accounts"), *(w.day(p.at) if p.available else w.day(p.requested) for p in points), w._("Change")]
    table = Table(head, [], numeric={1, 2, 3}, name="figures")
    for f in (*F.shown(points), F.BLOGS, F.BLOGS_MONTHLY):
        b, a = (F.value(f, p) for p in points)
        na = w._("not available")
        if f.sub:
            table.sub.add(len(table.rows))
        table.rows.append([w.figure(f), na if b is None else b, na if a is None else a,
                           "–" if a is None or b is None else Signed(a - b)])
    return table


def _figures(report: Report, w: Words) -> Section:
    return Section(w._("The figures"), [figure_table(report, w)], "figures")


def series_table(report: Report, w: Words) -> Table:
    shown = [f for f in F.shown(report.series) if f.name != "unchecked"]
    light = report.every is None
    if light:  # one row per crawl: the snapshot's own counts
        shown = [f for f in shown if f.name not in ("past_guideline", "announced", "pending_review")]
    table = Table([w._("Crawl"), *(w.figure(f) for f in shown)], [], numeric=set(range(1, len(shown) + 1)),
                  name="series")
    for p in report.series:
        if p.warmup:
            table.marked.add(len(table.rows))
        day = w.day(p.at) + (f" ({w._('start-up')})" if p.warmup else "")
        table.rows.append([day, *(f.value(p) for f in shown)])
    return table


def _over_time(report: Report, w: Words) -> Section:
    if report.every is not None:
        intro = w._("The figures at each period ({every}) since the first crawl. Tempus Hemma was launched on "
                    "{launch}.", every=_period(report.every, w), launch=w.long_day(report.settings["launch_date"]))
        return Section(w._("Over time"), [intro, "chart", series_table(report, w)], "series")
    intro = w._("One point per crawl. Tempus Hemma was launched on {launch}.",
                launch=w.long_day(report.settings["launch_date"]))
    return Section(w._("Accounts by status over time"), [intro, "chart"], "chart")


def _period(every: str, w: Words) -> str:
    from crawler.report.build import parse_every

    n, unit = parse_every(every)
    if unit == "m" and n == 6:
        return w._("half year")
    if unit == "m":
        return w.ngettext("{n} month", "{n} months", n)
    if unit == "w":
        return w.ngettext("{n} week", "{n} weeks", n)
    if unit == "y":
        return w.ngettext("{n} year", "{n} years", n)
    return w.ngettext("{n} day", "{n} days", n)


def _guideline(report: Report, w: Words) -> Section:
    p = report.as_of
    months = report.settings["guideline_inactive_months"]
    title = w._("Accounts to be closed under the guideline")
    if not p.available:
        return Section(title, [w._("not available")], "guideline")
    blocks: list[Any] = [w.ngettext(
        "The city's guideline for social media: an account that has not been used for more than {months} months "
        "is to be closed. On {day}, {n} account had no post for more than {months} months.",
        "The city's guideline for social media: an account that has not been used for more than {months} months "
        "is to be closed. On {day}, {n} accounts had no post for more than {months} months.",
        len(p.past_guideline), months=months, day=w.long_day(p.at))]
    by_area: dict[str, list] = {}
    for a in p.past_guideline:
        by_area.setdefault(a.area, []).append(a)
    for area in sorted(by_area, key=natural_key):
        rows = by_area[area]
        table = Table([w._("Unit"), w._("Platform"), w._("Last post"), w._("Months without a post")], [],
                      numeric={3}, name="guideline")
        for a in rows:
            since = (w._("no new post since {day} (number of posts unchanged)", day=w.day(a.inactive_since))
                     if a.by_post_count else w.day(a.inactive_since))
            table.rows.append([Link(a.unit, a.url), w.platform(a.platform), since, a.months])
        blocks += [f"{area} ({len(rows)})", table]
    blogs, monthly = len(p.blogs), len(p.blogs_monthly)
    blocks.append(w._("Blogs: the guideline expects a blog to post at least once every {months} month(s). On {day}, "
                      "{monthly} of the {blogs} blogs whose status is known had posted within that time.",
                      months=report.settings["guideline_blog_months"], day=w.long_day(p.at), monthly=monthly,
                      blogs=blogs))
    return Section(title, blocks, "guideline")


def _notices(report: Report, w: Words) -> Section:
    blocks: list[Any] = [w._("Notices that a reviewer has confirmed, found by the crawl of {day}.",
                             day=w.long_day(report.as_of.at or report.series[-1].at))]
    for kind in ("move", "closing", "elsewhere"):
        rows = [n for n in report.notices if n.kind == kind]
        if not rows:
            continue
        table = Table([w._("Unit"), w._("Area"), w._("Platform"), w._("Found"), w._("Notice")], [], name=kind)
        for n in rows:
            table.rows.append([Link(n.unit, n.link), n.area, w.platform(n.platform), w.day(n.detected_at),
                               f"“{n.snippet}”"])
        blocks += [f"{w.kind(kind)} ({len(rows)})", table]
    return Section(w._("Moves and closings announced"), blocks, "notices")


def breakdown(report: Report, dimension: str) -> list[tuple[str, dict[str, tuple[int | None, int | None]]]]:
    """Per key of `dimension` (platform | area): status -> (baseline count, as-of count), plus total."""
    keys = sorted(set(report.baseline.counts.get(dimension, {})) | set(report.as_of.counts.get(dimension, {})),
                  key=natural_key)
    out = []
    for key in keys:
        cells: dict[str, tuple[int | None, int | None]] = {}
        for status in ("active", "dormant", "gone", "unknown", "total"):
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


def _pair(b: int | None, a: int | None, w: Words) -> str:
    diff = None if a is None or b is None else a - b
    return f"{'–' if b is None else b} → {'–' if a is None else a}" + ("" if diff is None else f" ({w.signed(diff)})")


def _breakdown(report: Report, dimension: str, w: Words) -> Table | None:
    rows = breakdown(report, dimension)
    if not rows:
        return None
    head = [w._("Platform") if dimension == "platform" else w._("Area"),
            *(w.figure(F.BY_NAME[s]) for s in ("active", "dormant", "gone", "unknown")), w._("Total")]
    table = Table(head, [], numeric={1, 2, 3, 4, 5}, name=f"by_{dimension}")
    for key, cells in rows:
        label = w.platform(key) if dimension == "platform" else key
        table.rows.append([label, *(_pair(*cells[s], w) for s in ("active", "dormant", "gone", "unknown", "total"))])
    return table


def _changes(report: Report, w: Words) -> Section:
    title = w._("Accounts whose status changed ({n})", n=len(report.changes))
    if not report.changes:
        return Section(title, [w._("No account changed status between the two dates.")], "changes")
    table = Table([w._("Unit"), w._("Area"), w._("Platform"), w._("Before → after"), w._("Last post"), w._("Reason"),
                   w._("Notice")], [], name="changes")
    for c in report.changes:
        post = w.day(c.last_post_at) + (f" ({w._('estimated')})" if c.last_post_estimated and c.last_post_at else "")
        notice: Any = ""
        if c.notice:
            state = w._("confirmed") if c.notice["state"] == "confirmed" else w._("awaiting review")
            text = f"{state}: “{c.notice['snippet']}”"
            notice = Link(text, c.notice["post_url"]) if c.notice["post_url"] else text
        table.rows.append([Link(c.unit, c.url), c.area, w.platform(c.platform),
                           f"{w.status(c.old)} → {w.status(c.new)}", post, w.reason(c.why), notice])
    return Section(title, [table], "changes")


def point_days(points: list[Point], w: Words) -> list[str]:
    return [w.day(p.at) for p in points]
