"""The reviewers' queue: flagged notices, a person's decision on each, and the audit trail.

A notice flagged by crawler.notices is stored once per account and post (the store's unique key),
so a crawl never flags the same post twice, and a rejected notice never comes back. Reviewers:

- confirm: the notice says what its kind says: the account moves to Tempus Hemma (`move`), closes
  (`closing`) or moves elsewhere (`elsewhere`); the reviewer may correct the kind. A confirmed move
  sets the account's `announced_move` flag, which follows the confirmed moves (a later rejection of
  the only one clears it); confirmed closings and moves elsewhere are kept and listed, not counted
  as the move (decisions made before schema version 4 count as they did then);
- reject: not such an announcement;
- skip: leave it pending.

A notice that was already reviewed changes only with `force=True`. Every decision, forced or not,
is one entry appended to `notice_reviews` with the reviewer, time, kind and comment; that trail is
the record: the database applies its last entry to the notice and the flag, refuses any other
change of them, and never updates or deletes an entry. A reviewer's name must name someone (not
blank, not spaces). SQL lives in crawler.store; this module holds the rules and the text the CLI
prints.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crawler import reasons, sanitize
from crawler.clock import day_text, time_text, utcnow
from crawler.errors import CrawlerError
from crawler.store import Store, iso
from crawler.store.records import AccountRecord, NoticeRecord, ReviewRecord
from crawler.store.review_writes import clean_reviewer
from crawler.store.schema import NOTICE_KINDS

DECISIONS = {"confirm": "confirmed", "reject": "rejected"}
STATES = ("pending", "confirmed", "rejected")


class ReviewError(CrawlerError):
    """A review decision that is not allowed as asked (already reviewed, no reviewer name)."""


# A flagged notice as a reviewer sees it (with its account and the decision on it).
Notice = NoticeRecord


def to_dict(notice: Notice) -> dict[str, Any]:
    """A notice as JSON-ready data (`crawler review list --json`), times as ISO text."""
    keys = ("id", "account_id", "unit", "area", "platform", "account_url", "post_url", "published_at",
            "detected_at", "score", "kind", "matched", "snippet", "state", "reviewer", "reviewed_at", "comment",
            "announced_move", "decided_kind")
    return {k: (iso(v) if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v)
            for k, v in ((k, getattr(notice, k)) for k in keys)}


def export_labels(store: Store) -> list[dict[str, Any]]:
    """The decided notices as labelled rows for scripts/notice_accuracy.py (oldest first).

    A confirmed notice is labelled with the kind the decision settled on (the detector's when the
    reviewer kept it); a rejected one with "none". The text is the stored snippet, all that is kept.
    """
    rows = []
    for notice in store.notices(None):
        if notice.state == "pending":
            continue
        kind = (notice.decided_kind or notice.kind) if notice.state == "confirmed" else "none"
        rows.append({"text": notice.snippet, "kind": kind, "detected_kind": notice.kind, "score": notice.score,
                     "note": f"notice {notice.id} {notice.state} by {notice.reviewer}", "split": "reviewed"})
    return rows


@dataclass(frozen=True)
class Decision:
    """The result of one review: the notice after it and whether the account is now flagged."""

    notice: Notice
    old_state: str
    changed: bool  # False when the decision repeated the current state and kind (forced)


def reviewer_name(name: str | None) -> str:
    """The reviewer's name as it will be recorded; ReviewError when it names nobody (blank, spaces)."""
    cleaned = clean_reviewer(name)
    if cleaned is None:
        raise ReviewError("a review needs the reviewer's name (--by NAME); spaces alone name nobody")
    return cleaned


def list_notices(store: Store, state: str | None = "pending") -> list[Notice]:
    """Notices in `state` (pending by default; None or "all" for every state), oldest first."""
    if state == "all":
        state = None
    if state is not None and state not in STATES:
        raise ReviewError(f"unknown state {state!r}; use one of {', '.join(STATES)} or all")
    return store.notices(state)


def get(store: Store, notice_id: int) -> Notice:
    """One notice by id (crawler.errors.NotFound when there is none)."""
    return store.notice(notice_id)


