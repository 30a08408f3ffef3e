"""The crawl's writer: every store write of a cycle runs on one thread, visits in batches.

    async with Writer(store, batch=200, queue=5000, pause_after=30.0) as writer:
        run_id = await writer.call(Store.start_run, now, total, "manual", pid)  # a job, on the thread
        await writer.writable()        # before taking a new account: returns at once unless paused
        writer.record(visit)           # queued without its bodies; written with others
        await writer.drain()           # every visit recorded so far is written (or dropped: see below)
    writer.written, writer.new_notices, writer.failure

The event loop never waits for SQLite: one thread owns the store's connection for the cycle.
Visits wait in a queue and are written up to `batch` at a time in one transaction, each account in
its own savepoint (all-or-nothing), the run's counters in the same transaction (so a killed run
shows what it wrote). A kill loses at most the visits still queued: those accounts are untouched.

Another writer's lock (an analyst's open write transaction in sqlite3 or Datasette) is waited
out: the thread tries again every `attempt` seconds for as long as it takes, and the crawl goes on
fetching and queueing. The crawl pauses (takes no new account) while the lock has been held for
`pause_after` seconds or while `queue` visits wait, and resumes as soon as a write gets through.
A lock never fails a visit. Anything else (a full disk, a broken file) ends the writer with
`failure` set, and the cycle stops taking accounts. `give_up()` (a cycle being cancelled) makes
every later write a single attempt: what the lock still holds back is dropped, untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crawler import log
from crawler.errors import BusyError
from crawler.store.connection import BUSY_TIMEOUT_MS, Connection
from crawler.store.crawl_writes import Visit

_STOP = object()


class _GiveUp(Exception):
    """The writer stops waiting for the lock (give_up) or cannot write at all (failure)."""


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future


class Writer:
    """Store writes of one cycle off the event loop (see the module docstring)."""

    def __init__(self, store: Connection, *, run_id: int | None = None, batch: int = 200, queue_size: int = 5000,
                 pause_after: float = 30.0, attempt: float = 0.25, linger: float = 0.2,
                 clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.run_id = run_id  # whose counters grow with each batch (set after start_run)
        self.batch = batch
        self.queue_size = queue_size
        self.pause_after = pause_after
        self.attempt = attempt
        self.linger = linger
        self.clock = clock  # measures how long a lock has been held (tests inject their own)
        # loop side
        self.pending = 0  # visits recorded and not yet written or dropped
        self.written = 0
        self.new_notices = 0
        self.dropped = 0  # visits given up on (give_up() while the lock was held): their accounts untouched
        self.skipped: list[tuple[str, str]] = []
        self.batches = 0
        self.failure: BaseException | None = None
        self.locked_since: float | None = None  # on `clock`, while another writer's lock holds us up
        self.lock_paused = False
        self.pauses = 0
        self.thread_cpu_s = 0.0  # CPU of the writer's thread over the cycle (what the writes cost)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Future | None = None
        self._finished: asyncio.Future | None = None
        # thread side
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._giving_up = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ loop side

    async def __aenter__(self) -> Writer:
        self._loop = asyncio.get_running_loop()
        self._wake = self._loop.create_future()
        self._finished = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name="crawler-writer", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.give_up()
        self._queue.put(_STOP)
        assert self._finished is not None
        await asyncio.shield(self._finished)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn(store, *args, **kwargs)` on the writer's thread, after every visit recorded before."""
        assert self._loop is not None
        future = self._loop.create_future()
        self._queue.put(_Job(fn, args, kwargs, future))
        return await future

    def record(self, visit: Visit) -> None:
        """Queue one visit (its bodies dropped) to be written with the next batch."""
        self.pending += 1
        self._queue.put(visit.slim())

    async def drain(self) -> None:
        """Wait until every visit recorded so far has been written (or dropped after give_up)."""
        await self.call(lambda store: None)

    @property
    def paused(self) -> bool:
        """True while the crawl should take no new account (a long lock, a full queue)."""
        return self.failure is None and (self.lock_paused or self.pending >= self.queue_size)

    async def writable(self, stop: asyncio.Event | None = None) -> None:
        """Return when the crawl may take another account: at once unless paused (see `paused`), or
        when `stop` is set."""
        if not self.paused or (stop is not None and stop.is_set()):
            return
        reason = (f"the inventory has been locked by another writer for {self.pause_after:g} s or more"
                  if self.lock_paused else f"{self.pending} visits wait to be written")
        self.pauses += 1
        started = time.monotonic()
        log.event("cycle.paused", level=logging.WARNING, reason=reason, queued=self.pending)
        stopped = asyncio.ensure_future(stop.wait()) if stop is not None else None
        try:
            while self.paused and not (stop is not None and stop.is_set()):
                assert self._wake is not None
                waits = [asyncio.shield(self._wake)] + ([stopped] if stopped is not None else [])
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if stopped is not None:
                stopped.cancel()
        log.event("cycle.resumed", level=logging.WARNING, after_s=round(time.monotonic() - started, 1),
                  queued=self.pending)

    def give_up(self) -> None:
        """From now on try each write once: a lock still held drops what it holds back (untouched)."""
        self._giving_up.set()

    def _notify(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` on the loop (from the thread); a closed loop has nobody left to tell."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is left to tell
            loop.call_soon_threadsafe(fn, *args)

    def _changed(self) -> None:
        assert self._loop is not None and self._wake is not None
        wake, self._wake = self._wake, self._loop.create_future()
        wake.set_result(None)

    def _on_batch(self, size: int, written: int, new_notices: int, skipped: tuple, dropped: int) -> None:
        self.pending -= size
        self.written += written
        self.new_notices += new_notices
        self.dropped += dropped
        self.skipped.extend(skipped)
        for account, why in skipped:
            log.event("check.unwritable", level=logging.ERROR, account=account, error=why[:300])
        self.batches += 1 if written else 0
        self._changed()

    def _on_lock(self, since: float | None, paused: bool) -> None:
        if since is not None and self.locked_since is None:
            log.event("store.locked", level=logging.WARNING, queued=self.pending,
                      advice="another connection holds the inventory's write lock; the crawl keeps fetching")
        elif since is None and self.locked_since is not None:
            log.event("store.unlocked", level=logging.WARNING, held_s=round(self.clock() - self.locked_since, 1))
        self.locked_since = since
        self.lock_paused = paused
        self._changed()

    def _on_failure(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
            log.event("store.failed", level=logging.ERROR, error=f"{type(exc).__name__}: {exc}")
        self._changed()

    @staticmethod
    def _resolve(future: asyncio.Future, result: Any, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    # ------------------------------------------------------------------ thread side

    def _run(self) -> None:
        conn = self.store._conn
        conn.execute(f"PRAGMA busy_timeout = {max(1, int(self.attempt * 1000))}")
        try:
            held: Any = None
            while True:
                item, held = (held if held is not None else self._queue.get()), None
                if item is _STOP:
                    break
                if isinstance(item, _Job):
                    self._job(item)
                    continue
                batch = [item]
                held = self._collect(batch)
                self._write(batch)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._drop_queued()
            self.thread_cpu_s = time.thread_time()
            if self._finished is not None:
                self._notify(self._resolve, self._finished, None, None)

    def _collect(self, batch: list[Visit]) -> Any:
        """Add what arrives within `linger` (up to `batch`); return a job or stop that ended it, else None."""
        deadline = time.monotonic() + self.linger
        while len(batch) < self.batch:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if not isinstance(item, Visit):
                return item
            batch.append(item)
        return None

    def _write(self, batch: list[Visit]) -> None:
        if self.failure_seen:
            self._notify(self._on_batch, len(batch), 0, 0, (), len(batch))
            return
        while True:
            try:
                result = self.store.record_visits(batch, run_id=self.run_id, retries=1)
            except BusyError:
                if not self._locked():
                    self._notify(self._on_batch, len(batch), 0, 0, (), len(batch))
                    return
                continue
            except Exception as exc:  # noqa: BLE001 - a full disk, a broken file: the cycle must stop
                self.failure_seen = True
                self._notify(self._on_failure, exc)
                self._notify(self._on_batch, len(batch), 0, 0, (), len(batch))
                return
            break
        self._unlocked()
        self._notify(self._on_batch, len(batch), result.written, result.new_notices, result.skipped, 0)

    def _job(self, job: _Job) -> None:
        while True:
            try:
                result = job.fn(self.store, *job.args, **job.kwargs)
            except BusyError as exc:
                if not self._locked():
                    self._notify(self._resolve, job.future, None, exc)
                    return
                continue
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                self._notify(self._resolve, job.future, None, exc)
                return
            self._unlocked()
            self._notify(self._resolve, job.future, result, None)
            return

    failure_seen = False  # thread side: a failure was met, later batches are not tried
    _since: float | None = None  # thread side: when the lock first held us up
    _paused_flag = False

    def _locked(self) -> bool:
        """A write met another writer's lock: note since when, pause past the limit. False: give up now."""
        if self._giving_up.is_set():
            return False
        now = self.clock()
        if self._since is None:
            self._since = now
            self._notify(self._on_lock, now, False)
        if not self._paused_flag and now - self._since >= self.pause_after:
            self._paused_flag = True
            self._notify(self._on_lock, self._since, True)
        return True

    def _unlocked(self) -> None:
        if self._since is not None:
            self._since, self._paused_flag = None, False
            self._notify(self._on_lock, None, False)

    def _drop_queued(self) -> None:
        """At stop: whatever is still queued (after give_up) is dropped; awaiting jobs are told."""
        dropped = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Job):
                self._notify(self._resolve, item.future, None, _GiveUp("the writer stopped"))
            elif isinstance(item, Visit):
                dropped += 1
        if dropped:
            self._notify(self._on_batch, dropped, 0, 0, (), dropped)

