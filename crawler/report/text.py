"""The report's words in its language: labels, sentences, definitions, dates and numbers.

Everything a renderer writes that is not a name, a URL or a number comes from here, through the
message catalogs (crawler/locale): `Words(lang)` is what templates and renderers are given.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal

from crawler import platforms, reasons
from crawler.clock import to_local
from crawler.locale import check_lang, translations
from crawler.models import Reason
from crawler.report.figures import BLOGS, BLOGS_MONTHLY, FIGURES, N_, Figure
from crawler.report.model import Point, Report

# The labels of the registry's generic platforms are words, not names: translated. (Named platforms,
# "WordPress", "Instagram", are names in every language.)
_GENERIC_PLATFORM_LABELS = (N_("Blog"), N_("Other"))


class Words:
    """The report's vocabulary in one language."""

    def __init__(self, lang: str, settings: dict[str, Any] | None = None, zone: str | None = None):
        self.lang = check_lang(lang)
        self.tr = translations(lang)
        self.settings = settings or {}
        self.zone = zone or self.settings.get("timezone")
        self.values = {**self.settings, **self._phrases()}

    def _phrases(self) -> dict[str, str]:
        """The settings' numbers with their unit, in the language's plural form ("90 dagar", "1 hour"),
        for the definitions: {active_period}, {inactive_period}, {gone_visits}, {gone_hours}, {unknown_times}."""
        s, out = self.settings, {}
        if "active_days" in s:
            out["active_period"] = self.ngettext("{n} day", "{n} days", s["active_days"])
        if "guideline_inactive_months" in s:
            out["inactive_period"] = self.ngettext("{n} month", "{n} months", s["guideline_inactive_months"])
        if "gone_after" in s:
            out["gone_visits"] = self.ngettext("{n} visit", "{n} visits", s["gone_after"])
        if "gone_min_hours" in s:
            out["gone_hours"] = self.ngettext("{n} hour", "{n} hours", s["gone_min_hours"])
        if "unknown_after" in s:
            out["unknown_times"] = self.ngettext("{n} time", "{n} times", s["unknown_after"])
        return out

    # -- catalog access
    def _(self, message: str, **values: Any) -> str:
        text = self.tr.gettext(message)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int | float, **values: Any) -> str:
        """The form for `n` (a fraction takes the plural), with {n} (as the language writes it) and
        `values` filled in."""
        count = int(n) if float(n).is_integer() else 2
        return self.tr.ngettext(singular, plural, count).format(n=self.number(n), **values)

    def text(self, message: Any, count: int | None = None) -> str:
        """A declared message (crawler.report.figures: an id, or (singular, plural) chosen by `count`)
        with the settings and phrases filled in."""
        if isinstance(message, tuple):
            return self.tr.ngettext(message[0], message[1], int(count or 0)).format(**self.values)
        return self.tr.gettext(message).format(**self.values)

    def quote(self, text: str) -> str:
        """Quoted as the language quotes: ”citat” in Swedish, “quote” in English."""
        return f"”{text}”" if self.lang == "sv" else f"“{text}”"

    # -- values
    def day(self, value: datetime | date | str | None) -> str:
        """A day as tables show it: 2023-03-02 (the inventory's local day)."""
        d = self._as_date(value)
        return d.isoformat() if d else ""

    def local_date(self, value: datetime | date | str | None) -> date | str:
        """A day as a table cell: the date itself (a spreadsheet keeps it a date), "" for none."""
        return self._as_date(value) or ""

    def long_day(self, value: datetime | date | str | None) -> str:
        """A day as sentences say it: 2 mars 2023, 2 March 2023."""
        d = self._as_date(value)
        return format_date(d, "d MMMM y", locale=self.lang) if d else ""

    def month(self, value: datetime | date | None) -> str:
        d = self._as_date(value)
        return format_date(d, "MMM y", locale=self.lang) if d else ""

    def _as_date(self, value: datetime | date | str | None) -> date | None:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
        if isinstance(value, datetime):
            return to_local(value, self.zone).date()
        return value

    def signed(self, n: int | None) -> str:
        if n is None:
            return "–"
        return f"+{n}" if n > 0 else ("±0" if n == 0 else f"−{-n}")

    def reason(self, why: Reason | None) -> str:
        """The reason as a table cell: a capital first letter ("HTTP 404 ..." for the English "http 404 ...")."""
        text = reasons.render(why, self.lang)
        if text.startswith("http "):
            return "HTTP" + text[4:]
        return text[:1].upper() + text[1:]

    def platform(self, name: str) -> str:
        p = platforms.get(name)
        label = p.label if p is not None else name
        return self.tr.gettext(label) if label in _GENERIC_PLATFORM_LABELS else label

    def status(self, status: str) -> str:
        """A status as said of one account ("aktivt", "vilande")."""
        words = {
            "active": self._("active"), "dormant": self._("dormant"), "gone": self._("removed"),
            "unknown": self._("status unknown"), "unchecked": self._("not yet checked"),
            "deregistered": self._("deregistered"), "unregistered": self._("not yet registered"),
        }
        return words.get(status, status)

    def status_count(self, status: str, n: int) -> str:
        """ "2 dormant", "1 borttaget" (in the cohort's sentence)."""
        forms = {
            "dormant": lambda: self.ngettext("{n} dormant", "{n} dormant", n),
            "gone": lambda: self.ngettext("{n} removed", "{n} removed", n),
            "unknown": lambda: self.ngettext("{n} with unknown status", "{n} with unknown status", n),
            "deregistered": lambda: self.ngettext("{n} deregistered", "{n} deregistered", n),
            "unchecked": lambda: self.ngettext("{n} not yet checked", "{n} not yet checked", n),
        }
        return forms[status]() if status in forms else f"{n} {status}"

    def kind(self, kind: str) -> str:
        """What a confirmed notice announced."""
        return {"move": self._("Moving to Tempus Hemma"), "closing": self._("Closing"),
                "elsewhere": self._("Moving to another channel")}.get(kind, kind)

    def number(self, x: float | int) -> str:
        """A number as the language writes it: 8 (not 8.0), 24,5 in Swedish, 24.5 in English; no grouping,
        so it reads as the tables' numbers do."""
        if float(x).is_integer():
            return str(int(x))
        return format_decimal(x, locale=self.lang, group_separator=False)

    # -- figures
    def figure(self, f: Figure) -> str:
        return self.text(f.label, self.settings.get(f.count) if f.count else None)

    def figure_short(self, f: Figure) -> str:
        """The figure's column heading in the series (its label when it has no short one)."""
        return self.text(f.short, self.settings.get(f.count) if f.count else None) if f.short else self.figure(f)

    def definition(self, f: Figure) -> str:
        return self.text(f.definition, self.settings.get(f.count) if f.count else None)

    # -- the points
    def point_label(self, point: Point, report: Report) -> str:
        """ "2023-03-02 (crawl no. 14, the nearest to 2023-03-01)"."""
        if not point.available:
            return self._("not available: {why}", why=self.unavailable(point, report))
        taken, asked = self.day(point.at), self.day(point.requested)
        number = point.snapshot["id"]
        if taken == asked or len(point.requested) > 10:
            return self._("{day} (crawl no. {number})", day=taken, number=number)
        if report.rule == "before":
            return self._("{day} (crawl no. {number}, the last one on or before {asked})", day=taken,
                          number=number, asked=asked)
        return self._("{day} (crawl no. {number}, the nearest to {asked})", day=taken, number=number, asked=asked)

    def unavailable(self, point: Point, report: Report) -> str:
        if point.nearest is None:
            return self._("the inventory has no crawl yet")
        return self._("no crawl within {period} of {day} (the nearest: {nearest})", period=self.tolerance(report),
                      day=self.day(point.requested), nearest=self.day(point.nearest))

    def tolerance(self, report: Report) -> str:
        return self.ngettext("{n} day", "{n} days", report.tolerance_days)

    def cohort(self, report: Report) -> list[str]:
        """The accounts active at the baseline, followed to the as-of date, in sentences."""
        c = report.cohort
        if c is None:
            return []
        base, as_of = self.long_day(report.baseline.at), self.long_day(report.as_of.at)
        active, stopped, announced = len(c["active_at_baseline"]), len(c["no_longer_active"]), len(c["announced"])
        if active == 0:
            out = [self._("No account was active on {base}.", base=base)]
        elif stopped == 0:
            out = [self.ngettext("The only account active on {base} was still active on {as_of}.",
                                 "All {n} accounts active on {base} were still active on {as_of}.", active,
                                 base=base, as_of=as_of)]
        else:
            parts = ", ".join(self.status_count(k, len(v)) for k, v in sorted(c["no_longer_active_by_status"].items()))
            of_them = (self._("none of them had announced the move to Tempus Hemma") if announced == 0 else
                       self.ngettext("{n} of them had announced the move to Tempus Hemma",
                                     "{n} of them had announced the move to Tempus Hemma", announced))
            out = [self._("{of_active} {stopped} ({parts}); {of_them}.",
                          of_active=self.ngettext("Of the {n} account active on {base},",
                                                  "Of the {n} accounts active on {base},", active, base=base),
                          stopped=self.ngettext("{n} was no longer active on {as_of}",
                                                "{n} were no longer active on {as_of}", stopped, as_of=as_of),
                          parts=parts, of_them=of_them)]
            pending = len(c["pending_review"])
            if pending and announced:
                out.append(self.ngettext("For one more of them, a notice awaits a reviewer's decision.",
                                         "For {n} more of them, a notice awaits a reviewer's decision.", pending))
            elif pending:
                out.append(self.ngettext("For one of them, a notice awaits a reviewer's decision.",
                                         "For {n} of them, a notice awaits a reviewer's decision.", pending))
        became = len(c["became_active"])
        out.append(self._("No account that was not active on {base} was active on {as_of}.", base=base, as_of=as_of)
                   if became == 0 else
                   self.ngettext("{n} account that was not active on {base} was active on {as_of}.",
                                 "{n} accounts that were not active on {base} were active on {as_of}.", became,
                                 base=base, as_of=as_of))
        return out

    def definitions(self, report: Report) -> list[tuple[str, str]]:
        """(term, definition) for every figure and status the report shows, with the settings in force."""
        out = [(_capital(self.figure(f)), self.definition(f)) for f in (*FIGURES, BLOGS, BLOGS_MONTHLY)]
        rule = (self._("the last crawl on or before it") if report.rule == "before"
                else self._("the crawl nearest to it"))
        zone = self.settings.get("timezone")
        days = (self._("Days are Swedish time.") if zone in ("Europe/Stockholm", None)
                else self._("Days are local time ({timezone}).", timezone=zone))
        out.append((self._("Crawl"), self._(
            "the crawler visits every registered account; after each complete round the counts are saved. Each "
            "date of the report is read from {rule} (at most {period} away); an account's status is its last "
            "change of status up to that crawl. {days}", rule=rule, period=self.tolerance(report), days=days)))
        out.append((self._("Start-up"), self._(
            "the first crawls, before every account could be judged (an account that shows only its number of "
            "posts needs two visits, and {active_period} without a new post to count as dormant). They are "
            "shown, marked, and left out of the trend.", **self.values)))
        return out

    def notes(self, report: Report) -> list[str]:
        out = []
        for n in report.notes:
            point = self._("baseline") if n["point"] == "baseline" else self._("as of")
            out.append(self.ngettext(
                "{point}: the crawl counted {n} account with the status {status}; the status history gives {history}",
                "{point}: the crawl counted {n} accounts with the status {status}; the status history gives {history}",
                n["counted"], point=point, status=self.quote(self.status(n["status"])), history=n["history"]))
        return out


def _capital(text: str) -> str:
    """A label standing alone ("of which ..." as a term or a column's heading): with a capital letter."""
    return text[:1].upper() + text[1:]