def history(store: Store, notice_id: int) -> list[ReviewRecord]:
    """The audit trail of a notice: every decision with reviewer, time, states and comment."""
    store.notice(notice_id)  # NotFound for an unknown id rather than an empty trail
    return store.notice_reviews(notice_id)


def decide(store: Store, notice_id: int, decision: str, reviewer: str, *, comment: str | None = None,
           force: bool = False, kind: str | None = None, now: datetime | None = None) -> Decision:
    """Confirm or reject a notice, optionally correcting its kind. An already reviewed notice needs
    `force`; every decision is audited."""
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}; use confirm or reject")
    if kind is not None and kind not in NOTICE_KINDS:
        raise ReviewError(f"unknown kind {kind!r}; use one of {', '.join(NOTICE_KINDS)}")
    reviewer = reviewer_name(reviewer)
    comment = comment.strip() if comment and comment.strip() else None
    new = DECISIONS[decision]
    at = now or utcnow()
    notice = get(store, notice_id)
    if notice.state != "pending" and not force:
        raise ReviewError(
            f"notice {notice_id} was already {notice.state} by {notice.reviewer} on {_day(notice.reviewed_at)}.\n\n"
            f"To change that decision, run the command again with --force (the change is recorded)."
        )
    before = notice.decided_kind or notice.kind
    if not store.set_notice_state(notice_id, notice.state, new, reviewer, at, comment, kind or before):
        raise ReviewError(f"notice {notice_id} was reviewed by someone else just now; look at it again "
                          f"with `crawler review show {notice_id}`")
    return Decision(get(store, notice_id), notice.state, notice.state != new or (kind or before) != before)


def confirm(store: Store, notice_id: int, reviewer: str, **options: Any) -> Decision:
    """Confirm: the notice announces what its kind (or `kind=`) says: a move to Tempus Hemma, a closing,
    a move elsewhere."""
    return decide(store, notice_id, "confirm", reviewer, **options)


def reject(store: Store, notice_id: int, reviewer: str, **options: Any) -> Decision:
    """Reject: the text is not such an announcement; it will not be flagged again."""
    return decide(store, notice_id, "reject", reviewer, **options)


# ------------------------------------------------------------------------------------ the walk


class Prompts(Protocol):
    """How the walk talks with the reviewer (the CLI implements it with click; a test with a script)."""

    def name(self) -> str:
        """The reviewer's name, asked once when none was given."""

    def show(self, text: str) -> None:
        """Show a notice or the outcome of a decision."""

    def choose(self) -> str:
        """One of "c" (confirm), "r" (reject), "s" (skip), "o" (open the link), "q" (quit)."""

    def comment(self) -> str:
        """An optional comment for the audit trail ("" for none)."""

    def open(self, link: str) -> None:
        """Open a notice's link for the reviewer."""

    def warn(self, text: str) -> None:
        """Say that a decision was not recorded, and why."""


def walk(store: Store, prompts: Prompts, reviewer: str | None = None) -> Counter | None:
    """Walk the pending notices one by one: confirm, reject, skip, open the link or quit. Returns
    how many were confirmed, rejected and skipped, or None when nothing is pending. A notice that
    someone else reviewed meanwhile is reported and passed over."""
    queue = list_notices(store, "pending")
    if not queue:
        return None
    # a blank --by fails now, not at each decision; a prompted name is checked by the prompt
    reviewer = reviewer_name(reviewer) if reviewer is not None else reviewer_name(prompts.name())
    done: Counter = Counter({"confirmed": 0, "rejected": 0, "skipped": 0})
    for position, notice in enumerate(queue, 1):
        prompts.show(f"\n[{position}/{len(queue)}] " + format_notice(notice, account=store.account(notice.account_id)))
        while (choice := prompts.choose()) == "o":
            link = sanitize.href(notice.link)
            if link:
                prompts.open(link)
            else:  # a javascript:, data: or file: address from the web is never opened
                prompts.warn(f"not opened: {sanitize.text(notice.link)!r} is not an http(s) address")
        if choice == "q":
            break
        if choice == "s":
            done["skipped"] += 1
            continue
        comment = prompts.comment()
        try:
            result = decide(store, notice.id, "confirm" if choice == "c" else "reject", reviewer, comment=comment)
        except ReviewError as exc:
            prompts.warn(f"not recorded: {exc}")
            continue
        done[result.notice.state] += 1
        prompts.show(f"notice {notice.id}: {result.notice.state}")
    return done


