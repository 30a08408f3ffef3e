"""One crawl cycle: sync the registry, visit every account politely, classify, store, snapshot.

    accounts ─> (per account, concurrently within the fetcher's limits)
                route (routes.observe: the Graph API, else fetch+parse by platforms.observe)
                ─> notices.detect ─> classify ─> writer.record
             ─> (the writer's thread) batches of visits, one transaction each
             ─> snapshot + summary

Every store access of a cycle runs on the writer's thread (crawler/store/writer.py), so the event
loop never waits for SQLite. Visits are written in batches, each account all-or-nothing, with the
run's counters in the same transaction: a kill at any moment leaves every account fully written or
untouched, and the run row says how far it got. Another writer's lock delays the writes, not the
fetching; held past settings.write_lock_pause, the cycle pauses and resumes when it is released.
One account's failure, even a bug in a parser, is recorded on its check and the cycle goes on. A
store failure (a full disk) stops the cycle: the run is marked failed, nothing half-written remains.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from crawler import classify, log, notices, platforms, routes, schedule
from crawler.clock import Clock, utcnow
from crawler.fetch import Fetcher
from crawler.meta import MetaClient
from crawler.models import (
    Account,
    Fetched,
    NoticeHit,
    Observation,
    PriorState,
    PublicText,
    Verdict,
    source_fetch,
)
from crawler.parse_pool import ParseError, ParsePool, new_text
from crawler.settings import Settings
from crawler.store import AccountState, Store, Visit
from crawler.store.crawl_writes import CrawlWrites
from crawler.store.reads import Reads
from crawler.store.writer import Writer


@dataclass(frozen=True)
class Selection:
    """Which accounts of the registry a cycle visits (all by default)."""

    only: frozenset[str] = frozenset()
    platforms: frozenset[str] = frozenset()
    areas: frozenset[str] = frozenset()
    # exactly these ids, in this order (the service's due accounts, most overdue first)
    ordered: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not (self.only or self.platforms or self.areas or self.ordered)

    def pick(self, accounts: Iterable[Account]) -> list[Account]:
        if self.ordered:
            by_id = {a.id: a for a in accounts}
            return [by_id[i] for i in self.ordered if i in by_id]
        return [
            a for a in accounts
            if (not self.only or a.id in self.only)
            and (not self.platforms or a.platform in self.platforms)
            and (not self.areas or a.area in self.areas)
        ]


@dataclass
class Progress:
    """Live counters of a cycle, handed to the progress callback after every account."""

    total: int
    done: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)
    outcomes: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        return (self.total - self.done) / self.rate if self.rate > 0 else None


@dataclass(frozen=True)
class CycleResult:
    run_id: int
    state: str  # finished | interrupted | failed
    total: int
    done: int
    errors: int
    outcomes: dict[str, int]
    statuses: dict[str, int]
    pending_review: int
    new_notices: int
    seconds: float
    requests: int
    snapshot_id: int | None
    summary: str
    writer_cpu_s: float = 0.0  # CPU of the store's writer thread over the cycle


def interleave_by_host(accounts: Sequence[Account]) -> list[Account]:
    """Round-robin over hosts, busiest first, so per-host delays overlap instead of queueing."""
    by_host: dict[str, list[Account]] = defaultdict(list)
    for a in accounts:
        by_host[(urlsplit(a.feed or a.url).hostname or "").lower()].append(a)
    queues = sorted(by_host.values(), key=len, reverse=True)
    return [a for group in itertools.zip_longest(*queues) for a in group if a is not None]


def _prior(state: AccountState | None) -> PriorState:
    return state.prior if state else PriorState()  # a never-visited account


class VisitResult(NamedTuple):
    """What one visit produced (the store is not touched by `visit`)."""

    outcome: str
    fetches: list[Fetched]
    observation: Observation | None
    verdict: Verdict
    hits: list[NoticeHit]
    content_sha256: str | None = None  # of the body the observation was read from (hashed in a worker)
    route: str | None = None  # "api" | "public": how the account was read (crawler/routes.py)
    route_note: str | None = None  # why it was read (or not) that way


async def visit(
    account: Account,
    state: AccountState | None,
    fetcher: Fetcher,
    now: datetime,
    settings: Settings,
    pool: ParsePool | None = None,
    meta: MetaClient | None = None,
) -> VisitResult:
    """Visit one account along its route (routes.observe: the Graph API where it reads the account,
    else its public pages): fetch and read (in `pool`'s workers, within its time limit; in this
    process without one), detect notices, classify. A read stopped at the limit makes its fetch a
    `parse_timeout` error; observe then goes on as for any failed response (a feed: the page next)."""
    prior = _prior(state)
    source = state.source_url if state else None
    found: dict[PublicText, NoticeHit] = {}
    stopped: set[int] = set()  # id() of the fetches whose reading was stopped at the limit
    digests: dict[int, str] = {}

    declared = platforms.get(account.platform)
    # Instagram tells a phone what it hides from a desktop (a profile's own <title>)
    agent = {"mobile": True} if declared is not None and declared.mobile else {}

    async def fetch(url: str) -> Fetched:
        # A gone account is asked without validators: whatever its address serves now is read in
        # full (a web server's default page answers 304 to the old feed's If-Modified-Since).
        if state is not None and url == source and prior.status != "gone":
            return await fetcher.fetch(url, etag=state.etag, last_modified=state.last_modified, **agent)
        return await fetcher.fetch(url, **agent)

    async def read(fetched: Fetched) -> Observation:
        assert pool is not None
        reading = await pool.read(account.platform, fetched, now, settings, since=read_since)
        if reading.timed_out:
            stopped.add(id(fetched))
        if reading.sha256 is not None:
            digests[id(fetched)] = reading.sha256
        found.update((text, hit) for text, hit in zip(reading.observation.texts, reading.hits, strict=True)
                     if hit is not None)
        return reading.observation

    # The notice detector reads new posts only: those before the newest post an earlier visit read
    # were read then (a gone account's address may serve someone else now: everything is new there).
    read_since = prior.last_post_at if prior.status not in (None, "gone") and not prior.last_post_estimated else None
    known = source or (state.discovered_feed_url if state else None)
    routed = await routes.observe(account, fetch, meta, now, settings, known_feed=known,
                                  parse=read if pool is not None else None,
                                  previous_route=state.route if state else None,
                                  previous_note=state.route_note if state else None)
    obs, fetches = routed.observation, routed.fetches
    last = source_fetch(fetches, obs)
    digest = digests.get(id(last)) if last is not None else None
    if stopped:
        fetches = [replace(f, error="parse_timeout", error_message=f"reading took longer than {pool.timeout:g} s")
                   if id(f) in stopped else f for f in fetches]
    outcome = classify.outcome(source_fetch(fetches, obs), obs)
    verdict = classify.classify(prior, obs, outcome, now, settings)
    if outcome == "not_modified":
        obs = None  # nothing new was read: the classifier re-read the stored observation
    if obs is None:
        hits: list[NoticeHit] = []
    elif pool is not None and routed.route != "api":
        hits = notices.keep_strongest(found.get(t) for t in obs.texts)  # per post the strongest, as detect
    else:  # an API reading is not parsed in a worker: its few short texts are read here
        hits = notices.detect([t for t in obs.texts if new_text(t, read_since)], settings.notice_threshold)
    return VisitResult(outcome, fetches, obs, verdict, hits, digest, routed.route, routed.note)


class _States:
    """The prior states of the chosen accounts, read a slice at a time just ahead of the visits."""

    SLICE = 500

    def __init__(self, writer: Writer, chosen: Sequence[Account]):
        self.writer = writer
        self.chosen = chosen
        self.slices: dict[int, asyncio.Future] = {}

    def _load(self, k: int) -> asyncio.Future | None:
        if k * self.SLICE >= len(self.chosen):
            return None
        if k not in self.slices:
            ids = [a.id for a in self.chosen[k * self.SLICE:(k + 1) * self.SLICE]]
            self.slices[k] = asyncio.ensure_future(self.writer.call(CrawlWrites.account_states, ids))
            self.slices.pop(k - 2, None)  # visits of slices behind are all under way
        return self.slices[k]

    async def get(self, index: int) -> AccountState | None:
        k, offset = divmod(index, self.SLICE)
        loading = self._load(k)
        if offset == self.SLICE // 2:
            self._load(k + 1)  # read ahead, so no visit waits for its state
        states = await loading  # type: ignore[misc]
        return states.pop(self.chosen[index].id, None)

    def cancel(self) -> None:
        for task in self.slices.values():
            task.cancel()


async def run_cycle(
    store: Store,
    accounts: Sequence[Account],
    settings: Settings,
    *,
    selection: Selection = Selection(),
    clock: Clock = utcnow,
    trigger: str = "manual",
    progress: Callable[[Progress], None] | None = None,
    stop: asyncio.Event | None = None,
    fetcher: Fetcher | None = None,
    pool: ParsePool | None = None,
    lock_clock: Callable[[], float] = time.monotonic,
    planner: schedule.Planner | None = None,
    meta: MetaClient | None = None,
) -> CycleResult:
    """Run one crawl cycle over `accounts` (the whole registry) and return its figures.

    `clock` gives the time recorded on checks (the demo passes a simulated clock). `stop`, when
    set, makes the cycle take no new accounts; in-flight visits finish (each bounded by the
    fetcher's deadline) and the run is marked interrupted. Responses are read in `pool`'s worker
    processes (a pool of settings.parse_workers is started for the cycle when none is given). Every
    store access of the cycle runs on the writer's thread (crawler.store.writer); `lock_clock`
    measures how long another writer's lock has held the writes up (tests inject it), against
    settings.write_lock_pause. `planner` decides each account's next visit after its classify
    (crawler/schedule.py; the service passes its hosts' budget floors). `meta` is the Graph API
    client (one is made when settings.meta is configured); its state is recorded (api_status) as
    soon as it changes and at the end of the cycle.
    """
    cycle_start = clock()
    stop = stop or asyncio.Event()
    writer = Writer(store, batch=settings.write_batch, queue_size=settings.write_queue,
                    pause_after=settings.write_lock_pause, clock=lock_clock)
    owns_fetcher = fetcher is None
    owned_pool = ParsePool(settings) if pool is None else None
    # the workers start while the registry is synced
    starting = asyncio.ensure_future(owned_pool.__aenter__()) if owned_pool is not None else None
    try:
        async with writer:
            result = await _cycle(store, accounts, settings, selection, clock, trigger, progress, stop, fetcher,
                                  owns_fetcher, pool, starting, writer, cycle_start,
                                  planner or schedule.Planner(settings), meta)
        return replace(result, writer_cpu_s=writer.thread_cpu_s)
    finally:
        if starting is not None:
            with contextlib.suppress(BaseException):
                await starting
            await owned_pool.close()


async def _cycle(store: Store, accounts: Sequence[Account], settings: Settings, selection: Selection, clock: Clock,
                 trigger: str, progress: Callable[[Progress], None] | None, stop: asyncio.Event,
                 fetcher: Fetcher | None, owns_fetcher: bool, pool: ParsePool | None,
                 starting: asyncio.Future | None, writer: Writer, cycle_start: datetime,
                 planner: schedule.Planner, meta: MetaClient | None = None) -> CycleResult:
    await writer.call(CrawlWrites.mark_stale_runs)
    await writer.call(CrawlWrites.sync, accounts, cycle_start)
    chosen = interleave_by_host(selection.pick(accounts))
    run_id = await writer.call(CrawlWrites.start_run, cycle_start, len(chosen), trigger, os.getpid())
    writer.run_id = run_id
    log.event("cycle.start", run=run_id, accounts=len(chosen), trigger=trigger, clock=cycle_start.isoformat())
    prog = Progress(total=len(chosen))
    states = _States(writer, chosen)
    queue = iter(enumerate(chosen))
    show = _Display(progress)

    if starting is not None:
        pool = await starting
    if fetcher is None:
        fetcher = Fetcher(settings)
        await fetcher.__aenter__()
    owns_meta = meta is None and settings.meta.configured
    if owns_meta:
        meta = MetaClient(settings)
    reported: set[str] = set()
    recording: list[asyncio.Future] = []

    def api_status(status) -> None:  # an expired token is recorded at once, not at the end of the cycle
        if status.state != "ok" and status.state not in reported:
            reported.add(status.state)
            recording.append(asyncio.ensure_future(_record_api_status(writer, status, clock(), run_id)))

    if meta is not None:
        meta.on_status = api_status

    async def worker() -> None:
        for index, account in queue:
            if stop.is_set() or writer.failure:
                return
            await writer.writable(stop)
            if stop.is_set() or writer.failure:
                return
            state = await states.get(index)
            now = clock()
            digest = None
            try:
                outcome, fetches, obs, verdict, hits, digest, route, note = await visit(
                    account, state, fetcher, now, settings, pool, meta)
            except Exception as exc:  # a bug must not stop the cycle: record it on the check
                kind = exc.kind if isinstance(exc, ParseError) else type(exc).__name__
                log.event("check.internal_error", level=40, account=account.id, error=kind)
                failed = Fetched(url=account.url, final_url=account.url, error="internal_error",
                                 error_message=f"{kind} while parsing (a crawler bug)")
                outcome, fetches, obs, hits, route, note = "error", [failed], None, [], None, None
                verdict = classify.classify(_prior(state), None, outcome, now, settings)
            due, rate = planner.after(account, _prior(state), state.posts_per_week if state else None, obs, verdict, now)
            writer.record(Visit(account.id, run_id, now, outcome, fetches, obs, verdict, hits, next_due_at=due.at,
                                due_reason=due.why, revisit_seconds=int(due.interval.total_seconds()),
                                posts_per_week=rate, route=route, route_note=note).slim(digest))
            prog.done += 1
            prog.outcomes[outcome] += 1
            if outcome not in ("ok", "not_modified", "gone"):
                prog.errors += 1
            log.event("check.done", level=10, account=account.id, outcome=outcome, status=verdict.status,
                      ms=sum(f.elapsed_ms for f in fetches))
            show(prog)

    cancelled = False
    try:
        workers = max(1, min(settings.concurrency, len(chosen)))
        await asyncio.gather(*(worker() for _ in range(workers)))
    except asyncio.CancelledError:
        # The caller's grace ran out (a service stopping): visits in flight are abandoned before
        # they were queued; what is queued gets one attempt; then the run is marked interrupted.
        cancelled = True
        stop.set()
        writer.give_up()
    finally:
        states.cancel()
        requests = getattr(fetcher, "stats", {}).get("requests", 0) + (meta.calls if meta is not None else 0)
        if owns_fetcher:
            await fetcher.__aexit__(None, None, None)
        if meta is not None and owns_meta:
            await meta.aclose()
    if meta is not None and meta.used and not writer.failure:
        recording.append(asyncio.ensure_future(_record_api_status(writer, meta.status(), clock(), run_id)))
    if recording:
        await asyncio.gather(*recording)

    await writer.drain()
    failure = writer.failure
    failure_text = f"{type(failure).__name__}: {failure}" if failure is not None else None
    if failure_text:
        state = "failed"
    elif stop.is_set() and writer.written < prog.total:
        state = "interrupted"
    else:
        state = "finished"
    snapshot_id = None
    if state == "finished" and selection.everything:
        snapshot_id = await writer.call(CrawlWrites.take_snapshot, run_id, clock())
    statuses = await writer.call(Reads.counts)
    pending = (await writer.call(Reads.pending_summary)).count
    seconds = time.monotonic() - prog.started
    summary = summarize(run_id, state, prog, writer.written, statuses, pending, writer.new_notices, seconds,
                        failure_text, writer.dropped)
    await writer.call(_finish, run_id, state, requests, summary, failure_text)
    log.event("cycle.end", run=run_id, state=state, done=writer.written, errors=prog.errors,
              seconds=round(seconds, 1), batches=writer.batches, pauses=writer.pauses)
    if cancelled:
        raise asyncio.CancelledError
    return CycleResult(run_id, state, prog.total, writer.written, prog.errors, dict(prog.outcomes), statuses,
                       pending, writer.new_notices, seconds, requests, snapshot_id, summary)


async def _record_api_status(writer: Writer, status, at: datetime, run_id: int) -> None:
    """The Graph API's state into the inventory (status and alerts read it), on the writer's
    thread; a failure to record it never fails the cycle (the cycle's own writes report a full disk)."""
    try:
        await writer.call(CrawlWrites.record_api_status, status.api, status.state, status.detail, at,
                          calls=status.calls, usage_percent=status.usage_percent, run_id=run_id)
    except Exception as exc:  # noqa: BLE001
        log.event("api_status.unrecorded", level=30, error=type(exc).__name__)


def _finish(store: Store, run_id: int, state: str, requests: int, summary: str, failure: str | None) -> None:
    """End the run (on the writer's thread); a full disk may refuse the summary: the state at least."""
    try:
        store.finish_run(run_id, state, requests=requests, summary=summary, error=failure)
    except Exception:  # noqa: BLE001
        if not failure:
            raise
        store.finish_run(run_id, state, requests=requests, error=failure[:200])


class _Display:
    """The caller's progress callback; a display that fails (a closed terminal) never fails a cycle."""

    def __init__(self, progress: Callable[[Progress], None] | None):
        self.progress = progress

    def __call__(self, prog: Progress) -> None:
        if self.progress is None:
            return
        try:
            self.progress(prog)
        except Exception as exc:  # noqa: BLE001 - e.g. EIO on a terminal that hung up
            log.event("cycle.progress_failed", level=30, error=f"{type(exc).__name__}: {exc}")
            self.progress = None


def summarize(run_id: int, state: str, prog: Progress, written: int, statuses: dict[str, int], pending: int,
              new_notices: int, seconds: float, failure: str | None, dropped: int = 0) -> str:
    """The one-paragraph summary printed and logged at the end of a cycle."""
    minutes, secs = divmod(int(seconds), 60)
    outcome_text = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in prog.outcomes.most_common()) or "none"
    status_text = ", ".join(f"{statuses.get(s, 0)} {s}" for s in ("active", "dormant", "gone", "unknown"))
    unchecked = statuses.get("unchecked", 0)
    text = (
        f"Cycle {run_id} {state} in {minutes}m{secs:02d}s: {written} of {prog.total} accounts visited "
        f"({outcome_text}). Inventory now: {status_text}"
        + (f", {unchecked} not yet checked" if unchecked else "")
        + f". {new_notices} new notice{'s' if new_notices != 1 else ''} flagged; {pending} await review."
    )
    if failure:
        text += f" The cycle stopped early because the inventory could not be written ({failure})."
    if dropped:
        text += (f" {dropped} visit{'s' if dropped != 1 else ''} could not be written before the cycle was stopped "
                 "(another writer held the inventory's lock); those accounts are untouched.")
    return text


def inspect(target: str, settings: Settings, now: datetime, *, platform: str | None = None,
            page_url: str | None = None, status: int = 200) -> tuple[Observation, notices.NoticeHit | None]:
    """`crawler inspect`: what a visit reads from one saved FILE or http(s) URL (fetched as a crawl
    would), and the notice a crawl would flag; nothing is stored. The response is read as a crawl
    reads it: in a worker process, stopped after settings.parse_timeout seconds."""
    from pathlib import Path

    from crawler.errors import CrawlerError
    from crawler.parse_pool import read_once

    if Path(target).is_file():
        url = page_url or Path(target).resolve().as_uri()
        obs = platforms.inspect_file(target, url, status=status, platform=platform, now=now, settings=settings,
                                     read=lambda name, fetched: read_once(name, fetched, now, settings))
    elif target.startswith(("http://", "https://")):
        obs = asyncio.run(_inspect_url(target, platform or platforms.detect(target), settings, now))
    else:
        raise CrawlerError(f"{target}: no such file, and not an http(s) URL")
    return obs, notices.strongest(obs.texts, settings.notice_threshold)


async def _inspect_url(url: str, platform: str, settings: Settings, now: datetime) -> Observation:
    declared = platforms.get(platform)
    mobile = declared is not None and declared.mobile  # Instagram: a phone's view of the profile
    async with Fetcher(settings) as fetcher, ParsePool(settings, workers=1) as pool:
        async def read(fetched: Fetched) -> Observation:
            return (await pool.read(platform, fetched, now)).observation

        async def fetch(target: str) -> Fetched:
            return await fetcher.fetch(target, mobile=mobile)

        obs, _ = await platforms.observe(platform, url, None, fetch, now, settings, parse=read)
    return obs
