"""The board's report: figures at two dates (and at each period since the first crawl), in the
city's own terms, in Swedish or English, as Markdown, HTML, CSV, JSON, xlsx and DOCX.

    store --build.build_report(store, baseline, as_of, settings=, every=)--> model.Report (data)
          --document.layout(report, lang)--> Document (the one layout, words from the catalogs)
          --render / office--> md | html (crawler/templates) | xlsx | docx ; csv | json (the data)

    figures.py   each figure declared once: name, label, definition, how it is computed, its value
    build.py     the arithmetic: snapshots for dates, statuses from the history, the guideline's
                 tiers, the series, start-up crawls (pure over the store's named reads)
    text.py      the report's words (crawler/locale catalogs), dates and numbers per language
    chart.py     the chart (matplotlib: SVG in the HTML, PNG in the DOCX and xlsx)

Definitions (also written into every output, with the settings in force):

- A date is read from a crawl snapshot (one per full crawl cycle): by default the one taken on that
  day (the last of the day), else the nearest within `tolerance_days`, ties to the earlier; with
  rule "before", the latest on or before the day. No such snapshot: "not available", never zero.
- Counts by status are the snapshot's own; an account's status at a point is the last status
  change at or before it, among the accounts registered then.
- "Announced the move": a notice confirmed (by the time of the report) as a move to Tempus Hemma,
  detected by the crawler at or before the snapshot. "Notice awaiting review": a notice detected by
  then that no reviewer has decided yet.
- "Inactive past the guideline": active or dormant, and the last post known then (or the first
  reading of a post count unchanged since) lies more than `guideline_inactive_months` calendar
  months before the snapshot's local day.
"""

from __future__ import annotations

from pathlib import Path

from crawler.errors import CrawlerError
from crawler.locale import LANGS, check_lang
from crawler.report.build import (
    DEFAULT_TOLERANCE_DAYS,
    RULES,
    build_report,
    natural_key,
    parse_when,
    periods,
    pick_snapshot,
)
from crawler.report.document import Signed, breakdown, layout
from crawler.report.figures import FIGURES
from crawler.report.figures import rows as figure_rows
from crawler.report.model import Change, Point, Report
from crawler.report.office import render_docx, render_xlsx
from crawler.report.render import md_escape, render_csv, render_html, render_json, render_markdown, to_dict
from crawler.report.text import Words

FORMATS = ("md", "html", "csv", "json", "xlsx", "docx")
BINARY = ("xlsx", "docx")
RENDERERS = {"md": render_markdown, "csv": render_csv, "json": render_json, "html": render_html,
             "xlsx": render_xlsx, "docx": render_docx}

__all__ = ["BINARY", "DEFAULT_TOLERANCE_DAYS", "FIGURES", "Signed", "FORMATS", "LANGS", "RULES", "Change", "Point", "Report",
           "Words", "breakdown", "build_report", "figure_rows", "default_path", "layout", "md_escape", "natural_key", "parse_when",
           "periods", "pick_snapshot", "render", "render_csv", "render_docx", "render_html", "render_json",
           "render_markdown", "render_xlsx", "to_dict"]


def render(report: Report, fmt: str = "md", lang: str = "en") -> str | bytes:
    """The report in one of FORMATS, in `lang` (sv | en); xlsx and docx are bytes."""
    if fmt not in RENDERERS:
        raise CrawlerError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return RENDERERS[fmt](report, check_lang(lang))


def default_path(report: Report, reports_dir: str | Path, fmt: str = "html") -> Path:
    """reports/report-<as-of day>.<fmt>"""
    w = Words("en", report.settings)
    day = w.day(report.as_of.at) or w.day(report.as_of.requested) or "latest"
    return Path(reports_dir) / f"report-{day}.{fmt}"


default_html_path = default_path
