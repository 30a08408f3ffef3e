"""Running crawl cycles: once (`crawler crawl`) or on a schedule (`crawler serve`).

Owns the crawl lock's use, signal handling, the APScheduler jobs, the registry re-read at each
cycle (keeping the last valid one) and the service state file (progress: crawler/progress.py).

    crawl_once ── CrawlLock("crawl") ── asyncio.run(cycle) ── SIGINT/SIGTERM: stop, grace, cancel
    Service    ── CrawlLock("serve") for its whole life
                  AsyncIOScheduler in the foreground loop (what systemd expects):
                    crawl        cron settings.crawl_cron (+ jitter), max_instances=1, coalesce
                    maintenance  cron settings.maintenance_cron: Store.maintain
                    heartbeat    every HEARTBEAT seconds: the state file
                  SIGTERM/SIGINT: stop taking accounts, let visits in flight end (at most `grace`
                  seconds, then cancel), run marked interrupted, exit 0

The state file `<db>.service.json` (pid, started, next_run, last_heartbeat, ...) is written
atomically and read by `crawler status`; the lock file says who holds the inventory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from crawler import log
from crawler import progress as progress_mod
from crawler import sources as sources_mod
from crawler.clock import local_zone, utcnow
from crawler.crawl import CycleResult, Progress, Selection, run_cycle
from crawler.cron import cron_trigger
from crawler.errors import CrawlerError, LockedError, RegistryError
from crawler.fetch import Fetcher
from crawler.lock import CrawlLock, holder
from crawler.settings import require_contact
from crawler.store import Store

HEARTBEAT = 60.0  # seconds between state-file heartbeats of the service
GRACE = 25.0  # seconds visits in flight may take after SIGTERM before the cycle is cancelled


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") if dt is not None else None


# --------------------------------------------------------------------------- state file


def state_path(db_path: str) -> Path:
    """Where the service records its pid, next run and heartbeat: beside the inventory."""
    return Path(f"{db_path}.service.json")


def write_state(db_path: str, data: dict[str, Any]) -> None:
    """Replace the state file atomically (write a temporary file, then rename it over)."""
    path = state_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_state(db_path: str) -> dict[str, Any] | None:
    """The service's last written state, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(state_path(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- registry


class RegistrySource:
    """sources.yaml for the service: parsed again only when the file changed (sources.RegistryFile);
    an invalid edit, of any kind, is logged at each cycle and the last valid registry is kept.

    `problem` describes the broken registry while it is broken (None when it is valid); the service
    writes it into its state file as `registry`, for `crawler status`.
    """

    def __init__(self, path: str, initial: sources_mod.Registry | None = None):
        self.path = path
        self.file = sources_mod.RegistryFile(path, initial)
        self.last_valid = initial
        self.problem: dict[str, Any] | None = None

    def load(self) -> sources_mod.Registry:
        try:
            registry = self.file.current()
            require_contact(registry.settings)  # an edit back to the placeholder keeps the last valid
        except Exception as exc:  # a registry problem of any kind, or a loader bug: keep crawling
            if self.last_valid is None:
                raise
            if isinstance(exc, RegistryError):
                problems: list[Any] = exc.problems
            else:
                problems = [exc if isinstance(exc, CrawlerError) else f"{type(exc).__name__}: {exc}"]
            first = str(problems[0]).splitlines()[0] if problems else str(exc)
            if self.problem is None or self.problem["first"] != first[:300]:
                self.problem = {"path": self.path, "since": _iso(utcnow()), "problems": len(problems),
                                "first": first[:300], "kept_accounts": len(self.last_valid.accounts)}
            for p in problems[:50]:
                log.event("registry.problem", level=logging.WARNING, problem=str(p).splitlines()[0])
            log.event("registry.invalid", level=logging.ERROR, path=self.path, problems=len(problems),
                      kept_accounts=len(self.last_valid.accounts), since=self.problem["since"])
            return self.last_valid
        if registry is not self.last_valid:
            log.event("registry.loaded", path=self.path, accounts=len(registry.accounts), parses=self.file.loads)
        self.problem = None
        self.last_valid = registry
        return registry


# --------------------------------------------------------------------------- one cycle


async def cycle(db_path: str, registry: sources_mod.Registry, *, selection: Selection = Selection(),
                trigger: str = "manual", progress: Callable[[Progress], None] | None = None,
                stop: asyncio.Event | None = None) -> CycleResult:
    """One cycle over the registry into the inventory at `db_path` (the caller holds the lock)."""
    # The Fetcher checks the contact: made first, so a refusal writes nothing to the inventory.
    async with Fetcher(registry.settings) as fetcher:
        with Store.open(db_path) as store:
            return await run_cycle(store, registry.accounts, registry.settings, selection=selection,
                                   trigger=trigger, progress=progress, stop=stop, fetcher=fetcher)


