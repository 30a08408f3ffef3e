"""Hostile bodies against the parsers: time and peak memory per case (issue 17, items 1 and 5).

Each case is generated at the size asked for (default 2 MiB, the HTML cap; feeds up to the 5 MiB
body cap) and read in a fresh child process, the way a crawl reads a response:
`crawler.platforms.adapter(platform).parse(Fetched(...), now, Settings(), platform)`. The child
reports the wall time of the parse and its peak RSS above what the imports took; a case that runs
past --timeout is killed and reported as such. With --lexbor the HTML cases are also handed to
selectolax directly, to show what the parser alone would cost (what the nesting check spares).

    .venv/bin/python scripts/hostile_parse.py                       # every case, Markdown table
    .venv/bin/python scripts/hostile_parse.py --lexbor --size 512KiB --cases deep_divs,hidden_comment
    .venv/bin/python scripts/hostile_parse.py --json figures.json

Patterns: unclosed <item>s (a lazy regex went quadratic on them), closing tags hidden where the
tree builder never sees them (comments, scripts, attribute values, out of scope), the other markup
lexbor is slow on (open elements under block tags, formatting elements reopened again and again,
a tag with thousands of attributes, <marquee>/<object> nests, <select> content), and the bad
fields of 17.5 (impossible years, unusable charsets).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def _repeat(unit: str, size: int, head: str = "", tail: str = "") -> bytes:
    n = max(1, (size - len(head) - len(tail)) // len(unit))
    return (head + unit * n + tail).encode("utf-8")


def _html(unit: str, size: int, prefix: str = "", suffix: str = "") -> bytes:
    return _repeat(unit, size, "<!DOCTYPE html><html><head><title>x</title></head><body>" + prefix,
                   suffix + "</body></html>")


_RSS_HEAD = '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Stor</title><link>https://x.se/</link>'
_ITEM = "<item><title>Inlägg</title><link>https://x.se/p/{i}</link><pubDate>Sun, 12 Mar 2023 10:00:00 +0000</pubDate>"


def _numbered(template: str, size: int, head: str, tail: str = "") -> bytes:
    parts, total, i = [head], len(head) + len(tail), 0
    while total < size:
        piece = template.format(i=i)
        parts.append(piece)
        total += len(piece)
        i += 1
    return ("".join(parts) + tail).encode("utf-8")


# name -> (platform reader, kind, generator(size) -> body, what it shows)
CASES: dict[str, tuple[str, str, Callable[[int], bytes], str]] = {
    "unclosed_items_139k": ("feed", "feed", lambda size: _numbered(_ITEM, 139 * 1024, _RSS_HEAD),
                            "139 KiB RSS whose <item>s are never closed (0.1: 25 s)"),
    "unclosed_items": ("feed", "feed", lambda size: _numbered(_ITEM, min(size * 2, 5 * MIB) if size >= MIB else size, _RSS_HEAD),
                       "the same at the size asked for (up to the 5 MiB body cap)"),
    "unclosed_pubdates": ("feed", "feed", lambda size: _repeat("<pubDate>Sun, 12 Mar 2023", size, _RSS_HEAD + "<item>"),
                          "one item of unclosed <pubDate>s"),
    "open_tag_flood_feed": ("feed", "feed", lambda size: _repeat("<item <pubDate <link ", size, _RSS_HEAD),
                            "start tags that never reach a '>'"),
    "impossible_years": ("feed", "feed", lambda size: _numbered(
        "<item><link>https://x.se/p/{i}</link><pubDate>Mon, 01 Jan 99999999999 00:00:00 +0000</pubDate></item>"
        "<item><link>https://x.se/q/{i}</link><pubDate>Sun, 12 Mar 2023 10:00:00 +0000</pubDate></item>",
        min(size, 256 * 1024), _RSS_HEAD, "</channel></rss>"), "17.5: half the entries dated in year 99999999999"),
    "undefined_charset_feed": ("feed", "feed", lambda size: _numbered(
        "<item><link>https://x.se/p/{i}</link><pubDate>Sun, 12 Mar 2023 10:00:00 +0000</pubDate></item>",
        min(size, 256 * 1024), _RSS_HEAD.replace("UTF-8", "undefined"), "</channel></rss>"),
        "17.5: an XML declaration naming a codec that always fails"),
    "deep_divs": ("blog", "html", lambda size: _html("<div>", size), "nested <div>s (0.1 refused these)"),
    "hidden_in_comments": ("blog", "html", lambda size: _html("<div><!-- </div> -->", size),
                           "closing tags inside comments (0.1: passed the depth check)"),
    "hidden_in_scripts": ("blog", "html", lambda size: _html("<div><script></div></script>", size),
                          "closing tags inside scripts"),
    "hidden_in_attributes": ("blog", "html", lambda size: _html('<div title="</div>">', size),
                             "closing tags inside attribute values"),
    "closers_out_of_scope": ("blog", "html", lambda size: _html("<section></div>", size),
                             "</div> with no <div> open: the parser ignores it"),
    "inline_then_blocks": ("blog", "html", lambda size: _html("<span>", size // 2) + _html("<div>", size // 2),
                           "open <span>s, then block tags walking the whole stack"),
    "formatting_reopened": ("blog", "html", lambda size: _numbered("<p><b id={i}></p>x", size, "<body>"),
                            "formatting elements the parser reopens at every paragraph"),
    "formatting_same": ("blog", "html", lambda size: _html("<p><b></p>x", size), "the same without attributes"),
    "misnested_formatting": ("blog", "html", lambda size: _html("<b><div>", size // 2) + b"</b>" * (size // 8),
                             "the adoption agency over a deep stack"),
    "marquee_nest": ("blog", "html", lambda size: _html("<marquee>", size // 2) + _html("<div>", size // 2),
                     "scope boundaries nested, then block tags"),
    "select_content": ("blog", "html", lambda size: _html("<div>", size, "<select>"), "block tags inside <select>"),
    "repeated_attributes": ("blog", "html", lambda size: _repeat(" a=1", size, "<html><body><div", ">"),
                            "one tag with one attribute repeated"),
    "distinct_attributes": ("blog", "html", lambda size: _numbered(" a{i}=1", size, "<html><body><div", ">"),
                            "one tag with distinct attributes"),
    "lt_flood": ("blog", "html", lambda size: _html("<", size), "'<' without tags"),
    "unclosed_comment": ("blog", "html", lambda size: _html("x", size, "<!--"), "a comment that never ends"),
    "unclosed_attribute": ("blog", "html", lambda size: _html("</div>", size, '<div title="'),
                           "an attribute value that never ends"),
    "unusable_charset_page": ("blog", "html", lambda size: _html(
        "<article><p>Hösten är här</p><time datetime='2023-03-12'>12 mars</time></article>", min(size, 256 * 1024),
        '<meta charset="undefined">').decode("utf-8").encode("cp1252"),
                              "17.5: <meta charset> naming a codec that always fails"),
    "digits_in_profile": ("instagram", "html", lambda size: (
        '<html><head><meta property="og:description" content="Instagram (@x) ' + "1" * (size - 200) + ' x">'
        '</head><body></body></html>').encode(), "an og:description of digits (the post-count pattern)"),
}


# The alphabet of --fuzz: tags, closers, comments, quotes and text, the parser's whole vocabulary.
ATOMS = ["<div>", "</div>", "<p>", "</p>", "<span>", "</span>", "<b>", "</b>", "<i>", "</i>", "<a href=x>", "</a>",
         "<li>", "</li>", "<ul>", "</ul>", "<table>", "</table>", "<tr>", "<td>", "</td>", "<th>", "<tbody>",
         "<section>", "</section>", "<form>", "</form>", "<button>", "</button>", "<select>", "<option>",
         "</select>", "<svg>", "</svg>", "<math>", "<g>", "</g>", "<title>", "</title>", "<script>", "</script>",
         "<style>", "</style>", "<textarea>", "</textarea>", "<!--", "-->", "<![CDATA[", "]]>", '<div title="',
         '">', "'", '"', "<font>", "</font>", "<nobr>", "<h1>", "</h1>", "<h2>", "<dd>", "<dt>", "<dl>", "</dl>",
         "<template>", "</template>", "<object>", "</object>", "<marquee>", "<caption>", "<col>", "<colgroup>",
         "<br>", "</br>", "<img>", "<hr>", "<frameset>", "<body>", "</body>", "<html>", "<head>", "<noscript>",
         "</noscript>", "<xmp>", "</xmp>", "<iframe>", "</iframe>", "<plaintext>", "<foreignObject>", "<desc>",
         "<mi>", "<p/>", "<div/>", "x", " ", "<", ">", "</", "<?x>", "<!x>", "<table><tr><td>", "<em>", "</em>",
         "<strong>", "</strong>", "<code>", "</code>", "<u>", "<s>", "<tt>", "<big>", "<small>", "<strike>",
         "<address>", "</address>", "<center>", "<main>", "<article>", "</article>", "<header>", "<footer>", "<nav>",
         "<aside>", "<blockquote>", "<pre>", "<listing>", "<fieldset>", "<details>", "<summary>", "<menu>", "<dir>",
         "<figure>", "<figcaption>", "<hgroup>", "<input>", "<keygen>", "<embed>", "<applet>", "<optgroup>",
         "</option>", "</optgroup>", "</tr>", "</tbody>", "<thead>", "<tfoot>", "</caption>", "<image>", "<wbr>"]


def fuzz(trials: int, seed: int, slow: float = 0.05) -> int:
    """Random snippets repeated to 300 KB: any that lexbor is slow on must be refused at 2 MiB."""
    import random

    from selectolax.lexbor import LexborHTMLParser

    from crawler.platforms import common

    rng = random.Random(seed)
    bypasses = 0
    for _ in range(trials):
        snippet = "".join(rng.choice(ATOMS) for _ in range(rng.randint(2, 10)))
        prefix = "".join(rng.choice(ATOMS) for _ in range(rng.randint(0, 2)))
        body = prefix + snippet * (300_000 // len(snippet) + 1)
        started = time.perf_counter()
        LexborHTMLParser(body)
        if time.perf_counter() - started < slow:
            continue
        big = (prefix + snippet * (2 * MIB // len(snippet) + 1)).encode()[: 2 * MIB]
        if common.too_slow(big) is None:
            bypasses += 1
            print(f"not refused: prefix {prefix!r} snippet {snippet!r}", flush=True)
    print(f"{trials} snippets (seed {seed}): {bypasses} slow for lexbor and not refused")
    return bypasses


def _child(name: str, size: int, lexbor: bool) -> dict:
    """Run in the child process: build the body, parse it, report time and peak RSS."""
    import resource
    from datetime import UTC, datetime

    from crawler.models import Fetched
    from crawler.platforms import adapter
    from crawler.settings import Settings

    platform, kind, make, _what = CASES[name]
    body = make(size)
    ctype = "application/rss+xml" if kind == "feed" else "text/html; charset=utf-8"
    fetched = Fetched(url="https://x.se/", final_url="https://x.se/", status=200, headers={"content-type": ctype},
                      body=body)
    now = datetime(2023, 4, 15, 12, tzinfo=UTC)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    obs = adapter(platform).parse(fetched, now, Settings(), platform)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"case": name, "bytes": len(body), "seconds": round(elapsed, 3), "peak_mb": round((peak - before) / 1024, 1),
           "exists": obs.exists, "last_post_at": obs.last_post_at.isoformat() if obs.last_post_at else None,
           "reason": obs.reason, "notes": list(obs.notes)}
    if lexbor and kind == "html":
        from selectolax.lexbor import LexborHTMLParser

        from crawler.platforms import common

        text = common.decode(body[: common.MAX_HTML_BYTES])
        started = time.perf_counter()
        LexborHTMLParser(text)
        out["lexbor_seconds"] = round(time.perf_counter() - started, 3)
    return out


def _size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(kib|mib|k|m|)", text.strip().lower())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: write a size such as 2MiB or 512KiB")
    unit = {"": 1, "k": 1024, "kib": 1024, "m": MIB, "mib": MIB}[m.group(2)]
    return int(float(m.group(1)) * unit)


def run(name: str, size: int, timeout: float, lexbor: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--size", str(size)] + (["--lexbor"] if lexbor else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"case": name, "seconds": None, "timeout": timeout, "wall": round(time.perf_counter() - started, 1)}
    if done.returncode != 0:
        return {"case": name, "error": (done.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = ["| case | bytes | parse s | peak MB | lexbor alone s | result |", "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['case']} | | | | | error: {r['error']} |")
            continue
        if r.get("seconds") is None:
            lines.append(f"| {r['case']} | | > {r['timeout']:.0f} (killed) | | | |")
            continue
        result = r["reason"] + (f"; last post {r['last_post_at'][:10]}" if r.get("last_post_at") else "")
        notes = [n for n in r.get("notes", []) if "impossible" in n or "big feed" in n]
        if notes:
            result += " (" + "; ".join(notes) + ")"
        lexbor = r.get("lexbor_seconds")
        lexbor_text = "" if lexbor is None else f"{lexbor:.2f}"
        lines.append(f"| {r['case']} | {r['bytes']:,} | {r['seconds']:.3f} | {r['peak_mb']:.1f} | {lexbor_text} | "
                     f"{result.replace('|', '/')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=_size, default=2 * MIB, help="body size (default 2MiB, the HTML cap)")
    parser.add_argument("--cases", default=None, help="comma-separated case names (default: all)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a case is killed")
    parser.add_argument("--lexbor", action="store_true", help="also time selectolax alone on the HTML cases")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--fuzz", type=int, default=0, metavar="N",
                        help="instead: N random snippets; report any lexbor is slow on that is not refused")
    parser.add_argument("--seed", type=int, default=1, help="seed of --fuzz")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fuzz:
        return 1 if fuzz(args.fuzz, args.seed) else 0
    if args.child:
        print(json.dumps(_child(args.child, args.size, args.lexbor)))
        return 0
    names = args.cases.split(",") if args.cases else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; one of {', '.join(CASES)}")
    rows = []
    for name in names:
        rows.append(run(name, args.size, args.timeout, args.lexbor))
        print(f"{name}: {rows[-1].get('seconds')}", file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
