"""The crawl's write path (crawler/store/writer.py, Store.record_visits): batches, locks, pauses.

An analyst's lock is a real second SQLite connection holding `BEGIN IMMEDIATE` on the inventory
file. Blogs are served on loopback through a gate the test opens, so a cycle is exactly where the
test wants it; how long the lock has been held is an injected clock. No assertion depends on speed:
waits are bounded polls, and "nothing more happens while paused" is checked over a short interval
(a busy machine can only make fewer things happen in it, not more).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from crawler.crawl import Progress, run_cycle
from crawler.errors import BusyError, StoreError
from crawler.models import Account, Fetched, Observation, Post, Verdict
from crawler.settings import Settings
from crawler.store import Store, Visit

from .conftest import NOW, execute, sql_rows
from .hostile import Conn, HostileServer, Request
from .test_crawl import assert_consistent

pytestmark = pytest.mark.timeout(90)

N = 12
PAGE = (
    "<!doctype html><html lang=sv><head><meta charset=utf-8><title>Förskolan</title></head><body>"
    "<article class=post><h2 class=entry-title>Veckobrev</h2>"
    '<time class="published entry-date" datetime="2026-11-02T09:00:00+00:00">2 november 2026</time>'
    "<p>Vi har haft en fin vecka.</p></article></body></html>"
).encode()


def wait_until(condition, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll until `condition()` holds; the timeout only bounds a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"{what}: not met in time")


class Gate:
    """Lets `allowance` blog requests through and holds the rest until `open()` (or the server stops)."""

    def __init__(self, allowance: int | None = None):
        self.allowance = allowance
        self.waiting = 0
        self.cond = threading.Condition()

    def open(self) -> None:
        with self.cond:
            self.allowance = None
            self.cond.notify_all()

    def allow(self, n: int) -> None:
        with self.cond:
            self.allowance = n
            self.cond.notify_all()

    def handler(self, request: Request, conn: Conn) -> bool:
        with self.cond:
            self.waiting += 1
            self.cond.wait_for(lambda: self.allowance is None or self.allowance > 0 or conn.stopping.is_set(), 60)
            self.waiting -= 1
            if self.allowance is not None:
                self.allowance -= 1
        conn.head(200, {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(PAGE))})
        return conn.send(PAGE)


@pytest.fixture
def blogs():
    gate = Gate()
    with HostileServer() as server:
        for i in range(N):
            server.route(f"/b{i:02d}/", gate.handler)
        server.gate = gate
        yield server
        gate.open()


def accounts(server: HostileServer) -> list[Account]:
    return [Account(f"b{i:02d}", f"Förskolan {i}", "Norr", "blog", server.url(f"/b{i:02d}/")) for i in range(N)]


def blog_hits(server: HostileServer) -> int:
    return sum(server.hits(f"/b{i:02d}/") for i in range(N))


SETTINGS = Settings(contact="crawler-tests@localhost.invalid", allow_private_addresses=True, per_host_delay=0,
                    concurrency=1, retries=1, deadline=60, respect_robots=False)


class Cycle:
    """run_cycle in a thread of its own (its own event loop), so the test can watch it from outside."""

    def __init__(self, db: Path, accs: list[Account], settings: Settings, lock_clock=time.monotonic):
        self.db, self.accounts, self.settings, self.lock_clock = db, accs, settings, lock_clock
        self.progress: Progress | None = None
        self.result = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        def show(p: Progress) -> None:
            self.progress = p

        async def go():
            with Store.open(self.db) as store:
                return await run_cycle(store, self.accounts, self.settings, progress=show, clock=lambda: NOW,
                                       lock_clock=self.lock_clock)

        try:
            self.result = asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc

    @property
    def visited(self) -> int:
        return self.progress.done if self.progress else 0

    def start(self) -> Cycle:
        self.thread.start()
        return self

    def join(self, timeout: float = 60):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the cycle did not end"
        if self.error is not None:
            raise self.error
        return self.result


def prepared(tmp_path: Path, accs: list[Account]) -> Path:
    db = tmp_path / "inv.sqlite"
    with Store.open(db) as store:
        store.sync(accs, NOW)
    return db


class Analyst:
    """A second connection holding the inventory's write lock (an open write transaction)."""

    def __init__(self, db: Path):
        self.conn = sqlite3.connect(db, isolation_level=None, timeout=5)
        self.conn.execute("BEGIN IMMEDIATE")

    def checks(self) -> int:
        return self.conn.execute("SELECT count(*) FROM checks").fetchone()[0]

    def release(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


def started(blogs, cycle: Cycle) -> Analyst:
    """Wait until the cycle runs (its first request held at the gate), then take the write lock."""
    wait_until(lambda: blogs.gate.waiting >= 1, what="the cycle's first request")
    return Analyst(cycle.db)


def test_an_analysts_write_lock_delays_the_writes_but_not_the_fetching(tmp_path: Path, blogs):
    accs = accounts(blogs)
    db = prepared(tmp_path, accs)
    blogs.gate.allow(0)
    cycle = Cycle(db, accs, SETTINGS.replace(concurrency=4), lock_clock=lambda: 0.0).start()
    analyst = started(blogs, cycle)
    blogs.gate.open()
    try:
        # every account is fetched and read while the lock is held: the loop never waited for it
        wait_until(lambda: cycle.visited == N, what="every account visited under the lock")
        assert blog_hits(blogs) == N
        assert analyst.checks() == 0  # ...and nothing could be written meanwhile
    finally:
        analyst.release()
    result = cycle.join()
    assert (result.state, result.done, result.errors) == ("finished", N, 0)
    rows = assert_consistent(db)
    assert len(rows) == N and all(r["n"] == 1 for r in rows)
    with Store.open(db, readonly=True) as store:
        run = sql_rows(store, "SELECT state, accounts_done, errors FROM runs")[0]
        assert (run["state"], run["accounts_done"], run["errors"]) == ("finished", N, 0)
        assert {r["outcome"] for r in sql_rows(store, "SELECT outcome FROM checks")} == {"ok"}


class LockClock:
    """How long the lock has been held, as the writer sees it: 0 until the test moves it on."""

    def __init__(self):
        self.now = 0.0
        self.calls = 0
        self.late_calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            self.calls += 1
            if self.now:
                self.late_calls += 1
            return self.now


def test_a_lock_held_past_the_limit_pauses_the_cycle_and_it_resumes_when_released(tmp_path: Path, blogs, caplog):
    caplog.set_level(logging.INFO, logger="crawler")
    accs = accounts(blogs)
    db = prepared(tmp_path, accs)
    blogs.gate.allow(0)
    clock = LockClock()
    cycle = Cycle(db, accs, SETTINGS.replace(write_lock_pause=10.0), lock_clock=clock).start()
    analyst = started(blogs, cycle)
    blogs.gate.allow(3)
    try:
        # three visits done and queued behind the lock, the fourth held at the server
        wait_until(lambda: cycle.visited == 3 and blogs.gate.waiting == 1, what="mid-cycle")
        wait_until(lambda: clock.calls >= 1, what="the writer met the lock")
        clock.now = 100.0  # the lock has now been held past write_lock_pause
        wait_until(lambda: clock.late_calls >= 2, what="the writer saw the long lock")
        blogs.gate.open()
        # the visit in flight ends and is queued; no new account is taken while the lock holds
        wait_until(lambda: cycle.visited == 4, what="the visit in flight ended")
        wait_until(lambda: any(r.message == "cycle.paused" for r in caplog.records), what="paused")
        time.sleep(0.3)
        assert cycle.visited == 4 and blog_hits(blogs) == 4
        assert analyst.checks() == 0
    finally:
        analyst.release()
    result = cycle.join()
    assert (result.state, result.done, result.errors) == ("finished", N, 0)  # no visit failed for the lock
    assert any(r.message == "cycle.resumed" for r in caplog.records)
    assert blog_hits(blogs) == N
    rows = assert_consistent(db)
    assert len(rows) == N and all(r["n"] == 1 for r in rows)


def test_a_full_queue_pauses_the_cycle_with_bounded_memory_and_nothing_is_lost(tmp_path: Path, blogs):
    accs = accounts(blogs)
    db = prepared(tmp_path, accs)
    blogs.gate.allow(0)
    cycle = Cycle(db, accs, SETTINGS.replace(write_queue=3), lock_clock=lambda: 0.0).start()
    analyst = started(blogs, cycle)
    blogs.gate.open()
    try:
        wait_until(lambda: cycle.visited == 3, what="three visits queued")
        time.sleep(0.3)
        assert cycle.visited == 3 and blog_hits(blogs) == 3  # paused: the queue is full
    finally:
        analyst.release()
    result = cycle.join()
    assert (result.state, result.done) == ("finished", N)
    assert len([r for r in assert_consistent(db) if r["n"] == 1]) == N


def test_a_lock_held_when_the_cycle_starts_delays_its_start_and_then_it_runs(tmp_path: Path, blogs, caplog):
    caplog.set_level(logging.INFO, logger="crawler")
    accs = accounts(blogs)
    db = prepared(tmp_path, accs)
    analyst = Analyst(db)  # the registry sync and the run's row must be written before any visit
    cycle = Cycle(db, accs, SETTINGS, lock_clock=lambda: 0.0).start()
    try:
        wait_until(lambda: any(r.message == "store.locked" for r in caplog.records), what="the writer waits")
        assert blog_hits(blogs) == 0 and cycle.thread.is_alive()
    finally:
        analyst.release()
    result = cycle.join()
    assert (result.state, result.done) == ("finished", N)
    assert any(r.message == "store.unlocked" for r in caplog.records)


# --------------------------------------------------------------------------- record_visits


def _visit(ident: str, at=NOW, run_id=None, outcome="ok") -> Visit:
    url = f"https://{ident}.example.se/"
    body = f"<html>{ident}</html>".encode()
    fetched = Fetched(url, url, 200, {"content-type": "text/html", "etag": f'"{ident}"'}, body)
    obs = Observation("blog", True, "dated page", last_post_at=at - timedelta(days=2),
                      posts=(Post(url + "p/1", at - timedelta(days=2)),), source_url=url)
    return Visit(ident, run_id, at, outcome, [fetched], obs, Verdict("active", "post 2 days ago", True, at - timedelta(days=2)))


def _accounts(*ids: str) -> list[Account]:
    return [Account(i, i, "Norr", "blog", f"https://{i}.example.se/") for i in ids]


def test_a_batch_writes_each_account_whole_and_skips_one_the_inventory_refuses(store):
    store.sync(_accounts("a", "b", "c"), NOW)
    run = store.start_run(NOW, 4, "manual", 1)
    result = store.record_visits([_visit("a", run_id=run), _visit("gone-meanwhile", run_id=run),
                                  _visit("b", run_id=run, outcome="error"), _visit("c", run_id=run)], run_id=run)
    assert (result.written, len(result.skipped)) == (3, 1) and result.skipped[0][0] == "gone-meanwhile"
    assert [r["account_id"] for r in sql_rows(store, "SELECT account_id FROM checks ORDER BY id")] == ["a", "b", "c"]
    assert sql_rows(store, "SELECT count(*) AS n FROM posts")[0]["n"] == 3
    run_row = sql_rows(store, "SELECT accounts_done, errors, requests FROM runs")[0]
    assert (run_row["accounts_done"], run_row["errors"], run_row["requests"]) == (3, 1, 3)


def test_a_batch_that_fails_midway_leaves_every_account_of_it_untouched(store):
    store.sync(_accounts("a", "b"), NOW)
    pages = execute(store, "PRAGMA page_count").fetchone()[0]
    execute(store, f"PRAGMA max_page_count = {pages}")  # a full disk: the first new page fails
    big = _visit("b")
    posts = tuple(Post(f"https://b.example.se/p/{i}", NOW - timedelta(days=i)) for i in range(5000))
    big = Visit(big.account_id, None, NOW, "ok", big.fetches, Observation("blog", True, "x", posts=posts), big.verdict)
    with pytest.raises(StoreError, match="full"):
        store.record_visits([_visit("a"), big])  # "a" fits; b's posts need pages the disk does not have
    execute(store, "PRAGMA max_page_count = 1073741823")
    assert sql_rows(store, "SELECT count(*) AS n FROM checks")[0]["n"] == 0
    assert {r["last_checked_at"] for r in sql_rows(store, "SELECT last_checked_at FROM accounts")} == {None}


def test_a_slim_visit_writes_the_same_rows_without_its_bodies(tmp_path: Path):
    rows = []
    for name, slim in (("full", False), ("slim", True)):
        with Store.open(tmp_path / f"{name}.sqlite") as store:
            store.sync(_accounts("a"), NOW)
            visit = _visit("a")
            if slim:
                visit = visit.slim()
                assert all(f.body is None for f in visit.fetches) and visit.size == len(b"<html>a</html>")
            store.record_visit(visit)
            rows.append(sql_rows(store, "SELECT content_sha256, bytes, etag, outcome FROM checks"))
    assert rows[0] == rows[1] and rows[0][0]["content_sha256"]


def test_busy_is_raised_after_one_attempt_against_a_real_lock(tmp_path: Path):
    db = tmp_path / "inv.sqlite"
    with Store.open(db) as store:
        store.sync(_accounts("a"), NOW)
        analyst = Analyst(db)
        try:
            execute(store, "PRAGMA busy_timeout = 10")
            with pytest.raises(BusyError, match="locked by another writer"):
                store.record_visits([_visit("a")], retries=1)
        finally:
            analyst.release()
        assert store.record_visits([_visit("a")]).written == 1
