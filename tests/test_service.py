"""crawler/service.py: `crawler crawl` and `crawler serve` as processes, killed, signalled, locked.

A small threaded HTTP server on 127.0.0.1 serves blog pages through a gate: a test lets a given
number of requests through and holds the rest, so a cycle is mid-way exactly where the test wants
it when it kills or signals the process, however busy the CPU is. No assertion depends on how fast
anything runs; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import service, sources
from crawler.cli import cli
from crawler.errors import RegistryError
from crawler.lock import holder
from crawler.store import Store
from tests.test_crawl import assert_consistent

pytestmark = pytest.mark.timeout(120)

N = 40
ROOT = Path(__file__).resolve().parent.parent


class GatedBlogs(ThreadingHTTPServer):
    """Blog pages at /blog-NN/; robots.txt is 404. Each blog request passes the gate first:
    `hold(n)` lets n more through and holds the rest (`waiting` counts them), `open()` lets all by."""

    daemon_threads = True

    def __init__(self, *args):
        super().__init__(*args)
        self._gate = threading.Condition()
        self._allowance: int | None = None  # None: open
        self.waiting = 0

    def hold(self, allowance: int = 0) -> None:
        with self._gate:
            self._allowance = allowance

    def open(self) -> None:
        with self._gate:
            self._allowance = None
            self._gate.notify_all()

    def pass_gate(self) -> None:
        with self._gate:
            self.waiting += 1
            self._gate.wait_for(lambda: self._allowance is None or self._allowance > 0)
            self.waiting -= 1
            if self._allowance is not None:
                self._allowance -= 1


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if not self.path.startswith("/blog-"):
            self.send_error(404)
            return
        self.server.pass_gate()
        body = (
            "<!doctype html><html lang=sv><head><meta charset=utf-8><title>Förskolan</title></head><body>"
            "<article class=post><h2 class=entry-title>Veckobrev</h2>"
            '<time class="published entry-date" datetime="2026-11-02T09:00:00+00:00">2 november 2026</time>'
            "<p>Vi har haft en fin vecka.</p></article></body></html>"
        ).encode()
        with contextlib.suppress(OSError):  # the crawler was killed meanwhile
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def blogs():
    server = GatedBlogs(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.open()  # nothing stays held after the test
    server.shutdown()
    server.server_close()


@pytest.fixture
def registry(tmp_path: Path, blogs: GatedBlogs) -> Path:
    port = blogs.server_address[1]
    lines = [
        "settings:",
        "  contact: crawler-tests@localhost.invalid",
        "  allow_private_addresses: true",
        "  per_host_delay: 0",
        "  concurrency: 4",
        "  per_host_concurrency: 4",
        "  retries: 1",
        "  deadline: 600",  # a held request is never ended by the deadline during a test
        "accounts:",
    ]
    for i in range(N):
        lines += [f"  - id: blog-{i:02d}", f"    unit: Förskolan {i}", f"    area: Område {'AB'[i % 2]}",
                  "    platform: blog", f"    url: http://127.0.0.1:{port}/blog-{i:02d}/"]
    path = tmp_path / "sources.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Running:
    """A `crawler` process whose stdout and stderr are read as they come (so a test can wait for a
    log line) and kept."""

    def __init__(self, registry: Path, *args: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRAWLER_")}
        env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--sources", str(registry), "--db", str(registry.parent / "inv.sqlite"),
             *args],
            cwd=registry.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.pid = self.proc.pid
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.proc.stdout, self._out), (self.proc.stderr, self._err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    @property
    def out(self) -> str:
        return "".join(self._out)

    @property
    def err(self) -> str:
        return "".join(self._err)

    def poll(self) -> int | None:
        return self.proc.poll()

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        """The exit code; a process still running after `timeout` fails the test (a hang, not slowness)."""
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(10)


def start(registry: Path, *args: str) -> Running:
    return Running(registry, *args)


def query(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # no tables yet
        return []
    finally:
        conn.close()


def wait_until(condition, timeout: float = 60.0, proc: Running | None = None) -> None:
    """Poll `condition` until it holds; the timeout only bounds a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            proc.wait()
            raise AssertionError(f"process ended early ({proc.proc.returncode}): {proc.out}\n{proc.err}")
        time.sleep(0.05)
    raise AssertionError("condition not met in time" + (f": {proc.err[-2000:]}" if proc is not None else ""))


