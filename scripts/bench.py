"""Benchmarks (issue 9): how fast, how lean, and how a crawl cycle grows from 319 to 100,000 accounts.

For each size the simulated web (crawler.demo) runs in its own process, and every measurement runs
the crawler in a fresh child process, so that the crawler's CPU and peak RSS are its own:

  full    a first cycle over a fresh inventory (every page and feed read and parsed)
  304     a second cycle over the same inventory at the same simulated time: every unchanged
          page answers 304 Not Modified to the conditional GET

Politeness delays are zero on loopback (per_host_delay=0, allow_private_addresses, robots.txt
respected, a contact set); the concurrency is the demo registry's. Then, in the same run:

  baseline  a sequential implementation (scripts/baseline.py) over the first accounts of the same
            world, time-boxed and extrapolated, and the ratio of ours to it
  profile   a cProfile of one full cycle, summarised by stage (fetch, parse, classify, notices,
            store, event loop)
  polite    the politeness floor (busiest host: its requests x its delay) of the 319 world with the
            shipped delays, and a measured cycle with the delays scaled down beside its floor

Example:

    .venv/bin/python scripts/bench.py --sizes 319,10000 --json bench.json
    .venv/bin/python scripts/bench.py --sizes 319,10000,100000 --no-profile
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # run as a script: make `crawler` importable without installing
    sys.path.insert(0, str(ROOT))

CONTACT = "bench-operator@localhost.invalid"
SEED = 1
# Stages of the profile, by where a function lives (first match wins); see summarise_profile.
STAGES = (
    ("classify", ("crawler/classify.py",)),
    ("notices", ("crawler/notices.py",)),
    ("parse", ("crawler/platforms", "crawler/dates.py", "feedparser", "selectolax", "sgmllib", "xml/",
               "html/parser", "json/", "_strptime", "email/", "dateutil")),
    ("store", ("crawler/store.py", "sqlite", "hashlib")),
    ("fetch", ("crawler/fetch/", "httpx", "httpcore", "h11", "anyio", "sniffio", "aiohttp", "yarl", "multidict",
               "protego", "tenacity",
               "zlib", "ssl", "idna", "urllib/", "socket")),
    ("crawl", ("crawler/crawl.py", "crawler/log.py", "logging/")),
    ("event loop", ("asyncio", "selectors")),
)


# --------------------------------------------------------------------------------------- helpers


def rss_now_mb() -> float:
    """The resident set size of this process now (Linux /proc), in MiB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def process_cpu_seconds(pid: int) -> float:
    """User+system CPU of a running process and its waited-for children, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every live process under `pid` (children, grandchildren...), from /proc's parent links."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        parent_of[int(entry.name)] = int(text[text.rindex(")") + 2:].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parent_of.items():
            if parent == current:
                found.append(child)
                frontier.append(child)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU of the live processes under `pid`, with the CPU of the children each has reaped
    (the parse workers' zygote reaps the workers it forked)."""
    total = 0.0
    for child in descendants(pid):
        with contextlib.suppress(OSError, ValueError):  # it ended meanwhile
            total += process_cpu_seconds(child)
    return total


