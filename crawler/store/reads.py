"""The named reads: everything a report, `crawler status`, the review queue or a web page asks.

Each returns records of crawler.store.records (frozen dataclasses of plain values, times as
timezone-aware UTC datetimes); arguments that are times take datetimes. This is the interface
another database would implement; the SQL behind it is SQLite's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from crawler.errors import NotFound, StoreError
from crawler.store.connection import Connection, iso, parse_iso
from crawler.store.records import (
    AccountAsOf,
    AccountDetail,
    AccountRecord,
    ApiStatusRecord,
    CheckRecord,
    FailingAccount,
    InventoryPage,
    LastPost,
    NoticeRecord,
    PendingSummary,
    RegistryChange,
    ReviewRecord,
    RouteCount,
    RunRecord,
    Snapshot,
    SnapshotCount,
    StatusAt,
    StatusChange,
    make,
)
from crawler.store.schema import REASONS_VERSION

_ACCOUNT_COLUMNS = (
    "id, unit, area, platform, url, feed_url, added, notes, registered_at, deregistered_at, status, status_since, "
    "status_reason, last_post_at, last_post_estimated, last_post_url, last_checked_at, last_ok_at, post_count, "
    "post_count_at, consecutive_failures, announced_move, status_reason AS why_text, {why}"
)
# The reason as data (schema version 6; NULL before): `why_kind`, `why_values` beside `why_text`.
_ACCOUNT_WHY = "status_reason_kind AS why_kind, status_reason_values AS why_values"
_CHANGE_WHY = "{t}.reason_kind AS why_kind, {t}.reason_values AS why_values"
_NO_WHY = "NULL AS why_kind, NULL AS why_values"
_RUN_COLUMNS = ("id, started_at, finished_at, clock_at, state, trigger, pid, accounts_total, accounts_done, errors, "
                "requests, bytes, summary, error")
# {decided_kind} and {kind} are the columns of schema version 4, NULL in an older inventory.
_NOTICE_SELECT = (
    "SELECT n.id, n.account_id, a.unit, a.area, a.platform, a.url AS account_url, a.announced_move, "
    "n.post_url, n.published_at, n.detected_at, n.score, n.kind, n.matched, n.snippet, n.state, "
    "{decided_kind} AS decided_kind, n.reviewer, n.reviewed_at, n.comment "
    "FROM notices n JOIN accounts a ON a.id = n.account_id"
)
_REVIEW_SELECT = (
    "SELECT r.id, r.notice_id, n.account_id, a.unit, r.at, r.reviewer, r.old_state, r.new_state, {kind} AS kind, "
    "r.comment FROM notice_reviews r JOIN notices n ON n.id = r.notice_id JOIN accounts a ON a.id = n.account_id"
)
_STATUS_CHANGE_SELECT = (
    "SELECT c.id, c.account_id, a.unit, a.area, a.platform, c.at, c.old, c.new, c.reason, c.run_id, "
    "c.reason AS why_text, {why} FROM status_changes c JOIN accounts a ON a.id = c.account_id"
)
_CHECK_COLUMNS = ("id, run_id, account_id, started_at, url, final_url, http_status, outcome, error, reason, bytes, "
                  "elapsed_ms, requests, exists_ AS \"exists\", last_post_at, posts_seen, post_count, status")

# Every registered account at :t with its status then: the last registry change that registers or
# deregisters it (else its registered_at/deregistered_at), and its last status change, both at or
# before :t.
_STATUSES_AT = """
WITH reg AS (
    SELECT account_id, change,
           row_number() OVER (PARTITION BY account_id ORDER BY at DESC, id DESC) AS rn
    FROM registry_changes
    WHERE at <= :t AND change IN ('added', 'deregistered', 'reregistered')
), hist AS (
    SELECT account_id, new, at, reason, {why},
           row_number() OVER (PARTITION BY account_id ORDER BY at DESC, id DESC) AS rn
    FROM status_changes WHERE at <= :t
)
SELECT a.id, a.unit, a.area, a.platform, a.url, coalesce(h.new, 'unchecked') AS status,
       h.at AS since, h.reason, h.reason AS why_text, h.why_kind, h.why_values
