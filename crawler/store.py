"""The SQLite inventory: schema, migrations, writes, and the queries reports and review use.

The only module that touches SQLite. The database runs in WAL mode so analysts (sqlite3,
Datasette, `crawler report`) read while the crawler writes; every visit of an account is written
in one transaction, so a kill at any moment leaves each account fully written or untouched.

Times are stored as ISO 8601 text in UTC ("2023-03-01T02:00:00+00:00"), which sorts and compares
correctly as text. GDPR: no post bodies, titles or media; post URLs only hashed, except the
newest post's URL (evidence for the last-post date) and the URL of a flagged notice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from crawler.errors import NotFound, StoreError
from crawler.models import (
    STATUSES,
    Account,
    Fetched,
    NoticeHit,
    Observation,
    PriorState,
    Verdict,
    source_fetch,
)

BUSY_TIMEOUT_MS = 30_000

# Forward migrations: MIGRATIONS[n] brings user_version n to n+1. Never edit a released step;
# append a new one. Each runs in one transaction with the version bump.
MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema
    """
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        unit TEXT NOT NULL,
        area TEXT NOT NULL,
        platform TEXT NOT NULL,
        url TEXT NOT NULL,
        feed_url TEXT,                 -- declared in sources.yaml
        added TEXT,
        notes TEXT,
        registered_at TEXT NOT NULL,   -- first seen in the registry
        deregistered_at TEXT,          -- removed from the registry (never deleted here)
        status TEXT,                   -- active | dormant | gone | unknown (NULL: never checked)
        status_since TEXT,
        status_reason TEXT,
        last_post_at TEXT,
        last_post_estimated INTEGER NOT NULL DEFAULT 0,
        last_post_url TEXT,            -- the newest post only, as evidence
        last_checked_at TEXT,
        last_ok_at TEXT,
        post_count INTEGER,
        post_count_at TEXT,
        post_count_since TEXT,         -- first read of the current post count
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        gone_streak INTEGER NOT NULL DEFAULT 0,
        gone_streak_since TEXT,
        announced_move INTEGER NOT NULL DEFAULT 0,
        discovered_feed_url TEXT,      -- a feed that worked, tried first next time
        source_url TEXT,               -- the URL the last observation was read from
        etag TEXT,                     -- validators of source_url, for conditional GET
        last_modified TEXT
    );
    CREATE INDEX accounts_platform ON accounts(platform);
    CREATE INDEX accounts_area ON accounts(area);
    CREATE INDEX accounts_status ON accounts(status);

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,      -- wall clock
        finished_at TEXT,
        clock_at TEXT NOT NULL,        -- the crawl's `now` (differs from wall clock in the demo)
        state TEXT NOT NULL,           -- running | finished | interrupted | failed
        trigger TEXT,                  -- manual | schedule | demo
        pid INTEGER,
        accounts_total INTEGER NOT NULL DEFAULT 0,
        accounts_done INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        summary TEXT,
        error TEXT
    );

    CREATE TABLE checks (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        account_id TEXT NOT NULL REFERENCES accounts(id),
        started_at TEXT NOT NULL,
        url TEXT NOT NULL,
        final_url TEXT,
        http_status INTEGER,
        outcome TEXT NOT NULL,         -- ok | not_modified | gone | login_wall | blocked_by_robots | error
        error TEXT,                    -- the fetch error kind (crawler.models.FETCH_ERRORS)
        reason TEXT,                   -- the parser's or fetcher's short explanation
        etag TEXT,
        last_modified TEXT,
        content_sha256 TEXT,
        bytes INTEGER,
        elapsed_ms INTEGER,
        requests INTEGER,
        exists_ INTEGER,               -- 1 / 0 / NULL (cannot tell)
        last_post_at TEXT,
        posts_seen INTEGER,
        post_count INTEGER,
        status TEXT                    -- the account's status after this check
    );
    CREATE INDEX checks_account_time ON checks(account_id, started_at);
    CREATE INDEX checks_run ON checks(run_id);

    CREATE TABLE posts (
        account_id TEXT NOT NULL REFERENCES accounts(id),
        url_sha256 TEXT NOT NULL,
        published_at TEXT,
        first_seen_at TEXT NOT NULL,
        PRIMARY KEY (account_id, url_sha256)
    ) WITHOUT ROWID;

    CREATE TABLE notices (
        id INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        key_sha256 TEXT NOT NULL,      -- hash of the post URL (or of the text when there is none)
        post_url TEXT,
        published_at TEXT,
        detected_at TEXT NOT NULL,
        score REAL NOT NULL,
        kind TEXT NOT NULL,            -- move | closing
        matched TEXT NOT NULL,         -- JSON list of matched phrases
        snippet TEXT NOT NULL,         -- at most ~200 characters, names masked
        state TEXT NOT NULL DEFAULT 'pending',  -- pending | confirmed | rejected
        reviewer TEXT,
        reviewed_at TEXT,
        comment TEXT,
        UNIQUE (account_id, key_sha256)
    );
    CREATE INDEX notices_state ON notices(state);

    CREATE TABLE notice_reviews (      -- the audit trail: append only
        id INTEGER PRIMARY KEY,
        notice_id INTEGER NOT NULL REFERENCES notices(id),
        at TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        old_state TEXT NOT NULL,
        new_state TEXT NOT NULL,
        comment TEXT
    );

    CREATE TABLE status_changes (
        id INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        at TEXT NOT NULL,
        old TEXT,
        new TEXT NOT NULL,
        reason TEXT,
        run_id INTEGER
    );
    CREATE INDEX status_changes_account_time ON status_changes(account_id, at);
    CREATE INDEX status_changes_time ON status_changes(at);

    CREATE TABLE registry_changes (
        id INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        at TEXT NOT NULL,
        change TEXT NOT NULL,          -- added | updated | deregistered | reregistered
        detail TEXT
    );

    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        taken_at TEXT NOT NULL,        -- the crawl's clock
        registered INTEGER NOT NULL,
        existing INTEGER NOT NULL,     -- registered and not gone
        active INTEGER NOT NULL,
        dormant INTEGER NOT NULL,
        gone INTEGER NOT NULL,
        unknown INTEGER NOT NULL,
        unchecked INTEGER NOT NULL,
        announced INTEGER NOT NULL,    -- accounts with a confirmed notice
        pending_review INTEGER NOT NULL
    );
    CREATE INDEX snapshots_time ON snapshots(taken_at);

    CREATE TABLE snapshot_counts (     -- the same counts broken down by platform and by area
        snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
        dimension TEXT NOT NULL,       -- platform | area
        key TEXT NOT NULL,
        status TEXT NOT NULL,          -- active | dormant | gone | unknown | unchecked
        count INTEGER NOT NULL,
        PRIMARY KEY (snapshot_id, dimension, key, status)
    ) WITHOUT ROWID;

    """,
    # 1 -> 2: views for analysts (documented in the README)
    """
    CREATE VIEW current_inventory AS
        SELECT id, unit, area, platform, url, status, status_since, status_reason, last_post_at,
               last_post_estimated, post_count, last_checked_at, last_ok_at, consecutive_failures,
               announced_move, registered_at
        FROM accounts WHERE deregistered_at IS NULL;

    CREATE VIEW status_over_time AS
        SELECT taken_at, registered, existing, active, dormant, gone, unknown, unchecked,
               announced, pending_review, run_id
        FROM snapshots ORDER BY taken_at;

    CREATE VIEW pending_review AS
        SELECT n.id, n.account_id, a.unit, a.area, a.platform, n.published_at, n.detected_at,
               n.score, n.kind, n.snippet, n.post_url
        FROM notices n JOIN accounts a ON a.id = n.account_id
        WHERE n.state = 'pending' ORDER BY n.detected_at;

    CREATE VIEW account_history AS
        SELECT c.account_id, a.unit, a.area, a.platform, c.at, c.old, c.new, c.reason
        FROM status_changes c JOIN accounts a ON a.id = c.account_id
        ORDER BY c.account_id, c.at;
    """,
    # 2 -> 3: the audit trails are append-only, enforced by the database itself
    """
    CREATE TRIGGER notice_reviews_append_only_update BEFORE UPDATE ON notice_reviews
    BEGIN SELECT RAISE(ABORT, 'notice_reviews is an audit trail: rows are never changed'); END;
    CREATE TRIGGER notice_reviews_append_only_delete BEFORE DELETE ON notice_reviews
    BEGIN SELECT RAISE(ABORT, 'notice_reviews is an audit trail: rows are never deleted'); END;
    CREATE TRIGGER status_changes_append_only_update BEFORE UPDATE ON status_changes
    BEGIN SELECT RAISE(ABORT, 'status_changes is a history: rows are never changed'); END;
    CREATE TRIGGER status_changes_append_only_delete BEFORE DELETE ON status_changes
    BEGIN SELECT RAISE(ABORT, 'status_changes is a history: rows are never deleted'); END;
    CREATE TRIGGER registry_changes_append_only_update BEFORE UPDATE ON registry_changes
    BEGIN SELECT RAISE(ABORT, 'registry_changes is an audit trail: rows are never changed'); END;
    CREATE TRIGGER registry_changes_append_only_delete BEFORE DELETE ON registry_changes
    BEGIN SELECT RAISE(ABORT, 'registry_changes is an audit trail: rows are never deleted'); END;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