def peak_rss_of(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, in MiB; 0.0 when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def file_size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def politeness_floor(requests_by_host: dict[str, int], delay_of: dict[str, float]) -> tuple[float, str]:
    """The shortest possible cycle with per-host spacing: max over hosts of (requests - 1) x delay."""
    best, host = 0.0, ""
    for name, count in requests_by_host.items():
        floor = max(0, count - 1) * delay_of.get(name, 0.0)
        if floor > best:
            best, host = floor, name
    return best, host


def _stage_of_path(path: str) -> str | None:
    for label, needles in STAGES:
        if any(n in path for n in needles):
            return label
    return None


def summarise_profile(stats_path: str | Path, *more: str | Path) -> dict[str, Any]:
    """Self time (tottime) of cProfile dumps (the crawler's and its parse workers') summed by stage,
    and the top functions.

    A function outside every stage (a C built-in such as sqlite3's execute or re's finditer, or a
    standard-library helper) is charged to the stages of its callers, in proportion to the time
    each caller spent in it, up to a few levels up; what is left is "other".
    """
    import pstats

    merged = pstats.Stats(str(stats_path))
    for path in more:
        with contextlib.suppress(TypeError, EOFError, OSError):  # a worker that read nothing dumps no stats
            merged.add(str(path))
    stats = merged.stats  # type: ignore[attr-defined]

    def stages_of(func: tuple, share: float, depth: int, out: Counter, seen: frozenset) -> None:
        filename, _line, name = func
        path = filename.replace("\\", "/")
        own = _stage_of_path(path) if path != "~" else _builtin_stage(name)
        if own is not None or depth >= 4 or func in seen:
            out[own or "other"] += share
            return
        callers = stats.get(func, (0, 0, 0, 0, {}))[4]
        weights = {c: v[2] for c, v in callers.items() if v[2] > 0}
        total = sum(weights.values())
        if not total:
            out["other"] += share
            return
        for caller, weight in weights.items():
            stages_of(caller, share * weight / total, depth + 1, out, seen | {func})

    by_stage: Counter[str] = Counter()
    functions = []
    for func, (_cc, _nc, tottime, _ct, _callers) in stats.items():
        split: Counter[str] = Counter()
        stages_of(func, tottime, 0, split, frozenset())
        by_stage.update(split)
        filename, line, name = func
        main_stage = split.most_common(1)[0][0] if split else "other"
        functions.append((tottime, main_stage, f"{_short_path(filename.replace(chr(92), '/'))}:{line}({name})"))
    total = sum(by_stage.values()) or 1.0
    functions.sort(reverse=True)
    return {
        "total_s": total,
        "stages": {k: {"seconds": round(v, 3), "share": round(v / total, 3)} for k, v in by_stage.most_common()},
        "top": [{"seconds": round(t, 3), "stage": s, "function": f} for t, s, f in functions[:25]],
    }


def _builtin_stage(name: str) -> str | None:
    """The stage of a C function that says by its name where it belongs (None: ask its callers)."""
    if "sqlite3" in name:
        return "store"
    if "epoll" in name or "select.poll" in name:
        return "event loop"
    if "selectolax" in name or "lexbor" in name.lower() or "pyexpat" in name:
        return "parse"
    return None


def _short_path(path: str) -> str:
    for marker in ("site-packages/", "/crawler/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1] if marker != "/crawler/" else "crawler/" + path.split(marker, 1)[1]
    return path


# ----------------------------------------------------------------------------------- the server


@dataclass
class Server:
    """The simulated web in its own process (python -m crawler.demo.server)."""

    proc: subprocess.Popen
    info: dict[str, Any]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_server(accounts: int, clock: datetime, seed: int = SEED, timeout: float = 120.0) -> Server:
    """Start the demo server for a world of `accounts` and wait for its host map (a JSON line)."""
    cmd = [sys.executable, "-m", "crawler.demo.server", "--accounts", str(accounts), "--seed", str(seed),
           "--clock", clock.isoformat()]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        line = line.strip()
        if line.startswith("{"):
            return Server(proc, json.loads(line))
    proc.kill()
    proc.wait(timeout=10)
    raise RuntimeError(f"the demo server ({' '.join(cmd[1:])}) printed no host map")


class HostMap:
    """url_for / feed_url_for over the host map a demo server process printed (a world.UrlSource).

    The same addresses the server's own `--sources` registry uses; built here so that a registry of
    100,000 accounts need not go through YAML.
    """

    def __init__(self, hosts: dict[str, str]):
        self.hosts = hosts

    def url_for(self, acc: Any) -> str:
        return f"http://{self.hosts[acc.host]}/{acc.slug}/"

    def feed_url_for(self, acc: Any) -> str | None:
        if acc.kind in ("wp_self", "wp_com"):
            return self.url_for(acc) + "feed/"
        if acc.kind == "blogger":
            return self.url_for(acc) + "feeds/posts/default"
        return None


def registry_for(world_size: int, server: Server, seed: int = SEED) -> list[dict[str, Any]]:
    """The registry of the world as served: one dict per account (id, unit, area, platform, url, feed)."""
    from crawler.demo.world import World

    world = World(world_size, seed=seed)
    web = HostMap(server.info["hosts"])
    out = []
    for acc in world.accounts():
        feed = web.feed_url_for(acc) if acc.registry_feed else None
        out.append({"id": acc.id, "unit": acc.unit, "area": acc.area, "platform": acc.platform,
                    "url": web.url_for(acc), "feed": feed, "host": acc.host})
    return out


# ------------------------------------------------------------------------------ child processes


def bench_settings(**changes: Any) -> dict[str, Any]:
    """The crawler's settings for a loopback benchmark: the demo registry's, politeness off."""
    from crawler.demo.world import demo_settings

    values = {**demo_settings(), "contact": CONTACT, "per_host_delay": 0.0, "allow_private_addresses": True}
    values.update(changes)
    return values


def run_child(kind: str, spec: dict[str, Any], workdir: Path, server: Server | None) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; return its figures (plus the server's CPU)."""
    spec_path = workdir / f"{kind}-{time.monotonic_ns()}.json"
    out_path = spec_path.with_suffix(".out.json")
    spec = {**spec, "out": str(out_path)}
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    server_cpu0 = server.cpu_seconds() if server else 0.0
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), f"--child-{kind}", str(spec_path)],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    elapsed = time.perf_counter() - t0
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or not out_path.exists():
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"benchmark child {kind} failed (exit {proc.returncode}):\n{tail}")
    figures = json.loads(out_path.read_text(encoding="utf-8"))
    figures["process_wall_s"] = elapsed
    # The child's whole life (interpreter start and imports included), as the parent sees it.
    figures["process_cpu_s"] = (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)
    figures["process_peak_rss_mb"] = children1.ru_maxrss / 1024  # max over children so far
    if server:
        figures["server_cpu_s"] = server.cpu_seconds() - server_cpu0
    return figures