FROM accounts a
LEFT JOIN reg r ON r.account_id = a.id AND r.rn = 1
LEFT JOIN hist h ON h.account_id = a.id AND h.rn = 1
WHERE CASE WHEN r.change IS NOT NULL THEN r.change != 'deregistered'
           ELSE a.registered_at <= :t AND (a.deregistered_at IS NULL OR a.deregistered_at > :t) END
ORDER BY a.id
"""

# The newest post known at :t per account, replaying the classifier's rule over the checks up to :t
# (crawler/classify.py): a check whose post count rose without a post date read estimates a post at
# that check's time; a date read later replaces the estimate; otherwise the newest date read. Only
# successful readings count, and none that left the account gone (a gone account keeps its last post).
_LAST_POSTS_AT = """
WITH readings AS (
    SELECT account_id, id, started_at, last_post_at, post_count FROM checks
    WHERE started_at <= :t AND outcome = 'ok' AND coalesce(status, '') != 'gone'
      AND account_id IN (SELECT value FROM json_each(:ids))
      AND (last_post_at IS NOT NULL OR post_count IS NOT NULL)
), counts AS (
    SELECT account_id, started_at, last_post_at, post_count,
           lag(post_count) OVER (PARTITION BY account_id ORDER BY started_at, id) AS before
    FROM readings WHERE post_count IS NOT NULL
), rises AS (
    SELECT account_id, max(started_at) AS at FROM counts
    WHERE last_post_at IS NULL AND post_count > before GROUP BY account_id
), dates AS (
    SELECT g.account_id, max(g.last_post_at) AS d FROM readings g LEFT JOIN rises r ON r.account_id = g.account_id
    WHERE g.last_post_at IS NOT NULL AND (r.at IS NULL OR g.started_at > r.at) GROUP BY g.account_id
)
SELECT a.account_id, coalesce(d.d, r.at) AS d, d.d IS NULL AND r.at IS NOT NULL AS estimated
FROM (SELECT DISTINCT account_id FROM readings) a
LEFT JOIN rises r ON r.account_id = a.account_id
LEFT JOIN dates d ON d.account_id = a.account_id
"""

# Per account its last visit up to :t and the post count of its last successful reading then.
_VISITS_AT = """
SELECT account_id, max(started_at) AS last_checked_at,
       (SELECT c2.post_count FROM checks c2 WHERE c2.account_id = c.account_id AND c2.started_at <= :t
        AND c2.outcome = 'ok' AND c2.post_count IS NOT NULL ORDER BY c2.started_at DESC, c2.id DESC LIMIT 1)
       AS post_count
