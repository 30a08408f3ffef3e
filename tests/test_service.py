"""crawler/service.py: `crawler crawl` and `crawler serve` as processes, killed, signalled, locked.

A small threaded HTTP server on 127.0.0.1 serves blog pages after a settable delay, so that a
cycle is still running when the test kills or signals it. Every wait is bounded.
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

pytestmark = pytest.mark.timeout(60)

N = 40
ROOT = Path(__file__).resolve().parent.parent


class SlowBlogs(ThreadingHTTPServer):
    """Blog pages at /blog-NN/, each answered after `delay` seconds; robots.txt is 404."""

    daemon_threads = True
    delay = 0.2


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if not self.path.startswith("/blog-"):
            self.send_error(404)
            return
        time.sleep(self.server.delay)
        body = (
            "<!doctype html><html lang=sv><head><meta charset=utf-8><title>Förskolan</title></head><body>"
            "<article class=post><h2 class=entry-title>Veckobrev</h2>"
            '<time class="published entry-date" datetime="2026-11-02T09:00:00+00:00">2 november 2026</time>'
            "<p>Vi har haft en fin vecka.</p></article></body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the crawler was killed meanwhile
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow():
    server = SlowBlogs(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def registry(tmp_path: Path, slow: SlowBlogs) -> Path:
    port = slow.server_address[1]
    lines = [
        "settings:",
        "  contact: crawler-tests@localhost.invalid",
        "  allow_private_addresses: true",
        "  per_host_delay: 0",
        "  concurrency: 4",
        "  per_host_concurrency: 4",
        "  retries: 1",
        "  deadline: 30",
        "accounts:",
    ]
    for i in range(N):
        lines += [f"  - id: blog-{i:02d}", f"    unit: Förskolan {i}", f"    area: Område {'AB'[i % 2]}",
                  "    platform: blog", f"    url: http://127.0.0.1:{port}/blog-{i:02d}/"]
    path = tmp_path / "sources.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start(registry: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAWLER_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "--sources", str(registry), "--db", str(registry.parent / "inv.sqlite"),
         *args],
        cwd=registry.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


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


def wait_until(condition, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process ended early ({proc.returncode}): {out}\n{err}")
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def checks(db: Path) -> int:
    rows = query(db, "SELECT count(*) FROM checks")
    return rows[0][0] if rows else 0


def cli_in_process(registry: Path, *args: str):
    return CliRunner().invoke(cli, ["--sources", str(registry), "--db", str(registry.parent / "inv.sqlite"), *args],
                              env={})


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=10)


def test_sigkill_mid_cycle_leaves_every_account_whole_and_the_next_cycle_completes(registry: Path, slow):
    db = registry.parent / "inv.sqlite"
    proc = start(registry, "crawl")
    try:
        wait_until(lambda: checks(db) >= 5, proc=proc)
        # while it runs: a second cycle is refused, naming the holder; status shows the running cycle
        second = cli_in_process(registry, "crawl")
        assert second.exit_code == 1
        assert f"pid {proc.pid}" in second.output and "(crawl, since" in second.output
        status = json.loads(cli_in_process(registry, "status", "--json").output)
        assert status["running"]["pid"] == proc.pid and status["running"]["accounts_total"] == N
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        stop(proc)
    assert query(db, "SELECT state FROM runs") == [("running",)]
    killed_at = checks(db)
    assert 5 <= killed_at < N
    assert_consistent(db)

    slow.delay = 0
    result = cli_in_process(registry, "crawl")
    assert result.exit_code == 0, result.output
    assert query(db, "SELECT state, error FROM runs ORDER BY id") == [
        ("interrupted", "process ended without finishing"), ("finished", None)]
    rows = assert_consistent(db)
    assert all(r["n"] >= 1 for r in rows) and len(rows) == N
    assert query(db, "SELECT count(*) FROM snapshots") == [(1,)]
    assert cli_in_process(registry, "status").exit_code == 0


def test_sigterm_stops_serve_cleanly_and_marks_the_run_interrupted(registry: Path):
    db = registry.parent / "inv.sqlite"
    proc = start(registry, "serve", "--run-now")
    try:
        wait_until(lambda: checks(db) >= 3, proc=proc)
        # a second service and a manual crawl are refused while this one runs
        again = start(registry, "serve")
        out, err = again.communicate(timeout=20)
        assert again.returncode == 1
        assert f"pid {proc.pid}" in err and "(serve, since" in err
        manual = cli_in_process(registry, "crawl")
        assert manual.exit_code == 1 and "crawler serve --run-now" in manual.output
        state = service.read_state(str(db))
        assert state["pid"] == proc.pid and state["state"] == "crawling"
        assert datetime.fromisoformat(state["next_run"]) > datetime.now(timezone.utc)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - began
    finally:
        stop(proc)
    assert proc.returncode == 0, err
    assert took < 10
    assert "service.stopping signal=SIGTERM" in err and "service.stop " in err
    ((state_, done, total),) = query(db, "SELECT state, accounts_done, accounts_total FROM runs")
    assert state_ == "interrupted" and 3 <= done < total == N
    assert done == checks(db)  # visits in flight were let finish and counted
    assert_consistent(db)
    assert service.read_state(str(db))["state"] == "stopped"
    assert holder(str(db)) is None
    status = json.loads(cli_in_process(registry, "status", "--json").output)
    assert status["service"]["running"] is False and status["last_run"]["state"] == "interrupted"


def test_sigterm_cancels_visits_that_outlast_the_grace(registry: Path, slow):
    slow.delay = 20  # far beyond the grace: the cycle must be cancelled, not waited for
    db = registry.parent / "inv.sqlite"
    proc = start(registry, "serve", "--run-now", "--grace", "0.5")
    try:
        wait_until(lambda: query(db, "SELECT state FROM runs") == [("running",)], proc=proc)
        time.sleep(0.3)  # the first requests are in flight
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - began
    finally:
        stop(proc)
    assert proc.returncode == 0, err
    assert took < 8
    assert "service.cancel_cycle" in err
    assert query(db, "SELECT state, accounts_done FROM runs") == [("interrupted", 0)]
    assert_consistent(db)


def test_ctrl_c_stops_a_manual_crawl_as_interrupted(registry: Path):
    db = registry.parent / "inv.sqlite"
    proc = start(registry, "crawl")
    try:
        wait_until(lambda: checks(db) >= 3, proc=proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 130, err
    assert "interrupted in" in out  # the summary: "Cycle 1 interrupted in 0m01s: ..."
    ((state_, done),) = query(db, "SELECT state, accounts_done FROM runs")
    assert state_ == "interrupted" and done < N
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


def test_a_scheduled_cycle_after_a_broken_edit_crawls_the_last_valid_registry(registry: Path, slow):
    # Regression (17.6): a deeply nested sources.yaml raised RecursionError in the cycle job, which
    # skipped the cycle. Now the job crawls every account of the last valid registry.
    slow.delay = 0
    db = registry.parent / "inv.sqlite"
    svc = service.Service(str(registry), str(db), sources.load(registry))
    registry.write_text(registry.read_text(encoding="utf-8") + "  - notes: " + "[" * 3000 + "]" * 3000 + "\n",
                        encoding="utf-8")

    async def go() -> None:
        svc._stop = asyncio.Event()
        await svc._crawl_job()

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
