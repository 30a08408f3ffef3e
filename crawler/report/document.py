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
from crawler.report.text import Words, _capital

WIDE = 7  # a section with a table of this many columns or more is printed on landscape pages


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
    widths: tuple[float, ...] = ()  # relative column widths on a page (HTML, DOCX); () lets the format choose


@dataclass
class Section:
    title: str
    blocks: list[Any] = field(default_factory=list)  # str (a paragraph), Table, "chart", ("dl", [(term, text)])
    name: str = ""
    short: str = ""  # a short title (a spreadsheet's sheet name); the title when empty

    @property
    def wide(self) -> bool:
        """Set on landscape pages when printed (HTML, DOCX): it holds a table of WIDE columns or more."""
        return any(isinstance(b, Table) and len(b.header) >= WIDE for b in self.blocks)


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
    intro = [w._("Baseline: {point}", point=w.point_label(base, report)),
             w._("As of: {point}", point=w.point_label(last, report))]
    sections = [_figures(report, w)]
    if report.cohort is not None:
        sections.append(Section(w._("Accounts active at the baseline"), w.cohort(report), "cohort"))
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
    footer = w._("Produced on {day} from the inventory {db}.", day=w.long_day(report.generated_at), db=report.db)
    return Document(lang, w._("The preschools' accounts in social media: follow-up"), intro, sections, footer, w)


def figure_table(report: Report, w: Words) -> Table:
    """The board's figures at both points and the change."""
    points = [report.baseline, report.as_of]
    head = [w._("Accounts"), *(w.day(p.at) if p.available else w.day(p.requested) for p in points), w._("Change")]
    table = Table(head, [], numeric={1, 2, 3}, name="figures", widths=(5, 1.4, 1.4, 1.4))
    for f in (*F.shown(points), F.BLOGS, F.BLOGS_MONTHLY):
        b, a = (F.value(f, p) for p in points)
        na = w._("not available")
        if f.sub:
            table.sub.add(len(table.rows))
        table.rows.append([w.figure(f), na if b is None else b, na if a is None else a,
                           "–" if a is None or b is None else Signed(a - b)])
    return table


def _figures(report: Report, w: Words) -> Section:
    return Section(w._("Key figures"), [figure_table(report, w)], "figures")


def series_table(report: Report, w: Words) -> Table:
    shown = [f for f in F.shown(report.series) if f.name != "unchecked"]
    light = report.every is None
    if light:  # one row per crawl: the snapshot's own counts
        shown = [f for f in shown if f.name not in ("past_guideline", "announced", "pending_review")]
    table = Table([w._("Crawl"), *(_capital(w.figure_short(f)) for f in shown)], [], numeric=set(range(1, len(shown) + 1)),
                  name="series", widths=(1.5, *(1.0 for _ in shown)))
    for p in report.series:
        if p.warmup:
            table.marked.add(len(table.rows))
        day = w._("{day} (start-up)", day=w.day(p.at)) if p.warmup else w.day(p.at)
        table.rows.append([day, *(f.value(p) for f in shown)])
    return table


def _over_time(report: Report, w: Words) -> Section:
    launch = w._("Tempus Hemma was launched on {launch}.", launch=w.long_day(report.settings["launch_date"]))
    if report.every is not None:
        intro = w._("The table gives the figures {every} from the first crawl on, and on the as-of date; the chart "
                    "shows every crawl.", every=_period(report.every, w))
        return Section(w._("Over time"), [f"{intro} {launch}", "chart", series_table(report, w)], "series")
    intro = w._("One point per crawl.")
    return Section(w._("Accounts by status over time"), [f"{intro} {launch}", "chart"], "chart")


def _period(every: str, w: Words) -> str:
    """ "every half year", "every 2 weeks" (a series' period, as a sentence says it)."""
    from crawler.report.build import parse_every

    n, unit = parse_every(every)
    if unit == "m" and n == 6:
        return w._("every half year")
    if unit == "m":
        return w.ngettext("every month", "every {n} months", n)
    if unit == "w":
        return w.ngettext("every week", "every {n} weeks", n)
    if unit == "y":
        return w.ngettext("every year", "every {n} years", n)
    return w.ngettext("every day", "every {n} days", n)


