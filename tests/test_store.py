"""The inventory: creation, migrations, registry sync, visits, snapshots, maintenance."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta

import pytest

from crawler.errors import NotFound, StoreError
from crawler.models import Account, Fetched, NoticeHit, Observation, Post, Verdict
from crawler.store import MIGRATIONS, SCHEMA_VERSION, Store, Visit, _statements, sha256

from .conftest import NOW

A = Account("a", "Förskolan A", "Norr", "wordpress", "https://a.example.se/")
B = Account("b", "Förskolan B", "Söder", "instagram", "https://www.instagram.com/b/")


def test_new_inventory_is_wal_with_current_schema(tmp_path):
    with Store.open(tmp_path / "db" / "inv.sqlite") as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = set(store.db.table_names())
        assert {"accounts", "checks", "posts", "notices", "status_changes", "runs", "snapshots"} <= tables
        views = set(store.db.view_names())
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
        assert [r["id"] for r in store.query("SELECT id FROM current_inventory")] == ["old"]


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
        assert store.account("a")["unit"] == "Förskolan A"


def test_sync_adds_updates_deregisters_and_keeps_history(store):
    first = store.sync([A, B], NOW)
    assert first.added == ["a", "b"]
    moved = Account("a", "Förskolan A", "Norr", "wordpress", "https://a2.example.se/")
    later = NOW + timedelta(days=1)
    second = store.sync([moved], later)
    assert second.updated == ["a"] and second.deregistered == ["b"]
    assert store.account("a")["url"] == "https://a2.example.se/"
    assert store.account("b")["deregistered_at"] == later.isoformat()
    assert [r["id"] for r in store.query("SELECT id FROM current_inventory")] == ["a"]
    third = store.sync([moved, B], later + timedelta(days=1))
    assert third.reregistered == ["b"]
    assert store.account("b")["deregistered_at"] is None
    changes = [r["change"] for r in store.query("SELECT change FROM registry_changes WHERE account_id='b' ORDER BY id")]
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
    acc = store.account("a")
    assert acc["status"] == "active" and acc["status_since"] == NOW.isoformat()
    assert acc["etag"] == '"v1"' and acc["source_url"] == "https://a.example.se/feed/"
    assert acc["last_post_url"] == posts[0].url  # the newest post's URL only, as evidence
    stored = store.query("SELECT * FROM posts")
    assert {r["url_sha256"] for r in stored} == {sha256(p.url) for p in posts}
    assert "lucia" not in str(stored)  # post URLs (which carry names) are only hashed
    check = store.query("SELECT * FROM checks")[0]
    assert check["outcome"] == "ok" and check["http_status"] == 200 and check["posts_seen"] == 2
    assert check["content_sha256"] is not None and check["bytes"] == 6
    assert store.query("SELECT old, new FROM status_changes") == [{"old": None, "new": "active"}]

    # the same posts again: no duplicates; an unchanged status writes no status change
    _visit(store, NOW + timedelta(days=7), posts=posts, changed=False)
    assert len(store.query("SELECT * FROM posts")) == 2
    assert len(store.query("SELECT * FROM status_changes")) == 1
    assert len(store.query("SELECT * FROM checks")) == 2


def test_notice_is_stored_once_per_post(store):
    store.sync([A], NOW)
    hit = NoticeHit(0.9, ("tempus hemma",), "… all information i Tempus Hemma …", "move",
                    post_url="https://a.example.se/2023/03/flytt/", published_at=NOW)
    _visit(store, NOW, notices=[hit])
    _visit(store, NOW + timedelta(days=7), notices=[hit], changed=False)
    rows = store.query("SELECT * FROM pending_review")
    assert len(rows) == 1 and rows[0]["unit"] == "Förskolan A"


def test_failed_visit_rolls_back_whole(store):
    store.sync([A], NOW)
    bad = Visit("missing", None, NOW, "ok", [], None, Verdict("active", "x", True, None))
    with pytest.raises(NotFound):
        store.record_visit(bad)
    assert store.query("SELECT count(*) AS n FROM checks")[0]["n"] == 0


def test_snapshot_counts_by_status_platform_and_area(store):
    store.sync([A, B], NOW)
    _visit(store, NOW)
    snap = store.take_snapshot(None, NOW)
    row = store.query("SELECT * FROM status_over_time")[0]
    assert (row["registered"], row["existing"], row["active"], row["unchecked"]) == (2, 2, 1, 1)
    counts = {(r["dimension"], r["key"], r["status"]): r["count"]
              for r in store.query("SELECT * FROM snapshot_counts WHERE snapshot_id = ?", [snap])}
    assert counts == {("platform", "wordpress", "active"): 1, ("platform", "instagram", "unchecked"): 1,
                      ("area", "Norr", "active"): 1, ("area", "Söder", "unchecked"): 1}


def test_maintenance_prunes_old_checks_but_keeps_one_per_day(store):
    store.sync([A], NOW)
    for hours in (0, 1, 2, 30):
        _visit(store, NOW + timedelta(hours=hours), changed=False)
    result = store.maintain(NOW + timedelta(days=500), retention_days=400)
    assert result["pruned_checks"] == 2  # day 1 keeps its last check, day 2 its only one
    assert len(store.query("SELECT * FROM checks")) == 2
    assert store.integrity() == "ok"


def test_readonly_reader_sees_committed_data_while_writer_works(tmp_path):
    path = tmp_path / "inv.sqlite"
    writer = Store.open(path)
    writer.sync([A], NOW)
    reader = Store.open(path, readonly=True)
    reader.conn.execute("BEGIN")  # an analyst's long read transaction
    assert reader.query("SELECT count(*) AS n FROM accounts")[0]["n"] == 1
    writer.sync([A, B], NOW)  # WAL: the writer is not blocked by the open read
    assert reader.query("SELECT count(*) AS n FROM accounts")[0]["n"] == 1  # snapshot isolation
    reader.conn.execute("COMMIT")
    assert reader.query("SELECT count(*) AS n FROM accounts")[0]["n"] == 2
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
    acc = store.account("a")
    assert (acc["source_url"], acc["etag"]) == ("https://a.example.se/", '"page"')
    assert acc["last_modified"] == "Tue, 28 Feb 2023 10:00:00 GMT"
    check = store.query("SELECT url, http_status, etag, content_sha256 FROM checks")[0]
    assert (check["url"], check["http_status"], check["etag"]) == ("https://a.example.se/", 200, '"page"')
    assert check["content_sha256"] == hashlib.sha256(b"<html/>").hexdigest()


def test_audit_trails_are_append_only(store):
    store.sync([A], NOW)
    _visit(store, NOW)
    for table in ("status_changes", "registry_changes"):
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            store.conn.execute(f"DELETE FROM {table}")
        with pytest.raises(sqlite3.IntegrityError, match="never changed"):
            store.conn.execute(f"UPDATE {table} SET at = 'x'")
    assert len(store.query("SELECT * FROM status_changes")) == 1


def test_last_post_url_is_the_evidence_for_last_post_at(store):
    store.sync([A], NOW)
    newer = Post("https://a.example.se/2023/02/newer/", NOW - timedelta(days=1))
    older = Post("https://a.example.se/2023/01/older/", NOW - timedelta(days=40))
    _visit(store, NOW, posts=[newer, older])
    assert store.account("a")["last_post_url"] == newer.url
    # a truncated feed shows only the older post; the classifier keeps the newer date...
    fetched = Fetched(url="https://a.example.se/feed/", final_url="https://a.example.se/feed/", status=200)
    obs = Observation("wordpress", True, "feed parsed", last_post_at=older.published_at, posts=(older,),
                      source_url="https://a.example.se/feed/")
    kept = Verdict("active", "last post recent", False, newer.published_at)
    store.record_visit(Visit("a", None, NOW + timedelta(days=1), "ok", [fetched], obs, kept))
    acc = store.account("a")
    # ...and the URL kept as evidence must still be the post with that date
    assert (acc["last_post_at"], acc["last_post_url"]) == (newer.published_at.isoformat(), newer.url)
    # an estimated date (a post-count rise) has no post URL: the old evidence no longer applies
    estimate = Verdict("active", "post count rose", False, NOW + timedelta(days=2), last_post_estimated=True)
    store.record_visit(Visit("a", None, NOW + timedelta(days=2), "ok", [fetched],
                             Observation("wordpress", True, "x", source_url=fetched.url), estimate))
    assert store.account("a")["last_post_url"] is None


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
        assert reader.query("SELECT count(*) AS n FROM current_inventory")[0]["n"] == 0
    with Store.open(path) as writer:  # the next writer migrates
        assert writer.schema_version() == SCHEMA_VERSION