FROM checks c
WHERE started_at <= :t AND account_id IN (SELECT value FROM json_each(:ids))
GROUP BY account_id
"""

# The columns the inventory may be sorted by (a web page's "sort" parameter is checked against it).
INVENTORY_SORTS = ("id", "unit", "area", "platform", "status", "status_since", "last_post_at", "last_checked_at",
                   "consecutive_failures", "registered_at")


def _ids(ids: Iterable[str]) -> str:
    """A list of ids as one JSON parameter (`IN (SELECT value FROM json_each(?))`: no limit on count)."""
    return json.dumps(list(ids))


class Reads(Connection):
    """The readers' side of the store."""

    # ------------------------------------------------------------------ accounts and the inventory

    def account(self, ident: str) -> AccountRecord:
        """One account (registered or not); NotFound when there is no such id."""
        rows = self._query(f"SELECT {self._account_columns} FROM accounts WHERE id = ?", [ident])
        if not rows:
            raise NotFound(f"no account with id {ident!r}")
        return make(AccountRecord, rows[0])

    def accounts(self, *, include_deregistered: bool = True) -> list[AccountRecord]:
        """Every account, by id."""
        where = "" if include_deregistered else "WHERE deregistered_at IS NULL"
        return [make(AccountRecord, r) for r in self._query(f"SELECT {self._account_columns} FROM accounts {where} ORDER BY id")]

    def current_inventory(self) -> list[AccountRecord]:
        """The registered accounts, by area, unit and id (what `crawler export` writes)."""
        return [make(AccountRecord, r) for r in self._query(
            f"SELECT {self._account_columns} FROM accounts WHERE deregistered_at IS NULL ORDER BY area, unit, id")]

    def counts(self) -> dict[str, int]:
        """Registered accounts by status ("unchecked" for never checked); statuses with none are absent."""
        return {r["s"]: r["n"] for r in self._query(
            "SELECT coalesce(status, 'unchecked') AS s, count(*) AS n FROM accounts "
            "WHERE deregistered_at IS NULL GROUP BY 1")}

    def inventory(self, *, statuses: Sequence[str] = (), platforms: Sequence[str] = (), areas: Sequence[str] = (),
                  routes: Sequence[str] = (), sort: str = "unit", descending: bool = False, limit: int = 50,
                  offset: int = 0, include_deregistered: bool = False) -> InventoryPage:
        """A page of the inventory filtered by status ("unchecked" too), platform, area and route (of the
        last visit: api | public | "unchecked"), sorted by one of INVENTORY_SORTS (then by id), with the
        counts by status, platform, area and route of all it matches."""
        from crawler.store.schema import ROUTES_VERSION

        route = "coalesce(route, 'unchecked')" if self._version >= ROUTES_VERSION else "'unchecked'"
        if sort not in INVENTORY_SORTS:
            raise StoreError(f"cannot sort the inventory by {sort!r}; use one of {', '.join(INVENTORY_SORTS)}")
        if limit < 0 or offset < 0:
            raise StoreError("limit and offset cannot be negative")
        where, params = ["1 = 1"], []
        if not include_deregistered:
            where.append("deregistered_at IS NULL")
        for column, wanted in (("coalesce(status, 'unchecked')", statuses), ("platform", platforms), ("area", areas),
                               (route, routes)):
            if wanted:
                where.append(f"{column} IN (SELECT value FROM json_each(?))")
                params.append(_ids(wanted))
        clause = " AND ".join(where)
        order = "DESC" if descending else "ASC"
        # NULLs (never checked, no post) sort last whichever the direction
        rows = self._query(
            f"SELECT {self._account_columns} FROM accounts WHERE {clause} "
            f"ORDER BY {sort} IS NULL, {sort} {order}, id {order} LIMIT ? OFFSET ?", [*params, limit, offset])
        facets: dict[str, dict[str, int]] = {}
        for name, column in (("status", "coalesce(status, 'unchecked')"), ("platform", "platform"), ("area", "area"),
                             ("route", route)):
            facets[name] = {r["k"]: r["n"] for r in self._query(
                f"SELECT {column} AS k, count(*) AS n FROM accounts WHERE {clause} GROUP BY 1 ORDER BY 1", params)}
        return InventoryPage(tuple(make(AccountRecord, r) for r in rows), sum(facets["status"].values()), offset,
                             limit, facets["status"], facets["platform"], facets["area"], facets["route"])

    def account_detail(self, ident: str, *, checks: int = 20) -> AccountDetail:
        """One account with its status and registry history, its `checks` latest visits and its notices."""
        account = self.account(ident)
        history = [make(StatusChange, r) for r in self._query(
            f"{self._status_change_select} WHERE c.account_id = ? ORDER BY c.at, c.id", [ident])]
        registry = [make(RegistryChange, r) for r in self._query(
            "SELECT id, account_id, at, change, detail FROM registry_changes WHERE account_id = ? ORDER BY at, id",
            [ident])]
        recent = [make(CheckRecord, r) for r in self._query(
            f"SELECT {_CHECK_COLUMNS} FROM checks WHERE account_id = ? ORDER BY started_at DESC, id DESC LIMIT ?",
            [ident, checks])]
        notices = [make(NoticeRecord, r) for r in self._query(
            f"{self._notice_select} WHERE n.account_id = ? ORDER BY n.detected_at, n.id", [ident])]
        return AccountDetail(account, tuple(history), tuple(registry), tuple(recent), tuple(notices))

    def status_changes(self, since: datetime | None = None, until: datetime | None = None, *,
                       account_id: str | None = None) -> list[StatusChange]:
        """Status changes with since <= at <= until (either open), oldest first."""
        where, params = self._between("c.at", since, until)
        if account_id is not None:
            where += " AND c.account_id = ?"
            params.append(account_id)
        return [make(StatusChange, r) for r in self._query(f"{self._status_change_select} WHERE {where} ORDER BY c.at, c.id",
                                                           params)]

    def registry_changes(self, since: datetime | None = None, until: datetime | None = None, *,
                         account_id: str | None = None) -> list[RegistryChange]:
        """Registry changes with since <= at <= until (either open), oldest first."""
        where, params = self._between("at", since, until)
        if account_id is not None:
            where += " AND account_id = ?"
            params.append(account_id)
        return [make(RegistryChange, r) for r in self._query(
            f"SELECT id, account_id, at, change, detail FROM registry_changes WHERE {where} ORDER BY at, id", params)]

    def run_checks(self, run_id: int) -> list[CheckRecord]:
        """The checks one run wrote, in the order written."""
        return [make(CheckRecord, r) for r in self._query(
            f"SELECT {_CHECK_COLUMNS} FROM checks WHERE run_id = ? ORDER BY id", [run_id])]

    # ------------------------------------------------------------------ the board's report

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot, oldest first."""
        return [make(Snapshot, r) for r in self._query(
            "SELECT id, run_id, taken_at, registered, existing, active, dormant, gone, unknown, unchecked, announced, "
            "pending_review FROM snapshots ORDER BY taken_at, id")]

    def snapshot_counts(self, snapshot_id: int) -> list[SnapshotCount]:
        """A snapshot's counts by platform and by area."""
        return [make(SnapshotCount, r) for r in self._query(
            "SELECT dimension, key, status, count FROM snapshot_counts WHERE snapshot_id = ? "
            "ORDER BY dimension, key, status", [snapshot_id])]

    def statuses_at(self, at: datetime) -> list[StatusAt]:
        """Every account registered at `at` with its status then (from the history tables), by id."""
        return [make(StatusAt, r) for r in self._query(self._statuses_at, {"t": iso(at)})]

    def announced_accounts(self, detected_by: datetime) -> list[str]:
        """Accounts with a notice confirmed (now) as a move to Tempus Hemma (view announcing_notices),
        detected at or before `detected_by`."""
        # before version 4 there is no view, and every confirmation counted (0.1's rule)
        source = ("announcing_notices" if self._version >= 4
                  else "(SELECT account_id, detected_at FROM notices WHERE state = 'confirmed')")
        return [r["account_id"] for r in self._query(
            f"SELECT DISTINCT account_id FROM {source} WHERE detected_at <= ? ORDER BY account_id", [iso(detected_by)])]

    def accounts_with_pending_notices(self, detected_by: datetime) -> list[str]:
        """Accounts with a notice pending (now) that was detected at or before `detected_by`."""
        return [r["account_id"] for r in self._query(
            "SELECT DISTINCT account_id FROM notices WHERE state = 'pending' AND detected_at <= ? "
            "ORDER BY account_id", [iso(detected_by)])]

    def last_posts(self, ids: Iterable[str], at: datetime) -> dict[str, LastPost]:
        """The newest post date known at `at` per account, as the classifier held it then: the account
        row when its last check was not after `at`; else replayed from the checks up to `at`."""
        out: dict[str, LastPost] = {}
        wanted = _ids(ids)
        for r in self._query(_LAST_POSTS_AT, {"t": iso(at), "ids": wanted}):
            if r["d"]:
                out[r["account_id"]] = make(LastPost, {"account_id": r["account_id"], "at": r["d"],
                                                       "estimated": r["estimated"]})
        for r in self._query("SELECT id, last_post_at, last_post_estimated FROM accounts WHERE id IN "
                             "(SELECT value FROM json_each(?)) AND last_checked_at <= ?", [wanted, iso(at)]):
            if r["last_post_at"]:
                out[r["id"]] = make(LastPost, {"account_id": r["id"], "at": r["last_post_at"],
                                               "estimated": r["last_post_estimated"]})
            else:
                out.pop(r["id"], None)
        return out

    def inventory_as_of(self, at: datetime) -> list[AccountAsOf]:
        """The inventory as it stood at `at`: every account registered then (by area, unit, id) with
        its status then and why it took it (the status history), the last post known then
        (`last_posts`), the post count of its last successful reading and its last visit up to `at`,
        and whether it had announced the move (a notice detected by then, confirmed as a move)."""
        accounts = self.statuses_at(at)
        ids = [a.id for a in accounts]
        posts = self.last_posts(ids, at) if ids else {}
        visits = {r["account_id"]: r for r in self._query(_VISITS_AT, {"t": iso(at), "ids": _ids(ids)})}
        announced = set(self.announced_accounts(at))
        out = []
        for a in accounts:
            post, visit = posts.get(a.id), visits.get(a.id) or {}
            out.append(AccountAsOf(
                a.id, a.unit, a.area, a.platform, a.url, None if a.status == "unchecked" else a.status, a.since,
                a.why, post.at if post else None, bool(post and post.estimated), visit.get("post_count"),
                parse_iso(visit.get("last_checked_at")), a.id in announced))
        return sorted(out, key=lambda r: (r.area, r.unit, r.id))

    def evidence_notices(self, ids: Iterable[str], at: datetime) -> dict[str, NoticeRecord]:
        """Per account the notice to show as evidence at `at`: confirmed before pending, then the
        earliest detected (rejected ones never)."""
        out: dict[str, NoticeRecord] = {}
        for r in self._query(f"{self._notice_select} WHERE n.state IN ('confirmed', 'pending') AND n.detected_at <= ? "
                             f"AND n.account_id IN (SELECT value FROM json_each(?)) "
                             f"ORDER BY n.state = 'confirmed' DESC, n.detected_at, n.id", [iso(at), _ids(ids)]):
            if r["account_id"] not in out:
                out[r["account_id"]] = make(NoticeRecord, r)
        return out

    # ------------------------------------------------------------------ runs and health (`crawler status`)

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        return [make(RunRecord, r) for r in self._query(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?",
                                                        [limit])]

    def last_full_cycle(self) -> RunRecord | None:
        """The latest run that finished and visited the whole registry (it left a snapshot)."""
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE state = 'finished' AND id IN "
                           "(SELECT run_id FROM snapshots) ORDER BY id DESC LIMIT 1")
        return make(RunRecord, rows[0]) if rows else None

    def checks_in_run(self, run_id: int) -> int:
        """How many checks a run has written (so far)."""
        return self._query("SELECT count(*) AS n FROM checks WHERE run_id = ?", [run_id])[0]["n"]

    def failing_accounts(self, limit: int = 10) -> list[FailingAccount]:
        """Registered accounts with failing checks: most consecutive failures first, then the longest
        without a good check."""
        return [make(FailingAccount, r) for r in self._query(
            """
            SELECT a.id, a.platform, a.url, a.status, a.consecutive_failures, a.last_ok_at, a.last_checked_at,
                   (SELECT coalesce(c.error, c.outcome) FROM checks c WHERE c.account_id = a.id
                    ORDER BY c.started_at DESC, c.id DESC LIMIT 1) AS last_error
            FROM accounts a
            WHERE a.deregistered_at IS NULL AND a.consecutive_failures > 0
            ORDER BY a.consecutive_failures DESC, coalesce(a.last_ok_at, '') ASC, a.id
            LIMIT ?
            """, [limit])]

    def api_statuses(self) -> list[ApiStatusRecord]:
        """The last reported state of each official API (empty before schema version 5)."""
        from crawler.store.schema import ROUTES_VERSION

        if self.schema_version() < ROUTES_VERSION:
            return []
        return [make(ApiStatusRecord, r) for r in self._query(
            "SELECT api, state, since, checked_at, detail, calls, usage_percent, run_id FROM api_status ORDER BY api")]

    def route_counts(self) -> list[RouteCount]:
        """Registered accounts by the route of their last visit, platform, status and route note."""
        from crawler.store.schema import ROUTES_VERSION

        if self.schema_version() < ROUTES_VERSION:
            return []
        return [make(RouteCount, r) for r in self._query(
            "SELECT coalesce(route, 'unchecked') AS route, platform, coalesce(status, 'unchecked') AS status, "
            "route_note AS note, count(*) AS count FROM accounts WHERE deregistered_at IS NULL "
            "GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2, 3, 4")]

    def pending_summary(self) -> PendingSummary:
        """How many notices await a reviewer, and since when."""
        row = self._query("SELECT count(*) AS count, min(detected_at) AS oldest FROM notices WHERE state = 'pending'")[0]
        return make(PendingSummary, row)

    # ------------------------------------------------------------------ the review queue

    def notices(self, state: str | None = None) -> list[NoticeRecord]:
        """Flagged notices with their account, oldest detection first; all states when `state` is None."""
        where, params = ("WHERE n.state = ?", [state]) if state else ("", [])
        return [make(NoticeRecord, r) for r in self._query(f"{self._notice_select} {where} ORDER BY n.detected_at, n.id",
                                                           params)]

    def notice(self, notice_id: int) -> NoticeRecord:
        """One notice with its account; NotFound when there is no such id."""
        rows = self._query(f"{self._notice_select} WHERE n.id = ?", [notice_id])
        if not rows:
            raise NotFound(f"no notice with id {notice_id}.\n\nList them with `crawler review list --state all`.")
        return make(NoticeRecord, rows[0])

    def notice_reviews(self, notice_id: int) -> list[ReviewRecord]:
        """The audit trail of one notice in the order written (the last entry is the decision)."""
        return [make(ReviewRecord, r) for r in self._query(f"{self._review_select} WHERE r.notice_id = ? ORDER BY r.id",
                                                           [notice_id])]

    def decisions_by(self, reviewer: str, since: datetime | None = None,
                     until: datetime | None = None) -> list[ReviewRecord]:
        """A reviewer's decisions (exact name) with since <= at <= until (either open), oldest first."""
        where, params = self._between("r.at", since, until)
        return [make(ReviewRecord, r) for r in self._query(
            f"{self._review_select} WHERE r.reviewer = ? AND {where} ORDER BY r.at, r.id", [reviewer, *params])]

    def reviewer_counts(self) -> dict[str, int]:
        """Decisions per reviewer name (the audit trail), by name."""
        return {r["reviewer"]: r["n"] for r in self._query(
            "SELECT reviewer, count(*) AS n FROM notice_reviews GROUP BY reviewer ORDER BY reviewer")}

    # ------------------------------------------------------------------ /metrics

    def runs_by_state(self) -> dict[str, int]:
        """How many runs ended (or stand) in each state: running, finished, interrupted, failed."""
        return {r["state"]: r["n"] for r in self._query("SELECT state, count(*) AS n FROM runs GROUP BY state")}

    def outcomes_in_run(self, run_id: int) -> dict[str, int]:
        """The checks of one run by outcome (ok, not_modified, gone, login_wall, error, ...)."""
        return {r["outcome"]: r["n"] for r in self._query(
            "SELECT outcome, count(*) AS n FROM checks WHERE run_id = ? GROUP BY outcome", [run_id])}

    # ------------------------------------------------------------------ helpers

    @property
    def _account_columns(self) -> str:
        return _ACCOUNT_COLUMNS.format(why=_ACCOUNT_WHY if self._version >= REASONS_VERSION else _NO_WHY)

    @property
    def _status_change_select(self) -> str:
        return _STATUS_CHANGE_SELECT.format(why=_CHANGE_WHY.format(t="c") if self._version >= REASONS_VERSION else _NO_WHY)

    @property
    def _statuses_at(self) -> str:
        return _STATUSES_AT.format(why=_CHANGE_WHY.format(t="status_changes") if self._version >= REASONS_VERSION else _NO_WHY)

    @property
    def _notice_select(self) -> str:
        return _NOTICE_SELECT.format(decided_kind="n.decided_kind" if self._version >= 4 else "NULL")

    @property
    def _review_select(self) -> str:
        return _REVIEW_SELECT.format(kind="r.kind" if self._version >= 4 else "NULL")

    @staticmethod
    def _between(column: str, since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
        where, params = ["1 = 1"], []
        if since is not None:
            where.append(f"{column} >= ?")
            params.append(iso(since))
        if until is not None:
            where.append(f"{column} <= ?")
            params.append(iso(until))
        return " AND ".join(where), params
