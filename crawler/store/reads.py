"""Reads for reports, `crawler status` and the review queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crawler.errors import NotFound
from crawler.store.connection import Connection


class Reads(Connection):
    """The readers' side of the store."""

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

    # The review queue.
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
