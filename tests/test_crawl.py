"""`crawler crawl` and crawl.run_cycle end to end: the demo web on loopback, real SQLite files.

The demo web serves realistic pages of every platform (WordPress, Blogger, other blogs,
Instagram, Facebook) on 127.0.0.x; the kill and signal tests are in test_service.py.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import sources
from crawler.cli import cli
from crawler.crawl import Progress, run_cycle
from crawler.demo.server import DemoWeb
from crawler.demo.world import World, cycle_time, demo_settings
from crawler.fetch import Fetcher
from crawler.lock import CrawlLock
from crawler.store import Store

from .conftest import execute, sql_rows

pytestmark = pytest.mark.timeout(60)

N = 24


@pytest.fixture(scope="module")
def web():
    with DemoWeb(World(N, seed=3), cycle_time(10), faults=False) as w:
        yield w


@pytest.fixture
def registry(tmp_path: Path, web: DemoWeb) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(web.sources_yaml(demo_settings()), encoding="utf-8")
    return path


def crawl(registry: Path, *args: str, db: Path | None = None):
    db = db or registry.parent / "inv.sqlite"
    return CliRunner().invoke(cli, ["--sources", str(registry), "--db", str(db), "crawl", *args], env={})


def assert_consistent(db: str | Path) -> list[sqlite3.Row]:
    """integrity_check ok, and every account is fully written or untouched by each visit."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute(
            """
            SELECT a.id, a.status, a.last_checked_at,
                   (SELECT max(started_at) FROM checks c WHERE c.account_id = a.id) AS latest,
                   (SELECT c.status FROM checks c WHERE c.account_id = a.id ORDER BY c.id DESC LIMIT 1) AS check_status,
                   (SELECT count(*) FROM checks c WHERE c.account_id = a.id) AS n
            FROM accounts a
            """).fetchall()
        for r in rows:
            # the account row and its latest check were written in the same transaction
            assert r["last_checked_at"] == r["latest"], dict(r)
            assert r["status"] == r["check_status"], dict(r)
        return rows
    finally:
        conn.close()


def test_full_cycle_visits_every_account_and_leaves_a_snapshot(registry: Path, web: DemoWeb):
    result = crawl(registry)
    assert result.exit_code == 0, result.output
    assert "Cycle 1 finished in" in result.output and f"{N} of {N} accounts visited" in result.output
    db = registry.parent / "inv.sqlite"
    rows = assert_consistent(db)
    assert len(rows) == N and all(r["n"] == 1 for r in rows)
    with Store.open(db, readonly=True) as store:
        run = sql_rows(store, "SELECT * FROM runs")[0]
        assert (run["state"], run["accounts_total"], run["accounts_done"]) == ("finished", N, N)
        assert run["summary"] and run["finished_at"] >= run["started_at"] and run["requests"] > N
        snaps = sql_rows(store, "SELECT * FROM snapshots")
        assert len(snaps) == 1 and snaps[0]["registered"] == N and snaps[0]["unchecked"] == 0
        assert sum(store.counts().values()) == N and "unchecked" not in store.counts()
        platforms = {r["platform"] for r in sql_rows(store,
            "SELECT a.platform FROM checks c JOIN accounts a ON a.id = c.account_id")}
        assert {"wordpress", "blogger", "blog", "instagram", "facebook"} <= platforms
        # blogs are read (dates), Instagram/Facebook answer with what a login wall tells
        outcomes = Counter(r["outcome"] for r in sql_rows(store, "SELECT outcome FROM checks"))
        assert outcomes["ok"] >= N // 2
        dated = sql_rows(store, "SELECT count(*) AS n FROM accounts WHERE last_post_at IS NOT NULL")[0]["n"]
        assert dated >= N // 3

    # a second cycle: conditional GETs, one more snapshot, the first run untouched
    again = crawl(registry)
    assert again.exit_code == 0, again.output
    with Store.open(db, readonly=True) as store:
        assert [r["state"] for r in sql_rows(store, "SELECT state FROM runs ORDER BY id")] == ["finished", "finished"]
        assert sql_rows(store, "SELECT count(*) AS n FROM snapshots")[0]["n"] == 2
        assert sql_rows(store, "SELECT count(*) AS n FROM checks WHERE outcome = 'not_modified'")[0]["n"] > 0
    assert_consistent(db)


