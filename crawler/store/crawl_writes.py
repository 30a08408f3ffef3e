"""What a crawl writes: the registry sync, runs, visits (check, posts, notices, status), snapshots,
and the weekly maintenance; and the one read the crawl needs before visiting (prior states).

Every visit of an account is written in one transaction, so a kill at any moment leaves each
account fully written or untouched. GDPR: no post bodies, titles or media; post URLs only hashed,
except the newest post's URL (evidence for the last-post date) and the URL of a flagged notice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from crawler.clock import utcnow
from crawler.errors import NotFound
from crawler.models import (
    STATUSES,
    Account,
    Fetched,
    NoticeHit,
    Observation,
    PriorState,
    Reason,
    Verdict,
    source_fetch,
)
from crawler.store.connection import Connection, iso, parse_iso, sha256


def _reason_columns(why: Reason, prefix: str) -> dict[str, Any]:
    """A reason stored once (schema version 6): its kind and values, or, for a reason that is only
    text, the text column as before."""
    if why.kind == "text":
        return {prefix: why.get("text"), f"{prefix}_kind": None, f"{prefix}_values": None}
    return {prefix: None, f"{prefix}_kind": why.kind,
            f"{prefix}_values": json.dumps(dict(why.values), ensure_ascii=False, sort_keys=True)}


# Outcomes that are not counted as errors of a run (models.OUTCOMES).
SUCCESSFUL_OUTCOMES = frozenset({"ok", "not_modified", "gone"})

# The registry's columns that sync compares (deregistered_at last).
_SYNC_COLUMNS = ("unit", "area", "platform", "url", "feed_url", "added", "notes", "deregistered_at")


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
    posts_per_week: float | None = None  # the posting rate the schedule measured before (crawler/schedule.py)
    route: str | None = None  # how the last visit read it: "api" | "public" (crawler/routes.py)
    route_note: str | None = None  # and why


@dataclass(frozen=True)
class Visit:
    """Everything one visit of one account produced, written all-or-nothing.

    `content_sha256` and `size` describe the bodies when they were dropped (`slim()`): a visit
    waiting in the writer's queue keeps no body, so a queue held up by a lock stays small.
    """

    account_id: str
    run_id: int | None
    at: datetime
    outcome: str
    fetches: Sequence[Fetched]
    observation: Observation | None
    verdict: Verdict
    notices: Sequence[NoticeHit] = ()
    content_sha256: str | None = None  # of the source response's body (set by slim())
    size: int | None = None  # bytes of every body of the visit (set by slim(); None: count them)
    # the schedule's answer (crawler/schedule.py), written with the visit so a kill never loses it
    next_due_at: datetime | None = None
    due_reason: str | None = None
    revisit_seconds: int | None = None
    posts_per_week: float | None = None
    route: str | None = None  # "api" | "public": how the account was read (crawler/routes.py)
    route_note: str | None = None  # why ("personal Instagram account: not readable through the API")

    def slim(self, content_sha256: str | None = None) -> Visit:
        """The same visit without bodies; `content_sha256` when the caller already hashed the body."""
        if self.size is not None:
            return self
        last = source_fetch(self.fetches, self.observation)
        if content_sha256 is None and last is not None and last.body is not None:
            content_sha256 = hashlib.sha256(last.body).hexdigest()
        size = sum(len(f.body) for f in self.fetches if f.body)
        fetches = [f if f.body is None else replace(f, body=None) for f in self.fetches]
        return replace(self, fetches=fetches, content_sha256=content_sha256, size=size)


@dataclass(frozen=True)
class BatchResult:
    """What `record_visits` wrote: accounts written, new notices, and the visits it had to skip."""

    written: int
    new_notices: int
    skipped: tuple[tuple[str, str], ...] = ()  # (account id, why): the account was left untouched



_STATE_COLUMNS = (
    "id, status, status_since, last_post_at, post_count, post_count_at, post_count_since, last_post_estimated, "
    "consecutive_failures, gone_streak, gone_streak_since, last_checked_at, source_url, discovered_feed_url, "
    "etag, last_modified, last_post_url, unit, posts_per_week, route, route_note"
)
_STATE_SLICE = 500  # ids per query (well under SQLite's limit on bound parameters)


def _state(r: Sequence[Any]) -> AccountState:
    """An AccountState from a row of _STATE_COLUMNS."""
    return AccountState(
        prior=PriorState(
            status=r[1],
            status_since=parse_iso(r[2]),
            last_post_at=parse_iso(r[3]),
            post_count=r[4],
            post_count_at=parse_iso(r[5]),
            post_count_since=parse_iso(r[6]),
            last_post_estimated=bool(r[7]),
            consecutive_failures=r[8],
            gone_streak=r[9],
            gone_streak_since=parse_iso(r[10]),
            last_checked_at=parse_iso(r[11]),
            last_post_url=r[16],
            unit=r[17],
        ),
        source_url=r[12],
        discovered_feed_url=r[13],
        etag=r[14],
        last_modified=r[15],
        posts_per_week=r[18],
        route=r[19],
        route_note=r[20],
    )

class CrawlWrites(Connection):
    """The crawl's side of the store."""

    def sync(self, accounts: Iterable[Account], now: datetime) -> SyncResult:
        """Bring the registry into the store: add, update, deregister (never delete)."""
        at = iso(now)
        wanted = {a.id: a for a in accounts}
        # Only the columns compared here, as tuples: a dict of every column cost ~2 KB an account,
        # a 200 MB transient peak for a registry of 100,000.
        current = {
            row[0]: row[1:]
            for row in self._conn.execute(f"SELECT id, {', '.join(_SYNC_COLUMNS)} FROM accounts")
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

    def _registry_change(self, ident: str, at: str | None, change: str, detail: str | None) -> None:
        self._conn.execute(
            "INSERT INTO registry_changes (account_id, at, change, detail) VALUES (?, ?, ?, ?)",
            (ident, at, change, detail),
        )


    # ------------------------------------------------------------------ crawl: reads

    def account_states(self, ids: Iterable[str] | None = None) -> dict[str, AccountState]:
        """The prior state of each (registered) account, for the classifier and conditional GET.

        With `ids`, only those accounts are read (by primary key, a few hundred per query): the
        crawl asks for a slice at a time, so a cycle never holds every account's state at once.
        """
        if ids is None:
            rows = self._conn.execute(f"SELECT {_STATE_COLUMNS} FROM accounts WHERE deregistered_at IS NULL")
            return {r[0]: _state(r) for r in rows}
        out: dict[str, AccountState] = {}
        wanted = list(dict.fromkeys(ids))
        for start in range(0, len(wanted), _STATE_SLICE):
            chunk = wanted[start:start + _STATE_SLICE]
            rows = self._conn.execute(
                f"SELECT {_STATE_COLUMNS} FROM accounts WHERE deregistered_at IS NULL AND id IN "
                f"({', '.join('?' * len(chunk))})", chunk)
            out.update((r[0], _state(r)) for r in rows)
        return out


    # ------------------------------------------------------------------ crawl: writes

    def start_run(self, clock_at: datetime, total: int, trigger: str, pid: int) -> int:
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO runs (started_at, clock_at, state, trigger, pid, accounts_total) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                (iso(utcnow()), iso(clock_at), trigger, pid, total),
            )
            return cur.lastrowid

    def finish_run(self, run_id: int, state: str, *, done: int | None = None, errors: int | None = None,
                   requests: int = 0, bytes_: int = 0, summary: str | None = None, error: str | None = None) -> None:
        """End a run. `done` and `errors` left None keep the counters record_visits kept as it went."""
        with self.transaction():
            self._conn.execute(
                "UPDATE runs SET finished_at = ?, state = ?, accounts_done = coalesce(?, accounts_done), "
                "errors = coalesce(?, errors), requests = ?, bytes = ?, summary = ?, error = ? WHERE id = ?",
                (iso(utcnow()), state, done, errors, requests, bytes_, summary, error, run_id),
            )

    def mark_stale_runs(self) -> int:
        """Runs left `running` by a killed process are marked interrupted (call with the lock held)."""
        with self.transaction():
            cur = self._conn.execute(
                "UPDATE runs SET state = 'interrupted', error = coalesce(error, 'process ended without finishing') "
                "WHERE state = 'running'"
            )
            return cur.rowcount

    def record_visit(self, visit: Visit) -> int:
        """Write one visit in its own transaction: the check, new posts, notices, the status change
        and the account row. Returns how many of the visit's notices were new (a post already
        flagged is not again)."""
        with self.transaction():
            return self._write_visit(visit)

    def record_visits(self, visits: Sequence[Visit], *, run_id: int | None = None, retries: int = 5) -> BatchResult:
        """Write a batch of visits in one transaction, each account all-or-nothing (a savepoint each).

        A visit the inventory refuses on its own (its account was deregistered meanwhile, a
        constraint, a value it cannot store) is rolled back alone and reported in `skipped`; anything else (a full disk,
        another writer's lock: BusyError) rolls the whole batch back and raises, leaving every
        account of it untouched. With `run_id`, the run's counters (accounts done, errors,
        requests) grow in the same transaction, so a killed run shows exactly what it wrote.
        """
        written = new_notices = errors = requests = 0
        skipped: list[tuple[str, str]] = []
        with self.transaction(retries):
            for visit in visits:
                self._conn.execute("SAVEPOINT visit")
                try:
                    new_notices += self._write_visit(visit)
                except sqlite3.OperationalError:
                    raise  # the database itself (a full disk, I/O, a lock): the whole batch
                except (NotFound, sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
                        ValueError, TypeError) as exc:  # this visit's own data: this account only
                    self._conn.execute("ROLLBACK TO visit")
                    self._conn.execute("RELEASE visit")
                    skipped.append((visit.account_id, str(exc)))
                    continue
                self._conn.execute("RELEASE visit")
                written += 1
                errors += visit.outcome not in SUCCESSFUL_OUTCOMES
                requests += sum(f.attempts for f in visit.fetches)
            if run_id is not None and written:
                self._conn.execute(
                    "UPDATE runs SET accounts_done = accounts_done + ?, errors = errors + ?, "
                    "requests = requests + ? WHERE id = ?",
                    (written, errors, requests, run_id),
                )
        return BatchResult(written, new_notices, tuple(skipped))

    def _write_visit(self, visit: Visit) -> int:
        """The rows of one visit, inside the caller's transaction (or savepoint)."""
        at = iso(visit.at)
        obs, verdict = visit.observation, visit.verdict
        last = source_fetch(visit.fetches, obs)  # every field of the check row comes from this response
        requests = sum(f.attempts for f in visit.fetches)
        if visit.size is not None:  # slimmed: the bodies are gone, their digest and size kept
            size, digest = visit.size, visit.content_sha256
        else:
            size = sum(len(f.body) for f in visit.fetches if f.body)
            body = last.body if last else None
            digest = hashlib.sha256(body).hexdigest() if body is not None else None
        posts = obs.posts if obs else ()
        row = self._conn.execute("SELECT status, last_post_at FROM accounts WHERE id = ?",
                                (visit.account_id,)).fetchone()
        if row is None:
            raise NotFound(f"account {visit.account_id!r} is not in the inventory; run `crawler sources sync`")
        old_status, old_last_post = row
        self._conn.execute(
            "INSERT INTO checks (run_id, account_id, started_at, url, final_url, http_status, outcome, error, "
            "reason, etag, last_modified, content_sha256, bytes, elapsed_ms, requests, exists_, last_post_at, "
            "posts_seen, post_count, status, route) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                digest,
                size,
                sum(f.elapsed_ms for f in visit.fetches),
                requests,
                None if obs is None or obs.exists is None else int(obs.exists),
                iso(obs.last_post_at) if obs else None,
                len(posts) if obs else None,
                obs.post_count if obs else None,
                verdict.status,
                visit.route,
            ),
        )
        if posts:
            self._conn.executemany(
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
            **_reason_columns(verdict.why, "status_reason"),
            "last_post_at": iso(verdict.last_post_at),
            "last_post_estimated": int(verdict.last_post_estimated),
            "last_checked_at": at,
            "consecutive_failures": verdict.consecutive_failures,
            "gone_streak": verdict.gone_streak,
            "gone_streak_since": iso(verdict.gone_streak_since),
            "post_count_since": iso(verdict.post_count_since),
            "visit_requests": sum(f.attempts for f in visit.fetches),
            "route": visit.route,
            "route_note": visit.route_note,
        }
        if visit.next_due_at is not None:  # the schedule's answer, written with the visit
            update.update(next_due_at=iso(visit.next_due_at), due_reason=visit.due_reason,
                          revisit_seconds=visit.revisit_seconds, posts_per_week=visit.posts_per_week)
        if verdict.changed or old_status != verdict.status:
            update["status_since"] = at
            why = _reason_columns(verdict.why, "reason")
            self._conn.execute(
                "INSERT INTO status_changes (account_id, at, old, new, reason, reason_kind, reason_values, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (visit.account_id, at, old_status, verdict.status, why["reason"], why["reason_kind"],
                 why["reason_values"], visit.run_id),
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

    def record_api_status(self, api: str, state: str, detail: str | None, at: datetime, *,
                          calls: int | None = None, usage_percent: float | None = None,
                          run_id: int | None = None) -> None:
        """The state of an official API after (or during) a cycle; `since` moves only when the state changes."""
        with self.transaction():
            row = self._conn.execute("SELECT state, since FROM api_status WHERE api = ?", (api,)).fetchone()
            since = row[1] if row is not None and row[0] == state else iso(at)
            self._conn.execute(
                "INSERT INTO api_status (api, state, since, checked_at, detail, calls, usage_percent, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(api) DO UPDATE SET state = excluded.state, "
                "since = excluded.since, checked_at = excluded.checked_at, detail = excluded.detail, "
                "calls = coalesce(excluded.calls, api_status.calls), usage_percent = excluded.usage_percent, "
                "run_id = excluded.run_id",
                (api, state, since, iso(at), detail, calls, usage_percent, run_id),
            )

    def add_notice(self, account_id: str, hit: NoticeHit, at: datetime) -> int | None:
        """Store a flagged notice once per (account, post); returns its id, None if already known.

        A post already flagged keeps one notice: when this visit's text of it scores higher than the
        stored one and nobody has decided it yet, its evidence is replaced (`strengthen_notice`), so a
        weak title flagged on one visit gives way to the decisive excerpt read on a later one.
        """
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO notices (account_id, key_sha256, post_url, published_at, detected_at, score, "
            "kind, matched, snippet) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account_id, _notice_key(hit), hit.post_url, iso(hit.published_at), iso(at), hit.score, hit.kind,
             json.dumps(list(hit.matched), ensure_ascii=False), hit.snippet),
        )
        if cur.rowcount:
            return cur.lastrowid
        if hit.post_url:
            self.strengthen_notice(account_id, hit)
        return None

    def strengthen_notice(self, account_id: str, hit: NoticeHit) -> int | None:
        """Let a stronger text of the same post replace a weaker *pending* notice's evidence (score,
        kind, matched phrases, snippet; the published date when the new text has one).

        Returns the notice's id when it was replaced, None otherwise (no such notice, not stronger, or
        already reviewed: a reviewed notice's evidence never changes, and the database refuses it too).
        The detection time stays that of the first flag. Texts without a post URL are keyed by their
        snippet, so for them there is no "same post" to strengthen.
        """
        key = _notice_key(hit)
        cur = self._conn.execute(
            "UPDATE notices SET score = ?, kind = ?, matched = ?, snippet = ?, published_at = coalesce(?, published_at) "
            "WHERE account_id = ? AND key_sha256 = ? AND state = 'pending' AND score < ?",
            (hit.score, hit.kind, json.dumps(list(hit.matched), ensure_ascii=False), hit.snippet,
             iso(hit.published_at), account_id, key, hit.score),
        )
        if cur.rowcount != 1:
            return None
        return self._conn.execute("SELECT id FROM notices WHERE account_id = ? AND key_sha256 = ?",
                                  (account_id, key)).fetchone()[0]

    def take_snapshot(self, run_id: int | None, at: datetime) -> int:
        """Counts by status (overall, by platform, by area) of the registered accounts at `at`."""
        with self.transaction():
            rows = self._conn.execute(
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
            pending = self._conn.execute("SELECT count(*) FROM notices WHERE state = 'pending'").fetchone()[0]
            registered = sum(totals.values())
            cur = self._conn.execute(
                "INSERT INTO snapshots (run_id, taken_at, registered, existing, active, dormant, gone, unknown, "
                "unchecked, announced, pending_review) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, iso(at), registered, registered - totals["gone"], totals["active"], totals["dormant"],
                 totals["gone"], totals["unknown"], totals["unchecked"], announced, pending),
            )
            snapshot_id = cur.lastrowid
            self._conn.executemany(
                "INSERT INTO snapshot_counts (snapshot_id, dimension, key, status, count) VALUES (?, ?, ?, ?, ?)",
                [(snapshot_id, d, k, s, n) for (d, k, s), n in sorted(by.items())],
            )
            self._snapshot_freshness(snapshot_id, at)
            return snapshot_id

    def _snapshot_freshness(self, snapshot_id: int, at: datetime) -> None:
        """Per figure of the snapshot (all, by platform, by area; per status and in all): how many
        accounts, the least recent last visit, and how many were visited within 1, 7 and 30 days."""
        t = at.astimezone(timezone.utc)
        marks = [iso(t - timedelta(days=d)) for d in (1, 7, 30)]
        for dimension, column in (("all", "''"), ("platform", "platform"), ("area", "area")):
            for by_status in (True, False):
                status = "coalesce(status, 'unchecked')" if by_status else "'all'"
                self._conn.execute(
                    f"""
                    INSERT INTO snapshot_freshness (snapshot_id, dimension, key, status, accounts, oldest_check_at,
                                                    never, seen_1d, seen_7d, seen_30d)
                    SELECT ?, ?, {column}, {status}, count(*), min(last_checked_at),
                           count(*) - count(last_checked_at),
                           coalesce(sum(last_checked_at >= ?), 0), coalesce(sum(last_checked_at >= ?), 0),
                           coalesce(sum(last_checked_at >= ?), 0)
                    FROM accounts WHERE deregistered_at IS NULL GROUP BY 3, 4
                    """, (snapshot_id, dimension, *marks))

    def maintain(self, now: datetime, retention_days: int) -> dict[str, int]:
        """Prune old raw checks (keeping each account's last check of every day), optimize, checkpoint."""
        cutoff = iso(now.astimezone(timezone.utc).replace(microsecond=0) - timedelta(days=retention_days))
        with self.transaction():
            cur = self._conn.execute(
                """
                DELETE FROM checks WHERE started_at < :cutoff AND id NOT IN (
                    SELECT max(id) FROM checks WHERE started_at < :cutoff
                    GROUP BY account_id, substr(started_at, 1, 10)
                )
                """,
                {"cutoff": cutoff},
            )
            pruned = cur.rowcount
        self._conn.execute("PRAGMA optimize")
        busy, log, checkpointed = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return {"pruned_checks": pruned, "wal_frames": log, "checkpointed": checkpointed, "busy": busy}

    def integrity(self) -> str:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0]


def _notice_key(hit: NoticeHit) -> str:
    """A notice is one per (account, key): the post's URL, or the kind and text when there is none."""
    return sha256(hit.post_url or f"{hit.kind}:{hit.snippet}")
