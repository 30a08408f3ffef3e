"""Accuracy of the platform adapters on the saved-page corpus (tests/fixtures/platforms/).

Every page is parsed by the adapter its folder names and compared with NAME.expected.json:
the day of the last post (Stockholm calendar day) is exact, within one day, wrong, missed (a date
was expected, none read) or spurious (none expected, one read); existence is right or wrong, and
a live account read as gone (exists=false) is counted apart: it must never happen. A generated
10,000-entry feed with duplicates and junk dates is added to the "feed" figures.

With --demo, the same figures over the simulated web of crawler/demo (pages written by another
hand, rendered in memory, read through the observe driver as a crawl would) at several dates.

With --real, the corpus of what real blog software serves (tests/fixtures/real/, made by
scripts/corpus/make_corpus.py): per source (software, theme) and page type, the newest post's day
(Europe/Stockholm) as read by the crawler's adapters ("ours"), by htmldate alone in its four
variants (extensive_search and original_date on or off; `pip install htmldate`), and by the two
orders of combining them (ours, else htmldate; htmldate, else ours). Existence is the adapters'.

Usage: .venv/bin/python scripts/accuracy.py [--corpus DIR] [--json] [--verbose] [--demo | --real [DIR]]
Exit status 1 when exact-day accuracy on blogs+feeds is under 95 % or any live account reads as gone
(with --real: when any live page reads as gone).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.dates import STOCKHOLM  # noqa: E402
from crawler.models import Fetched  # noqa: E402
from crawler.platforms import adapter  # noqa: E402
from crawler.settings import Settings  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "platforms"
TYPES = {".xml": "application/xml", ".json": "application/json", ".html": "text/html; charset=utf-8"}
BLOGS_AND_FEEDS = ("feed", "wordpress", "blogger", "blog")
COLUMNS = ("cases", "exact", "within_1d", "wrong", "missed", "spurious", "exists_wrong", "wrong_gone")


def big_feed(entries: int = 10_000) -> tuple[bytes, dict]:
    """An RSS feed of `entries` items, newest in the middle, with duplicates, 2100 and 1970 dates."""
    start = datetime(2023, 3, 12, 9, 30, tzinfo=UTC)
    items = []
    for i in range(entries):
        when = start - timedelta(hours=6 * abs(i - entries // 2))
        items.append(f"<item><title>Inlägg {i}</title><link>https://big.example.se/p/{i}</link>"
                     f"<pubDate>{when:%a, %d %b %Y %H:%M:%S} +0000</pubDate><description>Text {i}.</description></item>")
    items[10] = items[11]  # a duplicate
    items.insert(0, "<item><title>Framtid</title><link>https://big.example.se/f</link><pubDate>Fri, 01 Jan 2100 00:00:00 +0000</pubDate></item>")
    items.insert(1, "<item><title>Epok</title><link>https://big.example.se/e</link><pubDate>Thu, 01 Jan 1970 00:00:00 +0000</pubDate></item>")
    body = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Stor</title>'
            "<link>https://big.example.se/</link>" + "".join(items) + "</channel></rss>").encode()
    expected = {"url": "https://big.example.se/feed/", "status": 200, "exists": True, "last_post_at": "2023-03-12",
                "now": "2023-04-15T12:00:00Z", "content_type": "application/rss+xml"}
    return body, expected


def cases(corpus: Path):
    """(platform, name, body, expected) for every saved page, then the generated big feed."""
    for exp_path in sorted(corpus.glob("*/*.expected.json")):
        stem = exp_path.name[: -len(".expected.json")]
        pages = [p for p in exp_path.parent.glob(stem + ".*") if not p.name.endswith(".expected.json")]
        if len(pages) != 1:
            raise SystemExit(f"{exp_path}: expected exactly one page beside it, found {len(pages)}")
        expected = json.loads(exp_path.read_text(encoding="utf-8"))
        expected.setdefault("content_type", TYPES.get(pages[0].suffix, "application/octet-stream"))
        yield exp_path.parent.name, stem, pages[0].read_bytes(), expected
    body, expected = big_feed()
    yield "feed", "generated_10000_entries", body, expected


def judge(expected: dict, obs) -> dict[str, int]:
    """The counters one case adds to its platform's row."""
    out = dict.fromkeys(COLUMNS, 0)
    out["cases"] = 1
    if obs.exists is not expected["exists"]:
        out["exists_wrong"] = 1
        if obs.exists is False and expected["exists"] is True:
            out["wrong_gone"] = 1
    want = date.fromisoformat(expected["last_post_at"]) if expected.get("last_post_at") else None
    got = obs.last_post_at.astimezone(STOCKHOLM).date() if obs.last_post_at else None
    if want == got:
        out["exact"] = 1
    elif want is None:
        out["spurious"] = 1
    elif got is None:
        out["missed"] = 1
    elif abs((want - got).days) <= 1:
        out["within_1d"] = 1
    else:
        out["wrong"] = 1
    return out


