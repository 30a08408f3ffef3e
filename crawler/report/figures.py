"""The board's figures, declared once: name, label, definition (with the settings in force), how
it is computed, and its value at a point. Every renderer (Markdown, HTML, CSV, JSON, xlsx, DOCX)
and the web app take the figures from here, so a figure has one number wherever it appears.

Labels and definitions are English message ids; `crawler.report.text` writes them in the report's
language through the catalogs (crawler/locale).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crawler.report.model import Point


def N_(message: str) -> str:
    """Marks a message for extraction (`make messages`); translated where it is shown."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with a plural form for extraction (`make messages` reads NP_ as ngettext);
    written with the catalog's plural rule for the number of the figure's `count` setting."""
    return singular, plural


Text = str | tuple[str, str]  # a message id, or (singular, plural) chosen by a number


@dataclass(frozen=True)
class Figure:
    name: str
    label: Text  # message id; {placeholders} are settings and phrases (crawler.report.text.Words.values)
    definition: Text  # message id, as the label
    how: str  # how it is computed from the inventory, for analysts (JSON output; English only)
    value: Callable[[Point], int]
    sub: bool = False  # shown indented under the figure before it ("of which ...")
    count: str | None = None  # the setting whose number picks the plural form of label/definition
    short: Text = ""  # a column heading where many figures stand side by side (the series); the label when empty


def _snap(column: str) -> Callable[[Point], int]:
    return lambda p: int(p.snapshot[column])


# Phrases in definitions ({active_period}, {gone_visits}, ...) are numbers with their unit, written
# with the plural rule of the report's language (crawler.report.text.Words.values).
FIGURES: tuple[Figure, ...] = (
    Figure("registered", N_("Accounts in the register"),
           N_("accounts in the register (sources.yaml) when the crawl was made"),
           "snapshots.registered: accounts with deregistered_at IS NULL at snapshots.taken_at", _snap("registered"),
           short=N_("In the register")),
    Figure("existing", N_("Accounts that still exist"),
           N_("registered accounts that have not been removed"),
           "snapshots.existing = registered - gone", _snap("existing"),
           short=N_("Still existing")),
    Figure("active", N_("Active"),
           N_("the newest post was published at most {active_period} before the crawl"),
           "snapshots.active; ids: last status_changes.new at or before snapshots.taken_at = 'active'", _snap("active")),
    Figure("dormant", N_("Dormant"),
           N_("the account exists, but its newest post was published more than {active_period} before the crawl, "
              "or it has no posts"),
           "snapshots.dormant; ids: last status_changes.new at or before snapshots.taken_at = 'dormant'",
           _snap("dormant")),
    Figure("past_guideline", NP_("of which inactive for more than {guideline_inactive_months} month",
                                 "of which inactive for more than {guideline_inactive_months} months"),
           N_("no post for more than {inactive_period} before the crawl; under the city's guideline for social "
              "media such an account is to be closed (the accounts are listed per area)"),
           "accounts active or dormant at the snapshot whose last post known then (checks.last_post_at, "
           "accounts.last_post_at), or the first reading of a post count unchanged since, lies more than "
           "guideline_inactive_months calendar months before the snapshot's local day",
           lambda p: len(p.past_guideline), sub=True, count="guideline_inactive_months",
           short=NP_("of which inactive over {guideline_inactive_months} month",
                     "of which inactive over {guideline_inactive_months} months")),
    Figure("gone", N_("Removed"),
           N_("the address answered \"not found\" on {gone_visits} in a row, at least {gone_hours} apart, or the "
              "platform shows that the account no longer exists"),
           "snapshots.gone; ids: last status_changes.new at or before snapshots.taken_at = 'gone'", _snap("gone")),
    Figure("unknown", N_("Status unknown"),
           N_("the crawler cannot tell, because the platform requires a login, the site does not allow automatic "
              "visits (robots.txt), or it failed to answer {unknown_times} in a row; the status is never guessed"),
           "snapshots.unknown; ids: last status_changes.new at or before snapshots.taken_at = 'unknown'",
           _snap("unknown"), short=N_("Unknown")),
    Figure("unchecked", N_("Not yet checked"),
           N_("registered, but not yet visited by the crawler"),
           "snapshots.unchecked: registered accounts without any status_changes row yet", _snap("unchecked")),
    Figure("announced", N_("Announced the move to Tempus Hemma"),
           N_("the account has posted a notice that it is moving to Tempus Hemma, found by the crawler by then and "
              "confirmed by a reviewer"),
           "accounts registered at snapshots.taken_at with a notice in view announcing_notices (confirmed as a "
           "move, by the time the report is made) and detected_at <= snapshots.taken_at",
           lambda p: len(p.announced), short=N_("Announced the move")),
    Figure("pending_review", N_("With a notice awaiting review"),
           N_("accounts with a notice found by then that no reviewer has decided on yet (it may announce the move); "
              "not counted among those that announced it"),
           "accounts registered at snapshots.taken_at with a notice in state 'pending' (when the report is made) "
           "and detected_at <= snapshots.taken_at, not already counted as announced",
           lambda p: len(p.pending), short=N_("Notice awaiting review")),
)

BY_NAME = {f.name: f for f in FIGURES}

# Blogs and the guideline's rhythm, shown below the figures.
BLOGS = Figure("blogs", N_("Blogs whose status is known"), N_("blogs that exist and are active or dormant"),
               "accounts on a platform of kind 'blog' with status active or dormant at the snapshot",
               lambda p: len(p.blogs))
BLOGS_MONTHLY = Figure(
    "blogs_monthly", NP_("of which posted in the last month", "of which posted in the last {guideline_blog_months} months"),
    NP_("the guideline expects a blog to post at least once a month: blogs whose newest post was published at "
        "most a month before the crawl",
        "the guideline expects a blog to post at least once every {guideline_blog_months} months: blogs whose "
        "newest post was published at most {guideline_blog_months} months before the crawl"),
    "blogs (as above) whose last post known at the snapshot lies within guideline_blog_months calendar months "
    "of the snapshot's local day", lambda p: len(p.blogs_monthly), sub=True, count="guideline_blog_months")


def shown(points: list[Point]) -> list[Figure]:
    """The figures a table shows: "not yet checked" only when some point has such accounts."""
    return [f for f in FIGURES if f.name != "unchecked" or any(p.available and f.value(p) for p in points)]


def value(figure: Figure, point: Point) -> int | None:
    """The figure at a point; None when the point has no snapshot (never zero)."""
    return figure.value(point) if point.available else None


def rows(report) -> list[tuple[str, int | None, int | None, int | None]]:
    """(figure name, baseline, as-of, change) of the figures shown, in their order."""
    points = [report.baseline, report.as_of]
    out = []
    for f in shown(points):
        b, a = value(f, points[0]), value(f, points[1])
        out.append((f.name, b, a, None if a is None or b is None else a - b))
    return out