def child_crawl(spec: dict[str, Any]) -> dict[str, Any]:
    """In the child: one crawl cycle over the registry in `spec`; figures of this process only."""
    import asyncio

    from crawler.crawl import run_cycle
    from crawler.fetch import Fetcher
    from crawler.models import Account
    from crawler.parse_pool import ParsePool
    from crawler.settings import Settings
    from crawler.store import Store

    rows = json.loads(Path(spec["accounts"]).read_text(encoding="utf-8"))
    accounts = [Account(id=r["id"], unit=r["unit"], area=r["area"], platform=r["platform"], url=r["url"],
                        feed=r.get("feed")) for r in rows]
    del rows
    settings = Settings(**spec["settings"])
    clock_at = datetime.fromisoformat(spec["clock"])
    rss_registry = rss_now_mb()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store = Store.open(spec["db"])
    profiler = None
    if spec.get("profile"):
        import cProfile

        # the parse workers profile their reads too (crawler/parse_pool.py), one dump each
        os.environ["CRAWLER_PROFILE_WORKERS"] = spec["profile"] + ".workers"
        Path(spec["profile"] + ".workers").mkdir(exist_ok=True)

        # CPU time, not wall time: waiting in epoll is not work, and the server shares the cores.
        profiler = cProfile.Profile(time.process_time)

    # Accounts done at each whole second: shows a slow tail (one host left) or a slow start.
    timeline: list[int] = []

    def progress(prog: Any) -> None:
        second = int(time.perf_counter() - t0)
        while len(timeline) <= second:
            timeline.append(prog.done)
        timeline[second] = prog.done

    # What the crawler asked the fetcher for (URL and validators): the floor GETs the same.
    asked: list[tuple[str, str | None, str | None]] = []
    workers: dict[str, Any] = {}

    async def cycle() -> tuple[Any, dict[str, int]]:
        async with Fetcher(settings) as fetcher, ParsePool(settings) as pool:
            fetch = fetcher.fetch

            async def recorded(url: str, etag: str | None = None, last_modified: str | None = None,
                               **how: Any) -> Any:  # `mobile=True` for Instagram's profiles
                asked.append((url, etag, last_modified))
                return await fetch(url, etag=etag, last_modified=last_modified, **how)

            fetcher.fetch = recorded  # type: ignore[method-assign]
            result = await run_cycle(store, accounts, settings, clock=lambda: clock_at, trigger="bench",
                                     fetcher=fetcher, progress=progress, pool=pool)
            # Every process of the crawler: the parse workers (live, and those reaped by their zygote).
            workers["cpu_s"] = tree_cpu_seconds(os.getpid())
            workers["peak_rss_mb"] = max((peak_rss_of(p) for p in descendants(os.getpid())), default=0.0)
            workers["processes"] = len(descendants(os.getpid()))
            workers["pool"] = {k: v for k, v in vars(pool.stats).items() if k != "extra"}
            return result, dict(fetcher.stats)

    # Time in the cyclic garbage collector, which cProfile does not show.
    gc_time = [0.0, 0.0]  # total, start of the current collection

    def gc_clock(phase: str, info: dict) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]

    gc.callbacks.append(gc_clock)
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    result, stats = asyncio.run(cycle())
    if profiler:
        profiler.disable()
        profiler.dump_stats(spec["profile"])
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    gc.callbacks.remove(gc_clock)
    db, wal = file_size(spec["db"]), file_size(spec["db"] + "-wal")
    requests_by_host = Counter()
    host_of = {a.id: urlsplit(a.url).hostname or "" for a in store.accounts()}
    for check in store.run_checks(result.run_id):
        requests_by_host[host_of[check.account_id]] += check.requests or 0
    store.close()
    if spec.get("asked"):
        Path(spec["asked"]).write_text(json.dumps(asked), encoding="utf-8")
    main_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "accounts": len(accounts),
        "state": result.state,
        "done": result.done,
        "wall_s": wall,
        "cpu_s": main_cpu + workers["cpu_s"],  # every crawler process: this one and its parse workers
        "cpu_main_s": main_cpu,
        "cpu_writer_s": result.writer_cpu_s,  # part of cpu_main_s: the store's writer thread
        "cpu_workers_s": workers["cpu_s"],
        "cpu_user_s": after.ru_utime - before.ru_utime,
        "cpu_sys_s": after.ru_stime - before.ru_stime,
        "workers_peak_rss_mb": workers["peak_rss_mb"],
        "worker_processes": workers["processes"],
        "pool": workers["pool"],
        "asked": len(asked),
        "peak_rss_mb": after.ru_maxrss / 1024,
        "rss_registry_mb": rss_registry,
        "peak_rss_before_cycle_mb": maxrss_before,
        "db_bytes": db,
        "wal_bytes": wal,
        "outcomes": result.outcomes,
        "statuses": result.statuses,
        "fetcher": stats,
        "requests_by_host": dict(requests_by_host),
        "timeline": timeline,
        "gc_s": gc_time[0],
    }