def checks(db: Path) -> int:
    rows = query(db, "SELECT count(*) FROM checks")
    return rows[0][0] if rows else 0


def cli_in_process(registry: Path, *args: str):
    return CliRunner().invoke(cli, ["--sources", str(registry), "--db", str(registry.parent / "inv.sqlite"), *args],
                              env={})


def stop(proc: Running) -> None:
    proc.kill()


def held_mid_cycle(blogs: GatedBlogs, db: Path, proc: Running, done: int, in_flight: int = 4) -> None:
    """Wait until `done` visits are stored and `in_flight` requests wait at the gate (concurrency 4)."""
    wait_until(lambda: checks(db) == done and blogs.waiting == in_flight, proc=proc)


def test_sigkill_mid_cycle_leaves_every_account_whole_and_the_next_cycle_completes(registry: Path, blogs):
    db = registry.parent / "inv.sqlite"
    blogs.hold(5)
    proc = start(registry, "crawl")
    try:
        held_mid_cycle(blogs, db, proc, done=5)
        # while it runs: a second cycle is refused, naming the holder; status shows the running cycle
        second = cli_in_process(registry, "crawl")
        assert second.exit_code == 1
        assert f"pid {proc.pid}" in second.output and "(crawl, since" in second.output
        status = json.loads(cli_in_process(registry, "status", "--json").output)
        assert status["running"]["pid"] == proc.pid and status["running"]["accounts_total"] == N
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        stop(proc)
    assert query(db, "SELECT state FROM runs") == [("running",)]
    assert checks(db) == 5  # the four held visits died with the process, unstored
    assert query(db, "SELECT accounts_done, errors FROM runs") == [(5, 0)]  # counters kept as it went (17.8)
    assert_consistent(db)

    blogs.open()
    result = cli_in_process(registry, "crawl")
    assert result.exit_code == 0, result.output
    assert query(db, "SELECT state, error FROM runs ORDER BY id") == [
        ("interrupted", "process ended without finishing"), ("finished", None)]
    rows = assert_consistent(db)
    assert all(r["n"] >= 1 for r in rows) and len(rows) == N
    assert query(db, "SELECT count(*) FROM snapshots") == [(1,)]
    assert cli_in_process(registry, "status").exit_code == 0


def test_sigterm_stops_serve_cleanly_and_marks_the_run_interrupted(registry: Path, blogs):
    db = registry.parent / "inv.sqlite"
    blogs.hold(3)
    proc = start(registry, "serve", "--run-now")
    try:
        held_mid_cycle(blogs, db, proc, done=3)
        # a second service and a manual crawl are refused while this one runs
        again = start(registry, "serve")
        assert again.wait() == 1
        assert f"pid {proc.pid}" in again.err and "(serve, since" in again.err
        manual = cli_in_process(registry, "crawl")
        assert manual.exit_code == 1 and "crawler serve --run-now" in manual.output
        state = service.read_state(str(db))
        assert state["pid"] == proc.pid and state["state"] == "crawling"
        assert datetime.fromisoformat(state["next_run"]) > datetime.now(timezone.utc)
        proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "service.stopping signal=SIGTERM" in proc.err, proc=proc)
        blogs.open()  # the four visits in flight may now end: the service waits for them
        code = proc.wait()
    finally:
        stop(proc)
    assert code == 0, proc.err
    assert "service.stop " in proc.err
    ((state_, done, total),) = query(db, "SELECT state, accounts_done, accounts_total FROM runs")
    assert (state_, done, total) == ("interrupted", 3 + 4, N)  # no new account after SIGTERM
    assert done == checks(db)  # visits in flight were let finish and counted
    assert_consistent(db)
    assert service.read_state(str(db))["state"] == "stopped"
    assert holder(str(db)) is None
    status = json.loads(cli_in_process(registry, "status", "--json").output)
    assert status["service"]["running"] is False and status["last_run"]["state"] == "interrupted"


def test_sigterm_cancels_visits_that_outlast_the_grace(registry: Path, blogs):
    # The gate never opens and the deadline is 600 s: only the grace's cancel can end these visits,
    # so a service that waited for them would hang here until the bounded wait fails the test.
    blogs.hold(0)
    db = registry.parent / "inv.sqlite"
    proc = start(registry, "serve", "--run-now", "--grace", "0.5")
    try:
        held_mid_cycle(blogs, db, proc, done=0)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait()
    finally:
        stop(proc)
    assert code == 0, proc.err
    assert "service.cancel_cycle" in proc.err
    assert query(db, "SELECT state, accounts_done FROM runs") == [("interrupted", 0)]
    assert_consistent(db)


