"""What a reviewer's decision writes: the notice's state, the audit row, the account's flag.

The rules (who may change what, --force, a reviewer's name) are in crawler.review.
"""

from __future__ import annotations

from datetime import datetime

from crawler.store.connection import Connection, iso


class ReviewWrites(Connection):
    """The reviewers' side of the store."""

    def set_notice_state(self, notice_id: int, expected: str, new: str, reviewer: str, at: datetime,
                         comment: str | None) -> bool:
        """Move a notice from state `expected` to `new`, append the audit row, recompute announced_move.

        All in one transaction; returns False (and writes nothing) when the notice is no longer in
        `expected` (another reviewer was quicker).
        """
        with self.transaction():
            cur = self._conn.execute(
                "UPDATE notices SET state = ?, reviewer = ?, reviewed_at = ?, comment = ? WHERE id = ? AND state = ?",
                (new, reviewer, iso(at), comment, notice_id, expected),
            )
            if cur.rowcount != 1:
                return False
            self._conn.execute(
                "INSERT INTO notice_reviews (notice_id, at, reviewer, old_state, new_state, comment) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (notice_id, iso(at), reviewer, expected, new, comment),
            )
            # The flag follows the confirmed notices: set by any, cleared when none is left.
            self._conn.execute(
                "UPDATE accounts SET announced_move = EXISTS (SELECT 1 FROM notices n WHERE n.account_id = "
                "accounts.id AND n.state = 'confirmed') WHERE id = (SELECT account_id FROM notices WHERE id = ?)",
                (notice_id,),
            )
        return True
