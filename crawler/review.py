"""The reviewers' queue: flagged notices, a person's decision on each, and the audit trail.

A notice flagged by crawler.notices is stored once per account and post (the store's unique key),
so a crawl never flags the same post twice, and a rejected notice never comes back. Reviewers:

- confirm: the account announced a move to Tempus Hemma (or its closing); sets the account's
  `announced_move` flag, which follows the confirmed notices (a later rejection of the only
  confirmed one clears it);
- reject: not such an announcement;
- skip: leave it pending.

A notice that was already reviewed changes only with `force=True`; every decision, forced or not,
is appended to `notice_reviews` with the reviewer, time and comment (nothing there is ever updated
or deleted). SQL lives in crawler.store; this module holds the rules and the text the CLI prints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from crawler.errors import CrawlerError
from crawler.store import Store

DECISIONS = {"confirm": "confirmed", "reject": "rejected"}
STATES = ("pending", "confirmed", "rejected")


class ReviewError(CrawlerError):
    """A review decision that is not allowed as asked (already reviewed, no reviewer name)."""


@dataclass(frozen=True)
class Notice:
    """A flagged notice as a reviewer sees it."""

    id: int
    account_id: str
    unit: str
    area: str
    platform: str
    account_url: str
    post_url: str | None
    published_at: str | None
    detected_at: str
    score: float
    kind: str
    matched: tuple[str, ...]
    snippet: str
    state: str
    reviewer: str | None
    reviewed_at: str | None
    comment: str | None
    announced_move: bool

    @property
    def link(self) -> str:
        """What to open to check the notice: the post, else the account."""
        return self.post_url or self.account_url

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Notice:
        try:
            matched = tuple(json.loads(row["matched"] or "[]"))
        except ValueError:
            matched = ()
        return cls(
            id=row["id"], account_id=row["account_id"], unit=row["unit"], area=row["area"],
            platform=row["platform"], account_url=row["account_url"], post_url=row["post_url"],
            published_at=row["published_at"], detected_at=row["detected_at"], score=row["score"],
            kind=row["kind"], matched=matched, snippet=row["snippet"], state=row["state"],
            reviewer=row["reviewer"], reviewed_at=row["reviewed_at"], comment=row["comment"],
            announced_move=bool(row["announced_move"]),
        )


@dataclass(frozen=True)
class Decision:
    """The result of one review: the notice after it and whether the account is now flagged."""

    notice: Notice
    old_state: str
    changed: bool  # False when the decision repeated the current state (forced)


def list_notices(store: Store, state: str | None = "pending") -> list[Notice]:
    """Notices in `state` (pending by default; None or "all" for every state), oldest first."""
    if state == "all":
        state = None
    if state is not None and state not in STATES:
        raise ReviewError(f"unknown state {state!r}; use one of {', '.join(STATES)} or all")
    return [Notice.from_row(r) for r in store.notices(state)]


def get(store: Store, notice_id: int) -> Notice:
    """One notice by id (crawler.errors.NotFound when there is none)."""
    return Notice.from_row(store.notice(notice_id))


def history(store: Store, notice_id: int) -> list[dict[str, Any]]:
    """The audit trail of a notice: every decision with reviewer, time, states and comment."""
    store.notice(notice_id)  # NotFound for an unknown id rather than an empty trail
    return store.notice_reviews(notice_id)


def decide(store: Store, notice_id: int, decision: str, reviewer: str, *, comment: str | None = None,
           force: bool = False, now: datetime | None = None) -> Decision:
    """Confirm or reject a notice. An already reviewed notice needs `force`; every decision is audited."""
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}; use confirm or reject")
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise ReviewError("a review needs the reviewer's name (--by NAME)")
    comment = comment.strip() if comment and comment.strip() else None
    new = DECISIONS[decision]
    at = now or datetime.now(timezone.utc)
    notice = get(store, notice_id)
    if notice.state != "pending" and not force:
        raise ReviewError(
            f"notice {notice_id} was already {notice.state} by {notice.reviewer} on {_day(notice.reviewed_at)}.\n\n"
            f"To change that decision, run the command again with --force (the change is recorded)."
        )
    if not store.set_notice_state(notice_id, notice.state, new, reviewer, at, comment):
        raise ReviewError(f"notice {notice_id} was reviewed by someone else just now; look at it again "
                          f"with `crawler review show {notice_id}`")
    return Decision(get(store, notice_id), notice.state, notice.state != new)


def confirm(store: Store, notice_id: int, reviewer: str, **options: Any) -> Decision:
    """Confirm: the account announced a move to Tempus Hemma or its closing."""
    return decide(store, notice_id, "confirm", reviewer, **options)


def reject(store: Store, notice_id: int, reviewer: str, **options: Any) -> Decision:
    """Reject: the text is not such an announcement; it will not be flagged again."""
    return decide(store, notice_id, "reject", reviewer, **options)


# ------------------------------------------------------------------------------------ display


def _day(iso_text: str | None) -> str:
    return iso_text[:10] if iso_text else "-"


def _one_line(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_list(items: Sequence[Notice], snippet_width: int = 70) -> str:
    """A table: id, unit, platform, date, score, state, snippet."""
    if not items:
        return "no notices"
    rows = [("id", "unit", "platform", "date", "score", "state", "snippet")]
    for n in items:
        rows.append((str(n.id), _one_line(n.unit, 28), n.platform, _day(n.published_at or n.detected_at),
                     f"{n.score:.2f}", n.state, _one_line(n.snippet, snippet_width)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def format_notice(notice: Notice, trail: Sequence[dict[str, Any]] = ()) -> str:
    """Everything about one notice, the link to open, and its audit trail."""
    lines = [
        f"notice {notice.id} ({notice.kind}, score {notice.score:.2f}) — {notice.state}",
        f"unit:       {notice.unit} ({notice.area})",
        f"account:    {notice.account_id} on {notice.platform}: {notice.account_url}",
        f"post:       {notice.post_url or '(none: bio or page description)'}",
        f"published:  {notice.published_at or '-'}",
        f"detected:   {notice.detected_at}",
        f"matched:    {', '.join(notice.matched) or '-'}",
        f"snippet:    {notice.snippet}",
        f"open:       {notice.link}",
        f"account flagged as announced move: {'yes' if notice.announced_move else 'no'}",
    ]
    if notice.reviewer:
        lines.append(f"reviewed:   {notice.state} by {notice.reviewer} at {notice.reviewed_at}"
                     + (f" — {notice.comment}" if notice.comment else ""))
    if trail:
        lines.append("history:")
        for t in trail:
            lines.append(f"  {t['at']}  {t['reviewer']}: {t['old_state']} → {t['new_state']}"
                         + (f" — {t['comment']}" if t["comment"] else ""))
    return "\n".join(lines)
