"""The report's chart: accounts by status over time, drawn by matplotlib (Agg, no display, no browser).

One drawing serves every output: SVG (text kept as text) inside the HTML report, PNG inside the
DOCX. Why matplotlib: a maintained plotting library with a real date axis, legends, line styles and
markers that stay apart in greyscale print, and a raster backend (Agg) that renders a PNG without a
browser, a display or system libraries; one chart drawn once is one chart in every format.

Start-up crawls (see build.warm_up_end) are shaded and drawn as open markers without lines; the
launch of Tempus Hemma and the report's two dates are marked.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time

from crawler.clock import to_local
from crawler.report import figures as F
from crawler.report.model import Report
from crawler.report.text import Words

SERIES = ("active", "dormant", "gone", "unknown")
# Greyscale-safe: each line differs by darkness, dash and marker, not only by hue.
STYLE = {
    "active": {"color": "#1b5e20", "linestyle": "-", "marker": "o"},
    "dormant": {"color": "#b07800", "linestyle": "--", "marker": "s"},
    "gone": {"color": "#b71c1c", "linestyle": ":", "marker": "^"},
    "unknown": {"color": "#555555", "linestyle": "-.", "marker": "D"},
}


def _figure(report: Report, lang: str):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure

    w = Words(lang, report.settings)
    zone = report.settings.get("timezone")
    fig = Figure(figsize=(9.0, 3.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    points = [p for p in (report.timeline or report.series) if p.available]
    xs = [to_local(p.at, zone).replace(tzinfo=None) for p in points]
    warm = [p.warmup for p in points]
    for status in SERIES:
        f = F.BY_NAME[status]
        style = STYLE[status]
        ys = [f.value(p) for p in points]
        steady = [(x, y) for x, y, wu in zip(xs, ys, warm, strict=True) if not wu]
        if steady:
            ax.plot([x for x, _ in steady], [y for _, y in steady], label=w.figure(f), linewidth=2,
                    markersize=4, **style)
        early = [(x, y) for x, y, wu in zip(xs, ys, warm, strict=True) if wu]
        if early:
            ax.plot([x for x, _ in early], [y for _, y in early], linestyle="none", marker=style["marker"],
                    markersize=4, markerfacecolor="white", markeredgecolor=style["color"])
    if any(warm):
        # the start-up crawls, up to the first crawl after them (or the last one, if all are start-up)
        first_steady = next((x for x, wu in zip(xs, warm, strict=True) if not wu), xs[-1])
        ax.axvspan(xs[0], first_steady, color="#000000", alpha=0.07, linewidth=0)
        ax.annotate(w._("start-up, not part of the trend"), xy=(xs[0], 1.0), xycoords=("data", "axes fraction"),
                    xytext=(3, -3), textcoords="offset points", fontsize=7, color="#333333", va="top")
    launch = date.fromisoformat(report.settings["launch_date"])
    if xs and xs[0].date() <= launch <= xs[-1].date():
        lx = datetime.combine(launch, time(0))
        ax.axvline(lx, color="#000000", linewidth=1.2)
        ax.annotate(w._("Tempus Hemma launched"), xy=(lx, 0.5), xycoords=("data", "axes fraction"),
                    xytext=(-4, 0), textcoords="offset points", fontsize=8, fontweight="bold", rotation=90,
                    ha="right", va="center")
    # The report's two dates: their names in the band above the data (the baseline's to the left of
    # its line, the as-of date's to the right), so they cross no line and never meet each other.
    for name, p, side in ((w._("Baseline"), report.baseline, -1), (w._("As of"), report.as_of, 1)):
        if p.available:
            px = to_local(p.at, zone).replace(tzinfo=None)
            ax.axvline(px, color="#444444", linewidth=0.8, linestyle=(0, (2, 2)))
            ax.annotate(name, xy=(px, 1.0), xycoords=("data", "axes fraction"), xytext=(3 * side, -3),
                        textcoords="offset points", fontsize=7, color="#333333", va="top",
                        ha="left" if side > 0 else "right", annotation_clip=False,
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"})
    top = max((F.BY_NAME[s].value(p) for p in points for s in SERIES), default=0)
    ax.set_ylim(0, max(top, 1) * 1.18)  # a band above the data for the labels
    ax.set_ylabel(w._("Accounts"))
    ax.set_xlabel(w._("Day of the crawl"))
    ax.grid(True, axis="y", color="#dddddd", linewidth=0.6)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=9)
    return fig


def svg(report: Report, lang: str) -> str:
    """The chart as an SVG element (text as text, so it can be read, searched and translated)."""
    import matplotlib

    fig = _figure(report, lang)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "crawler-report"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def png(report: Report, lang: str, dpi: int = 200) -> bytes:
    """The chart as a PNG (for DOCX and xlsx), rendered by Agg."""
    fig = _figure(report, lang)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()
