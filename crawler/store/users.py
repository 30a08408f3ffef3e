"""The web app's people: users with a role, their audit trail, and login sessions (schema version 7).

Writes are short transactions, so the web app never holds the write lock the crawl needs for more
than a moment. The rules (who may do what, how a name and a password must look, how a password is
hashed) live in crawler.web; here is only what is stored and read.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from crawler.errors import NotFound, StoreError
from crawler.store.connection import Connection, iso
from crawler.store.records import SessionRecord, UserChange, UserRecord, make
from crawler.store.schema import USERS_VERSION

ROLES = ("viewer", "reviewer", "admin")  # the schema's CHECK spells the same

_USER_COLUMNS = ("name, role, password_hash IS NOT NULL AS has_password, created_at, password_changed_at, "
                 "disabled_at, last_login_at")


class UserStore(Connection):
    """Users and sessions."""

    def _need_users(self) -> None:
        if self._version < USERS_VERSION:
            raise StoreError(f"{self.path} has no users yet (schema version {self._version}); run "
                             "`crawler users add NAME --role admin` (it migrates the inventory) first")

    # ------------------------------------------------------------------ users

    def users(self) -> list[UserRecord]:
        """Every user, by name."""
        if self._version < USERS_VERSION:
            return []
        return [make(UserRecord, r) for r in self._query(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name")]

    def user(self, name: str) -> UserRecord | None:
        """One user by login name, None when there is none."""
        if self._version < USERS_VERSION:
            return None
        rows = self._query(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", [name])
        return make(UserRecord, rows[0]) if rows else None

    def password_hash(self, name: str) -> str | None:
        """The stored hash of a user's password (for checking a login only), None without one."""
        if self._version < USERS_VERSION:
            return None
        rows = self._query("SELECT password_hash FROM users WHERE name = ?", [name])
        return rows[0]["password_hash"] if rows else None

    def add_user(self, name: str, role: str, password_hash: str | None, at: datetime, by: str) -> None:
        """A new user; StoreError when the name is taken."""
        self._need_users()
        with self.transaction():
            try:
                self._insert("users", {"name": name, "role": role, "password_hash": password_hash,
                                       "created_at": iso(at), "password_changed_at": iso(at) if password_hash else None})
            except sqlite3.IntegrityError:
                raise StoreError(f"there is already a user named {name!r}") from None
            self._user_change(name, at, by, "added", role)

    def set_user_role(self, name: str, role: str, at: datetime, by: str) -> None:
        self._change_user(name, {"role": role}, at, by, "role", role)

    def set_user_password(self, name: str, password_hash: str, at: datetime, by: str) -> None:
        """A new password; every session of the user ends (a stolen one too)."""
        self._change_user(name, {"password_hash": password_hash, "password_changed_at": iso(at)}, at, by,
                          "password", None, end_sessions=True)

    def set_user_disabled(self, name: str, disabled: bool, at: datetime, by: str) -> None:
        """Disable (sessions end at once) or enable a user."""
        self._change_user(name, {"disabled_at": iso(at) if disabled else None}, at, by,
                          "disabled" if disabled else "enabled", None, end_sessions=disabled)

    def user_changes(self, name: str | None = None) -> list[UserChange]:
        """The user-management trail (of one user, or all), oldest first."""
        if self._version < USERS_VERSION:
            return []
        where, params = ("WHERE user_name = ?", [name]) if name else ("", [])
        return [make(UserChange, r) for r in self._query(
            f"SELECT id, user_name, at, by, change, detail FROM user_changes {where} ORDER BY id", params)]

    def _change_user(self, name: str, changes: dict, at: datetime, by: str, change: str, detail: str | None,
                     *, end_sessions: bool = False) -> None:
        self._need_users()
        with self.transaction():
            assignments = ", ".join(f"{column} = ?" for column in changes)
            cursor = self._conn.execute(f"UPDATE users SET {assignments} WHERE name = ?", [*changes.values(), name])
            if cursor.rowcount == 0:
                raise NotFound(f"no user named {name!r}; `crawler users list` shows them")
            if end_sessions:
                self._conn.execute("DELETE FROM sessions WHERE user_name = ?", [name])
            self._user_change(name, at, by, change, detail)

    def _user_change(self, name: str, at: datetime, by: str, change: str, detail: str | None) -> None:
        self._insert("user_changes", {"user_name": name, "at": iso(at), "by": by, "change": change, "detail": detail})

    # ------------------------------------------------------------------ sessions

    def create_session(self, token_sha256: str, user_name: str, at: datetime, expires_at: datetime, via: str) -> None:
        """A signed-in browser (the user's last login is `at`)."""
        self._need_users()
        with self.transaction():
            self._insert("sessions", {"token_sha256": token_sha256, "user_name": user_name, "created_at": iso(at),
                                      "seen_at": iso(at), "expires_at": iso(expires_at), "via": via})
            self._conn.execute("UPDATE users SET last_login_at = ? WHERE name = ?", [iso(at), user_name])

    def session(self, token_sha256: str, now: datetime) -> SessionRecord | None:
        """The session of a token, with its user's role now; None when unknown or expired."""
        if self._version < USERS_VERSION:
            return None
        rows = self._query(
            "SELECT s.user_name, u.role, u.disabled_at IS NOT NULL AS disabled, s.created_at, s.seen_at, s.expires_at, "
            "s.via FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_sha256 = ? AND s.expires_at > ?",
            [token_sha256, iso(now)])
        return make(SessionRecord, rows[0]) if rows else None

    def touch_session(self, token_sha256: str, seen_at: datetime, expires_at: datetime) -> None:
        """The session was used: it lasts until `expires_at` now."""
        with self.transaction():
            self._conn.execute("UPDATE sessions SET seen_at = ?, expires_at = ? WHERE token_sha256 = ?",
                               [iso(seen_at), iso(expires_at), token_sha256])

    def end_session(self, token_sha256: str) -> None:
        """Sign out one browser."""
        if self._version < USERS_VERSION:
            return
        with self.transaction():
            self._conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", [token_sha256])

    def prune_sessions(self, now: datetime) -> int:
        """Forget expired sessions; how many."""
        if self._version < USERS_VERSION:
            return 0
        with self.transaction():
            return self._conn.execute("DELETE FROM sessions WHERE expires_at <= ?", [iso(now)]).rowcount

    def session_count(self, user_name: str, now: datetime) -> int:
        """How many browsers a user is signed in on."""
        if self._version < USERS_VERSION:
            return 0
        return self._query("SELECT count(*) AS n FROM sessions WHERE user_name = ? AND expires_at > ?",
                           [user_name, iso(now)])[0]["n"]
