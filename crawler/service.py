"""Running crawl cycles: once (`crawler crawl`) or as a service (`crawler serve`).

Owns the crawl lock's use, signal handling, the APScheduler jobs, the registry re-read at each
pass (keeping the last valid one), the service state file, systemd's notifications and watchdog,
and when alerts are sent (progress: crawler/progress.py; what is due: crawler/schedule.py; how
alerts are told: crawler/alerts.py).

    crawl_once ── CrawlLock("crawl") ── asyncio.run(cycle) ── SIGINT/SIGTERM: stop, grace, cancel
    Service    ── CrawlLock("serve") for its whole life
                  AsyncIOScheduler in the foreground loop (what systemd expects, Type=notify):
                    crawl        cron settings.crawl_cron (+ jitter): a pass over the due accounts
                                 (schedule.pick: budgets, Retry-After pauses) -> run_cycle(ordered ids)
                    snapshot     cron settings.snapshot_cron: the day's counts, once per local day
                    maintenance  cron settings.maintenance_cron: Store.maintain
                    heartbeat    every HEARTBEAT seconds (half the watchdog at most): the state file,
                                 WATCHDOG=1 unless a pass has stalled, alerts
                  SIGTERM/SIGINT: stop taking accounts, let visits in flight end (at most `grace`
                  seconds, then cancel), run marked interrupted, exit 0
                  SIGHUP: re-read sources.yaml (registry and settings; an invalid edit keeps the
                  last valid) and reschedule if the schedule changed; a running cycle goes on
    crawl_once: SIGHUP is logged and ignored (a closed terminal never kills a manual cycle)

The state file `<db>.service.json` (pid, started, next_run, last_heartbeat, last_pass, ...) is
written atomically and read by `crawler status`; the lock file says who holds the inventory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from crawler import alerts as alerts_mod
from crawler import log, schedule
from crawler import progress as progress_mod
from crawler import sources as sources_mod
from crawler.clock import local_zone, utcnow
from crawler.crawl import CycleResult, Progress, Selection, run_cycle
from crawler.cron import cron_trigger
from crawler.cron import gaps as cron_gaps
from crawler.errors import CrawlerError, LockedError, RegistryError, StoreError
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
        with _hangup_ignored():
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

    def on_hangup() -> None:
        log.event("cycle.hangup_ignored", level=logging.WARNING, signal="SIGHUP",
                  advice="a manual crawl goes on; stop it with Ctrl-C or SIGTERM")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    try:
        return await task
    except asyncio.CancelledError:
        if signals == 0:
            raise  # not ours
        raise CrawlerError("the cycle was stopped before the visits in flight ended; "
                           "its run is recorded as interrupted and the next cycle picks up") from None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def _hangup_ignored() -> Iterator[None]:
    """SIGHUP ignored outside the event loop's own handler (start-up, shutdown): never a kill."""
    try:
        previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    except ValueError:  # not the main thread (tests running a crawl in a thread): nothing to guard
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)


# --------------------------------------------------------------------------- backup and migrate


def backup(db_path: str, dest: str) -> int:
    """`crawler backup`: an online, consistent copy of the inventory (the size of the copy)."""
    if not Path(db_path).exists():
        raise CrawlerError(f"no inventory at {db_path}")
    with Store.open(db_path, readonly=True) as store:
        size = store.backup(dest)
    log.event("backup.done", db=db_path, dest=dest, bytes=size)
    return size


def migrate(db_path: str) -> tuple[int, int]:
    """`crawler migrate`: the schema versions before and after, under the crawl lock."""
    if not Path(db_path).exists():
        raise CrawlerError(f"no inventory at {db_path}")
    lock = acquire(db_path, "migrate")
    try:
        try:
            with Store.open(db_path, readonly=True) as store:  # refuses a newer inventory: a downgrade
                before = store.schema_version()
        except StoreError as exc:
            if "newer than this crawler" in str(exc):
                raise
            before = 0  # older than anything a reader knows; the migration below brings it up
        with Store.open(db_path) as store:
            after = store.schema_version()
    finally:
        lock.release()
    log.event("migrate.done", db=db_path, before=before, after=after)
    return before, after


# --------------------------------------------------------------------------- systemd