def run(corpus: Path, verbose: bool = False) -> tuple[dict[str, dict[str, int]], float]:
    settings = Settings()
    rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    started = time.perf_counter()
    for platform, name, body, expected in cases(corpus):
        fetched = Fetched(url=expected["url"], final_url=expected.get("final_url", expected["url"]),
                          status=expected["status"], headers={"content-type": expected["content_type"]}, body=body)
        now = datetime.fromisoformat(expected["now"].replace("Z", "+00:00"))
        obs = adapter(platform).parse(fetched, now, settings, platform)
        verdict = judge(expected, obs)
        for key, value in verdict.items():
            rows[platform][key] += value
        if verbose and (verdict["exact"] == 0 or verdict["exists_wrong"]):
            got = obs.last_post_at.isoformat() if obs.last_post_at else None
            print(f"  {platform}/{name}: expected exists={expected['exists']} {expected.get('last_post_at')}, "
                  f"got exists={obs.exists} {got} ({obs.reason})")
    return dict(rows), time.perf_counter() - started


def run_demo(cycles: tuple[int, ...] = (0, 8, 13, 19, 25)) -> dict[str, dict[str, int]]:
    """Accuracy over the demo world's accounts: observe() with a fetch that renders pages in memory."""
    import asyncio
    from urllib.parse import urljoin, urlsplit

    from crawler.demo.pages import render
    from crawler.demo.world import World, cycle_time
    from crawler.platforms import observe

    world = World()
    hosts = sorted({a.host for a in world.accounts()} | {"wpself-new"})
    bases = {h: f"http://127.0.0.{i + 2}:8000" for i, h in enumerate(hosts)}
    by_base = {v: k for k, v in bases.items()}
    settings = Settings()
    rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))

    def fetcher(at: datetime):
        async def fetch(url: str) -> Fetched:
            current = url
            for _ in range(6):
                parts = urlsplit(current)
                page = render(world, at, bases, by_base[f"{parts.scheme}://{parts.netloc}"],
                              parts.path + (f"?{parts.query}" if parts.query else ""))
                if page.status in (301, 302) and page.location:
                    current = urljoin(current, page.location)
                    continue
                return Fetched(url=url, final_url=current, status=page.status,
                               headers={"content-type": page.content_type}, body=page.body)
            return Fetched(url=url, final_url=current, error="too_many_redirects")
        return fetch

    for k in cycles:
        at = cycle_time(k)
        fetch = fetcher(at)
        for acc in world.accounts():
            if acc.login_wall or acc.robots_disallowed:
                continue  # nothing to read: the crawler says unknown (tested elsewhere)
            url = f"{bases[acc.host]}/{acc.slug}/"
            obs, _ = asyncio.run(observe(acc.platform, url, None, fetch, at, settings))
            truth = world.truth(acc.index, at)
            last = truth.last_post_at if acc.kind != "instagram" else None  # Instagram shows counts only
            expected = {"exists": truth.exists,
                        "last_post_at": last.astimezone(STOCKHOLM).date().isoformat() if last and truth.exists else None}
            verdict = judge(expected, obs)
            if acc.kind == "instagram" and truth.exists and obs.post_count != truth.post_count:
                verdict["wrong"] += 1
            for key, value in verdict.items():
                rows[acc.platform][key] += value
    return dict(rows)


