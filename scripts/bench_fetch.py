"""The fetch layer's cost: client CPU per request of each HTTP exchange, against a bare-aiohttp floor.

Starts the demo web (python -m crawler.demo.server, faults off) in its own process, then, for each
repetition and each variant in turn (interleaved, so that a noisy neighbour hurts all alike), runs
one child process that GETs every account's feed (or page) URL once ("full": 200s with bodies) and
then again with the validators it got ("304": conditional GETs), at the demo registry's
concurrency (32 in flight, 4 per host). Reports the median client CPU (user+system of the child,
from its start of fetching to the end) per request, and the ratio to the floor.

Variants:
  fetcher          crawler.fetch.Fetcher as shipped (httpx over aiohttp by httpx-aiohttp; robots.txt,
                   politeness, retries, guard, caps, redirect walk, conditional GET)
  fetcher-httpcore the same Fetcher over httpx's own transport (httpcore, one pool of 32)
  httpx            bare httpx.AsyncClient.get (no guard, caps or politeness): what httpx itself costs
  aiohttp          bare aiohttp.ClientSession.get, body read, no redirects followed: the floor

    .venv/bin/python scripts/bench_fetch.py                       # 2,000 URLs, 5 repetitions
    .venv/bin/python scripts/bench_fetch.py --urls 10000 --reps 3 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTACT = "bench-operator@localhost.invalid"
CONCURRENCY = 32
PER_HOST = 4
VARIANTS = ("aiohttp", "httpx", "fetcher", "fetcher-httpcore")


# ----------------------------------------------------------------------------------- the children


async def _gather_limited(n: int, jobs: list[Any]) -> list[Any]:
    sem = asyncio.Semaphore(n)

    async def one(job: Any) -> Any:
        async with sem:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


def _settings() -> Any:
    from crawler.settings import Settings

    return Settings(contact=CONTACT, allow_private_addresses=True, per_host_delay=0.0,
                    per_host_concurrency=PER_HOST, concurrency=CONCURRENCY)


async def _run_fetcher(urls: list[str], transport: str) -> tuple[list[tuple[int | None, str | None]], ...]:
    from crawler.fetch import Fetcher

    kwargs: dict[str, Any] = {}
    if transport == "httpcore":
        import httpx

        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        kwargs["transport"] = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, retries=0)
    async with Fetcher(_settings(), **kwargs) as fetcher:
        t0 = time.process_time()
        first = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
        t1 = time.process_time()
        again = await asyncio.gather(*(fetcher.fetch(u, etag=f.headers.get("etag"),
                                                     last_modified=f.headers.get("last-modified"))
                                       for u, f in zip(urls, first, strict=True)))
        t2 = time.process_time()
    return ([(f.status, f.error) for f in first], [(f.status, f.error) for f in again], (t1 - t0, t2 - t1))


async def _run_httpx(urls: list[str]) -> tuple[Any, ...]:
    import httpx

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        async def get(url: str, headers: dict[str, str]) -> tuple[int, str | None]:
            r = await client.get(url, headers=headers)
            return r.status_code, r.headers.get("etag")

        t0 = time.process_time()
        first = await _gather_limited(CONCURRENCY, [lambda u=u: get(u, {}) for u in urls])
        t1 = time.process_time()
        again = await _gather_limited(CONCURRENCY, [lambda u=u, e=e: get(u, {"If-None-Match": e} if e else {})
                                                    for u, (_, e) in zip(urls, first, strict=True)])
        t2 = time.process_time()
    return ([(s, None) for s, _ in first], [(s, None) for s, _ in again], (t1 - t0, t2 - t1))


async def _run_aiohttp(urls: list[str]) -> tuple[Any, ...]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=PER_HOST)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def get(url: str, headers: dict[str, str]) -> tuple[int, str | None]:
            async with session.get(url, headers=headers, allow_redirects=False) as r:
                await r.read()
                return r.status, r.headers.get("etag")

        t0 = time.process_time()
        first = await _gather_limited(CONCURRENCY, [lambda u=u: get(u, {}) for u in urls])
        t1 = time.process_time()
        again = await _gather_limited(CONCURRENCY, [lambda u=u, e=e: get(u, {"If-None-Match": e} if e else {})
                                                    for u, (_, e) in zip(urls, first, strict=True)])
        t2 = time.process_time()
    return ([(s, None) for s, _ in first], [(s, None) for s, _ in again], (t1 - t0, t2 - t1))


def child(variant: str, urls_file: str) -> None:
    urls = json.loads(Path(urls_file).read_text())
    if variant == "aiohttp":
        first, again, cpu = asyncio.run(_run_aiohttp(urls))
    elif variant == "httpx":
        first, again, cpu = asyncio.run(_run_httpx(urls))
    elif variant.startswith("fetcher"):
        first, again, cpu = asyncio.run(_run_fetcher(urls, variant.removeprefix("fetcher").lstrip("-") or "shipped"))
    else:
        raise SystemExit(f"unknown variant {variant}")
    summary = {
        "variant": variant,
        "requests": len(urls),
        "cpu_ms_full": 1000 * cpu[0] / len(urls),
        "cpu_ms_304": 1000 * cpu[1] / len(urls),
        "ok_full": sum(1 for s, e in first if e is None and s == 200),
        "not_modified": sum(1 for s, e in again if e is None and s == 304),
    }
    print(json.dumps(summary), flush=True)


# ----------------------------------------------------------------------------------- the parent


def start_server(accounts: int) -> tuple[subprocess.Popen, dict[str, Any]]:
    cmd = [sys.executable, "-m", "crawler.demo.server", "--accounts", str(accounts), "--no-faults", "--slow", "0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.strip().startswith("{"):
            return proc, json.loads(line)
    proc.kill()
    raise SystemExit("the demo server printed no host map")


def url_list(accounts: int, hosts: dict[str, str]) -> list[str]:
    from crawler.demo.world import World

    urls = []
    for acc in World(accounts, seed=1).accounts():
        base = f"http://{hosts[acc.host]}/{acc.slug}/"
        if acc.kind in ("wp_self", "wp_com"):
            base += "feed/"
        elif acc.kind == "blogger":
            base += "feeds/posts/default"
        urls.append(base)
    return urls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=2000, help="accounts of the demo world (one URL each)")
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions (medians are reported)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "URLS_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    variants = args.variants.split(",")
    proc, info = start_server(args.urls)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    try:
        urls_file = Path(f"/tmp/bench_fetch_urls_{os.getpid()}.json")
        urls_file.write_text(json.dumps(url_list(args.urls, info["hosts"])))
        for rep in range(args.reps):
            for variant in variants:
                out = subprocess.run([sys.executable, __file__, "--child", variant, str(urls_file)], cwd=ROOT,
                                     capture_output=True, text=True, timeout=600,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
                if out.returncode != 0:
                    print(out.stderr[-2000:], file=sys.stderr)
                    raise SystemExit(f"{variant} failed")
                runs[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"rep {rep + 1} {variant}: {runs[variant][-1]}", file=sys.stderr)
        urls_file.unlink()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    floor = {k: statistics.median(r[k] for r in runs["aiohttp"]) for k in ("cpu_ms_full", "cpu_ms_304")} \
        if "aiohttp" in runs else None
    table = []
    for variant, rs in runs.items():
        row = {"variant": variant, "requests": rs[0]["requests"], "ok_full": rs[0]["ok_full"],
               "not_modified": rs[0]["not_modified"]}
        for key in ("cpu_ms_full", "cpu_ms_304"):
            row[key] = round(statistics.median(r[key] for r in rs), 3)
            if floor:
                row[key.replace("cpu_ms", "x_floor")] = round(row[key] / floor[key], 2)
        table.append(row)
    print(f"{args.urls} URLs, {args.reps} interleaved repetitions, medians of client CPU ms per request")
    print(f"{'variant':<24}{'full ms':>9}{'x floor':>9}{'304 ms':>9}{'x floor':>9}{'200s':>7}{'304s':>7}")
    for row in table:
        print(f"{row['variant']:<24}{row['cpu_ms_full']:>9.3f}{row.get('x_floor_full', 0):>9.2f}"
              f"{row['cpu_ms_304']:>9.3f}{row.get('x_floor_304', 0):>9.2f}{row['ok_full']:>7}{row['not_modified']:>7}")
    if args.json:
        Path(args.json).write_text(json.dumps({"urls": args.urls, "reps": args.reps, "results": table}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
