"""The report's words in its language: labels, sentences, definitions, dates and numbers.

Everything a renderer writes that is not a name, a URL or a number comes from here, through the
message catalogs (crawler/locale): `Words(lang)` is what templates and renderers are given.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.dates import format_date

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

    # -- catalog access
    def _(self, message: str, **values: Any) -> str:
        text = self.tr.gettext(message)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        return self.tr.ngettext(singular, plural, n).format(n=n, **values)

    # -- values
    def day(self, value: datetime | date | str | None) -> str:
        """A day as tables show it: 2023-03-02 (the inventory's local day)."""
        d = self._as_date(value)
        return d.isoformat() if d else ""

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
        text = reasons.render(why, self.lang)
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
        return {"move": self._("Moves to Tempus Hemma"), "closing": self._("Closes"),
                "elsewhere": self._("Moves to another channel")}.get(kind, kind)

    # -- figures
    def figure(self, f: Figure) -> str:
        return self._(f.label, **self.settings)

    def definition(self, f: Figure) -> str:
        return self._(f.definition, **self.settings)

    # -- the points
    def point_label(self, point: Point, report: Report) -> str:
        """ "2023-03-02 (crawl no. 14, the one nearest 2023-03-01)"."""
        if not point.available:
            return f"{self._('not available')}: {self.unavailable(point, report)}"
        taken, asked = self.day(point.at), self.day(point.requested)
        number = point.snapshot["id"]
        if taken == asked or len(point.requested) > 10:
            return self._("{day} (crawl no. {number})", day=taken, number=number)
        if report.rule == "before":
            return self._("{day} (crawl no. {number}, the last one on or before {asked})", day=taken,
                          number=number, asked=asked)
        return self._("{day} (crawl no. {number}, the one nearest {asked})", day=taken, number=number, asked=asked)

    def unavailable(self, point: Point, report: Report) -> str:
        if point.nearest is None:
            return self._("the inventory has no crawl yet")
        return self._("no crawl within {days} days of {day} (nearest: {nearest})", days=_num(report.tolerance_days),
                      day=self.day(point.requested), nearest=self.day(point.nearest))

    def cohort(self, report: Report) -> list[str]:
        c = report.cohort
        if c is None:
            return []
        base, as_of = self.long_day(report.baseline.at), self.long_day(report.as_of.at)
        parts = ", ".join(self.status_count(k, len(v)) for k, v in sorted(c["no_longer_active_by_status"].items()))
        out = [self._("Of the {active} accounts active on {base}, {stopped} were no longer active on {as_of} "
                      "({parts}); {announced} of them had announced the move to Tempus Hemma.",
                      active=len(c["active_at_baseline"]), base=base, stopped=len(c["no_longer_active"]),
                      as_of=as_of, parts=parts or "–", announced=len(c["announced"]))]
        if c["pending_review"]:
            out.append(self.ngettext("For {n} more of them a notice awaits review.",
                              "For {n} more of them a notice awaits review.", len(c["pending_review"])))
        out.append(self.ngettext("{n} account that was not active on {base} was active on {as_of}.",
                          "{n} accounts that were not active on {base} were active on {as_of}.",
                          len(c["became_active"]), base=base, as_of=as_of))
        return out

    def definitions(self, report: Report) -> list[tuple[str, str]]:
        """(term, definition) for every figure and status the report shows, with the settings in force."""
        out = [(self.figure(f), self.definition(f)) for f in (*FIGURES, BLOGS, BLOGS_MONTHLY)]
        rule = (self._("the last crawl on or before it") if report.rule == "before"
                else self._("the crawl nearest to it"))
        out.append((self._("Crawl"), self._(
            "the program visits every registered account; after each complete round the counts are saved. Each "
            "date of the report is read from {rule} (at most {days} days away); an account's status is its last "
            "change of status up to that crawl. Days are local time ({timezone}).",
            rule=rule, days=_num(report.tolerance_days), **self.settings)))
        out.append((self._("Start-up"), self._(
            "the first crawls, before every account could be judged (an account that shows only its number of "
            "posts needs two visits, and {active_days} days without a new post to count as dormant). They are "
            "shown, marked, and left out of the trend.", **self.settings)))
        return out

    def notes(self, report: Report) -> list[str]:
        out = []
        for n in report.notes:
            point = self._("baseline") if n["point"] == "baseline" else self._("as of")
            out.append(self._("{point}: the crawl counted {counted} accounts as {status}, their status history gives "
                              "{history}", point=point, counted=n["counted"], status=self.status(n["status"]),
                              history=n["history"]))
        return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