def test_subset_by_platform_and_area_takes_no_snapshot(registry: Path):
    reg = sources.load(registry)
    area = reg.accounts[0].area
    expected = {a.id for a in reg.accounts if a.platform == "instagram" and a.area == area}
    result = crawl(registry, "--platform", "instagram", "--area", area)
    assert result.exit_code == 0, result.output
    with Store.open(registry.parent / "inv.sqlite", readonly=True) as store:
        assert {r["account_id"] for r in sql_rows(store, "SELECT account_id FROM checks")} == expected
        assert sql_rows(store, "SELECT count(*) AS n FROM snapshots")[0]["n"] == 0
        # the registry was synced whole all the same
        assert sql_rows(store, "SELECT count(*) AS n FROM accounts")[0]["n"] == N


def test_only_ids(registry: Path):
    ids = [a.id for a in sources.load(registry).accounts[:2]]
    result = crawl(registry, "--only", ids[0], "--only", ids[1])
    assert result.exit_code == 0, result.output
    assert "2 of 2 accounts visited" in result.output
    unknown = crawl(registry, "--only", "no-such-account")
    assert unknown.exit_code == 1 and "no account with id 'no-such-account'" in unknown.output


def test_dry_run_lists_accounts_and_sends_no_request(registry: Path, web: DemoWeb):
    web.reset_stats()
    result = crawl(registry, "--dry-run", "--platform", "wordpress")
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    wordpress = [a for a in sources.load(registry).accounts if a.platform == "wordpress"]
    assert sorted(line[0] for line in lines) == sorted(a.id for a in wordpress)
    assert all(line[1] == "wordpress" and line[2].startswith("http://127.0.0.") for line in lines)
    by_id = {a.id: a for a in wordpress}
    assert all(line[2] == by_id[line[0]].url and line[3:] == ([by_id[line[0]].feed] if by_id[line[0]].feed else [])
               for line in lines)
    assert sum(s["requests"] for s in web.stats().values()) == 0
    assert not (registry.parent / "inv.sqlite").exists()


def test_placeholder_contact_is_refused_before_anything_is_written(registry: Path):
    text = registry.read_text(encoding="utf-8").replace("demo-operator@localhost.invalid", "CHANGE-ME@example.org")
    registry.write_text(text, encoding="utf-8")
    result = crawl(registry)
    assert result.exit_code == 1
    assert result.output.startswith("Error: refusing to crawl: the contact in settings is still the placeholder")
    assert "Traceback" not in result.output
    assert not (registry.parent / "inv.sqlite").exists()


def test_a_second_crawl_is_refused_naming_the_holder(registry: Path):
    db = registry.parent / "inv.sqlite"
    with CrawlLock(str(db), "crawl"):
        result = crawl(registry)
    assert result.exit_code == 1
    assert f"pid {os.getpid()}" in result.output and "(crawl, since" in result.output
    with CrawlLock(str(db), "serve"):
        result = crawl(registry)
    assert result.exit_code == 1
    assert "(serve, since" in result.output and "crawler serve --run-now" in result.output
    assert crawl(registry).exit_code == 0  # free again


def test_an_analysts_long_read_transaction_does_not_block_the_crawl(registry: Path):
    db = registry.parent / "inv.sqlite"
    assert CliRunner().invoke(cli, ["--sources", str(registry), "--db", str(db), "sources", "sync"]).exit_code == 0
    analyst = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    analyst.execute("BEGIN")
    assert analyst.execute("SELECT count(*) FROM checks").fetchone()[0] == 0
    try:
        result = crawl(registry)
        assert result.exit_code == 0, result.output
        # the analyst still reads the database as it was when the transaction began
        assert analyst.execute("SELECT count(*) FROM checks").fetchone()[0] == 0
    finally:
        analyst.execute("COMMIT")
        analyst.close()
    assert_consistent(db)


