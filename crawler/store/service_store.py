"""What the service and `crawler status` keep and ask beyond the crawl itself (issue 18): the due
accounts and the schedule at a glance, hosts paused by Retry-After, alert incidents, how far reviewers
were told, freshness of a snapshot, and an online backup.

Reads return records of crawler.store.records; on an inventory older than the schedule's migration
(status reads it read-only before the service migrates it) they answer as if nothing were scheduled.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from crawler.errors import StoreError
from crawler.store.connection import Connection, iso, parse_iso
from crawler.store.records import (
    AlertRecord,
    DemandRecord,
    DueRecord,
    FreshnessRecord,
    HostPause,
    NoticeBrief,
    ScheduleSummary,
    UnseenAccount,
    make,
)
from crawler.store.schema import SCHEDULE_VERSION

_DUE = "coalesce(a.next_due_at, a.registered_at)"  # a never-visited account is due since it was registered


class ServiceStore(Connection):
    """The service's side of the store."""

    @property
    def _scheduled(self) -> bool:
        return self.schema_version() >= SCHEDULE_VERSION

    # ------------------------------------------------------------------ the schedule

    def due_accounts(self, now: datetime, limit: int | None = None) -> list[DueRecord]:
        """Registered accounts due at `now` (never visited first, then most overdue), with what a
        pass needs: their addresses (for the host) and the requests their last visit took."""
        if not self._scheduled:
            rows = self._query("SELECT id, url, feed_url, NULL AS due_at, NULL AS cost FROM accounts "
                               "WHERE deregistered_at IS NULL ORDER BY id")
            return [make(DueRecord, r) for r in rows]
        rows = self._query(
            "SELECT a.id, a.url, a.feed_url, a.next_due_at AS due_at, a.visit_requests AS cost FROM accounts a "
            "WHERE a.deregistered_at IS NULL AND (a.next_due_at IS NULL OR a.next_due_at <= ?) "
            "ORDER BY a.next_due_at IS NOT NULL, a.next_due_at, a.id" + (" LIMIT ?" if limit else ""),
            [iso(now), *([limit] if limit else [])])
        return [make(DueRecord, r) for r in rows]

    def demand(self) -> list[DemandRecord]:
        """Every registered, visited account's address, wanted interval and cost, for the hosts'
        floors (crawler.schedule.floors)."""
        if not self._scheduled:
            return []
        return [make(DemandRecord, r) for r in self._query(
            "SELECT id, url, feed_url, revisit_seconds AS interval_s, visit_requests AS cost FROM accounts "
            "WHERE deregistered_at IS NULL AND revisit_seconds IS NOT NULL")]

    def schedule_summary(self, now: datetime, day_end: datetime, unseen: int = 5) -> ScheduleSummary:
        """The schedule at a glance: due now, due before `day_end` (the local day's end), never
        visited, the next due time, the rules behind the due times, and the accounts unseen longest."""
        if not self._scheduled:
            total = self._query("SELECT count(*) AS n FROM accounts WHERE deregistered_at IS NULL")[0]["n"]
            return ScheduleSummary(total, total, 0, None, {}, (), None)
        t, end = iso(now), iso(day_end)
        row = self._query(
            f"""SELECT count(*) FILTER (WHERE a.next_due_at IS NULL OR a.next_due_at <= :t) AS due_now,
                       count(*) FILTER (WHERE a.next_due_at > :t AND a.next_due_at <= :end) AS due_today,
                       count(*) FILTER (WHERE a.last_checked_at IS NULL) AS never,
                       min(a.next_due_at) FILTER (WHERE a.next_due_at > :t) AS next_at,
                       min({_DUE}) AS most_overdue
                FROM accounts a WHERE a.deregistered_at IS NULL""", {"t": t, "end": end})[0]
        reasons = {r["why"]: r["n"] for r in self._query(
            "SELECT coalesce(due_reason, 'new') AS why, count(*) AS n FROM accounts WHERE deregistered_at IS NULL "
            "GROUP BY 1 ORDER BY 2 DESC")}
        longest = tuple(make(UnseenAccount, r) for r in self._query(
            "SELECT id, platform, url, last_checked_at, next_due_at, due_reason, consecutive_failures FROM accounts "
            "WHERE deregistered_at IS NULL AND last_checked_at IS NOT NULL ORDER BY last_checked_at, id LIMIT ?",
            [unseen]))
        most = parse_iso(row["most_overdue"])
        return ScheduleSummary(row["due_now"], row["due_today"], row["never"], parse_iso(row["next_at"]), reasons,
                               longest, most if most is not None and most <= now else None)

    # ------------------------------------------------------------------ hosts paused by Retry-After

    def host_pauses(self, now: datetime) -> dict[str, HostPause]:
        """Hosts still paused at `now` by a Retry-After, by host name."""
        if not self._scheduled:
            return {}
        return {r["host"]: make(HostPause, r) for r in self._query(
            "SELECT host, paused_until, reason FROM hosts WHERE paused_until > ?", [iso(now)])}

    def pause_hosts(self, pauses: Mapping[str, tuple[datetime, str]], now: datetime) -> None:
        """Record hosts' pauses (until, why); a longer pause already recorded is kept; expired ones go."""
        with self.transaction():
            self._conn.execute("DELETE FROM hosts WHERE paused_until <= ?", (iso(now),))
            self._conn.executemany(
                "INSERT INTO hosts (host, paused_until, reason, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (host) DO UPDATE SET paused_until = max(paused_until, excluded.paused_until), "
                "reason = excluded.reason, updated_at = excluded.updated_at",
                [(host, iso(until), why, iso(now)) for host, (until, why) in pauses.items()])

    # ------------------------------------------------------------------ alerts: one row per incident

    def open_alerts(self) -> list[AlertRecord]:
        """Incidents not closed yet, oldest first."""
        if not self._scheduled:
            return []
        return [make(AlertRecord, r) for r in self._query(
            "SELECT id, key, severity, opened_at, summary, sent, closed_at, closed_sent FROM alerts "
            "WHERE closed_at IS NULL ORDER BY opened_at, id")]

    def alerts(self, limit: int = 50) -> list[AlertRecord]:
        """The latest incidents, open or closed, newest first."""
        if not self._scheduled:
            return []
        return [make(AlertRecord, r) for r in self._query(
            "SELECT id, key, severity, opened_at, summary, sent, closed_at, closed_sent FROM alerts "
            "ORDER BY opened_at DESC, id DESC LIMIT ?", [limit])]

    def open_alert(self, key: str, severity: str, summary: str, at: datetime) -> int | None:
        """Open an incident for `key` unless one is open; its id, or None when it was already open
        (another process may have opened it first: only the opener tells)."""
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO alerts (key, severity, opened_at, summary) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) WHERE closed_at IS NULL DO NOTHING", (key, severity, iso(at), summary[:1000]))
            return cur.lastrowid if cur.rowcount else None

    def close_alert(self, alert_id: int, at: datetime) -> bool:
        """Close an open incident; False when it was already closed (by another process)."""
        with self.transaction():
            cur = self._conn.execute("UPDATE alerts SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
                                     (iso(at), alert_id))
            return cur.rowcount == 1

    def alert_sent(self, alert_id: int, channels: Iterable[str], *, closing: bool = False) -> None:
        """Record which channels took an incident's opening (or closing) message."""
        column = "closed_sent" if closing else "sent"
        with self.transaction():
            self._conn.execute(f"UPDATE alerts SET {column} = ? WHERE id = ?",
                               (json.dumps(sorted(channels)), alert_id))

    # ------------------------------------------------------------------ reviewers: new notices

    def notices_after(self, audience: str, now: datetime) -> tuple[int, list[NoticeBrief]]:
        """Pending notices with an id above what `audience` was last told about: (that mark, notices).
        The first time, the mark is the newest notice's id (nothing older is announced at once)."""
        if not self._scheduled:
            return 0, []
        row = self._query("SELECT upto FROM notified WHERE audience = ?", [audience])
        if not row:
            top = self._query("SELECT coalesce(max(id), 0) AS n FROM notices")[0]["n"]
            with self.transaction():
                self._conn.execute("INSERT OR IGNORE INTO notified (audience, upto, at) VALUES (?, ?, ?)",
                                   (audience, top, iso(now)))
            return top, []
        upto = row[0]["upto"]
        return upto, [make(NoticeBrief, r) for r in self._query(
            "SELECT n.id, n.account_id, a.unit, a.platform, n.kind, n.score, n.detected_at, n.post_url "
            "FROM notices n JOIN accounts a ON a.id = n.account_id WHERE n.id > ? AND n.state = 'pending' "
            "ORDER BY n.id", [upto])]

    def mark_notified(self, audience: str, upto: int, at: datetime) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO notified (audience, upto, at) VALUES (?, ?, ?) "
                "ON CONFLICT (audience) DO UPDATE SET upto = max(upto, excluded.upto), at = excluded.at",
                (audience, upto, iso(at)))

    # ------------------------------------------------------------------ health facts

    def run_outcomes(self, run_id: int) -> dict[str, int]:
        """A run's checks by outcome."""
        return {r["outcome"]: r["n"] for r in self._query(
            "SELECT outcome, count(*) AS n FROM checks WHERE run_id = ? GROUP BY 1", [run_id])}

    def last_check_in_run(self, run_id: int) -> datetime | None:
        """When a run's latest check was recorded (its progress), None before its first."""
        return parse_iso(self._query("SELECT max(started_at) AS t FROM checks WHERE run_id = ?", [run_id])[0]["t"])

    def last_snapshot_at(self) -> datetime | None:
        return parse_iso(self._query("SELECT max(taken_at) AS t FROM snapshots")[0]["t"])

    def freshness(self, snapshot_id: int) -> list[FreshnessRecord]:
        """How recent the visits behind each figure of a snapshot were (empty for older snapshots)."""
        if not self._scheduled:
            return []
        return [make(FreshnessRecord, r) for r in self._query(
            "SELECT dimension, key, status, accounts, oldest_check_at, never, seen_1d, seen_7d, seen_30d "
            "FROM snapshot_freshness WHERE snapshot_id = ? ORDER BY dimension, key, status", [snapshot_id])]

    # ------------------------------------------------------------------ backup

    def backup(self, dest: str | Path, *, pages: int = 1024) -> int:
        """Copy the inventory to `dest` online and consistently (SQLite's backup API: the copy is the
        database as of one moment, while the crawler goes on writing). Returns the copy's size."""
        target = Path(dest)
        if target.exists():
            raise StoreError(f"{target} exists; choose a new file name (a backup never overwrites)")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        try:
            out = sqlite3.connect(tmp)
            try:
                self._conn.backup(out, pages=pages)
                out.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                check = out.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                out.close()
            if check != "ok":
                raise StoreError(f"the copy failed its check ({check}); the inventory itself is untouched")
            tmp.rename(target)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot back up to {target}: {exc}") from None
        finally:
            if tmp.exists():
                tmp.unlink()
        return target.stat().st_size