def child_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """In the child: the floor. A bare aiohttp client GETs exactly what the crawler asked its fetcher
    for (the same URLs, the same validators, redirects followed, bodies read, nothing parsed or
    stored), plus each host's robots.txt once, at the crawler's concurrency limits."""
    import asyncio

    import aiohttp

    asked = [tuple(x) for x in json.loads(Path(spec["asked"]).read_text(encoding="utf-8"))]
    hosts = sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u, _e, _m in asked})
    jobs = [(f"{h}/robots.txt", None, None) for h in hosts] + asked
    statuses: Counter[int] = Counter()

    async def run() -> float:
        connector = aiohttp.TCPConnector(limit=spec["concurrency"], limit_per_host=spec["per_host"])
        async with aiohttp.ClientSession(connector=connector) as session:
            gate = asyncio.Semaphore(spec["concurrency"])

            async def get(url: str, etag: str | None, modified: str | None) -> None:
                headers = {}
                if etag:
                    headers["If-None-Match"] = etag
                if modified:
                    headers["If-Modified-Since"] = modified
                async with gate:
                    try:
                        async with session.get(url, headers=headers) as r:
                            await r.read()
                            statuses[r.status] += 1
                    except aiohttp.ClientError:
                        statuses[0] += 1

            t0 = time.process_time()
            await asyncio.gather(*(get(*job) for job in jobs))
            return time.process_time() - t0

    t0 = time.perf_counter()
    cpu = asyncio.run(run())
    return {"requests": len(jobs), "asked": len(asked), "cpu_s": cpu, "wall_s": time.perf_counter() - t0,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def child_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    """In the child: the sequential baseline over the first `limit` accounts, within the time box."""
    sys.path.insert(0, str(SCRIPTS))
    import baseline

    rows = json.loads(Path(spec["accounts"]).read_text(encoding="utf-8"))[: spec["limit"]]
    before = resource.getrusage(resource.RUSAGE_SELF)
    figures = baseline.crawl(rows, spec["db"], seconds=spec.get("seconds"))
    after = resource.getrusage(resource.RUSAGE_SELF)
    figures["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures["peak_rss_mb"] = after.ru_maxrss / 1024
    figures["sample_of"] = len(rows)
    figures["db_bytes"] = file_size(spec["db"])
    return figures


# ------------------------------------------------------------------------------------ the bench


def measure_size(size: int, args: argparse.Namespace, workdir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Full cycle, 304 cycle, and (for the chosen sizes) the profile and the baseline, for one size."""
    from crawler.demo.world import BASELINE_CYCLE, cycle_time

    clock = cycle_time(BASELINE_CYCLE)
    out: dict[str, Any] = {"accounts": size}
    t0 = time.perf_counter()
    server = start_server(size, clock)
    try:
        out["server_start_s"] = time.perf_counter() - t0
        registry = registry_for(size, server)
        accounts_path = workdir / f"accounts-{size}.json"
        accounts_path.write_text(json.dumps(registry), encoding="utf-8")
        settings = bench_settings(**args.settings)
        spec = {"accounts": str(accounts_path), "clock": clock.isoformat(), "settings": settings}
        limits = {"concurrency": settings.get("concurrency", 16), "per_host": settings.get("per_host_concurrency", 1)}
        reps = []
        for rep in range(args.reps):
            # A fresh inventory each repetition: its full cycle reads everything, its second gets 304s;
            # the floor GETs what each cycle asked for, right after it (interleaved, same server).
            db = str(workdir / f"inventory-{size}-{rep}.sqlite")
            one: dict[str, Any] = {}
            for key, label in (("full", "full"), ("not_modified", "304")):
                asked = str(workdir / f"asked-{size}-{rep}-{key}.json")
                log(f"[{size}] rep {rep + 1}/{args.reps}: {label} cycle ...")
                one[key] = run_child("crawl", {**spec, "db": db, "asked": asked}, workdir, server)
                log(f"[{size}] {label}: {_brief(one[key])}")
                one[f"floor_{key}"] = run_child("floor", {"asked": asked, **limits}, workdir, server)
                log(f"[{size}] floor ({label}): {1000 * one[f'floor_{key}']['cpu_s'] / size:.3f} ms CPU/acc")
            reps.append(one)
        out["reps"] = reps
        out["floor"] = floor_summary(reps, size)
        # The tables show the repetition whose full cycle had the median CPU per account.
        median_rep = sorted(reps, key=lambda r: r["full"]["cpu_s"])[len(reps) // 2]
        out["full"], out["not_modified"] = median_rep["full"], median_rep["not_modified"]
        db = str(workdir / f"inventory-{size}-extra.sqlite")
        spec = {**spec, "db": db}
        if args.profile and size == args.profile:
            log(f"[{size}] profiled full cycle (cProfile; slower than the figures above) ...")
            prof = str(workdir / f"profile-{size}.pstats")
            pspec = {**spec, "db": str(workdir / f"inventory-{size}-profile.sqlite"), "profile": prof}
            figures = run_child("crawl", pspec, workdir, server)
            dumps = [prof, *sorted(str(p) for p in Path(prof + ".workers").glob("*.pstats"))]
            out["profile"] = {"wall_s": figures["wall_s"], "cpu_s": figures["cpu_s"], "dumps": len(dumps),
                              **summarise_profile(*dumps)}
            if args.keep_profile:
                Path(args.keep_profile).write_bytes(Path(prof).read_bytes())
        if args.baseline and size == args.baseline_size:
            limit = min(size, 10_000)
            log(f"[{size}] sequential baseline over the first {limit} accounts (time box {args.baseline_seconds:g} s) ...")
            bspec = {"accounts": str(accounts_path), "db": str(workdir / f"baseline-{size}.sqlite"),
                     "limit": limit, "seconds": args.baseline_seconds or None}
            out["baseline"] = run_child("baseline", bspec, workdir, server)
            log(f"[{size}] baseline: {out['baseline']['done']} accounts in {out['baseline']['wall_s']:.1f} s")
    finally:
        server.stop()
    return out


def floor_summary(reps: list[dict[str, Any]], accounts: int) -> dict[str, Any]:
    """Medians over the repetitions: CPU ms per account of each cycle and of its floor, and the
    ratios (each taken within its repetition, then the median)."""
    def per(run: dict[str, Any]) -> float:
        return 1000 * run["cpu_s"] / accounts

    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    return {
        "accounts": accounts,
        "repetitions": len(reps),
        "cpu_ms_full": median([per(r["full"]) for r in reps]),
        "cpu_ms_304": median([per(r["not_modified"]) for r in reps]),
        "cpu_ms_main_full": median([1000 * r["full"]["cpu_main_s"] / accounts for r in reps]),
        "cpu_ms_workers_full": median([1000 * r["full"]["cpu_workers_s"] / accounts for r in reps]),
        "floor_ms_full": median([per(r["floor_full"]) for r in reps]),
        "floor_ms_304": median([per(r["floor_not_modified"]) for r in reps]),
        "cpu_vs_floor_full": median([r["full"]["cpu_s"] / r["floor_full"]["cpu_s"] for r in reps]),
        "cpu_vs_floor_304": median([r["not_modified"]["cpu_s"] / r["floor_not_modified"]["cpu_s"] for r in reps]),
        "cpu_304_vs_full": median([r["not_modified"]["cpu_s"] / r["full"]["cpu_s"] for r in reps]),
        "wall_s_full": median([r["full"]["wall_s"] for r in reps]),
        "wall_s_304": median([r["not_modified"]["wall_s"] for r in reps]),
    }


def ratios(results: dict[str, Any]) -> dict[str, Any] | None:
    """The top-level `ratios` of the largest size measured (issue 21.5)."""
    sized = [s for s in results["sizes"] if s.get("floor")]
    if not sized:
        return None
    f = max(sized, key=lambda s: s["accounts"])["floor"]
    return {"accounts": f["accounts"], "cpu_vs_floor_full": round(f["cpu_vs_floor_full"], 3),
            "cpu_vs_floor_304": round(f["cpu_vs_floor_304"], 3), "cpu_304_vs_full": round(f["cpu_304_vs_full"], 3)}


def measure_polite(args: argparse.Namespace, workdir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """The politeness floor of the 319 world with the shipped delays, and a scaled-down real run."""
    from crawler import sources
    from crawler.demo.world import BASELINE_CYCLE, World, cycle_time

    shipped = sources.load(ROOT / "sources.yaml").settings
    size, scale = 319, args.polite_scale
    clock = cycle_time(BASELINE_CYCLE)
    # The demo serves each platform from one loopback address: give each the delay its real host has.
    real_host = {"instagram": "www.instagram.com", "facebook": "www.facebook.com"}
    world = World(size, seed=SEED)
    accounts_by_host = Counter(acc.host for acc in world.accounts())
    shipped_delay = {h: shipped.host_delay(real_host.get(h, f"{h}.example")) for h in accounts_by_host}
    floor_shipped, busiest = politeness_floor({h: n + 1 for h, n in accounts_by_host.items()}, shipped_delay)
    out: dict[str, Any] = {
        "accounts": size,
        "shipped_delays": shipped_delay,
        "accounts_by_host": dict(accounts_by_host),
        "floor_shipped_s": floor_shipped,
        "busiest_host": busiest,
        "scale": scale,
    }
    server = start_server(size, clock)
    try:
        registry = registry_for(size, server)
        accounts_path = workdir / "accounts-polite.json"
        accounts_path.write_text(json.dumps(registry), encoding="utf-8")
        ip_of = {}
        for row in registry:
            ip_of[row["host"]] = urlsplit(row["url"]).hostname
        delays = {ip_of[h]: d * scale for h, d in shipped_delay.items() if h in ip_of}
        # The shipped politeness (concurrency 16, one request per host at a time), delays scaled.
        settings = {"contact": CONTACT, "allow_private_addresses": True, "per_host_delay": shipped.per_host_delay * scale,
                    "host_delays": delays}
        spec = {"accounts": str(accounts_path), "db": str(workdir / "inventory-polite.sqlite"),
                "clock": clock.isoformat(), "settings": settings}
        log(f"[polite] 319 accounts, shipped delays x {scale:g} ...")
        figures = run_child("crawl", spec, workdir, server)
    finally:
        server.stop()
    by_ip = figures["requests_by_host"]
    robots = 1 if figures["fetcher"].get("robots_fetches") else 0
    delay_by_ip = {ip: delays.get(ip, shipped.per_host_delay * scale) for ip in by_ip}
    floor_accounts, _ = politeness_floor({ip_of[h]: n + robots for h, n in accounts_by_host.items()}, delay_by_ip)
    floor_requests, host = politeness_floor({ip: n + robots for ip, n in by_ip.items()}, delay_by_ip)
    out.update(
        measured_wall_s=figures["wall_s"],
        floor_accounts_s=floor_accounts,
        floor_requests_s=floor_requests,
        floor_host=host,
        requests_by_host=by_ip,
        over_floor=figures["wall_s"] / floor_requests - 1 if floor_requests else None,
        outcomes=figures["outcomes"],
    )
    log(f"[polite] measured {figures['wall_s']:.2f} s; floor {floor_requests:.2f} s (requests), "
        f"{floor_accounts:.2f} s (accounts)")
    return out


def _brief(f: dict[str, Any]) -> str:
    return (f"{f['wall_s']:.2f} s, {f['accounts'] / f['wall_s']:.0f} acc/s, "
            f"{1000 * f['cpu_s'] / f['accounts']:.2f} ms CPU/acc, peak {f['peak_rss_mb']:.0f} MB, "
            f"outcomes {f['outcomes']}")


# ---------------------------------------------------------------------------------------- report


def render(results: dict[str, Any]) -> str:
    """The Markdown tables of a bench run."""
    lines = [
        f"Machine: {results['machine']}",
        "",
        "| accounts | cycle | wall s | accounts/s | CPU ms/account | server CPU s | peak RSS MB | "
        "RSS growth MB | inventory MB (db+wal) | requests | outcomes |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size in results["sizes"]:
        for key, label in (("full", "full"), ("not_modified", "304")):
            f = size.get(key)
            if not f:
                continue
            n = f["accounts"]
            outcomes = ", ".join(f"{v} {k}" for k, v in sorted(f["outcomes"].items(), key=lambda kv: -kv[1]))
            lines.append(
                f"| {n:,} | {label} | {f['wall_s']:.2f} | {n / f['wall_s']:,.0f} | {1000 * f['cpu_s'] / n:.2f} | "
                f"{f.get('server_cpu_s', 0):.1f} | {f['peak_rss_mb']:.0f} | "
                f"{f['peak_rss_mb'] - f['peak_rss_before_cycle_mb']:.0f} | "
                f"{(f['db_bytes'] + f['wal_bytes']) / 2**20:.1f} | {f['fetcher'].get('requests', 0):,} | {outcomes} |"
            )
    floors = [s["floor"] for s in results["sizes"] if s.get("floor")]
    if floors:
        lines += [
            "",
            "Against the floor (a bare aiohttp client GETting exactly what the crawler asked for, in the same run "
            "against the same server; client CPU of every crawler process, parse workers included; medians of "
            f"{floors[0]['repetitions']} interleaved repetitions):",
            "",
            "| accounts | full ms/acc (main + workers) | floor ms/acc | x floor | 304 ms/acc | floor ms/acc | "
            "x floor | 304 / full |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for f in floors:
            lines.append(
                f"| {f['accounts']:,} | {f['cpu_ms_full']:.2f} ({f['cpu_ms_main_full']:.2f} + "
                f"{f['cpu_ms_workers_full']:.2f}) | {f['floor_ms_full']:.3f} | {f['cpu_vs_floor_full']:.1f} | "
                f"{f['cpu_ms_304']:.2f} | {f['floor_ms_304']:.3f} | {f['cpu_vs_floor_304']:.1f} | "
                f"{f['cpu_304_vs_full']:.2f} |")
    for size in results["sizes"]:
        full, again = size.get("full"), size.get("not_modified")
        if full and again:
            ratio = (again["cpu_s"] / again["accounts"]) / (full["cpu_s"] / full["accounts"])
            lines.append("")
            lines.append(f"{full['accounts']:,} accounts: the 304 cycle costs {ratio:.2f} of the CPU per account "
                         f"of a full cycle.")
    for size in results["sizes"]:
        base, full = size.get("baseline"), size.get("full")
        if base and full and base["done"]:
            per = base["wall_s"] / base["done"]
            extrapolated = per * min(full["accounts"], 10_000)
            ours = full["wall_s"] * min(full["accounts"], 10_000) / full["accounts"]
            lines += [
                "",
                "| implementation | accounts | wall s | accounts/s | CPU ms/account | peak RSS MB |",
                "|---|---:|---:|---:|---:|---:|",
                f"| sequential baseline ({base['done']:,} of the first {base['sample_of']:,} accounts"
                f"{', time-boxed' if base['done'] < base['sample_of'] else ''}) | {base['done']:,} | "
                f"{base['wall_s']:.1f} | {base['done'] / base['wall_s']:,.0f} | {1000 * base['cpu_s'] / base['done']:.2f} | "
                f"{base['peak_rss_mb']:.0f} |",
                f"| crawler, full cycle | {full['accounts']:,} | {full['wall_s']:.1f} | "
                f"{full['accounts'] / full['wall_s']:,.0f} | {1000 * full['cpu_s'] / full['accounts']:.2f} | "
                f"{full['peak_rss_mb']:.0f} |",
                "",
                f"For {min(full['accounts'], 10_000):,} accounts the baseline would take {extrapolated:.0f} s "
                f"(extrapolated from its rate) against {ours:.1f} s: the crawler is {extrapolated / ours:.1f}x faster "
                f"in wall time and uses {(base['cpu_s'] / base['done']) / (full['cpu_s'] / full['accounts']):.1f}x "
                "less CPU per account.",
            ]
    for size in results["sizes"]:
        prof = size.get("profile")
        if prof:
            lines += ["", f"Where the CPU goes ({size['accounts']:,} accounts, cProfile self CPU time; the profiled "
                      f"cycle took {prof['wall_s']:.1f} s wall, {prof['cpu_s']:.1f} s CPU):", "",
                      "| stage | seconds | share |", "|---|---:|---:|"]
            for stage, v in prof["stages"].items():
                lines.append(f"| {stage} | {v['seconds']:.2f} | {100 * v['share']:.0f} % |")
            lines += ["", "| self s | stage | function |", "|---:|---|---|"]
            for row in prof["top"][:15]:
                lines.append(f"| {row['seconds']:.2f} | {row['stage']} | `{row['function']}` |")
    polite = results.get("polite")
    if polite:
        lines += [
            "",
            f"Politeness: with the shipped delays ({_delays_text(polite['shipped_delays'])}) the {polite['accounts']} "
            f"world's busiest host is `{polite['busiest_host']}` ({polite['accounts_by_host'][polite['busiest_host']]} "
            f"accounts): a cycle cannot take less than {polite['floor_shipped_s']:.0f} s "
            f"({polite['floor_shipped_s'] / 60:.1f} min).",
            f"Measured with the delays scaled by {polite['scale']:g}: {polite['measured_wall_s']:.2f} s against a floor "
            f"of {polite['floor_requests_s']:.2f} s (requests on the busiest host x its delay; "
            f"{polite['floor_accounts_s']:.2f} s counting one request per account): "
            f"{100 * (polite['over_floor'] or 0):+.1f} % over the floor.",
        ]
    return "\n".join(lines)


def _delays_text(delays: dict[str, float]) -> str:
    return ", ".join(f"{h} {d:g} s" for h, d in sorted(delays.items()))


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark crawl cycles against the simulated web.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--sizes", default="319,10000", help="world sizes, comma-separated (default 319,10000)")
    parser.add_argument("--json", default=None, help="also write every figure as JSON to this file "
                        "(with a top-level \"ratios\" object for the largest size)")
    parser.add_argument("--reps", type=int, default=3,
                        help="interleaved repetitions of full cycle, 304 cycle and their floors per size; "
                             "medians are reported (default 3)")
    parser.add_argument("--profile", type=int, default=None,
                        help="profile a full cycle of this size (default 10000 when measured)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--keep-profile", default=None, help="copy the cProfile dump here")
    parser.add_argument("--baseline-size", type=int, default=None,
                        help="world whose first 10,000 accounts the baseline visits (default 10000 when measured)")
    parser.add_argument("--baseline-seconds", type=float, default=60.0,
                        help="time box of the sequential baseline; 0 for no box (default 60)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-polite", action="store_true", help="skip the politeness-floor run")
    parser.add_argument("--polite-scale", type=float, default=0.01,
                        help="factor applied to the shipped delays in the politeness run (default 0.01)")
    parser.add_argument("--set", dest="set_", action="append", default=[], metavar="NAME=VALUE",
                        help="override a crawler setting for the loopback cycles (JSON value), e.g. concurrency=64")
    parser.add_argument("--workdir", default=None, help="keep inventories and dumps here (default: a temp dir)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.settings = {}
    for item in args.set_:
        name, _, value = item.partition("=")
        try:
            args.settings[name] = json.loads(value)
        except json.JSONDecodeError:
            args.settings[name] = value
    if args.no_profile:
        args.profile = None
    elif args.profile is None:
        args.profile = 10_000 if 10_000 in args.sizes else None
    args.baseline = not args.no_baseline
    if args.baseline_size is None:
        below = [s for s in args.sizes if s <= 10_000]
        args.baseline_size = 10_000 if 10_000 in args.sizes else max(below or args.sizes)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("--child-"):
        spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        child = {"--child-crawl": child_crawl, "--child-floor": child_floor, "--child-baseline": child_baseline}
        figures = child[argv[0]](spec)
        Path(spec["out"]).write_text(json.dumps(figures), encoding="utf-8")
        return 0
    args = parse_args(argv)

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="crawler-bench-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results: dict[str, Any] = {"machine": machine(), "command": "scripts/bench.py " + " ".join(argv), "sizes": []}
        for size in args.sizes:
            results["sizes"].append(measure_size(size, args, workdir, log))
        if not args.no_polite:
            results["polite"] = measure_polite(args, workdir, log)
        results["ratios"] = ratios(results)
    print(render(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