def _refusal(db_path: str, exc: LockedError, purpose: str) -> LockedError:
    """The lock's refusal, with what to do when it is the service that holds the inventory."""
    info = holder(db_path) or {}
    if info.get("purpose") != "serve" or purpose == "serve":
        return exc
    state = read_state(db_path) or {}
    nxt = state.get("next_run")
    return LockedError(
        f"{exc}".split("\n\n")[0] + "\n\n"
        "The scheduler service runs the cycles on this inventory"
        + (f" (next cycle at {nxt})" if nxt else "")
        + ". To crawl now, restart the service as `crawler serve --run-now` (it starts a cycle at once), "
        "or stop it (`systemctl stop crawler`), run `crawler crawl`, and start it again."
    )


def acquire(db_path: str, purpose: str) -> CrawlLock:
    """Take the crawl lock for `purpose`, or raise LockedError naming the holder."""
    lock = CrawlLock(db_path, purpose)
    try:
        lock.acquire()
    except LockedError as exc:
        raise _refusal(db_path, exc, purpose) from None
    return lock


def crawl_once(db_path: str, registry: sources_mod.Registry, *, selection: Selection = Selection(),
               trigger: str = "manual", progress: Callable[[Progress], None] | None = None,
               grace: float = GRACE) -> CycleResult:
    """`crawler crawl`: one cycle under the crawl lock. SIGINT/SIGTERM stop it cleanly.

    The first signal stops taking accounts; visits in flight get `grace` seconds, then are
    cancelled; a second signal cancels at once. The run is recorded as interrupted either way.
    """
    missing = sorted(selection.only - {a.id for a in registry.accounts})
    if missing:
        raise CrawlerError(f"no account with id {', '.join(map(repr, missing))} in {registry.path}")
    lock = acquire(db_path, "crawl")
    try:
        stop = asyncio.Event()
        work = cycle(db_path, registry, selection=selection, trigger=trigger, progress=progress, stop=stop)
        result = asyncio.run(_guarded(work, stop, grace))
    finally:
        lock.release()
    log.event("cycle.summary", summary=result.summary)
    return result


