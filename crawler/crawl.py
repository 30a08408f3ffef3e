"""One crawl cycle: sync the registry, visit every account politely, classify, store, snapshot.

    accounts ─> (per account, concurrently within the fetcher's limits)
                fetch+parse (platforms.observe) ─> notices.detect ─> classify ─> store.record_visit
             ─> snapshot + summary

Each account's visit is written in one transaction (store.record_visit), so a kill at any moment
leaves every account fully written or untouched. One account's failure, even a bug in a parser,
is recorded on its check and the cycle goes on. A store failure (disk full, a lock held for
longer than the busy timeout) pauses the cycle: the run is marked failed and nothing half-written
remains.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from crawler import classify, log, notices, platforms
from crawler.clock import Clock, utcnow
from crawler.fetch import Fetcher
from crawler.models import Account, Fetched, Observation, PriorState, Verdict, source_fetch
from crawler.settings import Settings
from crawler.store import AccountState, Store, Visit


@dataclass(frozen=True)
class Selection:
    """Which accounts of the registry a cycle visits (all by default)."""

    only: frozenset[str] = frozenset()
    platforms: frozenset[str] = frozenset()
    areas: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return not (self.only or self.platforms or self.areas)

    def pick(self, accounts: Iterable[Account]) -> list[Account]:
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


def interleave_by_host(accounts: Sequence[Account]) -> list[Account]:
    """Round-robin over hosts, busiest first, so per-host delays overlap instead of queueing."""
    by_host: dict[str, list[Account]] = defaultdict(list)
    for a in accounts:
        by_host[(urlsplit(a.feed or a.url).hostname or "").lower()].append(a)
    queues = sorted(by_host.values(), key=len, reverse=True)
    return [a for group in itertools.zip_longest(*queues) for a in group if a is not None]


def _prior(state: AccountState | None) -> PriorState:
    return state.prior if state else PriorState()  # a never-visited account


async def visit(
    account: Account,
    state: AccountState | None,
    fetcher: Fetcher,
    now: datetime,
    settings: Settings,
) -> tuple[str, list[Fetched], Observation | None, Verdict, list]:
    """Visit one account: fetch and parse, detect notices, classify. No store access here."""
    prior = _prior(state)
    source = state.source_url if state else None

    async def fetch(url: str) -> Fetched:
        # A gone account is asked without validators: whatever its address serves now is read in
        # full (a web server's default page answers 304 to the old feed's If-Modified-Since).
        if state is not None and url == source and prior.status != "gone":
            return await fetcher.fetch(url, etag=state.etag, last_modified=state.last_modified)
        return await fetcher.fetch(url)

    known = source or (state.discovered_feed_url if state else None)
    obs, fetches = await platforms.observe(
        account.platform, account.url, account.feed, fetch, now, settings, known_feed=known
    )
    outcome = classify.outcome(source_fetch(fetches, obs), obs)
    verdict = classify.classify(prior, obs, outcome, now, settings)
    if outcome == "not_modified":
        obs = None  # nothing new was read: the classifier re-read the stored observation
    hits = notices.detect(obs.texts, settings.notice_threshold) if obs is not None else []
    return outcome, fetches, obs, verdict, hits


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
) -> CycleResult:
    """Run one crawl cycle over `accounts` (the whole registry) and return its figures.

    `clock` gives the time recorded on checks (the demo passes a simulated clock). `stop`, when
    set, makes the cycle take no new accounts; in-flight visits finish (each bounded by the
    fetcher's deadline) and the run is marked interrupted.
    """
    cycle_start = clock()
    store.mark_stale_runs()
    store.sync(accounts, cycle_start)
    chosen = interleave_by_host(selection.pick(accounts))
    states = store.account_states(a.id for a in chosen)
    run_id = store.start_run(cycle_start, len(chosen), trigger, os.getpid())
    log.event("cycle.start", run=run_id, accounts=len(chosen), trigger=trigger, clock=cycle_start.isoformat())
    stop = stop or asyncio.Event()
    prog = Progress(total=len(chosen))
    failure: str | None = None
    new_notices = 0
    queue = iter(chosen)

    owns_fetcher = fetcher is None
    if fetcher is None:
        fetcher = Fetcher(settings)
        await fetcher.__aenter__()

    async def worker() -> None:
        nonlocal failure, new_notices
        for account in queue:
            if stop.is_set() or failure:
                return
            now = clock()
            state = states.get(account.id)
            try:
                outcome, fetches, obs, verdict, hits = await visit(account, state, fetcher, now, settings)
            except Exception as exc:  # a bug must not stop the cycle: record it on the check
                log.event("check.internal_error", level=40, account=account.id, error=type(exc).__name__)
                failed = Fetched(url=account.url, final_url=account.url, error="internal_error",
                                 error_message=f"{type(exc).__name__} while parsing (a crawler bug)")
                outcome, fetches, obs, hits = "error", [failed], None, []
                verdict = classify.classify(_prior(state), None, outcome, now, settings)
            try:
                new_notices += store.record_visit(Visit(account.id, run_id, now, outcome, fetches, obs, verdict, hits))
            except Exception as exc:  # StoreError, or sqlite3's own errors (a full disk)
                failure = f"{type(exc).__name__}: {exc}"
                log.event("cycle.store_failed", level=40, account=account.id, error=failure)
                return
            prog.done += 1
            prog.outcomes[outcome] += 1
            if outcome not in ("ok", "not_modified", "gone"):
                prog.errors += 1
            log.event("check.done", level=10, account=account.id, outcome=outcome, status=verdict.status,
                      ms=sum(f.elapsed_ms for f in fetches))
            if progress is not None:
                progress(prog)

    cancelled = False
    try:
        workers = max(1, min(settings.concurrency, len(chosen)))
        await asyncio.gather(*(worker() for _ in range(workers)))
    except asyncio.CancelledError:
        # The caller's grace ran out (a service stopping): visits in flight were abandoned before
        # their write, so the store is consistent; record the run as interrupted, then re-raise.
        cancelled = True
        stop.set()
    finally:
        requests = getattr(fetcher, "stats", {}).get("requests", 0)
        if owns_fetcher:
            await fetcher.__aexit__(None, None, None)

    if failure:
        state = "failed"
    elif stop.is_set() and prog.done < prog.total:
        state = "interrupted"
    else:
        state = "finished"
    snapshot_id = None
    if state == "finished" and selection.everything:
        snapshot_id = store.take_snapshot(run_id, clock())
    statuses = store.counts()
    pending = store.pending_summary().count
    seconds = time.monotonic() - prog.started
    summary = summarize(run_id, state, prog, statuses, pending, new_notices, seconds, failure)
    try:
        store.finish_run(run_id, state, done=prog.done, errors=prog.errors, requests=requests,
                         summary=summary, error=failure)
    except Exception:  # noqa: BLE001 - a full disk may refuse the summary text: record the state at least
        if not failure:
            raise
        store.finish_run(run_id, state, done=prog.done, errors=prog.errors, requests=requests,
                         error=failure[:200])
    log.event("cycle.end", run=run_id, state=state, done=prog.done, errors=prog.errors,
              seconds=round(seconds, 1))
    if cancelled:
        raise asyncio.CancelledError
    return CycleResult(run_id, state, prog.total, prog.done, prog.errors, dict(prog.outcomes), statuses,
                       pending, new_notices, seconds, requests, snapshot_id, summary)


def summarize(run_id: int, state: str, prog: Progress, statuses: dict[str, int], pending: int,
              new_notices: int, seconds: float, failure: str | None) -> str:
    """The one-paragraph summary printed and logged at the end of a cycle."""
    minutes, secs = divmod(int(seconds), 60)
    outcome_text = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in prog.outcomes.most_common()) or "none"
    status_text = ", ".join(f"{statuses.get(s, 0)} {s}" for s in ("active", "dormant", "gone", "unknown"))
    unchecked = statuses.get("unchecked", 0)
    text = (
        f"Cycle {run_id} {state} in {minutes}m{secs:02d}s: {prog.done} of {prog.total} accounts visited "
        f"({outcome_text}). Inventory now: {status_text}"
        + (f", {unchecked} not yet checked" if unchecked else "")
        + f". {new_notices} new notice{'s' if new_notices != 1 else ''} flagged; {pending} await review."
    )
    if failure:
        text += f" The cycle stopped early because the inventory could not be written ({failure})."
    return text


def inspect(target: str, settings: Settings, now: datetime, *, platform: str | None = None,
            page_url: str | None = None, status: int = 200) -> tuple[Observation, notices.NoticeHit | None]:
    """`crawler inspect`: what a visit reads from one saved FILE or http(s) URL (fetched as a crawl
    would), and the notice a crawl would flag; nothing is stored."""
    from pathlib import Path

    from crawler.errors import CrawlerError

    if Path(target).is_file():
        url = page_url or Path(target).resolve().as_uri()
        obs = platforms.inspect_file(target, url, status=status, platform=platform, now=now, settings=settings)
    elif target.startswith(("http://", "https://")):
        obs = asyncio.run(_inspect_url(target, platform or platforms.detect(target), settings, now))
    else:
        raise CrawlerError(f"{target}: no such file, and not an http(s) URL")
    return obs, notices.strongest(obs.texts, settings.notice_threshold)


async def _inspect_url(url: str, platform: str, settings: Settings, now: datetime) -> Observation:
    async with Fetcher(settings) as fetcher:
        obs, _ = await platforms.observe(platform, url, None, fetcher.fetch, now, settings)
    return obs
