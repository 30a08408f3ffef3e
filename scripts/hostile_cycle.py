"""Issue 17's "done when": a cycle of 60 accounts with one hostile feed and one hostile page, beside
the same cycle without them. Are the other 58 unharmed, and are their timings unchanged?

A threaded HTTP server on 127.0.0.1 (a process of its own) serves 58 ordinary blog pages (a dated post each) and two more
accounts: in the "clean" cycle two more ordinary pages, in the "hostile" cycle a feed of unclosed
<pubDate>s (the 0.1 regex's worst case, 5 MiB by default) and a page of closing tags hidden in
scripts (2 MiB). Each cycle is a real `run_cycle` (shipped settings, politeness off on loopback,
its own parse pool and a fresh inventory); the two kinds are interleaved for --reps repetitions.
Every account's visit (fetch, read in a worker, notices, classify) is timed around `crawl.visit`.

    .venv/bin/python scripts/hostile_cycle.py                  # 3 repetitions, Markdown
    .venv/bin/python scripts/hostile_cycle.py --reps 5 --json out.json

Reported per cycle kind (medians over the repetitions): the 58 accounts' median and slowest visit,
the cycle's wall time, what the two extra accounts were recorded as, and the pool's stopped reads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
EXTRA = {"x-feed", "x-page", "b58", "b59"}  # the two accounts that differ between the two cycles
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=timezone.utc)
PAGE = (
    "<!doctype html><html lang=sv><head><meta charset=utf-8><title>Förskolan</title></head><body>"
    '<article class=post><h2 class=entry-title>Veckobrev</h2><time datetime="2026-11-02T09:00:00+00:00">2 nov</time>'
    "<p>Vi har haft en fin vecka med mycket lek.</p></article></body></html>"
).encode()


def hostile_feed(size: int) -> bytes:
    head = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Stor</title>'
            "<link>https://x.se/</link><item>")
    unit = "<pubDate>Sun, 12 Mar 2023"
    return (head + unit * (size // len(unit))).encode()


def hostile_page(size: int) -> bytes:
    unit = "<div><script></div></script>"
    return ("<!DOCTYPE html><html><head><title>x</title></head><body>" + unit * (size // len(unit))
            + "</body></html>").encode()


class Site(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # http.server's default backlog of 5 drops SYNs (a 1 s retransmit) at 16 in flight
    routes: dict[str, tuple[bytes, str]] = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        found = self.server.routes.get(self.path)  # type: ignore[attr-defined]
        if found is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, ctype = found
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def run_cycle_timed(accounts: list[Any], settings: Any, db: Path) -> dict[str, Any]:
    from crawler import crawl
    from crawler.parse_pool import ParsePool
    from crawler.store import Store

    visit = crawl.visit
    times: dict[str, float] = {}

    async def timed(account: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await visit(account, *args, **kwargs)
        finally:
            times[account.id] = time.perf_counter() - t0

    async def go() -> tuple[Any, dict[str, Any]]:
        async with ParsePool(settings) as pool:
            with Store.open(db) as store:
                result = await crawl.run_cycle(store, accounts, settings, clock=lambda: NOW, pool=pool)
            return result, {k: v for k, v in vars(pool.stats).items() if k != "extra"}

    crawl.visit = timed  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        result, pool = asyncio.run(go())
        wall = time.perf_counter() - t0
    finally:
        crawl.visit = visit  # type: ignore[assignment]
    with Store.open(db, readonly=True) as store:
        checks = {c.account_id: c for c in store.run_checks(result.run_id)}
    others = [times[a.id] for a in accounts if a.id not in EXTRA]
    extra = {a.id: {"outcome": checks[a.id].outcome, "error": checks[a.id].error, "reason": checks[a.id].reason,
                    "visit_s": round(times[a.id], 3)} for a in accounts if a.id in EXTRA}
    return {"state": result.state, "done": result.done, "wall_s": wall,
            "others_ok": sum(1 for a in accounts if a.id not in EXTRA and checks[a.id].outcome == "ok"),
            "others_median_s": statistics.median(others), "others_max_s": max(others),
            "others_p90_s": sorted(others)[int(0.9 * (len(others) - 1))], "extra": extra, "pool": pool}


def serve(feed_size: int, page_size: int) -> None:
    """The child: serve the 60 pages and the two hostile bodies until terminated; print the port."""
    routes: dict[str, tuple[bytes, str]] = {f"/b{i:02d}/": (PAGE, "text/html; charset=utf-8") for i in range(60)}
    routes["/x-feed/feed/"] = (hostile_feed(feed_size), "application/rss+xml")
    routes["/x-feed/"] = (PAGE, "text/html; charset=utf-8")
    routes["/x-page/"] = (hostile_page(page_size), "text/html; charset=utf-8")
    Site.routes = routes
    site = Site(("127.0.0.1", 0), Handler)
    print(site.server_address[1], flush=True)
    site.serve_forever(poll_interval=0.1)


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--feed-size", type=int, default=5 * MIB - 4096,
                        help="bytes of the hostile feed (default just under the 5 MiB body cap)")
    parser.add_argument("--parse-timeout", type=float, default=None, help="settings.parse_timeout (default: as shipped)")
    parser.add_argument("--page-size", type=int, default=2 * MIB, help="bytes of the hostile page (default 2 MiB)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from crawler.models import Account
    from crawler.settings import Settings

    # The site in a process of its own, so that serving it costs the crawler's process nothing.
    server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(args.feed_size),
                               str(args.page_size)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    base = f"http://127.0.0.1:{int(server.stdout.readline())}"
    normal = [Account(f"b{i:02d}", f"Förskolan {i}", "Norr", "blog", f"{base}/b{i:02d}/") for i in range(58)]
    clean = normal[:10] + [Account("b58", "Förskolan 58", "Norr", "blog", f"{base}/b58/")] + normal[10:40] \
        + [Account("b59", "Förskolan 59", "Norr", "blog", f"{base}/b59/")] + normal[40:]
    hostile = normal[:10] + [Account("x-feed", "Fienden", "Norr", "blog", f"{base}/x-feed/", feed=f"{base}/x-feed/feed/")] \
        + normal[10:40] + [Account("x-page", "Fienden 2", "Norr", "blog", f"{base}/x-page/")] + normal[40:]
    settings = Settings(contact="bench-operator@localhost.invalid", allow_private_addresses=True, per_host_delay=0,
                        per_host_concurrency=16, concurrency=16, respect_robots=False)
    if args.parse_timeout is not None:
        settings = settings.replace(parse_timeout=args.parse_timeout)
    runs: dict[str, list[dict[str, Any]]] = {"clean": [], "hostile": []}
    try:
        with tempfile.TemporaryDirectory(prefix="crawler-hostile-cycle-") as tmp:
            for rep in range(args.reps):
                for kind, accs in (("clean", clean), ("hostile", hostile)):
                    figures = run_cycle_timed(accs, settings, Path(tmp) / f"{kind}-{rep}.sqlite")
                    runs[kind].append(figures)
                    print(f"rep {rep + 1} {kind}: wall {figures['wall_s']:.2f} s, others median "
                          f"{1000 * figures['others_median_s']:.0f} ms, max {1000 * figures['others_max_s']:.0f} ms, "
                          f"{figures['others_ok']}/58 ok", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait(10)

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    lines = [
        f"60 accounts on loopback, {args.reps} interleaved repetitions (medians); hostile feed "
        f"{args.feed_size / MIB:.1f} MiB of unclosed <pubDate>s, hostile page {args.page_size / MIB:.1f} MiB of "
        f"closing tags hidden in scripts; parse_timeout {settings.parse_timeout:g} s, {settings.parse_workers} workers.",
        "",
        "| cycle | the other 58: ok | median visit ms | p90 visit ms | slowest visit ms | cycle wall s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in ("clean", "hostile"):
        lines.append(f"| {kind} | {min(r['others_ok'] for r in runs[kind])}/58 | {1000 * med(kind, 'others_median_s'):.0f} | "
                     f"{1000 * med(kind, 'others_p90_s'):.0f} | {1000 * med(kind, 'others_max_s'):.0f} | "
                     f"{med(kind, 'wall_s'):.2f} |")
    last = runs["hostile"][-1]
    lines += ["", "The two hostile accounts (last repetition):", ""]
    for ident, e in last["extra"].items():
        lines.append(f"- `{ident}`: outcome {e['outcome']}, error {e['error']}, {e['visit_s']:.2f} s: {e['reason']}")
    lines.append(f"- pool: {last['pool']['timeouts']} read(s) stopped at the limit, {last['pool']['slow']} slow, "
                 f"{last['pool']['started']} workers started")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