def test_disk_full_fails_the_run_keeps_the_inventory_consistent_and_status_degraded(registry: Path):
    db = registry.parent / "inv.sqlite"
    reg = sources.load(registry)
    store = Store.open(db)

    settings = reg.settings.replace(write_batch=1)  # one visit a transaction: the disk fills between two

    def fill_disk(p: Progress) -> None:
        if p.done == 2:  # after two visits the disk is full: no page beyond the current ones
            pages = execute(store, "PRAGMA page_count").fetchone()[0]
            execute(store, f"PRAGMA max_page_count = {pages}")

    async def go():
        async with Fetcher(settings) as fetcher:
            return await run_cycle(store, reg.accounts, settings, progress=fill_disk, fetcher=fetcher)

    try:
        result = asyncio.run(go())
    finally:
        store.close()
    # the writer thread may have written none, one or both visits before the disk filled
    assert result.state == "failed" and result.done < N
    assert "could not be written" in result.summary
    assert result.snapshot_id is None
    rows = assert_consistent(db)
    checked = [r for r in rows if r["n"]]
    assert len(checked) == result.done  # the failing account's visit rolled back whole

    status = CliRunner().invoke(cli, ["--sources", str(registry), "--db", str(db), "status"])
    assert status.exit_code == 2, status.output
    assert "DEGRADED" in status.output and "full" in status.output

    # space again: the next cycle completes and health recovers
    assert crawl(registry).exit_code == 0
    assert_consistent(db)
    assert CliRunner().invoke(cli, ["--sources", str(registry), "--db", str(db), "status"]).exit_code == 0


def test_a_parser_bug_on_one_account_is_recorded_and_the_cycle_goes_on(registry: Path, monkeypatch):
    from crawler import platforms

    reg = sources.load(registry)
    victim = reg.accounts[0].id
    real_observe = platforms.observe

    async def observe(platform, url, *args, **kwargs):
        if url == reg.accounts[0].url:
            raise ValueError("simulated parser bug")
        return await real_observe(platform, url, *args, **kwargs)

    monkeypatch.setattr(platforms, "observe", observe)
    db = registry.parent / "bug.sqlite"

    async def go():
        with Store.open(db) as store:
            return await run_cycle(store, reg.accounts, reg.settings, clock=lambda: cycle_time(10))

    result = asyncio.run(go())
    assert result.state == "finished" and result.done == N
    with Store.open(db, readonly=True) as store:
        check = sql_rows(store, "SELECT outcome, error, reason FROM checks WHERE account_id = ?", [victim])[0]
        assert (check["outcome"], check["error"]) == ("error", "internal_error")
        assert "ValueError" in check["reason"]
        others = sql_rows(store, "SELECT count(*) AS n FROM checks WHERE account_id != ? AND outcome = 'ok'", [victim])
        assert others[0]["n"] > 0


def test_a_visit_is_judged_by_the_response_it_was_read_from_not_the_last_url_tried():
    """Regression: a page read fine, then guessed feed paths blocked by robots.txt, was recorded
    as blocked_by_robots and drifted to unknown."""
    from datetime import timezone

    from crawler.crawl import visit
    from crawler.models import Account, Fetched
    from crawler.settings import Settings

    page_url = "https://blog.example.se/"
    page = "<html><head><title>Förskolan</title></head><body><h1>Välkommen</h1><p>Hej!</p></body></html>".encode()

    class Fake:
        async def fetch(self, url, etag=None, last_modified=None):
            if url == page_url:
                return Fetched(url, url, 200, {"content-type": "text/html; charset=utf-8"}, page)
            if url.endswith("/feed/"):
                return Fetched(url, url, 404, {"content-type": "text/html"}, b"<html>not found</html>")
            return Fetched(url, url, error="blocked_by_robots", attempts=0)

    account = Account("b", "U", "A", "blog", page_url)
    now = cycle_time(10).astimezone(timezone.utc)
    outcome, fetches, obs, verdict, *_ = asyncio.run(visit(account, None, Fake(), now, Settings()))
    assert fetches[-1].error == "blocked_by_robots" and obs.source_url == page_url
    assert outcome == "ok"
    assert verdict.status == "dormant"  # it exists and shows no dated post: not "unknown"
