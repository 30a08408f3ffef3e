"""Opening the inventory, migrating it, transactions, and the conversions every part shares.

Times are stored as ISO 8601 text in UTC ("2023-03-01T02:00:00+00:00"), which sorts and compares
correctly as text.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from crawler.errors import StoreError
from crawler.store.schema import MIGRATIONS, MIN_READABLE_VERSION, SCHEMA_VERSION, _statements

BUSY_TIMEOUT_MS = 30_000


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


class Connection:
    """One connection to the inventory; the parts of `Store` (writes, reads) build on it."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self._conn = conn
        self._db = sqlite_utils.Database(conn)
        self.path = path
        self._version = 0  # the schema version, once opened (readers adapt to an older one)

    # ------------------------------------------------------------------ opening and migrations

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False, migrate: bool = True) -> Self:
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
        store._version = store.schema_version()
        return store

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction; return the new version."""
        version = self.schema_version()
        while version < SCHEMA_VERSION:
            with self.transaction():
                # executescript would commit on its own; run statement by statement instead.
                for statement in _statements(MIGRATIONS[version]):
                    self._conn.execute(statement)
                version += 1
                self._conn.execute(f"PRAGMA user_version = {version}")
        return version

    @contextmanager
    def transaction(self, retries: int = 5) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back whole on any error.

        Taking the write lock up front (IMMEDIATE) means a busy database fails at BEGIN, after the
        busy timeout, not halfway; we retry that a few times before giving up.
        """
        for attempt in range(retries):
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == retries - 1:
                    raise StoreError(f"the inventory {self.path} is locked by another writer: {exc}") from None
                time.sleep(0.2 * (attempt + 1))
        try:
            yield self._conn
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read query as dicts. Private: readers use the named reads (crawler.store.reads)."""
        return list(self._db.query(sql, params))

    # sqlite-utils' write helpers wrap themselves in `with conn:`, which would commit our open
    # transaction early; inside transactions we write with plain SQL.
    def _insert(self, table: str, row: dict[str, Any]) -> None:
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self._conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))

    def _update_account(self, ident: str, changes: dict[str, Any]) -> None:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        self._conn.execute(f"UPDATE accounts SET {assignments} WHERE id = ?", [*changes.values(), ident])
