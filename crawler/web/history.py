"""An account's status over time as a small SVG strip (one band per status period), drawn from its
status history. Pure: the history, the account, `now` and the language in; markup out (every text in
it escaped). The page shows the same history as a table beside it, so the chart is never the only
way to read it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from crawler.clock import to_local
from crawler.locale import translations
from crawler.store.records import AccountRecord, StatusChange

# Colours with at least 3:1 contrast against white (WCAG 1.4.11), and a pattern-free legend with words.
COLOURS = {"active": "#1b7a3a", "dormant": "#a35d00", "gone": "#b3261e", "unknown": "#5f6368",
           "unchecked": "#8a8f98"}
WIDTH, BAND, TOP = 640, 22, 6


def _label(status: str, _) -> str:
    return {"active": _("active"), "dormant": _("dormant"), "gone": _("removed"), "unknown": _("status unknown"),
            "unchecked": _("not yet checked")}.get(status, status)


def periods(history: Sequence[StatusChange], start: datetime, now: datetime) -> list[tuple[str, datetime, datetime]]:
    """(status, from, to) from the account's registration to `now`; "unchecked" before its first status."""
    out: list[tuple[str, datetime, datetime]] = []
    status, since = "unchecked", start
    for change in history:
        if change.at > since:
            out.append((status, since, change.at))
        status, since = change.new, max(since, change.at)
    if now > since:
        out.append((status, since, now))
    return out


def timeline(history: Sequence[StatusChange], account: AccountRecord, now: datetime, lang: str,
             zone: str | None = None) -> str:
    """The SVG strip, with a title naming each period for screen readers. It ends at the last check
    (what is known), or `now` for an account never checked."""
    _ = translations(lang).gettext
    now = account.last_checked_at or now
    start = min([account.registered_at, *(c.at for c in history)])
    spans = periods(history, start, max(now, start))
    total = max((now - start).total_seconds(), 1.0)

    def x(at: datetime) -> float:
        return round((at - start).total_seconds() / total * WIDTH, 1)

    def day(at: datetime) -> str:
        return f"{to_local(at, zone):%Y-%m-%d}"

    summary = "; ".join(f"{_label(s, _)} {day(a)} – {day(b)}" for s, a, b in spans)
    title = _("Status over time") + ": " + summary
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {TOP + BAND + 40}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for status, a, b in spans:
        colour = COLOURS.get(status, "#5f6368")
        parts.append(f'<rect x="{x(a)}" y="{TOP}" width="{max(x(b) - x(a), 1.0)}" height="{BAND}" fill="{colour}">'
                     f'<title>{escape(_label(status, _))}: {day(a)} – {day(b)}</title></rect>')
    parts.append(f'<text x="0" y="{TOP + BAND + 14}" font-size="11" fill="#1a1a1a">{day(start)}</text>')
    parts.append(f'<text x="{WIDTH}" y="{TOP + BAND + 14}" font-size="11" text-anchor="end" fill="#1a1a1a">'
                 f'{day(now)}</text>')
    legend_x = 0.0
    for status in dict.fromkeys(s for s, _a, _b in spans):
        label = escape(_label(status, _))
        parts.append(f'<rect x="{legend_x}" y="{TOP + BAND + 24}" width="10" height="10" '
                     f'fill="{COLOURS.get(status, "#5f6368")}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{TOP + BAND + 33}" font-size="11" fill="#1a1a1a">{label}</text>')
        legend_x += 24 + 7 * len(label)
    parts.append("</svg>")
    return "".join(parts)
