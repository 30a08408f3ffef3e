"""crawler/status.py and `crawler status`: what it shows, and its exit codes as a health check."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import status as status_mod
from crawler.cli import cli
from crawler.lock import CrawlLock
from crawler.models import Account
from crawler.service import write_state
from crawler.settings import Settings
from crawler.store import Store

from .conftest import execute

pytestmark = pytest.mark.timeout(30)

ACCOUNTS = [
    Account(id=f"acc-{i}", unit=f"Förskolan {i}", area="Område Norr" if i % 2 else "Område Söder",
            platform="blog", url=f"https://blog{i}.example.se/")
    for i in range(4)
]


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "inv.sqlite")
    with Store.open(path) as store:
        store.sync(ACCOUNTS, datetime.now(timezone.utc))
    return path


def add_run(db: str, state: str, *, full: bool = True, error: str | None = None) -> int:
    """A run as run_cycle leaves it: started, finished in `state`, a snapshot when full and finished."""
    with Store.open(db) as store:
        now = datetime.now(timezone.utc)
        run_id = store.start_run(now, len(ACCOUNTS), "manual", 4242)
        if state != "running":
            if state == "finished" and full:
                store.take_snapshot(run_id, now)
            store.finish_run(run_id, state, done=len(ACCOUNTS), errors=0, error=error)
    return run_id


def status(db: str, *args: str, env: dict[str, str] | None = None):
    # --sources points nowhere: settings come from the defaults and the environment
    return CliRunner().invoke(cli, ["--sources", "/nonexistent/sources.yaml", "--db", db, "status", *args],
                              env=env or {})


def test_no_inventory_is_an_error(tmp_path: Path):
    result = status(str(tmp_path / "missing.sqlite"))
    assert result.exit_code == 1
    assert "no inventory at" in result.output


def test_no_cycle_yet_is_stale_exit_1(db: str):
    result = status(db)
    assert result.exit_code == 1, result.output
    assert "STALE" in result.output and "no full crawl cycle" in result.output
    assert "4 registered" in result.output and "4 unchecked" in result.output


def test_recent_full_cycle_is_ok_exit_0(db: str):
    add_run(db, "finished")
    result = status(db)
    assert result.exit_code == 0, result.output
    assert "Health:    OK" in result.output
    assert "Last run:  run 1 (manual) finished" in result.output


def test_old_cycle_is_stale(db: str):
    run_id = add_run(db, "finished")
    with Store.open(db) as store:
        execute(store, "UPDATE runs SET finished_at = ? WHERE id = ?",
                           ((datetime.now(timezone.utc) - timedelta(hours=40)).isoformat(), run_id))
    result = status(db)
    assert result.exit_code == 1
    assert "more than health_max_age_hours (36 h)" in result.output
    assert status(db, env={"CRAWLER_HEALTH_MAX_AGE_HOURS": "48"}).exit_code == 0
    # the same through the library with a clock two days on
    report = status_mod.gather(db, Settings(), datetime.now(timezone.utc) + timedelta(hours=48))
    assert report["health"]["state"] == "stale"


def test_a_subset_run_does_not_make_the_inventory_healthy(db: str):
    add_run(db, "finished", full=False)  # `crawl --only`: no snapshot
    assert status(db).exit_code == 1


def test_failed_last_run_is_degraded_exit_2_even_after_a_good_cycle(db: str):
    add_run(db, "finished")
    add_run(db, "failed", error="OperationalError: database or disk is full")
    result = status(db)
    assert result.exit_code == 2, result.output
    assert "DEGRADED" in result.output and "disk is full" in result.output
    # a later good cycle clears it
    add_run(db, "finished")
    assert status(db).exit_code == 0


def test_json_output(db: str):
    add_run(db, "finished")
    result = status(db, "--json")
    data = json.loads(result.output)
    assert data["health"] == {"state": "ok", "reason": data["health"]["reason"], "exit_code": 0, "problems": []}
    assert data["last_run"]["state"] == "finished" and data["last_run"]["accounts_total"] == 4
    assert data["counts"]["registered"] == 4 and data["counts"]["unchecked"] == 4
    assert data["pending_review"] == {"count": 0, "oldest": None}
    assert data["running"] is None and data["service"] is None


def test_running_run_of_a_dead_process_counts_as_interrupted(db: str):
    add_run(db, "finished")
    add_run(db, "running")  # pid 4242 holds no lock
    data = json.loads(status(db, "--json").output)
    assert data["running"] is None
    assert data["last_run"]["state"] == "interrupted"


def test_running_cycle_of_the_lock_holder_is_shown_with_progress(db: str):
    with Store.open(db) as store:
        run_id = store.start_run(datetime.now(timezone.utc), 4, "manual", os.getpid())
    with CrawlLock(db, "crawl"):
        data = json.loads(status(db, "--json").output)
        text = status(db).output
    assert data["running"]["id"] == run_id and data["running"]["accounts_done"] == 0
    assert data["lock_holder"]["pid"] == os.getpid()
    assert f"Running:   run {run_id}" in text


def test_service_state_file_gives_the_next_run_only_while_the_service_holds_the_lock(db: str):
    state = {"pid": os.getpid(), "started": "2026-01-01T00:00:00+00:00", "state": "idle",
             "next_run": "2026-01-02T02:00:00+00:00", "last_heartbeat": datetime.now(timezone.utc).isoformat()}
    write_state(db, state)
    with CrawlLock(db, "serve"):
        data = json.loads(status(db, "--json").output)
        text = status(db).output
    assert data["service"]["running"] is True and data["service"]["next_run"] == state["next_run"]
    assert "next pass 2026-01-02 03:00 CET" in text
    lock_line = next(line for line in text.splitlines() if line.startswith("Lock:"))
    assert " CET)" in lock_line and "+00:00" not in lock_line  # local time, as every other time shown
    data = json.loads(status(db, "--json").output)  # lock released: the service is gone
    assert data["service"]["running"] is False
    assert "Service:   not running" in status(db).output


def test_failing_accounts_longest_first(db: str):
    with Store.open(db) as store:
        for ident, n, ok in (("acc-1", 3, None), ("acc-2", 7, "2026-01-01T00:00:00+00:00"), ("acc-3", 3, "2025-01-01")):
            execute(store, "UPDATE accounts SET consecutive_failures = ?, last_ok_at = ? WHERE id = ?", (n, ok, ident))
    data = json.loads(status(db, "--json").output)
    assert [f["id"] for f in data["failing"]] == ["acc-2", "acc-1", "acc-3"]
    assert "Failing longest:" in status(db).output


def test_a_run_the_live_service_could_not_finish_is_degraded_not_running(db: str):
    add_run(db, "finished")
    with Store.open(db) as store:  # the service's cycle: its row stays `running` (finish_run hit a full disk)
        store.start_run(datetime.now(timezone.utc), 4, "schedule", os.getpid())
    write_state(db, {"pid": os.getpid(), "state": "idle", "next_run": None,
                     "last_heartbeat": datetime.now(timezone.utc).isoformat(),
                     "last_run": {"run": None, "state": "failed", "error": "OperationalError: database or disk is full"}})
    with CrawlLock(db, "serve"):
        data = json.loads(status(db, "--json").output)
        code = status(db).exit_code
        write_state(db, {"pid": os.getpid(), "state": "crawling", "last_heartbeat": None})
        still = json.loads(status(db, "--json").output)
    assert data["running"] is None and data["last_run"]["state"] == "failed"
    assert "disk is full" in data["health"]["reason"] and code == 2
    assert still["running"] is not None  # while the service says it crawls, the run is live


def test_a_garbled_state_file_does_not_break_status(db: str):
    add_run(db, "finished")
    Path(f"{db}.service.json").write_text('{"pid": "x", "last_heartbeat": "yesterday"}', encoding="utf-8")
    with CrawlLock(db, "serve"):
        result = status(db)
    assert result.exit_code == 0, result.output
    assert "Service:" in result.output  # not a state file the service wrote: as if there were none
    Path(f"{db}.service.json").write_text("not json", encoding="utf-8")
    assert status(db).exit_code == 0