# ------------------------------------------------------------------ the real-software corpus

REAL = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "real"
# page types -> the group the targets speak of
GROUPS = {"post": "article+listing", "front": "article+listing", "listing": "article+listing",
          "archive": "article+listing", "page": "article+listing", "feed": "feed", "api": "api",
          "missing": "removed/soft-404", "removed": "removed/soft-404", "outage": "outage"}
HTMLDATE_VARIANTS = {"htmldate": (True, True), "htmldate_fast": (False, True),
                     "htmldate_updated": (True, False), "htmldate_fast_updated": (False, False)}


def _htmldate(body: bytes, url: str, captured: datetime, extensive: bool, original: bool) -> str | None:
    """htmldate's day for one page, or None (it reads HTML only)."""
    from htmldate import find_date

    if common_sniff(body) != "html":
        return None
    try:
        return find_date(body.decode("utf-8", "replace"), url=url, extensive_search=extensive, original_date=original,
                         outputformat="%Y-%m-%d", max_date=captured.strftime("%Y-%m-%d"))
    except Exception:  # noqa: BLE001 - a library failure on one page is a miss, not a crash
        return None


def common_sniff(body: bytes) -> str:
    from crawler.platforms import common

    return common.sniff(body)


def real_cases(folder: Path):
    """(source, state, response, capture) for every captured response with an expected answer."""
    for path in sorted(folder.glob("*/*/capture.json")):
        cap = json.loads(path.read_text(encoding="utf-8"))
        source = f"{cap['software']}/{cap['theme']}" + (f" ({cap['site']})" if cap["software"] != "wordpress" else "")
        for state, content in cap["states"].items():
            for response in content["responses"]:
                if "expected" in response:
                    yield source, state, response, cap, path.parent


def run_real(folder: Path, with_htmldate: bool = True) -> list[dict]:
    """One row per captured response: the expected answer and each method's day."""
    settings = Settings()
    try:
        import htmldate  # noqa: F401
    except ImportError:
        with_htmldate = False
    rows = []
    for source, state, response, cap, where in real_cases(folder):
        exp = response["expected"]
        body = (where / response["body"]).read_bytes()
        url = cap["origin"] + response["path"]
        captured = datetime.fromisoformat(cap["captured_at"].replace("Z", "+00:00"))
        headers = {k.lower(): v for k, v in response["headers"].items() if k != "content-encoding"}
        fetched = Fetched(url=url, final_url=url, status=response["status"], headers=headers, body=body)
        platform = "wordpress" if cap["software"] == "wordpress" else "blog"
        started = time.perf_counter()
        obs = adapter(platform).parse(fetched, captured, settings, platform)
        parse_ms = (time.perf_counter() - started) * 1000
        ours = obs.last_post_at.astimezone(STOCKHOLM).date().isoformat() if obs.last_post_at else None
        with _without_htmldate():
            alone = adapter(platform).parse(fetched, captured, settings, platform)
        ours_alone = alone.last_post_at.astimezone(STOCKHOLM).date().isoformat() if alone.last_post_at else None
        row = {"source": source, "state": state, "path": response["path"], "type": response["type"],
               "group": GROUPS[response["type"]], "expected_day": exp["newest_day"], "expected_exists": exp["exists"],
               "needs_history": exp.get("needs_history", False), "exists": obs.exists, "reason": obs.reason,
               "html": common_sniff(body) == "html", "parse_ms": parse_ms,
               "used_htmldate": any("htmldate" in n for n in obs.notes),
               "days": {"ours": ours, "ours_alone": ours_alone}}
        if with_htmldate:
            for name, (extensive, original) in HTMLDATE_VARIANTS.items():
                row["days"][name] = _htmldate(body, url, captured, extensive, original) if response["status"] == 200 else None
            for name in HTMLDATE_VARIANTS:
                row["days"][f"ours>{name}"] = ours or row["days"][name]
                row["days"][f"{name}>ours"] = row["days"][name] or ours
        rows.append(row)
    return rows