def test_ctrl_c_stops_a_manual_crawl_as_interrupted(registry: Path, blogs):
    db = registry.parent / "inv.sqlite"
    blogs.hold(3)
    proc = start(registry, "crawl")
    try:
        held_mid_cycle(blogs, db, proc, done=3)
        proc.send_signal(signal.SIGINT)
        wait_until(lambda: "cycle.stopping signal=SIGINT" in proc.err, proc=proc)
        blogs.open()
        code = proc.wait()
    finally:
        stop(proc)
    assert code == 130, proc.err
    assert "interrupted in" in proc.out  # the summary: "Cycle 1 interrupted in 0m01s: ..."
    ((state_, done),) = query(db, "SELECT state, accounts_done FROM runs")
    assert (state_, done) == ("interrupted", 3 + 4)
    assert_consistent(db)


def test_sighup_never_kills_a_manual_crawl(registry: Path, blogs):
    db = registry.parent / "inv.sqlite"
    blogs.hold(3)
    proc = start(registry, "crawl")
    try:
        held_mid_cycle(blogs, db, proc, done=3)
        proc.send_signal(signal.SIGHUP)  # e.g. the terminal it was started from closed
        wait_until(lambda: "cycle.hangup_ignored signal=SIGHUP" in proc.err, proc=proc)
        assert proc.poll() is None
        blogs.open()
        code = proc.wait()
    finally:
        stop(proc)
    assert code == 0, proc.err
    assert query(db, "SELECT state, accounts_done FROM runs") == [("finished", N)]
    assert_consistent(db)


def test_sighup_makes_serve_reread_its_settings_and_the_running_cycle_goes_on(registry: Path, blogs):
    db = registry.parent / "inv.sqlite"
    blogs.hold(3)
    proc = start(registry, "serve", "--run-now")
    try:
        held_mid_cycle(blogs, db, proc, done=3)
        assert service.read_state(str(db))["crawl_cron"] == "*/10 * * * *"  # the default
        text = registry.read_text(encoding="utf-8").replace("settings:\n", "settings:\n  crawl_cron: '15 3 * * *'\n")
        registry.write_text(text, encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "service.reloaded" in proc.err, proc=proc)
        assert "schedule_changed=crawl_cron" in proc.err
        wait_until(lambda: service.read_state(str(db))["crawl_cron"] == "15 3 * * *", proc=proc)
        assert service.read_state(str(db))["state"] == "crawling"  # the cycle was not touched
        blogs.open()
        wait_until(lambda: query(db, "SELECT state FROM runs") == [("finished",)], proc=proc)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait()
    finally:
        stop(proc)
    assert code == 0, proc.err
    assert query(db, "SELECT state, accounts_done FROM runs") == [("finished", N)]
    nxt = datetime.fromisoformat(service.read_state(str(db))["last_run"]["ended"])
    assert nxt.tzinfo is not None
    assert_consistent(db)


def test_registry_edits_are_reread_and_an_invalid_one_keeps_the_last_valid(registry: Path, caplog):
    source = service.RegistrySource(str(registry))
    first = source.load()
    assert len(first.accounts) == N
    text = registry.read_text(encoding="utf-8")
    registry.write_text(text.replace("  - id: blog-39\n", "  - id: blog-38\n"), encoding="utf-8")  # duplicate id
    caplog.set_level("WARNING", logger="crawler")
    import logging

    logging.getLogger("crawler").addHandler(caplog.handler)
    try:
        kept = source.load()
    finally:
        logging.getLogger("crawler").removeHandler(caplog.handler)
    assert kept is first
    events = [r.getMessage() for r in caplog.records]
    assert "registry.invalid" in events and "registry.problem" in events
    # a valid edit is picked up at the next cycle
    registry.write_text(text.replace("  - id: blog-39\n", "  - id: blog-new\n"), encoding="utf-8")
    assert "blog-new" in {a.id for a in source.load().accounts}
    # with no valid registry ever read there is nothing to keep
    registry.write_text(text.replace("  - id: blog-39\n", "  - id: blog-38\n"), encoding="utf-8")
    with pytest.raises(RegistryError):
        service.RegistrySource(str(registry)).load()