# Readers (status, report, export, browse) need the tables and the analyst views (version 2); later
# versions add nothing they read, so an inventory the service has not migrated yet stays readable.
MIN_READABLE_VERSION = 2

# The registry's columns that sync compares (deregistered_at last).
_SYNC_COLUMNS = ("unit", "area", "platform", "url", "feed_url", "added", "notes", "deregistered_at")


def iso(dt: datetime | None) -> str | None:
    """UTC ISO 8601 text for a timezone-aware datetime (naive ones are taken as UTC)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SyncResult:
    added: list[str]
    updated: list[str]
    deregistered: list[str]
    reregistered: list[str]


@dataclass(frozen=True)
class AccountState:
    """What the crawl needs to know about an account before visiting it."""

    prior: PriorState
    source_url: str | None
    discovered_feed_url: str | None
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class Visit:
    """Everything one visit of one account produced, written in one transaction."""

    account_id: str
    run_id: int | None
    at: datetime
    outcome: str
    fetches: Sequence[Fetched]
    observation: Observation | None
    verdict: Verdict
    notices: Sequence[NoticeHit] = ()


class Store:
    """The inventory database. Open with `Store.open(path)`; use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.path = path

    # ------------------------------------------------------------------ opening and migrations

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False, migrate: bool = True) -> Store:
        """Open (and create or migrate) the inventory at `path`."""
        path = str(path)
        try:
            if readonly:
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False)
            else:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")  # safe against corruption in WAL mode
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the inventory {path}: {exc}") from None
        store = cls(conn, path)
        version = store.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} has schema version {version}, newer than this crawler knows ({SCHEMA_VERSION}).\n\n"
                "Upgrade the crawler package before using this inventory."
            )
        if migrate and not readonly and version < SCHEMA_VERSION:
            store.migrate()
        elif version < (MIN_READABLE_VERSION if readonly else SCHEMA_VERSION):
            raise StoreError(f"{path} needs a schema upgrade; run `crawler sources sync` once to migrate it")
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction; return the new version."""
        version = self.schema_version()
        while version < SCHEMA_VERSION:
            with self.transaction():
                # executescript would commit on its own; run statement by statement instead.
                for statement in _statements(MIGRATIONS[version]):
                    self.conn.execute(statement)
                version += 1
                self.conn.execute(f"PRAGMA user_version = {version}")
        return version

    @contextmanager
    def transaction(self, retries: int = 5) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back whole on any error.

        Taking the write lock up front (IMMEDIATE) means a busy database fails at BEGIN, after the
        busy timeout, not halfway; we retry that a few times before giving up.
        """
        for attempt in range(retries):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == retries - 1:
                    raise StoreError(f"the inventory {self.path} is locked by another writer: {exc}") from None
                time.sleep(0.2 * (attempt + 1))
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ registry sync

    def sync(self, accounts: Iterable[Account], now: datetime) -> SyncResult:
        """Bring the registry into the store: add, update, deregister (never delete)."""
        at = iso(now)
        wanted = {a.id: a for a in accounts}
        # Only the columns compared here, as tuples: a dict of every column cost ~2 KB an account,
        # a 200 MB transient peak for a registry of 100,000.
        current = {
            row[0]: row[1:]
            for row in self.conn.execute(f"SELECT id, {', '.join(_SYNC_COLUMNS)} FROM accounts")
        }
        added, updated, deregistered, reregistered = [], [], [], []
        with self.transaction():
            for ident, a in wanted.items():
                fields = {
                    "unit": a.unit, "area": a.area, "platform": a.platform, "url": a.url,
                    "feed_url": a.feed, "added": a.added.isoformat() if a.added else None, "notes": a.notes,
                }
                row = current.get(ident)
                if row is None:
                    self._insert("accounts", {"id": ident, "registered_at": at, **fields})
                    self._registry_change(ident, at, "added", a.url)
                    added.append(ident)
                    continue
                row = dict(zip(_SYNC_COLUMNS, row, strict=True))
                changed = {k: v for k, v in fields.items() if row[k] != v}
                if row["deregistered_at"] is not None:
                    changed["deregistered_at"] = None
                    self._registry_change(ident, at, "reregistered", None)
                    reregistered.append(ident)
                if changed:
                    if "url" in changed or "feed_url" in changed:
                        # a new address: forget validators and discovered feeds of the old one
                        changed.update(source_url=None, discovered_feed_url=None, etag=None, last_modified=None)
                    self._update_account(ident, changed)
                    detail = ", ".join(sorted(k for k in changed if k in fields))
                    if detail:
                        self._registry_change(ident, at, "updated", detail)
                        updated.append(ident)
            for ident, row in current.items():
                if ident not in wanted and row[-1] is None:  # deregistered_at
                    self._update_account(ident, {"deregistered_at": at})
                    self._registry_change(ident, at, "deregistered", None)
                    deregistered.append(ident)
        return SyncResult(added, updated, deregistered, reregistered)

    # sqlite-utils' write helpers wrap themselves in `with conn:`, which would commit our open
    # transaction early; inside transactions we write with plain SQL.
    def _insert(self, table: str, row: dict[str, Any]) -> None:
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))

    def _update_account(self, ident: str, changes: dict[str, Any]) -> None:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        self.conn.execute(f"UPDATE accounts SET {assignments} WHERE id = ?", [*changes.values(), ident])

    def _registry_change(self, ident: str, at: str | None, change: str, detail: str | None) -> None:
        self.conn.execute(
            "INSERT INTO registry_changes (account_id, at, change, detail) VALUES (?, ?, ?, ?)",
            (ident, at, change, detail),
        )

    # ------------------------------------------------------------------ crawl: reads

    def account_states(self, ids: Iterable[str] | None = None) -> dict[str, AccountState]:
        """The prior state of each (registered) account, for the classifier and conditional GET."""
        rows = self.db.query("SELECT * FROM accounts WHERE deregistered_at IS NULL")
        wanted = set(ids) if ids is not None else None
        out = {}
        for r in rows:
            if wanted is not None and r["id"] not in wanted:
                continue
            out[r["id"]] = AccountState(
                prior=PriorState(
                    status=r["status"],
                    status_since=parse_iso(r["status_since"]),
                    last_post_at=parse_iso(r["last_post_at"]),
                    post_count=r["post_count"],
                    post_count_at=parse_iso(r["post_count_at"]),
                    post_count_since=parse_iso(r["post_count_since"]),
                    last_post_estimated=bool(r["last_post_estimated"]),
                    consecutive_failures=r["consecutive_failures"],
                    gone_streak=r["gone_streak"],
                    gone_streak_since=parse_iso(r["gone_streak_since"]),
                    last_checked_at=parse_iso(r["last_checked_at"]),
                ),
                source_url=r["source_url"],
                discovered_feed_url=r["discovered_feed_url"],
                etag=r["etag"],
                last_modified=r["last_modified"],
            )
        return out

    # ------------------------------------------------------------------ crawl: writes

    def start_run(self, clock_at: datetime, total: int, trigger: str, pid: int) -> int:
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO runs (started_at, clock_at, state, trigger, pid, accounts_total) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                (iso(utcnow()), iso(clock_at), trigger, pid, total),
            )
            return cur.lastrowid

    def finish_run(self, run_id: int, state: str, *, done: int, errors: int, requests: int = 0,
                   bytes_: int = 0, summary: str | None = None, error: str | None = None) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, state = ?, accounts_done = ?, errors = ?, requests = ?, "
                "bytes = ?, summary = ?, error = ? WHERE id = ?",
                (iso(utcnow()), state, done, errors, requests, bytes_, summary, error, run_id),
            )

    def mark_stale_runs(self) -> int:
        """Runs left `running` by a killed process are marked interrupted (call with the lock held)."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE runs SET state = 'interrupted', error = coalesce(error, 'process ended without finishing') "
                "WHERE state = 'running'"
            )
            return cur.rowcount

    def record_visit(self, visit: Visit) -> int:
        """Write one visit: the check, new posts, notices, the status change and the account row.

        Returns how many of the visit's notices were new (a post already flagged is not again).
        """
        at = iso(visit.at)
        obs, verdict = visit.observation, visit.verdict
        last = source_fetch(visit.fetches, obs)  # every field of the check row comes from this response
        requests = sum(f.attempts for f in visit.fetches)
        size = sum(len(f.body) for f in visit.fetches if f.body)
        body = last.body if last else None
        posts = obs.posts if obs else ()
        with self.transaction():
            row = self.conn.execute("SELECT status, last_post_at FROM accounts WHERE id = ?",
                                    (visit.account_id,)).fetchone()
            if row is None:
                raise NotFound(f"account {visit.account_id!r} is not in the inventory; run `crawler sources sync`")
            old_status, old_last_post = row
            self.conn.execute(
                "INSERT INTO checks (run_id, account_id, started_at, url, final_url, http_status, outcome, error, "
                "reason, etag, last_modified, content_sha256, bytes, elapsed_ms, requests, exists_, last_post_at, "
                "posts_seen, post_count, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    visit.run_id, visit.account_id, at,
                    last.url if last else "",
                    last.final_url if last else None,
                    last.status if last else None,
                    visit.outcome,
                    last.error if last else None,
                    (obs.reason if obs else (last.error_message if last else None)),
                    last.headers.get("etag") if last else None,
                    last.headers.get("last-modified") if last else None,
                    hashlib.sha256(body).hexdigest() if body is not None else None,
                    size,
                    sum(f.elapsed_ms for f in visit.fetches),
                    requests,
                    None if obs is None or obs.exists is None else int(obs.exists),
                    iso(obs.last_post_at) if obs else None,
                    len(posts) if obs else None,
                    obs.post_count if obs else None,
                    verdict.status,
                ),
            )
            if posts:
                self.conn.executemany(
                    "INSERT OR IGNORE INTO posts (account_id, url_sha256, published_at, first_seen_at) "
                    "VALUES (?, ?, ?, ?)",
                    [
                        (visit.account_id, sha256(p.url or iso(p.published_at) or ""), iso(p.published_at), at)
                        for p in posts
                    ],
                )
            new_notices = sum(self.add_notice(visit.account_id, hit, visit.at) is not None for hit in visit.notices)

            update: dict[str, Any] = {
                "status": verdict.status,
                "status_reason": verdict.reason,
                "last_post_at": iso(verdict.last_post_at),
                "last_post_estimated": int(verdict.last_post_estimated),
                "last_checked_at": at,
                "consecutive_failures": verdict.consecutive_failures,
                "gone_streak": verdict.gone_streak,
                "gone_streak_since": iso(verdict.gone_streak_since),
                "post_count_since": iso(verdict.post_count_since),
            }
            if verdict.changed or old_status != verdict.status:
                update["status_since"] = at
                self.conn.execute(
                    "INSERT INTO status_changes (account_id, at, old, new, reason, run_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (visit.account_id, at, old_status, verdict.status, verdict.reason, visit.run_id),
                )
            if visit.outcome in ("ok", "not_modified"):
                update["last_ok_at"] = at
            if obs is not None and visit.outcome == "ok":
                # the URL is evidence for last_post_at: only the post that carries that very date
                evidence = next((p for p in posts if p.url and p.published_at == verdict.last_post_at), None)
                if evidence is not None:
                    update["last_post_url"] = evidence.url
                elif iso(verdict.last_post_at) != old_last_post:
                    update["last_post_url"] = None  # a new date (an estimate, a post without URL)
                if obs.post_count is not None:
                    update["post_count"] = obs.post_count
                    update["post_count_at"] = at
                if obs.feed_url:
                    update["discovered_feed_url"] = obs.feed_url
                # the validators must be those of the response the observation was read from,
                # which is not always the last fetch (a discovered feed may have failed after it)
                source = next((f for f in reversed(visit.fetches) if f.url == obs.source_url and f.ok), None)
                if source is not None:
                    update["source_url"] = obs.source_url
                    update["etag"] = source.headers.get("etag")
                    update["last_modified"] = source.headers.get("last-modified")
            self._update_account(visit.account_id, update)
        return new_notices

    def add_notice(self, account_id: str, hit: NoticeHit, at: datetime) -> int | None:
        """Store a flagged notice once per (account, post); returns its id, None if already known."""
        key = sha256(hit.post_url or f"{hit.kind}:{hit.snippet}")
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO notices (account_id, key_sha256, post_url, published_at, detected_at, score, "
            "kind, matched, snippet) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account_id, key, hit.post_url, iso(hit.published_at), iso(at), hit.score, hit.kind,
             json.dumps(list(hit.matched), ensure_ascii=False), hit.snippet),
        )
        return cur.lastrowid if cur.rowcount else None

    def take_snapshot(self, run_id: int | None, at: datetime) -> int:
        """Counts by status (overall, by platform, by area) of the registered accounts at `at`."""
        with self.transaction():
            rows = self.conn.execute(
                "SELECT platform, area, coalesce(status, 'unchecked'), announced_move, count(*) FROM accounts "
                "WHERE deregistered_at IS NULL GROUP BY 1, 2, 3, 4"
            ).fetchall()
            totals = dict.fromkeys((*STATUSES, "unchecked"), 0)
            by: dict[tuple[str, str, str], int] = {}
            announced = 0
            for platform, area, status, moved, n in rows:
                totals[status] += n
                announced += n if moved else 0
                by[("platform", platform, status)] = by.get(("platform", platform, status), 0) + n
                by[("area", area, status)] = by.get(("area", area, status), 0) + n
            pending = self.conn.execute("SELECT count(*) FROM notices WHERE state = 'pending'").fetchone()[0]
            registered = sum(totals.values())
            cur = self.conn.execute(
                "INSERT INTO snapshots (run_id, taken_at, registered, existing, active, dormant, gone, unknown, "
                "unchecked, announced, pending_review) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, iso(at), registered, registered - totals["gone"], totals["active"], totals["dormant"],
                 totals["gone"], totals["unknown"], totals["unchecked"], announced, pending),
            )
            snapshot_id = cur.lastrowid
            self.conn.executemany(
                "INSERT INTO snapshot_counts (snapshot_id, dimension, key, status, count) VALUES (?, ?, ?, ?, ?)",
                [(snapshot_id, d, k, s, n) for (d, k, s), n in sorted(by.items())],
            )
            return snapshot_id

    # ------------------------------------------------------------------ queries

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read query as dicts (for reports, status and review)."""
        return list(self.db.query(sql, params))

    def account(self, ident: str) -> dict[str, Any]:
        rows = self.query("SELECT * FROM accounts WHERE id = ?", [ident])
        if not rows:
            raise NotFound(f"no account with id {ident!r}")
        return rows[0]

    def counts(self) -> dict[str, int]:
        return {r["s"]: r["n"] for r in self.query(
            "SELECT coalesce(status, 'unchecked') AS s, count(*) AS n FROM accounts "
            "WHERE deregistered_at IS NULL GROUP BY 1")}

    # ------------------------------------------------------------------ maintenance

    def maintain(self, now: datetime, retention_days: int) -> dict[str, int]:
        """Prune old raw checks (keeping each account's last check of every day), optimize, checkpoint."""
        cutoff = iso(now.astimezone(timezone.utc).replace(microsecond=0) - timedelta(days=retention_days))
        with self.transaction():
            cur = self.conn.execute(
                """
                DELETE FROM checks WHERE started_at < :cutoff AND id NOT IN (
                    SELECT max(id) FROM checks WHERE started_at < :cutoff
                    GROUP BY account_id, substr(started_at, 1, 10)
                )
                """,
                {"cutoff": cutoff},
            )
            pruned = cur.rowcount
        self.conn.execute("PRAGMA optimize")
        busy, log, checkpointed = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return {"pruned_checks": pruned, "wal_frames": log, "checkpointed": checkpointed, "busy": busy}

    def integrity(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # --- review queue ---
    # The SQL of the reviewers' queue; the rules (who may change what, --force) are in review.py.

    _NOTICE_SELECT = (
        "SELECT n.id, n.account_id, a.unit, a.area, a.platform, a.url AS account_url, a.announced_move, "
        "n.post_url, n.published_at, n.detected_at, n.score, n.kind, n.matched, n.snippet, n.state, "
        "n.reviewer, n.reviewed_at, n.comment FROM notices n JOIN accounts a ON a.id = n.account_id"
    )

    def notices(self, state: str | None = None) -> list[dict[str, Any]]:
        """Flagged notices with their account, oldest detection first; all states when `state` is None."""
        where, params = ("WHERE n.state = ?", [state]) if state else ("", [])
        return self.query(f"{self._NOTICE_SELECT} {where} ORDER BY n.detected_at, n.id", params)

    def notice(self, notice_id: int) -> dict[str, Any]:
        """One notice with its account; NotFound when there is no such id."""
        rows = self.query(f"{self._NOTICE_SELECT} WHERE n.id = ?", [notice_id])
        if not rows:
            raise NotFound(f"no notice with id {notice_id}.\n\nList them with `crawler review list --state all`.")
        return rows[0]

    def notice_reviews(self, notice_id: int) -> list[dict[str, Any]]:
        """The audit trail of one notice, oldest first."""
        return self.query("SELECT id, notice_id, at, reviewer, old_state, new_state, comment FROM notice_reviews "
                          "WHERE notice_id = ? ORDER BY at, id", [notice_id])

    def set_notice_state(self, notice_id: int, expected: str, new: str, reviewer: str, at: datetime,
                         comment: str | None) -> bool:
        """Move a notice from state `expected` to `new`, append the audit row, recompute announced_move.

        All in one transaction; returns False (and writes nothing) when the notice is no longer in
        `expected` (another reviewer was quicker).
        """
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE notices SET state = ?, reviewer = ?, reviewed_at = ?, comment = ? WHERE id = ? AND state = ?",
                (new, reviewer, iso(at), comment, notice_id, expected),
            )
            if cur.rowcount != 1:
                return False
            self.conn.execute(
                "INSERT INTO notice_reviews (notice_id, at, reviewer, old_state, new_state, comment) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (notice_id, iso(at), reviewer, expected, new, comment),
            )
            # The flag follows the confirmed notices: set by any, cleared when none is left.
            self.conn.execute(
                "UPDATE accounts SET announced_move = EXISTS (SELECT 1 FROM notices n WHERE n.account_id = "
                "accounts.id AND n.state = 'confirmed') WHERE id = (SELECT account_id FROM notices WHERE id = ?)",
                (notice_id,),
            )
        return True



def _statements(script: str) -> list[str]:
    """Split a migration script into complete statements (sqlite3.complete_statement decides)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