@contextlib.contextmanager
def _without_htmldate():
    """The adapters as they were before htmldate (no generic fallback), for the comparison column."""
    from crawler.platforms import blog

    kept = blog.generic_page_day
    blog.generic_page_day = lambda *args, **kwargs: None
    try:
        yield
    finally:
        blog.generic_page_day = kept


def day_verdict(expected: str | None, got: str | None) -> str:
    if expected == got:
        return "exact"
    if expected is None:
        return "spurious"
    if got is None:
        return "missed"
    return "off_by_one" if abs((date.fromisoformat(expected) - date.fromisoformat(got)).days) == 1 else "wrong"


def summarize_real(rows: list[dict], key) -> dict:
    """Per key(row): cases, exact-day share per method, existence right, live read as gone."""
    out: dict = {}
    for row in rows:
        cell = out.setdefault(key(row), {"cases": 0, "exact": defaultdict(int), "exists_right": 0,
                                         "exists_cases": 0, "wrong_gone": 0, "needs_history": 0})
        cell["cases"] += 1
        cell["html"] = cell.get("html", 0) + row["html"]
        for method, got in row["days"].items():
            if method in HTMLDATE_VARIANTS and not row["html"]:
                continue  # htmldate reads HTML only: its figures are over the HTML pages
            cell["exact"][method] += day_verdict(row["expected_day"], got) == "exact"
        if row["needs_history"]:
            cell["needs_history"] += 1
        else:
            cell["exists_cases"] += 1
            cell["exists_right"] += row["exists"] is row["expected_exists"]
        if row["expected_exists"] is True and row["exists"] is False:
            cell["wrong_gone"] += 1
    return out


def _share(cell: dict, method: str) -> str:
    cases = cell["html"] if method in HTMLDATE_VARIANTS else cell["cases"]
    return f"{'n/a':>19} " if not cases else f"{cell['exact'][method] / cases:>19.1%} "