def test_a_deeply_nested_edit_keeps_the_last_valid_registry_and_is_written_into_the_state(registry: Path):
    db = registry.parent / "inv.sqlite"
    first = sources.load(registry)
    svc = service.Service(str(registry), str(db), first)
    source = svc.registries
    assert source.load() is first and source.file.loads == 0  # unchanged since the CLI read it: not parsed
    text = registry.read_text(encoding="utf-8")
    registry.write_text(text.replace("accounts:\n", "accounts:\n" + "[" * 5000 + "]" * 5000 + "\n", 1)
                        .replace("accounts:\n[", "accounts: ["), encoding="utf-8")
    assert source.load() is first  # a registry error, never a RecursionError; the cycle crawls the last valid
    assert source.problem["problems"] == 1 and "nested more than 16 levels deep" in source.problem["first"]
    assert source.problem["kept_accounts"] == N
    svc._write_state()
    state = service.read_state(str(db))
    assert state["registry"]["first"] == source.problem["first"] and state["registry"]["path"] == str(registry)
    registry.write_text(text, encoding="utf-8")  # fixed: read again, the problem is gone
    assert len(source.load().accounts) == N and source.problem is None
    svc._write_state()
    assert service.read_state(str(db))["registry"] is None


def test_a_scheduled_cycle_after_a_broken_edit_crawls_the_last_valid_registry(registry: Path):
    # Regression (17.6): a deeply nested sources.yaml raised RecursionError in the cycle job, which
    # skipped the cycle. Now the job crawls every account of the last valid registry.
    db = registry.parent / "inv.sqlite"
    svc = service.Service(str(registry), str(db), sources.load(registry))
    registry.write_text(registry.read_text(encoding="utf-8") + "  - notes: " + "[" * 3000 + "]" * 3000 + "\n",
                        encoding="utf-8")

    async def go() -> None:
        svc._stop = asyncio.Event()
        await svc._pass_job()

    asyncio.run(go())
    assert svc._last_run["state"] == "finished", svc._last_run
    ((state_, done),) = query(db, "SELECT state, accounts_done FROM runs")
    assert state_ == "finished" and done == N
    assert "nested more than 16 levels deep" in service.read_state(str(db))["registry"]["first"]


def test_serve_refuses_a_bad_cron_line_before_taking_the_lock(registry: Path):
    result = CliRunner().invoke(cli, ["--sources", str(registry), "--db", str(registry.parent / "inv.sqlite"),
                                      "serve"], env={"CRAWLER_CRAWL_CRON": "every night"})
    assert result.exit_code == 2
    assert "environment: CRAWLER_CRAWL_CRON: 'every night' is not a crontab line" in result.output
    assert holder(str(registry.parent / "inv.sqlite")) is None


def test_state_file_is_replaced_atomically(tmp_path: Path):
    db = str(tmp_path / "inv.sqlite")
    assert service.read_state(db) is None
    service.write_state(db, {"pid": 1, "next_run": None})
    service.write_state(db, {"pid": 2, "next_run": "2026-01-01T02:00:00+00:00"})
    assert service.read_state(db) == {"pid": 2, "next_run": "2026-01-01T02:00:00+00:00"}
    assert [p.name for p in tmp_path.iterdir()] == ["inv.sqlite.service.json"]  # no temporary left


def test_maintenance_job_prunes_old_raw_checks_keeping_one_per_day(registry: Path):
    db = registry.parent / "inv.sqlite"
    reg = sources.load(registry)
    with Store.open(db) as store:
        store.sync(reg.accounts, datetime.now(timezone.utc))
        rows = [("blog-00", "2020-01-01T02:00:00+00:00"), ("blog-00", "2020-01-01T14:00:00+00:00"),
                ("blog-00", "2020-01-02T02:00:00+00:00"), ("blog-00", datetime.now(timezone.utc).isoformat())]
        store._conn.executemany("INSERT INTO checks (account_id, started_at, url, outcome) VALUES (?, ?, 'u', 'ok')",
                               rows)
    svc = service.Service(str(registry), str(db), reg)

    async def go() -> None:
        svc._stop = asyncio.Event()
        await svc._maintenance_job()

    asyncio.run(go())
    left = [r[0] for r in query(db, "SELECT started_at FROM checks ORDER BY started_at")]
    assert left[:2] == ["2020-01-01T14:00:00+00:00", "2020-01-02T02:00:00+00:00"] and len(left) == 3
