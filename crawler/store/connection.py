"""Opening the inventory, migrating it, transactions, and the conversions every part shares.

Times are stored as ISO 8601 text in UTC ("2023-03-01T02:00:00+00:00"), which sorts and compares
correctly as text.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from crawler.errors import BusyError, StoreError
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
        # Read as immutable: SQLite neither locks the file nor reads a write-ahead log, so a write
        # made while this store is open may go unseen (see docs/ANALYSTS.md).
        self.immutable = False

    # ------------------------------------------------------------------ opening and migrations

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False, migrate: bool = True) -> Self:
        """Open (and create or migrate) the inventory at `path`; read-only with `readonly`.

        A read-only open needs no write access anywhere: where SQLite cannot create the shared-memory
        file of the write-ahead log beside the inventory (a folder this user cannot write, a
        read-only file system) and no log is waiting to be applied, the file is read as immutable
        (see `immutable`). Every failure is a StoreError that says what to do.
        """
        path = str(path)
        immutable = False
        try:
            if readonly:
                conn, immutable = _connect_readonly(path)
            else:
                conn = _connect_writable(path)
        except sqlite3.Error as exc:
            raise StoreError(explain(exc, path, writing=not readonly)) from None
        store = cls(conn, path)
        store.immutable = immutable
        try:
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
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return self._scalar("PRAGMA user_version")

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
                busy = exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy:
                    raise StoreError(explain(exc, self.path, writing=True)) from None
                if attempt == retries - 1:
                    raise BusyError(f"the inventory {self.path} is locked by another writer: {exc}") from None
                time.sleep(0.2 * (attempt + 1))
        try:
            yield self._conn
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(explain(exc, self.path, writing=True)) from None
        except BaseException:
            self._rollback()
            raise
        else:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(explain(exc, self.path, writing=True)) from None

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already (full disk, I/O)
                self._conn.execute("ROLLBACK")

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read query as dicts. Private: readers use the named reads (crawler.store.reads)."""
        try:
            return list(self._db.query(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(explain(exc, self.path, writing=False)) from None

    def _scalar(self, sql: str) -> Any:
        try:
            return self._conn.execute(sql).fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(explain(exc, self.path, writing=False)) from None

    # sqlite-utils' write helpers wrap themselves in `with conn:`, which would commit our open
    # transaction early; inside transactions we write with plain SQL.
    def _insert(self, table: str, row: dict[str, Any]) -> None:
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self._conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))

    def _update_account(self, ident: str, changes: dict[str, Any]) -> None:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        self._conn.execute(f"UPDATE accounts SET {assignments} WHERE id = ?", [*changes.values(), ident])


# ------------------------------------------------------------------------------ connecting


def _connect_writable(path: str) -> sqlite3.Connection:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(cannot_write(path, exc.strerror or str(exc))) from None
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            raise sqlite3.OperationalError("attempt to write a readonly database")  # cannot switch: cannot write
        conn.execute("PRAGMA synchronous = NORMAL")  # safe against corruption in WAL mode
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the header: "not a database" here
    except BaseException:
        conn.close()
        raise
    return conn


# SQLite's answers when it cannot set up the write-ahead log's shared memory beside a file it may read
_NEEDS_WRITE_ACCESS = {"SQLITE_READONLY_DIRECTORY", "SQLITE_READONLY_CANTINIT", "SQLITE_READONLY_CANTLOCK",
                       "SQLITE_READONLY_RECOVERY", "SQLITE_CANTOPEN", "SQLITE_READONLY"}