class SystemdNotifier:
    """sd_notify(3) without libsystemd: datagrams to $NOTIFY_SOCKET (READY=1, WATCHDOG=1, STATUS=...).

    Does nothing when not started by systemd with Type=notify. `watchdog` is the interval systemd
    expects pings within (WatchdogSec=, passed as WATCHDOG_USEC), or None.
    """

    def __init__(self, environ: Any = None):
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or ""
        if address.startswith("@"):  # an abstract socket (systemd's default in containers)
            address = "\0" + address[1:]
        self.address = address or None
        watchdog = None
        pid = env.get("WATCHDOG_PID")
        if env.get("WATCHDOG_USEC") and (not pid or pid == str(os.getpid())):
            with contextlib.suppress(ValueError):
                watchdog = int(env["WATCHDOG_USEC"]) / 1e6 or None
        self.watchdog = watchdog
        self.sent = 0

    def notify(self, *fields: str) -> bool:
        """Send `KEY=value` lines; False (never an exception) when there is nobody to tell."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(fields).encode("utf-8"), self.address)
        except OSError as exc:
            log.event("service.notify_failed", level=logging.WARNING, error=str(exc))
            return False
        self.sent += 1
        return True


# --------------------------------------------------------------------------- the service


STALL_LIMIT = 1800.0  # seconds a pass may go without finishing a visit before the watchdog stops pinging


class Service:
    """`crawler serve`: the scheduler in the foreground, holding the lock for its whole life.

    Every `crawl_cron` (default every 10 minutes) a pass visits the accounts that are due
    (crawler/schedule.py), within each host's budget and Retry-After; once a day it snapshots the
    counts; weekly it prunes. After each pass and every heartbeat it tells ops about incidents
    (crawler/alerts.py) and reviewers about new notices.
    """

    def __init__(self, sources_path: str, db_path: str, registry: sources_mod.Registry, *,
                 run_now: bool = False, grace: float = GRACE, heartbeat: float = HEARTBEAT,
                 notifier: SystemdNotifier | None = None, clock: Callable[[], datetime] = utcnow,
                 monotonic: Callable[[], float] = time.monotonic):
        self.db_path = db_path
        self.sources_path = sources_path
        self.registries = RegistrySource(sources_path, registry)
        self.settings = registry.settings  # the schedule: read at start and again on SIGHUP
        self.run_now = run_now
        self.grace = grace
        self.notifier = notifier or SystemdNotifier()
        if self.notifier.watchdog:
            heartbeat = min(heartbeat, self.notifier.watchdog / 2)
        self.heartbeat = heartbeat
        self.clock = clock
        self.monotonic = monotonic
        self.started = clock()
        self.scheduler: AsyncIOScheduler | None = None
        self._current: asyncio.Task | None = None
        self._stop: asyncio.Event | None = None
        self._shutdown: asyncio.Event | None = None
        self._last_run: dict[str, Any] | None = None
        self._last_pass: dict[str, Any] | None = None
        self._current_pass: dict[str, Any] | None = None
        self._last_good_pass: str | None = None
        self._signals = 0
        self._progress_at = monotonic()
        gap = cron_gaps(self.settings.crawl_cron, local_zone(self.settings.timezone))
        self.pass_gap = gap[1] if gap else timedelta(days=1)
        self.buckets = schedule.Buckets(self.settings, window=self.pass_gap)
        self._floors: dict[str, timedelta] = {}
        self._floors_at: datetime | None = None
        self._synced: sources_mod.Registry | None = None
        self.alerts = alerts_mod.Alerts(self.settings, db_path)
        self._registry_lock: asyncio.Lock | None = None
        self._reloading: asyncio.Task | None = None

    def run(self) -> int:
        """Take the lock, serve until SIGTERM/SIGINT, return the exit code (0 after a clean stop)."""
        # Refuse before taking anything (the cron lines were checked with the settings).
        require_contact(self.settings)
        lock = acquire(self.db_path, "serve")
        try:
            with Store.open(self.db_path):
                pass  # migrate now, before the first pass (and say so if it cannot be written)
            with _hangup_ignored():
                asyncio.run(self._main())
        finally:
            lock.release()
        return 0

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop, self._shutdown = asyncio.Event(), asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_hangup)
        s = self.settings
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=local_zone(s.timezone))
        self.scheduler = scheduler
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": s.misfire_grace}
        crawl_kw: dict[str, Any] = {"next_run_time": self.clock().astimezone(scheduler.timezone)} if self.run_now else {}
        scheduler.add_job(self._pass_job, cron_trigger(s.crawl_cron, s.crawl_jitter, scheduler.timezone),
                          id="crawl", name="pass over the due accounts", **common, **crawl_kw)
        scheduler.add_job(self._snapshot_job, cron_trigger(s.snapshot_cron, None, scheduler.timezone),
                          id="snapshot", name="daily snapshot", **common)
        scheduler.add_job(self._maintenance_job, cron_trigger(s.maintenance_cron, None, scheduler.timezone),
                          id="maintenance", name="maintenance", **common)
        # a late heartbeat is still the heartbeat: no misfire limit (a busy machine delayed it by
        # seconds, and APScheduler's default of 1 s skipped it with a warning in the journal)
        scheduler.add_job(self._beat, "interval", seconds=self.heartbeat, id="heartbeat",
                          name="heartbeat", max_instances=1, coalesce=True, misfire_grace_time=None)
        scheduler.start()
        self._write_state()
        log.event("service.start", pid=os.getpid(), db=self.db_path, crawl_cron=s.crawl_cron,
                  next_run=self._next("crawl"), snapshot_cron=s.snapshot_cron, maintenance_cron=s.maintenance_cron,
                  run_now=self.run_now, watchdog_s=self.notifier.watchdog, alerts=",".join(self.alerts.channels()) or None)
        self.notifier.notify("READY=1", f"STATUS=idle; next pass {self._next('crawl')}")
        try:
            await self._shutdown.wait()
            self.notifier.notify("STOPPING=1")
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
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
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

    def _on_hangup(self) -> None:
        log.event("service.reload", level=logging.WARNING, signal="SIGHUP", cycle_running=self._current is not None)
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.ensure_future(self._reload())

    async def _load_registry(self) -> sources_mod.Registry:
        """sources.yaml as it is now (the last valid one if it is broken), parsed off the loop."""
        if self._registry_lock is None:
            self._registry_lock = asyncio.Lock()
        async with self._registry_lock:
            return await asyncio.to_thread(self.registries.load)

    async def _reload(self) -> None:
        """SIGHUP: read the registry and settings again; a new schedule takes effect at once, the
        rest with the next pass (a running cycle keeps what it started with)."""
        try:
            registry = await self._load_registry()
        except Exception as exc:  # noqa: BLE001 - never the end of the service
            log.event("service.reload_failed", level=logging.ERROR, error=f"{type(exc).__name__}: {exc}")
            return
        new, old = registry.settings, self.settings
        timing = ("crawl_cron", "crawl_jitter", "snapshot_cron", "maintenance_cron", "misfire_grace", "timezone")
        changed = [name for name in timing if getattr(new, name) != getattr(old, name)]
        self.settings = new
        gap = cron_gaps(new.crawl_cron, local_zone(new.timezone))
        self.pass_gap = gap[1] if gap else timedelta(days=1)
        # The buckets keep their levels (a reload is no licence to send a burst); budgets are read anew.
        self.buckets.settings = new
        self.buckets.window_s = max(self.pass_gap.total_seconds(), 600.0)
        self.buckets._budget.clear()
        self._floors_at = None  # the host floors are worked out again at the next pass
        self.alerts = alerts_mod.Alerts(new, self.db_path)
        if changed and self.scheduler is not None:
            zone = local_zone(new.timezone)
            for job, cron, jitter in (("crawl", new.crawl_cron, new.crawl_jitter), ("snapshot", new.snapshot_cron, None),
                                      ("maintenance", new.maintenance_cron, None)):
                self.scheduler.modify_job(job, misfire_grace_time=new.misfire_grace)
                self.scheduler.reschedule_job(job, trigger=cron_trigger(cron, jitter, zone))
        log.event("service.reloaded", accounts=len(registry.accounts), schedule_changed=",".join(changed) or "no",
                  next_run=self._next("crawl"), registry_problem=bool(self.registries.problem))
        self._write_state()

    # ------------------------------------------------------------------ a pass over the due accounts

    def plan(self, registry: sources_mod.Registry, now: datetime) -> schedule.Pick:
        """The due accounts this pass visits (most overdue first), within budgets and pauses."""
        by_id = {a.id: a for a in registry.accounts}
        with Store.open(self.db_path) as store:
            if self._synced is not registry:  # new accounts are due at once: the store must know them
                store.sync(registry.accounts, now)
                self._synced = registry
            if self._floors_at is None or now - self._floors_at >= timedelta(hours=1):
                budgets: dict[str, float] = {}
                demand = []
                for d in store.demand():
                    host = schedule.host_of_url(d.url, d.feed_url)
                    if host not in budgets:
                        budgets[host] = self.buckets.budget(host)
                    demand.append(schedule.Demand(host, timedelta(seconds=d.interval_s), d.cost or schedule.DEFAULT_COST))
                self._floors, self._floors_at = schedule.floors(demand, budgets), now
                for host, floor in self._floors.items():
                    log.event("schedule.host_floor", host=host, floor_h=round(floor.total_seconds() / 3600, 1),
                              budget_per_day=round(budgets[host]))
            due = [schedule.DueAccount(d.id, schedule.host_of(by_id[d.id]), d.due_at, d.cost or schedule.DEFAULT_COST)
                   for d in store.due_accounts(now) if d.id in by_id]
            pauses = {h: p.paused_until for h, p in store.host_pauses(now).items()}
        return schedule.pick(due, now, self.buckets, pauses)

    async def _pass_job(self) -> None:
        if self._stop.is_set():
            return
        self._current = asyncio.current_task()
        now = self.clock()
        info: dict[str, Any] = {"at": _iso(now)}
        self._current_pass = info
        try:
            registry = await self._load_registry()
            chosen = await asyncio.to_thread(self.plan, registry, now)
            info.update(due=len(chosen.chosen) + sum(chosen.held_by_budget.values()) + sum(chosen.held_by_pause.values()),
                        chosen=len(chosen.chosen), held_by_budget=dict(chosen.held_by_budget.most_common(5)),
                        held_by_pause=dict(chosen.held_by_pause.most_common(5)))
            log.event("pass.start", due=info["due"], visiting=info["chosen"],
                      held_by_budget=sum(chosen.held_by_budget.values()), held_by_pause=sum(chosen.held_by_pause.values()))
            self._write_state()
            if chosen.chosen:
                result = await self._visit(registry, chosen.chosen)
                self._last_run = {"run": result.run_id, "state": result.state, "ended": _iso(self.clock())}
                info.update(run=result.run_id, state=result.state, new_notices=result.new_notices)
                log.event("cycle.summary", summary=result.summary)
            else:
                info.update(state="finished", run=None)
        except asyncio.CancelledError:
            log.event("cycle.cancelled", level=logging.WARNING)
            info.update(state="interrupted")
        except CrawlerError as exc:
            # e.g. the disk is full: the service lives on and the next pass tries again
            error = str(exc).splitlines()[0]
            log.event("cycle.error", level=logging.ERROR, error=error)
            self._last_run = {"run": None, "state": "failed", "error": error[:300], "ended": _iso(self.clock())}
            info.update(state="failed", error=error[:300])
        except Exception as exc:  # a bug, or sqlite refusing even the run's row: the service lives on
            log.LOGGER.exception("cycle.crashed", extra={"fields": {"error": type(exc).__name__}})
            error = f"{type(exc).__name__}: {exc}"[:300]
            self._last_run = {"run": None, "state": "failed", "error": error, "ended": _iso(self.clock())}
            info.update(state="failed", error=error)
        finally:
            info["ended"] = _iso(self.clock())
            if info.get("state") == "finished":
                self._last_good_pass = info["ended"]
            self._last_pass = info
            self._current = None
            self._write_state()
        await self._tell()

    async def _visit(self, registry: sources_mod.Registry, ids: tuple[str, ...]) -> CycleResult:
        settings = registry.settings
        shown = progress_mod.display(tty=False)

        def progress(p: Progress) -> None:
            self._progress_at = self.monotonic()
            shown(p)

        planner = schedule.Planner(settings, self._floors)
        async with Fetcher(settings) as fetcher:
            with Store.open(self.db_path) as store:
                result = await run_cycle(store, registry.accounts, settings, selection=Selection(ordered=ids),
                                         trigger="schedule", progress=progress, stop=self._stop, fetcher=fetcher,
                                         planner=planner, clock=self.clock)
                now = self.clock()
                paused = {host: (now + timedelta(seconds=left), "Retry-After")
                          for host, left in fetcher.host_pauses().items()}
                if paused:
                    store.pause_hosts(paused, now)
                    for host, (until, _) in paused.items():
                        log.event("host.paused", level=logging.WARNING, host=host, until=_iso(until))
        return result

    # ------------------------------------------------------------------ the other jobs

    async def _snapshot_job(self) -> None:
        """The day's snapshot of the counts (with their freshness), once per local day: APScheduler
        fires a daily cron line twice on the night DST ends, the second finds today's snapshot."""
        if self._stop.is_set():
            return
        now, zone = self.clock(), local_zone(self.settings.timezone)

        def work() -> int | None:
            with Store.open(self.db_path) as store:
                last = store.last_snapshot_at()
                if last is not None and last.astimezone(zone).date() == now.astimezone(zone).date():
                    return None
                return store.take_snapshot(None, now)

        try:
            taken = await asyncio.to_thread(work)
        except Exception as exc:  # logged; tomorrow tries again
            log.event("snapshot.failed", level=logging.ERROR, error=f"{type(exc).__name__}: {exc}")
            return
        log.event("snapshot.taken" if taken else "snapshot.skipped", snapshot=taken,
                  reason=None if taken else "today's snapshot exists")

    async def _maintenance_job(self) -> None:
        # Let a running cycle finish first: the checkpoint would only find the WAL busy.
        while self._current is not None and not self._stop.is_set():
            await asyncio.sleep(1)
        if self._stop.is_set():
            return
        retention = self.registries.last_valid.settings.retention_days

        def work() -> dict[str, int]:
            with Store.open(self.db_path) as store:
                return store.maintain(self.clock(), retention)

        try:
            result = await asyncio.to_thread(work)
            log.event("maintenance.done", **result)
        except Exception as exc:  # logged; the next week tries again
            log.event("maintenance.failed", level=logging.ERROR, error=f"{type(exc).__name__}: {exc}")

    async def _beat(self) -> None:
        """The heartbeat: the state file, the watchdog's ping (unless a pass has stalled), alerts."""
        self._write_state()
        stalled = self._current is not None and self.monotonic() - self._progress_at > STALL_LIMIT
        if self.notifier.watchdog:
            if stalled:
                log.event("service.stalled", level=logging.ERROR, seconds=int(self.monotonic() - self._progress_at))
            else:
                self.notifier.notify("WATCHDOG=1")
        if self._current is None:
            await self._tell()

    async def _tell(self) -> None:
        """Tell ops about incidents opened or closed, reviewers about new notices (never raises)."""
        if not self.alerts.channels():
            return
        try:
            await asyncio.to_thread(self.alerts.run, self.clock(), self.registries.last_valid)
        except Exception as exc:  # noqa: BLE001 - telling must never stop the service
            log.event("alerts.failed", level=logging.ERROR, error=f"{type(exc).__name__}: {exc}")

    def _next(self, job_id: str) -> str | None:
        job = self.scheduler.get_job(job_id) if self.scheduler is not None else None
        return _iso(job.next_run_time) if job is not None and job.next_run_time else None

    def _write_state(self, stopped: bool = False) -> None:
        data = {
            "pid": os.getpid(),
            "started": _iso(self.started),
            "state": "stopped" if stopped else ("crawling" if self._current is not None else "idle"),
            "next_run": None if stopped else self._next("crawl"),
            "next_snapshot": None if stopped else self._next("snapshot"),
            "next_maintenance": None if stopped else self._next("maintenance"),
            "last_heartbeat": _iso(utcnow()),  # the wall clock, whatever clock the passes use
            "heartbeat_s": self.heartbeat,
            "crawl_cron": self.settings.crawl_cron,
            "pass_gap_s": int(self.pass_gap.total_seconds()),
            "current_pass": self._current_pass if self._current is not None else None,
            "last_pass": self._last_pass,
            "last_good_pass": self._last_good_pass,
            "last_run": self._last_run,
            "watchdog_s": self.notifier.watchdog,
            "registry": self.registries.problem,  # None while sources.yaml is valid
        }
        try:
            write_state(self.db_path, data)
        except OSError as exc:  # a full disk must not stop the service; status will show the old heartbeat
            log.event("service.state_unwritable", level=logging.WARNING, error=str(exc))