def print_real(rows: list[dict], verbose: bool) -> int:
    methods = list(rows[0]["days"]) if rows else ["ours"]
    shown = [m for m in methods if m in ("ours", "ours_alone", "htmldate", "htmldate_updated", "htmldate_fast", "ours>htmldate", "htmldate>ours",
                                         "ours>htmldate_fast", "htmldate_fast>ours")]

    def table(title: str, summary: dict) -> None:
        print(f"\n{title}")
        header = f"{'':<44}{'cases':>6}" + "".join(f"{m:>20}" for m in shown) + f"{'exists ok':>11}{'gone!':>6}"
        print(header)
        print("-" * len(header))
        for name, cell in sorted(summary.items()):
            label = " / ".join(name) if isinstance(name, tuple) else name
            exact = "".join(_share(cell, m) for m in shown)
            exists = f"{cell['exists_right']}/{cell['exists_cases']}" if cell["exists_cases"] else "-"
            print(f"{label:<44}{cell['cases']:>6}{exact}{exists:>11}{cell['wrong_gone']:>6}")

    table("newest post's day right (Europe/Stockholm), by group", summarize_real(rows, lambda r: r["group"]))
    table("by page type", summarize_real(rows, lambda r: r["type"]))
    table("by source and group", summarize_real(rows, lambda r: (r["source"], r["group"])))
    everything = summarize_real(rows, lambda r: "all")["all"]
    print("\nall methods, all pages:")
    for m in methods:
        cases = everything["html"] if m in HTMLDATE_VARIANTS else everything["cases"]
        print(f"  {m:<28}{everything['exact'][m]:>4}/{cases} exact day" + (" (HTML pages)" if m in HTMLDATE_VARIANTS else ""))
    history = [r for r in rows if r["needs_history"]]
    print(f"\nremoved addresses answering 200 (only the account's history can tell): {len(history)}, "
          f"read as exists=True from the page alone: {sum(r['exists'] is True for r in history)}")
    print(f"live pages read as gone: {everything['wrong_gone']} (target 0)")
    html_rows = [r for r in rows if r["html"]]
    if html_rows:
        times = sorted(r["parse_ms"] for r in html_rows)
        fallback = [r["parse_ms"] for r in html_rows if r["used_htmldate"]]
        print(f"parse time of HTML pages (ours, with the htmldate fallback): median {times[len(times) // 2]:.2f} ms, "
              f"max {times[-1]:.1f} ms; htmldate asked on {len(fallback)} of {len(html_rows)} pages"
              + (f" (median {sorted(fallback)[len(fallback) // 2]:.2f} ms there)" if fallback else ""))
    if verbose:
        print("\ncases where ours or htmldate is not exact (expected | ours | htmldate | htmldate_fast):")
        for r in rows:
            d = r["days"]
            if any(day_verdict(r["expected_day"], d.get(m)) != "exact" for m in ("ours", "htmldate")
                   if m in d and (m == "ours" or r["html"])) \
                    or (not r["needs_history"] and r["exists"] is not r["expected_exists"]):
                print(f"  {r['source']} {r['state']} {r['type']} {r['path']}: {r['expected_day']} | {d.get('ours')} | "
                      f"{d.get('htmldate')} | {d.get('htmldate_fast')}; exists {r['exists']} (want {r['expected_exists']}, "
                      f"{r['reason']})")
    return 0 if everything["wrong_gone"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--verbose", action="store_true", help="list every case that is not exact")
    parser.add_argument("--demo", action="store_true", help="measure over the simulated web instead of the corpus")
    parser.add_argument("--real", nargs="?", type=Path, const=REAL, default=None,
                        help="measure on the real-software corpus (default tests/fixtures/real), with htmldate if installed")
    args = parser.parse_args(argv)
    if args.real is not None:
        rows = run_real(args.real)
        if args.json:
            print(json.dumps({"rows": rows}, indent=1, ensure_ascii=False))
            return 0 if not any(r["expected_exists"] is True and r["exists"] is False for r in rows) else 1
        return print_real(rows, args.verbose)
    if args.demo:
        started = time.perf_counter()
        rows = run_demo()
        elapsed = time.perf_counter() - started
    else:
        rows, elapsed = run(args.corpus, args.verbose)
    total = dict.fromkeys(COLUMNS, 0)
    blogs = dict.fromkeys(COLUMNS, 0)
    for platform, row in rows.items():
        for key in COLUMNS:
            total[key] += row[key]
            if platform in BLOGS_AND_FEEDS:
                blogs[key] += row[key]
    exact_blogs = blogs["exact"] / blogs["cases"] if blogs["cases"] else 0.0
    if args.json:
        print(json.dumps({"platforms": rows, "blogs_and_feeds": blogs, "all": total,
                          "exact_day_blogs_and_feeds": round(exact_blogs, 4), "seconds": round(elapsed, 3)}, indent=2))
    else:
        header = f"{'platform':<16}" + "".join(f"{c:>12}" for c in COLUMNS)
        print(header)
        print("-" * len(header))
        for name, row in [*sorted(rows.items()), ("blogs+feeds", blogs), ("all", total)]:
            print(f"{name:<16}" + "".join(f"{row[c]:>12}" for c in COLUMNS))
        print(f"\nexact day, blogs+feeds: {exact_blogs:.1%} (target >= 95 %)")
        print(f"live accounts read as gone: {total['wrong_gone']} (target 0)")
        print(f"{total['cases']} cases in {elapsed:.2f} s")
    return 0 if exact_blogs >= 0.95 and total["wrong_gone"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