def _connect_readonly(path: str) -> tuple[sqlite3.Connection, bool]:
    """(connection, immutable): mode=ro, else immutable=1 when only write access to the folder is missing."""
    file = Path(path)
    if not file.is_file():
        raise StoreError(f"no inventory at {path}.\n\nRun `crawler crawl` (or `crawler sources sync`) first, or "
                         "name the inventory with --db or CRAWLER_DB.")
    if not os.access(file, os.R_OK):
        raise StoreError(f"this user ({_user()}) may not read the inventory {path}.\n\n"
                         f"Run the command as its owner ({_owner(file)}), or ask them to give you read access.")
    uri = file.absolute().as_uri()
    try:
        return _probe(sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)), False
    except sqlite3.Error as exc:
        if exc.sqlite_errorname not in _NEEDS_WRITE_ACCESS:
            raise
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(
                f"cannot read {path} read-only: its newest changes are still in {wal.name}, and applying them "
                f"needs write access to {file.parent.absolute()} ({exc}).\n\n"
                f"Run the command as the inventory's owner ({_owner(file)}), or copy {file.name} and "
                f"{wal.name} together into a folder you may write and read the copy."
            ) from None
    # No log to apply: the file itself is the whole inventory. Immutable skips the shared memory (and
    # locking) SQLite cannot create here; the trade-off is that a write made meanwhile goes unseen.
    return _probe(sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None,
                                  check_same_thread=False)), True


def _probe(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Make SQLite read the file now (connect is lazy), so that every failure shows at open."""
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def explain(exc: sqlite3.Error, path: str, *, writing: bool) -> str:
    """What went wrong with the inventory at `path`, and what to do, from SQLite's error."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or name.startswith("SQLITE_CORRUPT"):
        return (f"{path} is not a readable SQLite inventory ({exc}).\n\n"
                "Check that --db, CRAWLER_DB or the `db` setting names the inventory. If it does, the file is "
                "damaged: restore it from a backup, or move it aside and the next `crawler crawl` (or "
                "`crawler sources sync`) starts a new, empty inventory.")
    if name.startswith("SQLITE_FULL"):
        return (f"the disk holding {path} is full ({exc}); nothing of the failed write was kept.\n\n"
                "Free some space, then run the command again.")
    if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED"):
        return f"the inventory {path} is locked by another process ({exc}); try again when it has finished."
    if writing and (name.startswith("SQLITE_READONLY") or name.startswith("SQLITE_CANTOPEN")
                    or name.startswith("SQLITE_PERM") or name.startswith("SQLITE_AUTH")):
        return cannot_write(path, str(exc))
    if name.startswith("SQLITE_CANTOPEN"):
        return (f"cannot open the inventory {path} ({exc}).\n\n"
                "Check that the file and its folder exist and that this user may read them.")
    if name.startswith("SQLITE_IOERR"):
        return (f"could not {'write' if writing else 'read'} the inventory {path}: {exc}.\n\n"
                "Check the disk (and its free space, `df`), then run the command again.")
    return f"the inventory {path} failed: {exc}"


def cannot_write(path: str, detail: str) -> str:
    """The message for an inventory (or a file beside it) this process may not write, with the reason
    that applies and what to do."""
    file = Path(path)
    folder = (file.parent if str(file.parent) else Path(".")).absolute()
    if read_only_file_system(path):
        why = (f"it lies on a read-only file system ({folder}).\n\nRemount that file system read-write, or name "
               "an inventory on a writable one with --db or CRAWLER_DB.")
    elif not os.access(folder, os.W_OK | os.X_OK):
        why = (f"this user ({_user()}) may not write its folder {folder}, where SQLite keeps the inventory's "
               f"journal.\n\nRun the command as the inventory's owner ({_owner(file)}), or give this user write "
               "access to the folder. Reading needs no write access: `crawler status`, `report`, `export` and "
               "`review list/show` work as they are.")
    elif file.exists() and not os.access(file, os.W_OK):
        why = (f"this user ({_user()}) may not write the file.\n\nRun the command as its owner ({_owner(file)}), "
               "or give this user write access. Reading needs no write access: `crawler status`, `report`, "
               "`export` and `review list/show` work as they are.")
    else:
        why = "check that the disk is healthy and the path is a file this user may write."
    return f"cannot write the inventory {path} ({detail}): {why}"


def read_only_file_system(path: str | Path) -> bool:
    """True when the file system holding `path` (or the nearest existing folder above it) is mounted read-only."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _owner(file: Path) -> str:
    try:
        uid = file.stat().st_uid
    except OSError:
        return "the user the crawler service runs as"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
