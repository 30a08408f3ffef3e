"""What reading in worker processes costs (issue 21.3): CPU per response read in the crawler's process
against reading it in a parse worker, and the cost of moving a large body across.

The demo web (faults off) serves N accounts; their feeds and pages are fetched once with the
Fetcher, then every response is read (platform parse, notice detector, body hash):

  inline   read_inline() in this process, one after another: the work itself
  pool     ParsePool.read() with `--workers` workers, `--in-flight` reads at a time: the crawler's
           process CPU (pickling the Fetched out, the Reading back, the socket and event-loop work)
           and the workers' CPU, from /proc

The difference of pool (crawler + workers) and inline is the IPC cost per read; the crawler's own
share is what the event loop pays instead of parsing. Then one 5 MiB body (a 500 answer, so the
parser decides at once by its status) crosses the boundary 20 times: the cost of the transfer.
Repetitions are interleaved and medians reported.

    .venv/bin/python scripts/bench_ipc.py --accounts 2000 --reps 3
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def fetch_all(accounts: int) -> tuple[list[tuple[str, Any]], Any]:
    from crawler import sources
    from crawler.demo.server import DemoWeb
    from crawler.demo.world import World, cycle_time, demo_settings
    from crawler.fetch import Fetcher

    with DemoWeb(World(accounts, seed=1), cycle_time(10), faults=False) as web, \
            tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sources.yaml"
        path.write_text(web.sources_yaml(demo_settings()), encoding="utf-8")
        registry = sources.load(path)

        async def go() -> list[tuple[str, Any]]:
            async with Fetcher(registry.settings) as fetcher:
                async def one(a: Any) -> tuple[str, Any]:
                    return ("feed" if a.feed else a.platform), await fetcher.fetch(a.feed or a.url)
                return list(await asyncio.gather(*(one(a) for a in registry.accounts)))

        return asyncio.run(go()), registry.settings


def inline(responses: list[tuple[str, Any]], settings: Any, now: Any) -> float:
    from crawler.parse_pool import read_inline

    t0 = time.process_time()
    for platform, fetched in responses:
        read_inline(platform, fetched, now, settings)
    return time.process_time() - t0


def pooled(responses: list[tuple[str, Any]], settings: Any, now: Any, workers: int, in_flight: int) -> dict[str, Any]:
    from crawler.parse_pool import ParsePool

    async def go() -> dict[str, Any]:
        async with ParsePool(settings, workers=workers) as pool:
            await pool.read(*responses[0], now)  # warm
            gate = asyncio.Semaphore(in_flight)

            async def one(platform: str, fetched: Any) -> None:
                async with gate:
                    await pool.read(platform, fetched, now)

            cpu0, workers0, out0, in0 = time.process_time(), pool.cpu_seconds(), pool.stats.bytes_out, pool.stats.bytes_in
            t0 = time.perf_counter()
            await asyncio.gather(*(one(p, f) for p, f in responses))
            wall = time.perf_counter() - t0
            return {"main_s": time.process_time() - cpu0, "workers_s": pool.cpu_seconds() - workers0, "wall_s": wall,
                    "bytes_out": pool.stats.bytes_out - out0, "bytes_in": pool.stats.bytes_in - in0}

    return asyncio.run(go())


def big_body(settings: Any, now: Any, size: int, times: int) -> dict[str, Any]:
    from crawler.models import Fetched
    from crawler.parse_pool import ParsePool

    body = b"x" * size
    fetched = Fetched("https://big.example.se/", "https://big.example.se/", 500, {"content-type": "text/html"}, body)
    t0 = time.process_time()
    for _ in range(times):
        hashlib.sha256(body).hexdigest()
    hash_s = (time.process_time() - t0) / times

    async def go() -> dict[str, Any]:
        async with ParsePool(settings, workers=1) as pool:
            await pool.read("blog", fetched, now)
            cpu0, workers0, t0 = time.process_time(), pool.cpu_seconds(), time.perf_counter()
            for _ in range(times):
                await pool.read("blog", fetched, now)
            return {"main_ms": 1000 * (time.process_time() - cpu0) / times,
                    "workers_ms": 1000 * (pool.cpu_seconds() - workers0) / times,
                    "wall_ms": 1000 * (time.perf_counter() - t0) / times, "hash_ms": 1000 * hash_s}

    return asyncio.run(go())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from crawler.demo.world import cycle_time

    responses, settings = fetch_all(args.accounts)
    now = cycle_time(10)
    n = len(responses)
    runs: dict[str, list[Any]] = {"inline": [], "pool": [], "big": []}
    for rep in range(args.reps):
        runs["inline"].append(inline(responses, settings, now))
        runs["pool"].append(pooled(responses, settings, now, args.workers, args.in_flight))
        runs["big"].append(big_body(settings, now, 5 * 1024 * 1024, 20))
        print(f"rep {rep + 1}: inline {1000 * runs['inline'][-1] / n:.3f} ms/read, pool main "
              f"{1000 * runs['pool'][-1]['main_s'] / n:.3f} + workers {1000 * runs['pool'][-1]['workers_s'] / n:.3f}",
              file=sys.stderr, flush=True)
    med = statistics.median
    inline_ms = 1000 * med(runs["inline"]) / n
    main_ms = 1000 * med(r["main_s"] for r in runs["pool"]) / n
    workers_ms = 1000 * med(r["workers_s"] for r in runs["pool"]) / n
    out_kb = med(r["bytes_out"] for r in runs["pool"]) / n / 1024
    in_kb = med(r["bytes_in"] for r in runs["pool"]) / n / 1024
    big = {k: med(r[k] for r in runs["big"]) for k in runs["big"][0]}
    print("\n".join([
        f"{n:,} responses of the demo web ({args.accounts:,} accounts), {args.reps} interleaved repetitions (medians), "
        f"{args.workers} workers, {args.in_flight} reads in flight:",
        "",
        "| | CPU ms per read |",
        "|---|---:|",
        f"| read in the crawler's process (parse, notices, hash) | {inline_ms:.3f} |",
        f"| in a worker: the crawler's process (pickle, socket, event loop) | {main_ms:.3f} |",
        f"| in a worker: the worker | {workers_ms:.3f} |",
        f"| IPC cost (crawler + worker - in-process) | {main_ms + workers_ms - inline_ms:.3f} |",
        "",
        f"Crossing the boundary per read: {out_kb:.1f} KiB out (the Fetched with its body), {in_kb:.1f} KiB back "
        "(the Observation, notice hits, hash).",
        f"A 5 MiB body: {big['main_ms']:.2f} ms of the crawler's CPU and {big['workers_ms']:.2f} ms of the worker's "
        f"per read ({big['hash_ms']:.2f} ms of which is its SHA-256), {big['wall_ms']:.1f} ms wall.",
    ]))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
