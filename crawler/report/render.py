"""The report's outputs: Markdown, HTML (Jinja2 templates), CSV and JSON; xlsx and DOCX are in office.py.

Markdown, HTML, xlsx and DOCX render the one layout of crawler.report.document; CSV and JSON carry
the same figures as data (with their definitions and the ids behind them). Every web-sourced string
(units, snippets, URLs) is escaped for the format it is written into.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from crawler import sanitize
from crawler.export import csv_text
from crawler.report import chart
from crawler.report import figures as F
from crawler.report.document import Link, Table, breakdown, layout
from crawler.report.model import Point, Report
from crawler.report.text import Words

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


# --------------------------------------------------------------------------- HTML


def safe_url(url: Any) -> bool:
    """Only http(s) URLs become links (a javascript: or data: URL from the web stays text)."""
    return sanitize.href(url) is not None


def _finalize(value: Any) -> Any:
    """What every {{ expression }} prints, before autoescape: text without control or bidi characters
    (our own markup, Markup, is left alone)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return sanitize.text(value)
    return value


@cache
def environment() -> Environment:
    """The Jinja2 environment of crawler/templates (shared with the web app): autoescape on."""
    env = Environment(loader=PackageLoader("crawler", "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=False, lstrip_blocks=False, finalize=_finalize)
    env.tests["link"] = lambda v: isinstance(v, Link)
    env.tests["safe_url"] = safe_url
    env.tests["table_block"] = lambda v: isinstance(v, Table)
    env.tests["dl_block"] = lambda v: isinstance(v, tuple) and len(v) == 2 and v[0] == "dl"
    env.filters["keep_dates"] = keep_dates
    return env


_ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def keep_dates(value: Any) -> Markup:
    """Escaped text whose dates (2023-03-23) never break at their hyphens across lines."""
    return Markup(_ISO_DAY.sub(lambda m: f'<span class="nw">{m.group(0)}</span>', str(escape(value))))


def render_html(report: Report, lang: str = "en") -> str:
    """One self-contained page (inline CSS, the chart as inline SVG) that prints on A4."""
    doc = layout(report, lang)
    svg = Markup(chart.svg(report, lang))  # drawn by matplotlib from our own labels and numbers
    return environment().get_template("report.html").render(doc=doc, lang=lang, chart=svg)


# --------------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md_escape(text: Any) -> str:
    """One table cell of Markdown: no line breaks, Markdown and HTML characters neutralised."""
    flat = " ".join(sanitize.text(text).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def _md_cell(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Link):
        url = sanitize.href(value.url)
        if url:
            return f"[{md_escape(value.text)}](<{url.replace('<', '%3C').replace('>', '%3E').replace(' ', '%20')}>)"
        return md_escape(value.text)
    return md_escape(value)


def _md_table(t: Table) -> list[str]:
    head = "| " + " | ".join(md_escape(h) for h in t.header) + " |"
    rule = "|" + "".join("---:|" if i in t.numeric else "---|" for i in range(len(t.header)))
    rows = []
    for n, row in enumerate(t.rows):
        cells = [_md_cell(v) for v in row]
        if n in t.sub:
            cells[0] = "  " + cells[0].replace("  ", " ")
            cells[0] = "– " + cells[0].strip()
        rows.append("| " + " | ".join(cells) + " |")
    return [head, rule, *rows]


def render_markdown(report: Report, lang: str = "en") -> str:
    doc = layout(report, lang)
    lines = [f"# {doc.title}", "", *(f"- {md_escape(i)}" for i in doc.intro)]
    for s in doc.sections:
        lines += ["", f"## {s.title}", ""]
        for n, block in enumerate(s.blocks):
            if isinstance(block, Table):
                lines += [*_md_table(block), ""]
            elif block == "chart":  # drawn in the HTML, DOCX and xlsx; a series table carries its numbers
                if not any(isinstance(b, Table) for b in s.blocks):
                    note = doc.words._("The chart is in the HTML and Word versions of the report.")
                    lines += [f"*{md_escape(note)}*", ""]
            elif isinstance(block, tuple) and block[0] == "dl":
                lines += [f"- **{md_escape(term)}**: {md_escape(text)}" for term, text in block[1]] + [""]
            elif s.name in ("guideline", "notices") and n + 1 < len(s.blocks) and isinstance(s.blocks[n + 1], Table):
                lines += [f"### {md_escape(block)}", ""]
            else:
                lines += [md_escape(block), ""]
    lines += ["", md_escape(doc.footer)]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# --------------------------------------------------------------------------- CSV and JSON

REPORT_CSV_COLUMNS = ("section", "dimension", "key", "measure", "baseline", "as_of", "change", "unit", "area",
                      "platform", "url", "last_post_at", "reason", "notice_state", "notice_url", "notice_snippet")


def render_csv(report: Report, lang: str = "en", excel: bool | None = None) -> str:
    """One flat table: figures, the cohort, the series, the guideline's list, breakdowns, changed accounts.
    In Swedish (or with `excel`) separated by ';' as Excel in Swedish locales reads it; always with a BOM."""
    w = Words(lang, report.settings)
    rows: list[dict[str, Any]] = []
    points = [report.baseline, report.as_of]
    for f in (*F.shown(points), F.BLOGS, F.BLOGS_MONTHLY):
        b, a = (F.value(f, p) for p in points)
        rows.append({"section": "figure", "key": f.name, "measure": w.figure(f), "baseline": b, "as_of": a,
                     "change": None if a is None or b is None else a - b})
    if report.cohort is not None:
        for key in ("active_at_baseline", "no_longer_active", "announced", "pending_review", "became_active"):
            rows.append({"section": "cohort", "key": key, "as_of": len(report.cohort[key])})
    for p in report.series:
        for f in F.shown(report.series):
            if report.every is None and f.name in ("past_guideline", "announced", "pending_review"):
                continue
            rows.append({"section": "series", "key": w.day(p.at), "dimension": "start-up" if p.warmup else "",
                         "measure": f.name, "as_of": f.value(p)})
    for a in report.as_of.past_guideline:
        unchanged = w._("no new post since {day} (number of posts unchanged)", day=w.day(a.inactive_since))
        rows.append({"section": "past_guideline", "key": a.id, "unit": a.unit, "area": a.area,
                     "platform": a.platform, "url": a.url, "last_post_at": a.inactive_since.isoformat(),
                     "reason": unchanged if a.by_post_count else None, "measure": "months", "as_of": a.months})
    for dimension in ("platform", "area"):
        for key, cells in breakdown(report, dimension):
            for status, (b, a) in cells.items():
                rows.append({"section": "breakdown", "dimension": dimension, "key": key, "measure": status,
                             "baseline": b, "as_of": a, "change": None if a is None or b is None else a - b})
    for n in report.notices:
        rows.append({"section": "notice", "key": n.account_id, "measure": n.kind, "unit": n.unit, "area": n.area,
                     "platform": n.platform, "notice_url": n.link, "notice_snippet": n.snippet,
                     "notice_state": "confirmed", "as_of": w.day(n.detected_at)})
    for c in report.changes:
        rows.append({"section": "change", "key": c.id, "measure": "status", "baseline": c.old, "as_of": c.new,
                     "unit": c.unit, "area": c.area, "platform": c.platform, "url": c.url,
                     "last_post_at": w.day(c.last_post_at), "reason": w.reason(c.why),
                     "notice_state": c.notice["state"] if c.notice else None,
                     "notice_url": c.notice["post_url"] if c.notice else None,
                     "notice_snippet": c.notice["snippet"] if c.notice else None})
    semicolons = lang == "sv" if excel is None else excel
    return csv_text(REPORT_CSV_COLUMNS, rows, delimiter=";" if semicolons else ",")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value))


def _point_json(point: Point, report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {"requested": point.requested, "available": point.available,
                           "snapshot": point.snapshot, "nearest_snapshot_at": point.nearest, "warmup": point.warmup}
    if not point.available:
        out["why_not"] = Words("en", report.settings).unavailable(point, report)
        return out
    out["ids"] = {s: point.ids(s) for s in ("active", "dormant", "gone", "unknown", "unchecked")}
    out["ids"]["announced"] = point.announced
    out["ids"]["pending_review"] = point.pending
    out["ids"]["past_guideline"] = [a.id for a in point.past_guideline]
    out["ids"]["blogs"] = point.blogs
    out["ids"]["blogs_monthly"] = point.blogs_monthly
    out["past_guideline"] = [asdict(a) for a in point.past_guideline]
    out["counts"] = point.counts
    return out


def to_dict(report: Report, lang: str = "en") -> dict[str, Any]:
    """The report as JSON-ready data: each figure with its definition, how it is computed and the ids."""
    w = Words(lang, report.settings)
    points = [report.baseline, report.as_of]
    return {
        "generated_at": report.generated_at,
        "db": report.db,
        "rule": report.rule,
        "tolerance_days": report.tolerance_days,
        "settings": report.settings,
        "baseline": _point_json(report.baseline, report),
        "as_of": _point_json(report.as_of, report),
        "figures": [{"figure": f.name, "label": w.figure(f), "baseline": F.value(f, points[0]),
                     "as_of": F.value(f, points[1]),
                     "change": (None if not all(p.available for p in points)
                                else F.value(f, points[1]) - F.value(f, points[0])),
                     "definition": w.definition(f), "how": f.how}
                    for f in (*F.shown(points), F.BLOGS, F.BLOGS_MONTHLY)],
        "no_longer_active": report.cohort,
        "breakdowns": {dim: [{"key": k, **{s: {"baseline": b, "as_of": a} for s, (b, a) in cells.items()}}
                             for k, cells in breakdown(report, dim)] for dim in ("platform", "area")},
        "changes": [{**asdict(c), "why": None if c.why is None else {"kind": c.why.kind, **dict(c.why.values)},
                     "reason": w.reason(c.why)} for c in report.changes],
        "notices": [asdict(n) for n in report.notices],
        "every": report.every,
        "series": [{"taken_at": p.at, "snapshot": p.snapshot["id"], "warmup": p.warmup,
                    **{f.name: f.value(p) for f in F.shown(report.series)
                       if report.every is not None or f.name not in ("past_guideline", "announced", "pending_review")}}
                   for p in report.series],
        "definitions": dict(w.definitions(report)),
        "notes": report.notes,
    }


def render_json(report: Report, lang: str = "en") -> str:
    return json.dumps(sanitize.data(to_dict(report, lang)), ensure_ascii=False, indent=2, default=_jsonable) + "\n"
