"""The inventory: creation, migrations, registry sync, visits, snapshots, maintenance."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta

import pytest

from crawler.errors import NotFound, StoreError
from crawler.models import Account, Fetched, NoticeHit, Observation, Post, Verdict
from crawler.store import MIGRATIONS, SCHEMA_VERSION, Store, Visit, _statements, sha256

from .conftest import NOW, execute, sql_rows

A = Account("a", "Förskolan A", "Norr", "wordpress", "https://a.example.se/")
B = Account("b", "Förskolan B", "Söder", "instagram", "https://www.instagram.com/b/")


def test_new_inventory_is_wal_with_current_schema(tmp_path):
    with Store.open(tmp_path / "db" / "inv.sqlite") as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert execute(store, "PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r["name"] for r in sql_rows(store, "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"accounts", "checks", "posts", "notices", "status_changes", "runs", "snapshots"} <= tables
        views = {r["name"] for r in sql_rows(store, "SELECT name FROM sqlite_master WHERE type = 'view'")}
        assert {"current_inventory", "status_over_time", "pending_review", "account_history"} <= views


def test_upgrade_from_version_1_keeps_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in _statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO accounts (id, unit, area, platform, url, registered_at) "
                 "VALUES ('old', 'U', 'A', 'blog', 'https://old.example.se/', '2022-01-01T00:00:00+00:00')")
    conn.close()
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert [r["id"] for r in sql_rows(store, "SELECT id FROM current_inventory")] == ["old"]


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this crawler knows"):
        Store.open(path)


def test_reopening_is_idempotent(tmp_path):
    path = tmp_path / "inv.sqlite"
    with Store.open(path) as store:
        store.sync([A], NOW)
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.account("a").unit == "Förskolan A"


def test_sync_adds_updates_deregisters_and_keeps_history(store):
    first = store.sync([A, B], NOW)
    assert first.added == ["a", "b"]
    moved = Account("a", "Förskolan A", "Norr", "wordpress", "https://a2.example.se/")
    later = NOW + timedelta(days=1)
    second = store.sync([moved], later)
    assert second.updated == ["a"] and second.deregistered == ["b"]
    assert store.account("a").url == "https://a2.example.se/"
    assert store.account("b").deregistered_at == later
    assert [r["id"] for r in sql_rows(store, "SELECT id FROM current_inventory")] == ["a"]
    third = store.sync([moved, B], later + timedelta(days=1))
    assert third.reregistered == ["b"]
    assert store.account("b").deregistered_at is None
    changes = [r["change"] for r in sql_rows(store, "SELECT change FROM registry_changes WHERE account_id='b' ORDER BY id")]
    assert changes == ["added", "deregistered", "reregistered"]


def _visit(store, at, status="active", changed=True, posts=(), notices=(), outcome="ok", etag='"v1"'):
    fetched = Fetched(url="https://a.example.se/feed/", final_url="https://a.example.se/feed/", status=200,
                      headers={"etag": etag}, body=b"<rss/>", elapsed_ms=12)
    obs = Observation("wordpress", True, "feed parsed", last_post_at=posts[0].published_at if posts else None,
                      posts=tuple(posts), feed_url="https://a.example.se/feed/",
                      source_url="https://a.example.se/feed/")
    verdict = Verdict(status, "last post recent", changed, obs.last_post_at)
    store.record_visit(Visit("a", None, at, outcome, [fetched], obs, verdict, notices))


def test_record_visit_writes_check_posts_status_and_validators(store):
    store.sync([A], NOW)
    posts = [Post("https://a.example.se/2023/02/lucia-med-elsa/", NOW - timedelta(days=3)),
             Post("https://a.example.se/2023/01/snow/", NOW - timedelta(days=30))]
    _visit(store, NOW, posts=posts)
    acc, state = store.account("a"), store.account_states(["a"])["a"]
    assert acc.status == "active" and acc.status_since == NOW
    assert state.etag == '"v1"' and state.source_url == "https://a.example.se/feed/"
    assert acc.last_post_url == posts[0].url  # the newest post's URL only, as evidence
    stored = sql_rows(store, "SELECT * FROM posts")
    assert {r["url_sha256"] for r in stored} == {sha256(p.url) for p in posts}
    assert "lucia" not in str(stored)  # post URLs (which carry names) are only hashed
    check = sql_rows(store, "SELECT * FROM checks")[0]
    assert check["outcome"] == "ok" and check["http_status"] == 200 and check["posts_seen"] == 2
    assert check["content_sha256"] is not None and check["bytes"] == 6
    assert sql_rows(store, "SELECT old, new FROM status_changes") == [{"old": None, "new": "active"}]

    # the same posts again: no duplicates; an unchanged status writes no status change
    _visit(store, NOW + timedelta(days=7), posts=posts, changed=False)
    assert len(sql_rows(store, "SELECT * FROM posts")) == 2
    assert len(sql_rows(store, "SELECT * FROM status_changes")) == 1
    assert len(sql_rows(store, "SELECT * FROM checks")) == 2


def test_notice_is_stored_once_per_post(store):
    store.sync([A], NOW)
    hit = NoticeHit(0.9, ("tempus hemma",), "… all information i Tempus Hemma …", "move",
                    post_url="https://a.example.se/2023/03/flytt/", published_at=NOW)
    _visit(store, NOW, notices=[hit])
    _visit(store, NOW + timedelta(days=7), notices=[hit], changed=False)
    rows = sql_rows(store, "SELECT * FROM pending_review")
    assert len(rows) == 1 and rows[0]["unit"] == "Förskolan A"


def test_failed_visit_rolls_back_whole(store):
    store.sync([A], NOW)
    bad = Visit("missing", None, NOW, "ok", [], None, Verdict("active", "x", True, None))
    with pytest.raises(NotFound):
        store.record_visit(bad)
    assert sql_rows(store, "SELECT count(*) AS n FROM checks")[0]["n"] == 0


def test_snapshot_counts_by_status_platform_and_area(store):
    store.sync([A, B], NOW)
    _visit(store, NOW)
    snap = store.take_snapshot(None, NOW)
    row = sql_rows(store, "SELECT * FROM status_over_time")[0]
    assert (row["registered"], row["existing"], row["active"], row["unchecked"]) == (2, 2, 1, 1)
    counts = {(r["dimension"], r["key"], r["status"]): r["count"]
              for r in sql_rows(store, "SELECT * FROM snapshot_counts WHERE snapshot_id = ?", [snap])}
    assert counts == {("platform", "wordpress", "active"): 1, ("platform", "instagram", "unchecked"): 1,
                      ("area", "Norr", "active"): 1, ("area", "Söder", "unchecked"): 1}


def test_maintenance_prunes_old_checks_but_keeps_one_per_day(store):
    store.sync([A], NOW)
    for hours in (0, 1, 2, 30):
        _visit(store, NOW + timedelta(hours=hours), changed=False)
    result = store.maintain(NOW + timedelta(days=500), retention_days=400)
    assert result["pruned_checks"] == 2  # day 1 keeps its last check, day 2 its only one
    assert len(sql_rows(store, "SELECT * FROM checks")) == 2
    assert store.integrity() == "ok"


def test_readonly_reader_sees_committed_data_while_writer_works(tmp_path):
    path = tmp_path / "inv.sqlite"
    writer = Store.open(path)
    writer.sync([A], NOW)
    reader = Store.open(path, readonly=True)
    execute(reader, "BEGIN")  # an analyst's long read transaction
    assert sql_rows(reader, "SELECT count(*) AS n FROM accounts")[0]["n"] == 1
    writer.sync([A, B], NOW)  # WAL: the writer is not blocked by the open read
    assert sql_rows(reader, "SELECT count(*) AS n FROM accounts")[0]["n"] == 1  # snapshot isolation
    execute(reader, "COMMIT")
    assert sql_rows(reader, "SELECT count(*) AS n FROM accounts")[0]["n"] == 2
    reader.close()
    writer.close()


def test_validators_come_from_the_response_the_observation_was_read_from(store):
    store.sync([A], NOW)
    page = Fetched(url="https://a.example.se/", final_url="https://a.example.se/", status=200,
                   headers={"etag": '"page"', "last-modified": "Tue, 28 Feb 2023 10:00:00 GMT"}, body=b"<html/>")
    broken_feed = Fetched(url="https://a.example.se/feed/", final_url="https://a.example.se/feed/", status=500,
                          headers={"etag": '"feed"'}, body=b"oops")
    obs = Observation("wordpress", True, "dates in page", source_url="https://a.example.se/")
    store.record_visit(Visit("a", None, NOW, "ok", [page, broken_feed], obs, Verdict("dormant", "x", True, None)))
    state = store.account_states(["a"])["a"]
    assert (state.source_url, state.etag) == ("https://a.example.se/", '"page"')
    assert state.last_modified == "Tue, 28 Feb 2023 10:00:00 GMT"
    check = sql_rows(store, "SELECT url, http_status, etag, content_sha256 FROM checks")[0]
    assert (check["url"], check["http_status"], check["etag"]) == ("https://a.example.se/", 200, '"page"')
    assert check["content_sha256"] == hashlib.sha256(b"<html/>").hexdigest()


def test_audit_trails_are_append_only(store):
    store.sync([A], NOW)
    _visit(store, NOW)
    for table in ("status_changes", "registry_changes"):
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            execute(store, f"DELETE FROM {table}")
        with pytest.raises(sqlite3.IntegrityError, match="never changed"):
            execute(store, f"UPDATE {table} SET at = 'x'")
    assert len(sql_rows(store, "SELECT * FROM status_changes")) == 1


def test_last_post_url_is_the_evidence_for_last_post_at(store):
    store.sync([A], NOW)
    newer = Post("https://a.example.se/2023/02/newer/", NOW - timedelta(days=1))
    older = Post("https://a.example.se/2023/01/older/", NOW - timedelta(days=40))
    _visit(store, NOW, posts=[newer, older])
    assert store.account("a").last_post_url == newer.url
    # a truncated feed shows only the older post; the classifier keeps the newer date...
    fetched = Fetched(url="https://a.example.se/feed/", final_url="https://a.example.se/feed/", status=200)
    obs = Observation("wordpress", True, "feed parsed", last_post_at=older.published_at, posts=(older,),
                      source_url="https://a.example.se/feed/")
    kept = Verdict("active", "last post recent", False, newer.published_at)
    store.record_visit(Visit("a", None, NOW + timedelta(days=1), "ok", [fetched], obs, kept))
    acc = store.account("a")
    # ...and the URL kept as evidence must still be the post with that date
    assert (acc.last_post_at, acc.last_post_url) == (newer.published_at, newer.url)
    # an estimated date (a post-count rise) has no post URL: the old evidence no longer applies
    estimate = Verdict("active", "post count rose", False, NOW + timedelta(days=2), last_post_estimated=True)
    store.record_visit(Visit("a", None, NOW + timedelta(days=2), "ok", [fetched],
                             Observation("wordpress", True, "x", source_url=fetched.url), estimate))
    assert store.account("a").last_post_url is None


def test_readers_accept_an_inventory_the_service_has_not_migrated_yet(tmp_path):
    path = tmp_path / "v2.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:2]:
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with Store.open(path, readonly=True) as reader:
        assert reader.schema_version() == 2
        assert sql_rows(reader, "SELECT count(*) AS n FROM current_inventory")[0]["n"] == 0
        assert reader.notices() == [] and reader.announced_accounts(NOW) == [] and reader.decisions_by("x") == []
    with Store.open(path) as writer:  # the next writer migrates
        assert writer.schema_version() == SCHEMA_VERSION


# ------------------------------------------------------------------------------ the named reads


def _plain(value, where="record"):
    """Assert a read's value is made of plain Python values (another database could return the same)."""
    import dataclasses
    from datetime import date, datetime

    if dataclasses.is_dataclass(value):
        assert type(value).__dataclass_params__.frozen, f"{where}: {type(value).__name__} is not frozen"
        for f in dataclasses.fields(value):
            _plain(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            _plain(v, f"{where}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), where
            _plain(v, f"{where}[{k!r}]")
    elif isinstance(value, datetime):
        assert value.utcoffset() == timedelta(0), f"{where}: {value!r} is not an aware UTC datetime"
    else:
        assert value is None or type(value) in (str, int, float, bool, date), f"{where}: {type(value)}"


def _inventory(store):
    """Three accounts: a active with a notice and two checks, b never checked, c deregistered later."""
    c = Account("c", "Förskolan C", "Norr", "blog", "https://c.example.se/")
    store.sync([A, B, c], NOW)
    hit = NoticeHit(0.9, ("tempus hemma",), "… all information i Tempus Hemma …", "move",
                    post_url="https://a.example.se/2023/03/flytt/", published_at=NOW)
    _visit(store, NOW, posts=[Post("https://a.example.se/p/", NOW - timedelta(days=2))], notices=[hit])
    _visit(store, NOW + timedelta(days=7), changed=False)
    store.sync([A, B], NOW + timedelta(days=8))


def test_reads_return_frozen_records_of_plain_values(store):
    _inventory(store)
    run = store.start_run(NOW, 3, "manual", 1)
    store.finish_run(run, "finished", done=3, errors=0)
    store.take_snapshot(run, NOW)
    store.set_notice_state(1, "pending", "confirmed", "Anna", NOW + timedelta(days=1), "ok")
    reads = [
        store.account("a"), store.accounts(), store.current_inventory(), store.counts(), store.inventory(),
        store.account_detail("a"), store.status_changes(), store.registry_changes(), store.run_checks(run),
        store.snapshots(), store.snapshot_counts(1), store.statuses_at(NOW), store.announced_accounts(NOW),
        store.accounts_with_pending_notices(NOW), store.last_posts(["a", "b"], NOW + timedelta(days=9)),
        store.evidence_notices(["a"], NOW), store.recent_runs(), store.last_full_cycle(), store.checks_in_run(run),
        store.failing_accounts(), store.pending_summary(), store.notices(), store.notice(1),
        store.notice_reviews(1), store.decisions_by("Anna"),
    ]
    for n, value in enumerate(reads):
        _plain(value, f"read {n}")
    a = store.account("a")
    assert (a.status, a.status_since, a.last_checked_at, a.announced_move) == ("active", NOW, NOW + timedelta(days=7),
                                                                              True)
    assert store.account("c").deregistered_at == NOW + timedelta(days=8) and not store.account("c").registered


def test_inventory_filters_sorts_pages_and_counts(store):
    _inventory(store)
    page = store.inventory()
    assert [r.id for r in page.rows] == ["a", "b"] and page.total == 2  # c is deregistered
    assert page.by_status == {"active": 1, "unchecked": 1}
    assert page.by_platform == {"instagram": 1, "wordpress": 1} and page.by_area == {"Norr": 1, "Söder": 1}
    assert [r.id for r in store.inventory(statuses=["unchecked"]).rows] == ["b"]
    assert [r.id for r in store.inventory(platforms=["wordpress", "blog"], include_deregistered=True).rows] == ["a", "c"]
    assert store.inventory(areas=["Norr"], include_deregistered=True).by_status == {"active": 1, "unchecked": 1}
    # never-checked accounts sort last in both directions; pages keep the whole set's counts
    assert [r.id for r in store.inventory(sort="last_checked_at", include_deregistered=True).rows] == ["a", "b", "c"]
    assert [r.id for r in store.inventory(sort="unit", descending=True).rows] == ["b", "a"]
    second = store.inventory(limit=1, offset=1)
    assert [r.id for r in second.rows] == ["b"] and second.total == 2 and second.by_status["active"] == 1
    with pytest.raises(StoreError, match="cannot sort the inventory by 'url; DROP'"):
        store.inventory(sort="url; DROP")


def test_account_detail_has_history_checks_and_notices(store):
    _inventory(store)
    detail = store.account_detail("a", checks=1)
    assert detail.account.id == "a"
    assert [(c.old, c.new, c.at) for c in detail.status_history] == [(None, "active", NOW)]
    assert [c.started_at for c in detail.recent_checks] == [NOW + timedelta(days=7)]  # newest first
    assert detail.recent_checks[0].exists is True and detail.recent_checks[0].outcome == "ok"
    assert [n.snippet for n in detail.notices] == ["… all information i Tempus Hemma …"]
    assert [r.change for r in store.account_detail("c").registry_history] == ["added", "deregistered"]
    with pytest.raises(NotFound):
        store.account_detail("nobody")


def test_changes_between_two_times(store):
    _inventory(store)
    later = NOW + timedelta(days=8)
    assert [(c.account_id, c.new) for c in store.status_changes(NOW, NOW)] == [("a", "active")]
    assert store.status_changes(NOW + timedelta(seconds=1)) == []
    assert [(c.account_id, c.change) for c in store.registry_changes(since=later)] == [("c", "deregistered")]
    assert [c.change for c in store.registry_changes(until=NOW, account_id="c")] == ["added"]


def test_a_reviewers_decisions(store):
    _inventory(store)
    store.set_notice_state(1, "pending", "confirmed", "Anna", NOW + timedelta(days=1), None)
    store.set_notice_state(1, "confirmed", "rejected", "Bo", NOW + timedelta(days=2), "about absence")
    (anna,) = store.decisions_by("Anna")
    assert (anna.notice_id, anna.account_id, anna.unit, anna.new_state) == (1, "a", "Förskolan A", "confirmed")
    assert [d.comment for d in store.decisions_by("Bo", since=NOW + timedelta(days=2))] == ["about absence"]
    assert store.decisions_by("Bo", until=NOW + timedelta(days=1)) == []
