"""What a reviewer's decision writes: one entry of the append-only trail, notice_reviews.

Since schema version 4 the database applies that entry to the notice (state, reviewer, time,
comment, decided kind) and to the account's announced_move by triggers, and refuses any other
change of those columns: the trail is the record, and nothing can disagree with it. The rules of
reviewing (who may change what, --force) are in crawler.review.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from datetime import datetime

from crawler.errors import StoreError
from crawler.store.connection import Connection, iso
from crawler.store.schema import NOTICE_KINDS

REVIEWER_MAX = 120  # characters of a reviewer's name


def clean_reviewer(name: str | None) -> str | None:
    """A reviewer's name as recorded: control and invisible characters dropped, spaces collapsed,
    at most REVIEWER_MAX characters; None when nothing that names anyone is left (blank, spaces,
    zero-width characters, punctuation only)."""
    text = "".join(" " if ch.isspace() else ch for ch in (name or "")
                   if ch.isspace() or unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split())[:REVIEWER_MAX].strip()
    return text if any(ch.isalnum() for ch in text) else None


class ReviewWrites(Connection):
    """The reviewers' side of the store."""

    def set_notice_state(self, notice_id: int, expected: str, new: str, reviewer: str, at: datetime,
                         comment: str | None, kind: str | None = None) -> bool:
        """Record a decision: notice `notice_id` goes from state `expected` to `new` (confirmed |
        rejected) with the kind decided (`kind`; default the notice's current one), by `reviewer`.

        One transaction. Returns False, writing nothing, when the notice is no longer in `expected`
        (another reviewer was quicker). StoreError for a blank reviewer or an unknown kind or state.
        """
        name = clean_reviewer(reviewer)
        if name is None:
            raise StoreError("a decision needs the reviewer's name")
        if new not in ("confirmed", "rejected"):
            raise StoreError(f"a decision confirms or rejects, not {new!r}")
        if kind is not None and kind not in NOTICE_KINDS:
            raise StoreError(f"unknown notice kind {kind!r}; use one of {', '.join(NOTICE_KINDS)}")
        with self.transaction():
            row = self._conn.execute("SELECT state, coalesce(decided_kind, kind) FROM notices WHERE id = ?",
                                     (notice_id,)).fetchone()
            if row is None or row[0] != expected:
                return False
            try:
                self._conn.execute(
                    "INSERT INTO notice_reviews (notice_id, at, reviewer, old_state, new_state, kind, comment) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (notice_id, iso(at), name, expected, new, kind or row[1], comment),
                )
            except sqlite3.IntegrityError as exc:  # the database's own checks (schema version 4)
                raise StoreError(f"the inventory refused the decision: {exc}") from None
        return True