def _guideline(report: Report, w: Words) -> Section:
    p = report.as_of
    title = w._("Accounts to be closed under the guideline")
    short = w._("To be closed")
    if not p.available:
        return Section(title, [w._("not available")], "guideline", short)
    day, period, n = w.long_day(p.at), w.values["inactive_period"], len(p.past_guideline)
    rule = w._("Under the city's guideline for social media, an account that has not been used for more than "
               "{period} is to be closed.", period=period)
    found = (w._("On {day}, no account had gone without a post for more than {period}.", day=day, period=period)
             if n == 0 else
             w.ngettext("On {day}, {n} account had not posted for more than {period}; it is listed below by area.",
                        "On {day}, {n} accounts had not posted for more than {period}; they are listed below by area.",
                        n, day=day, period=period))
    blocks: list[Any] = [f"{rule} {found}"]
    by_area: dict[str, list] = {}
    for a in p.past_guideline:
        by_area.setdefault(a.area, []).append(a)
    for area in sorted(by_area, key=natural_key):
        rows = by_area[area]
        table = Table([w._("Unit"), w._("Platform"), w._("Last post"), w._("Months without a post")], [],
                      numeric={3}, name="guideline", widths=(4.6, 1.6, 2.0, 1.8))
        for a in rows:
            since = (w._("no new post since {day} (number of posts unchanged)", day=w.day(a.inactive_since))
                     if a.by_post_count else a.inactive_since)
            table.rows.append([Link(a.unit, a.url), w.platform(a.platform), since, a.months])
        blocks += [f"{area} ({len(rows)})", table]
    blocks.append(_blogs(report, w))
    return Section(title, blocks, "guideline", short)


def _blogs(report: Report, w: Words) -> str:
    """The guideline's rhythm for blogs, and how many kept it."""
    p, months = report.as_of, report.settings["guideline_blog_months"]
    blogs, monthly, day = len(p.blogs), len(p.blogs_monthly), w.long_day(p.at)
    rule = w.ngettext("Blogs: the guideline expects a blog to post at least once a month.",
                      "Blogs: the guideline expects a blog to post at least once every {n} months.", months)
    if blogs == 0:
        return f"{rule} {w._('On {day}, no blog had a known status.', day=day)}"
    kept = w.ngettext("On {day}, {monthly} of the {n} blog whose status is known had posted within that time.",
                      "On {day}, {monthly} of the {n} blogs whose status is known had posted within that time.",
                      blogs, day=day, monthly=monthly)
    return f"{rule} {kept}"


def _notices(report: Report, w: Words) -> Section:
    blocks: list[Any] = [w._("Notices that a reviewer has confirmed, found up to the crawl of {day}.",
                             day=w.long_day(report.as_of.at or report.series[-1].at))]
    for kind in ("move", "closing", "elsewhere"):
        rows = [n for n in report.notices if n.kind == kind]
        if not rows:
            continue
        table = Table([w._("Unit"), w._("Area"), w._("Platform"), w._("Found"), w._("Notice")], [], name=kind,
                      widths=(3, 2.2, 1.5, 1.6, 5))
        for n in rows:
            table.rows.append([Link(n.unit, n.link), n.area, w.platform(n.platform), w.local_date(n.detected_at),
                               w.quote(n.snippet)])
        blocks += [f"{w.kind(kind)} ({len(rows)})", table]
    return Section(w._("Announced moves and closings"), blocks, "notices", w._("Moves and closings"))


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
    table = Table(head, [], numeric={1, 2, 3, 4, 5}, name=f"by_{dimension}", widths=(2.6, 1.6, 1.6, 1.6, 1.6, 1.6))
    for key, cells in rows:
        label = w.platform(key) if dimension == "platform" else key
        table.rows.append([label, *(_pair(*cells[s], w) for s in ("active", "dormant", "gone", "unknown", "total"))])
    return table


def _changes(report: Report, w: Words) -> Section:
    title = w._("Accounts whose status changed ({n})", n=len(report.changes))
    short = w._("Status changed")
    if not report.changes:
        return Section(title, [w._("No account changed status between the two dates.")], "changes", short)
    table = Table([w._("Unit"), w._("Area"), w._("Platform"), w._("Before → after"), w._("Last post"), w._("Reason"),
                   w._("Notice")], [], name="changes", widths=(14, 11, 8, 10, 9, 27, 21))
    for c in report.changes:
        post: Any = w.local_date(c.last_post_at)
        if c.last_post_estimated and c.last_post_at:
            post = w._("{day} (estimated)", day=w.day(c.last_post_at))
        notice: Any = ""
        if c.notice:
            state = w._("confirmed") if c.notice["state"] == "confirmed" else w._("awaiting review")
            text = w._("{state}: {snippet}", state=state, snippet=w.quote(c.notice["snippet"]))
            notice = Link(text, c.notice["post_url"]) if c.notice["post_url"] else text
        table.rows.append([Link(c.unit, c.url), c.area, w.platform(c.platform),
                           f"{w.status(c.old)} → {w.status(c.new)}", post, w.reason(c.why), notice])
    return Section(title, [table], "changes", short)


def point_days(points: list[Point], w: Words) -> list[str]:
    return [w.day(p.at) for p in points]