def walk_summary(done: Counter) -> str:
    return f"{done['confirmed']} confirmed, {done['rejected']} rejected, {done['skipped']} skipped"


# ------------------------------------------------------------------------------------ display


def _day(at: datetime | None) -> str:
    return day_text(at) if at else "-"  # the inventory's local day (crawler.clock)


def _one_line(text: str, width: int) -> str:
    text = " ".join(sanitize.text(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_list(items: Sequence[Notice], snippet_width: int = 70) -> str:
    """A table: id, account, unit, area, platform, date, score, state, snippet (two units of one
    name are told apart by their account id and area)."""
    if not items:
        return "no notices"
    rows = [("id", "account", "unit", "area", "platform", "date", "score", "state", "snippet")]
    for n in items:
        rows.append((str(n.id), _one_line(n.account_id, 20), _one_line(n.unit, 28), _one_line(n.area, 22),
                     _one_line(n.platform, 12), _day(n.published_at or n.detected_at), f"{n.score:.2f}", n.state,
                     _one_line(n.snippet, snippet_width)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def format_notice(notice: Notice, trail: Sequence[ReviewRecord] = (), account: AccountRecord | None = None) -> str:
    """Everything about one notice, the account as it is now (when given: is it gone, when did it
    last post), the link to open, and its audit trail. Every value is one line of plain text
    (crawler.sanitize): a unit, URL, snippet or comment cannot add or overwrite rows."""
    t = sanitize.text
    lines = [
        f"notice {notice.id} ({t(notice.kind)}, score {notice.score:.2f}) — {t(notice.state)}"
        + (f" as {t(notice.decided_kind)}" if notice.decided_kind not in (None, notice.kind) else ""),
        f"unit:       {t(notice.unit)} ({t(notice.area)})",
        f"account:    {t(notice.account_id)} on {t(notice.platform)}: {t(notice.account_url)}",
        f"post:       {t(notice.post_url) or '(none: bio or page description)'}",
        f"published:  {time_text(notice.published_at) or '-'}",
        f"detected:   {time_text(notice.detected_at)}",
        f"matched:    {t(', '.join(notice.matched)) or '-'}",
        f"snippet:    {t(notice.snippet)}",
        f"open:       {t(notice.link)}" + ("" if sanitize.href(notice.link) else "  (not a web address: not opened)"),
        f"account flagged as announced move: {'yes' if notice.announced_move else 'no'}",
    ]
    if account is not None:
        lines[4:4] = _account_now(account)
    if notice.reviewer:
        lines.append(f"reviewed:   {t(notice.state)} by {t(notice.reviewer)} at {time_text(notice.reviewed_at)}"
                     + (f" — {t(notice.comment)}" if notice.comment else ""))
    if trail:
        lines.append("history:")
        for r in trail:
            lines.append(f"  {time_text(r.at)}  {t(r.reviewer)}: {t(r.old_state)} → {t(r.new_state)}"
                         + (f" as {t(r.kind)}" if r.kind and r.kind != notice.kind else "")
                         + (f" — {t(r.comment)}" if r.comment else ""))
    return "\n".join(lines)


def _account_now(account: AccountRecord) -> list[str]:
    """The account's status now, in the lines `format_notice` shows under the account."""
    t = sanitize.text
    if account.status is None:
        status = "not yet checked"
    else:
        status = f"{account.status} since {time_text(account.status_since) or '?'}"
        why = reasons.render(account.why, "en") if account.why is not None else ""
        if why:
            status += f": {why}"
    if account.status == "gone":
        status += " (the account's address no longer shows it: the link may not open)"
    if not account.registered:
        status += "; no longer in the registry"
    last_post = day_text(account.last_post_at) if account.last_post_at else "-"
    if account.last_post_at and account.last_post_estimated:
        last_post += " (estimated)"
    return [f"status now: {t(status)}",
            f"last post:  {t(last_post)}; last checked {time_text(account.last_checked_at) or 'never'}"]