async def _guarded(coro: Any, stop: asyncio.Event, grace: float) -> Any:
    """Run `coro` as a task that the first SIGINT/SIGTERM stops and the second (or `grace`) cancels."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(coro)
    signals = 0

    def on_signal(signum: int) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.event("cycle.stopping", level=logging.WARNING, signal=signal.Signals(signum).name, grace_s=grace)
            stop.set()
            loop.call_later(grace, task.cancel)
        else:
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await task
    except asyncio.CancelledError:
        if signals == 0:
            raise  # not ours
        raise CrawlerError("the cycle was stopped before the visits in flight ended; "
                           "its run is recorded as interrupted and the next cycle picks up") from None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


# --------------------------------------------------------------------------- the service




class Service:
    """`crawler serve`: the scheduler in the foreground, holding the lock for its whole life."""

    def __init__(self, sources_path: str, db_path: str, registry: sources_mod.Registry, *,
                 run_now: bool = False, grace: float = GRACE, heartbeat: float = HEARTBEAT):
        self.db_path = db_path
        self.registries = RegistrySource(sources_path, registry)
        self.settings = registry.settings  # the schedule is read once, at start
        self.run_now = run_now
        self.grace = grace
        self.heartbeat = heartbeat
        self.started = utcnow()
        self.scheduler: AsyncIOScheduler | None = None
        self._current: asyncio.Task | None = None
        self._stop: asyncio.Event | None = None
        self._shutdown: asyncio.Event | None = None
        self._last_run: dict[str, Any] | None = None
        self._signals = 0

    def run(self) -> int:
        """Take the lock, serve until SIGTERM/SIGINT, return the exit code (0 after a clean stop)."""
        # Refuse before taking anything (the cron lines were checked with the settings).
        require_contact(self.settings)
        lock = acquire(self.db_path, "serve")
        try:
            asyncio.run(self._main())
        finally:
            lock.release()
        return 0

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop, self._shutdown = asyncio.Event(), asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        s = self.settings
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=local_zone(s.timezone))
        self.scheduler = scheduler
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": s.misfire_grace}
        crawl_kw: dict[str, Any] = {"next_run_time": utcnow().astimezone(scheduler.timezone)} if self.run_now else {}
        scheduler.add_job(self._crawl_job, cron_trigger(s.crawl_cron, s.crawl_jitter, scheduler.timezone),
                          id="crawl", name="crawl cycle", **common, **crawl_kw)
        scheduler.add_job(self._maintenance_job, cron_trigger(s.maintenance_cron, None, scheduler.timezone),
                          id="maintenance", name="maintenance", **common)
        scheduler.add_job(self._write_state, "interval", seconds=self.heartbeat, id="heartbeat",
                          name="heartbeat", max_instances=1, coalesce=True)
        scheduler.start()
        self._write_state()
        log.event("service.start", pid=os.getpid(), db=self.db_path, crawl_cron=s.crawl_cron,
                  next_run=self._next("crawl"), maintenance_cron=s.maintenance_cron, run_now=self.run_now)
        try:
            await self._shutdown.wait()
            scheduler.pause()  # nothing new starts while we wind down
            current = self._current
            if current is not None and not current.done():
                done, _ = await asyncio.wait({current}, timeout=self.grace)
                if not done:
                    log.event("service.cancel_cycle", level=logging.WARNING, grace_s=self.grace)
                    current.cancel()
                    await asyncio.wait({current}, timeout=10)
        finally:
            scheduler.shutdown(wait=False)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            self._write_state(stopped=True)
            log.event("service.stop", pid=os.getpid())

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        log.event("service.stopping", level=logging.WARNING, signal=signal.Signals(signum).name,
                  cycle_running=self._current is not None, grace_s=self.grace)
        self._stop.set()
        self._shutdown.set()
        if self._signals > 1 and self._current is not None:
            self._current.cancel()  # asked twice: do not wait for visits in flight

    async def _crawl_job(self) -> None:
        if self._stop.is_set():
            return
        self._current = asyncio.current_task()
        self._write_state()
        try:
            registry = self.registries.load()
            result = await cycle(self.db_path, registry, trigger="schedule", progress=progress_mod.display(tty=False),
                                 stop=self._stop)
            self._last_run = {"run": result.run_id, "state": result.state, "ended": _iso(utcnow())}
            log.event("cycle.summary", summary=result.summary)
        except asyncio.CancelledError:
            log.event("cycle.cancelled", level=logging.WARNING)
        except CrawlerError as exc:
            # e.g. the disk is full: the service lives on and the next cycle tries again
            error = str(exc).splitlines()[0]
            log.event("cycle.error", level=logging.ERROR, error=error)
            self._last_run = {"run": None, "state": "failed", "error": error[:300], "ended": _iso(utcnow())}
        except Exception as exc:  # a bug, or sqlite refusing even the run's row: the service lives on
            log.LOGGER.exception("cycle.crashed", extra={"fields": {"error": type(exc).__name__}})
            # status reads this when the run's own row could not be finished (disk full)
            self._last_run = {"run": None, "state": "failed", "error": f"{type(exc).__name__}: {exc}"[:300],
                              "ended": _iso(utcnow())}
        finally:
            self._current = None
            self._write_state()

    async def _maintenance_job(self) -> None:
        # Let a running cycle finish first: the checkpoint would only find the WAL busy.
        while self._current is not None and not self._stop.is_set():
            await asyncio.sleep(1)
        if self._stop.is_set():
            return
        retention = self.registries.last_valid.settings.retention_days

        def work() -> dict[str, int]:
            with Store.open(self.db_path) as store:
                return store.maintain(utcnow(), retention)

        try:
            result = await asyncio.to_thread(work)
            log.event("maintenance.done", **result)
        except Exception as exc:  # logged; the next week tries again
            log.event("maintenance.failed", level=logging.ERROR, error=f"{type(exc).__name__}: {exc}")

    def _next(self, job_id: str) -> str | None:
        job = self.scheduler.get_job(job_id) if self.scheduler is not None else None
        return _iso(job.next_run_time) if job is not None and job.next_run_time else None

    def _write_state(self, stopped: bool = False) -> None:
        data = {
            "pid": os.getpid(),
            "started": _iso(self.started),
            "state": "stopped" if stopped else ("crawling" if self._current is not None else "idle"),
            "next_run": None if stopped else self._next("crawl"),
            "next_maintenance": None if stopped else self._next("maintenance"),
            "last_heartbeat": _iso(utcnow()),
            "crawl_cron": self.settings.crawl_cron,
            "last_run": self._last_run,
            "registry": self.registries.problem,  # None while sources.yaml is valid
        }
        try:
            write_state(self.db_path, data)
        except OSError as exc:  # a full disk must not stop the service; status will show the old heartbeat
            log.event("service.state_unwritable", level=logging.WARNING, error=str(exc))
