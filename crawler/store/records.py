"""What the store's named reads return: small frozen dataclasses of plain Python values.

No sqlite3.Row and no SQLite-only types, so that another database (PostgreSQL) can implement the
same reads. Conventions:

- times are timezone-aware `datetime`s in UTC (`None` when unknown); registry dates are `date`s;
- flags are `bool`; counts are `int`; `status` is None for an account never checked;
- collections are tuples (rows in the order the read documents) or plain dicts (counts by key).
"""

from __future__ import annotations

import functools
import json
import types
import typing
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from crawler.models import Reason
from crawler.store.connection import parse_iso


@dataclass(frozen=True)
class AccountRecord:
    """One account as the inventory holds it: registry fields, current status and its evidence."""

    id: str
    unit: str
    area: str
    platform: str
    url: str
    feed_url: str | None
    added: date | None
    notes: str | None
    registered_at: datetime
    deregistered_at: datetime | None
    status: str | None  # active | dormant | gone | unknown; None: never checked
    status_since: datetime | None
    last_post_at: datetime | None
    last_post_estimated: bool
    last_post_url: str | None  # the newest post only, as evidence for last_post_at
    last_checked_at: datetime | None
    last_ok_at: datetime | None
    post_count: int | None
    post_count_at: datetime | None
    consecutive_failures: int
    announced_move: bool
    why: Reason | None  # why it has its status, as data (rows before schema version 6: kind "text")

    @property
    def registered(self) -> bool:
        return self.deregistered_at is None

    @property
    def status_reason(self) -> str | None:
        """The reason in English (crawler.reasons.render(why, lang) for another language)."""
        return str(self.why) if self.why is not None else None


@dataclass(frozen=True)
class RunRecord:
    """One crawl cycle (`crawler crawl`, a scheduled cycle, the demo)."""

    id: int
    started_at: datetime  # wall clock
    finished_at: datetime | None
    clock_at: datetime  # the cycle's `now` (differs from the wall clock in the demo)
    state: str  # running | finished | interrupted | failed
    trigger: str | None
    pid: int | None
    accounts_total: int
    accounts_done: int
    errors: int
    requests: int
    bytes: int
    summary: str | None
    error: str | None


@dataclass(frozen=True)
class Snapshot:
    """The counts by status at the end of one full cycle."""

    id: int
    run_id: int | None
    taken_at: datetime
    registered: int
    existing: int  # registered and not gone
    active: int
    dormant: int
    gone: int
    unknown: int
    unchecked: int
    announced: int  # accounts flagged announced_move when the snapshot was taken
    pending_review: int


@dataclass(frozen=True)
class SnapshotCount:
    """One cell of a snapshot's breakdown: accounts of `key` (a platform or an area) in `status`."""

    dimension: str  # platform | area
    key: str
    status: str  # active | dormant | gone | unknown | unchecked
    count: int


@dataclass(frozen=True)
class StatusAt:
    """A registered account's status at a moment, from its status history."""

    id: str
    unit: str
    area: str
    platform: str
    url: str
    status: str  # active | dormant | gone | unknown | unchecked
    since: datetime | None
    why: Reason | None  # why it has that status, as data (crawler.reasons writes it out)

    @property
    def reason(self) -> str | None:
        """The reason in English."""
        return str(self.why) if self.why is not None else None


@dataclass(frozen=True)
class AccountAsOf:
    """A registered account as the inventory stood at a moment (`Reads.inventory_as_of`): its status
    then and why it took it, the last post and post count known then, its last visit before then."""

    id: str
    unit: str
    area: str
    platform: str
    url: str
    status: str | None  # active | dormant | gone | unknown; None: not checked yet by then
    status_since: datetime | None
    why: Reason | None  # why it took that status (recorded at status_since)
    last_post_at: datetime | None
    last_post_estimated: bool
    post_count: int | None
    last_checked_at: datetime | None
    announced_move: bool  # a notice detected by then and confirmed (by now) as a move to Tempus Hemma

    @property
    def status_reason(self) -> str | None:
        """The reason in English."""
        return str(self.why) if self.why is not None else None


@dataclass(frozen=True)
class LastPost:
    """The newest post date known for an account at a moment."""

    account_id: str
    at: datetime | None
    estimated: bool  # an upper bound from a rise of the post count, not a post's own date


@dataclass(frozen=True)
class NoticeRecord:
    """A flagged notice with its account, and the decision on it (from the audit trail)."""

    id: int
    account_id: str
    unit: str
    area: str
    platform: str
    account_url: str
    announced_move: bool  # the account's flag
    post_url: str | None
    published_at: datetime | None
    detected_at: datetime
    score: float
    kind: str  # what the detector called it: move | closing | elsewhere
    matched: tuple[str, ...]
    snippet: str
    state: str  # pending | confirmed | rejected
    decided_kind: str | None  # the kind the latest decision settled on (None while pending)
    reviewer: str | None
    reviewed_at: datetime | None
    comment: str | None

    @property
    def link(self) -> str:
        """What to open to check the notice: the post, else the account."""
        return self.post_url or self.account_url


@dataclass(frozen=True)
class ReviewRecord:
    """One entry of the reviewers' append-only audit trail."""

    id: int
    notice_id: int
    account_id: str
    unit: str
    at: datetime
    reviewer: str
    old_state: str
    new_state: str
    kind: str | None  # the kind decided (None only in entries written before schema version 4)
    comment: str | None


@dataclass(frozen=True)
class StatusChange:
    """One change of an account's status, with the classifier's reason."""

    id: int
    account_id: str
    unit: str
    area: str
    platform: str
    at: datetime
    old: str | None
    new: str
    run_id: int | None
    why: Reason | None  # the classifier's reason as data (crawler.reasons writes it out)

    @property
    def reason(self) -> str | None:
        """The reason in English."""
        return str(self.why) if self.why is not None else None


@dataclass(frozen=True)
class RegistryChange:
    """An account added to, updated in, removed from or returned to the registry."""

    id: int
    account_id: str
    at: datetime
    change: str  # added | updated | deregistered | reregistered
    detail: str | None


@dataclass(frozen=True)
class CheckRecord:
    """One visit of one account."""

    id: int
    run_id: int | None
    account_id: str
    started_at: datetime
    url: str
    final_url: str | None
    http_status: int | None
    outcome: str
    error: str | None
    reason: str | None
    bytes: int | None
    elapsed_ms: int | None
    requests: int | None
    exists: bool | None
    last_post_at: datetime | None
    posts_seen: int | None
    post_count: int | None
    status: str | None


@dataclass(frozen=True)
class FailingAccount:
    """A registered account whose recent checks failed, for `crawler status`."""

    id: str
    platform: str
    url: str
    status: str | None
    consecutive_failures: int
    last_ok_at: datetime | None
    last_checked_at: datetime | None
    last_error: str | None  # the last check's error kind, else its outcome


@dataclass(frozen=True)
class ApiStatusRecord:
    """The last reported state of an official API (Meta's Graph API), for status and alerts."""

    api: str
    state: str  # ok | token_invalid | token_unusable | throttled | permission | error
    since: datetime  # when it entered this state
    checked_at: datetime  # the last cycle that reported it
    detail: str | None
    calls: int | None
    usage_percent: float | None
    run_id: int | None


@dataclass(frozen=True)
class RouteCount:
    """How many registered accounts were last read along a route, and why (for `crawler status`)."""

    route: str  # api | public | unchecked
    platform: str
    status: str  # active | dormant | gone | unknown | unchecked
    note: str | None
    count: int


@dataclass(frozen=True)
class PendingSummary:
    """The review queue at a glance."""

    count: int
    oldest: datetime | None  # detection time of the oldest pending notice


@dataclass(frozen=True)
class InventoryPage:
    """One page of the inventory as filtered, with the counts of the whole filtered set."""

    rows: tuple[AccountRecord, ...]
    total: int  # accounts matching the filters (all pages)
    offset: int
    limit: int
    by_status: dict[str, int]  # of the filtered set; "unchecked" for never checked
    by_platform: dict[str, int]
    by_area: dict[str, int]
    by_route: dict[str, int] = field(default_factory=dict)  # api | public | unchecked (route of the last visit)


@dataclass(frozen=True)
class AccountDetail:
    """Everything about one account: the record, its history, recent checks, notices."""

    account: AccountRecord
    status_history: tuple[StatusChange, ...]  # oldest first
    registry_history: tuple[RegistryChange, ...]  # oldest first
    recent_checks: tuple[CheckRecord, ...]  # newest first
    notices: tuple[NoticeRecord, ...]  # oldest detection first


@dataclass(frozen=True)
class CandidateRecord:
    """An account discovery found that the registry lacks, and where it stands."""

    id: int
    url: str  # the canonical profile URL
    platform: str
    state: str  # proposed | excluded | accepted | dismissed | registered
    score: float
    reason: str
    unit: str | None  # guessed
    area: str | None
    checked: str | None  # what the profile check said
    first_seen_at: datetime
    last_seen_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    account_id: str | None  # the registry id written on accept
    evidence_count: int


@dataclass(frozen=True)
class EvidenceRecord:
    """Where a candidate was found: the page, the link as written there and its text."""

    page_url: str
    link_url: str
    link_text: str
    how: str  # link | rel-me | same-as | mention
    region: str | None  # header | footer | nav | aside | main | head
    source: str  # account | seed | link-in-bio
    source_account: str | None
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class CandidateDecision:
    """One entry of a candidate's audit trail."""

    id: int
    candidate_id: int
    at: datetime
    by: str
    decision: str  # accepted | dismissed | reopened
    old_state: str
    account_id: str | None
    comment: str | None


@dataclass(frozen=True)
class CandidateDetail:
    """A candidate with all its evidence (oldest first) and its decisions (oldest first)."""

    candidate: CandidateRecord
    evidence: tuple[EvidenceRecord, ...]
    decisions: tuple[CandidateDecision, ...]


@dataclass(frozen=True)
class UserRecord:
    """A person who may use the web app, and what they may do (never their password or its hash)."""

    name: str  # the login name, recorded with each decision
    role: str  # viewer | reviewer | admin
    has_password: bool
    created_at: datetime
    password_changed_at: datetime | None
    disabled_at: datetime | None
    last_login_at: datetime | None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True)
class UserChange:
    """One entry of the user-management trail: who added, re-roled, disabled or enabled whom."""

    id: int
    user_name: str
    at: datetime
    by: str
    change: str  # added | role | password | disabled | enabled
    detail: str | None


@dataclass(frozen=True)
class SessionRecord:
    """A signed-in browser: whose it is, since when, until when (and the user's role now)."""

    user_name: str
    role: str
    disabled: bool  # the user was disabled (the session no longer counts)
    created_at: datetime
    seen_at: datetime
    expires_at: datetime
    via: str  # password | sso


@dataclass(frozen=True)
class RunCounts:
    """Runs by state (running, finished, interrupted, failed), for /metrics."""

    by_state: dict[str, int]
    by_trigger: dict[str, int]


# ------------------------------------------------------------------------------ building records


@functools.cache
def _converters(cls: type) -> tuple[tuple[str, Any], ...]:
    """(field name, converter) for each field of a record, from its type annotation."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        hint = hints[f.name]
        args = set(typing.get_args(hint)) if isinstance(hint, types.UnionType) else {hint}
        if datetime in args:
            convert = parse_iso
        elif date in args:
            convert = _date
        elif bool in args:
            convert = _bool
        elif tuple[str, ...] in args:
            convert = _texts
        elif Reason in args:
            convert = _WHY
        else:
            convert = None
        out.append((f.name, convert))
    return tuple(out)


def make(cls: type, row: dict[str, Any]) -> Any:
    """A record of type `cls` from a row (a dict of the stored values, times as ISO text)."""
    return cls(**{name: (_why(row) if convert is _WHY else convert(row[name]) if convert else row[name])
                  for name, convert in _converters(cls)})


_WHY = object()  # a Reason is built from three columns: why_kind, why_values, why_text


def _why(row: dict[str, Any]) -> Reason | None:
    kind = row.get("why_kind")
    if kind:
        try:
            values = json.loads(row.get("why_values") or "{}")
        except ValueError:
            values = {}
        return Reason(kind, values if isinstance(values, dict) else {})
    text = row.get("why_text")
    return Reason.text(text) if text else None


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _texts(value: Any) -> tuple[str, ...]:
    try:
        return tuple(json.loads(value or "[]"))
    except ValueError:
        return ()


# --------------------------------------------------------------------------- the service (issue 18)


@dataclass(frozen=True)
class DueRecord:
    """A registered account a pass may visit: due since `due_at` (None: never visited)."""

    id: str
    url: str
    feed_url: str | None
    due_at: datetime | None
    cost: int | None  # requests its last visit took (None: not visited yet)


@dataclass(frozen=True)
class DemandRecord:
    """One account's share of its host's load: the interval it wants and what a visit costs."""

    id: str
    url: str
    feed_url: str | None
    interval_s: int
    cost: int | None


@dataclass(frozen=True)
class UnseenAccount:
    """An account among those unseen longest."""

    id: str
    platform: str
    url: str
    last_checked_at: datetime
    next_due_at: datetime | None
    due_reason: str | None
    consecutive_failures: int


@dataclass(frozen=True)
class ScheduleSummary:
    """The schedule at a glance (`crawler status`)."""

    due_now: int
    due_today: int  # due later today (local day), not now
    never_visited: int
    next_due_at: datetime | None  # the next account to fall due after now
    reasons: dict  # due_reason -> accounts ("new" for never scheduled)
    longest_unseen: tuple  # UnseenAccount, least recently visited first
    most_overdue_since: datetime | None  # the oldest due time among the due accounts


@dataclass(frozen=True)
class HostPause:
    """A host paused by a Retry-After until `paused_until`."""

    host: str
    paused_until: datetime
    reason: str | None


@dataclass(frozen=True)
class AlertRecord:
    """One incident told to ops: opened, maybe closed, and the channels that took each message."""

    id: int
    key: str
    severity: str  # stale | degraded
    opened_at: datetime
    summary: str
    sent: str | None  # JSON list of channels
    closed_at: datetime | None
    closed_sent: str | None


@dataclass(frozen=True)
class NoticeBrief:
    """A new notice as reviewers are told about it (no snippet: the queue shows that)."""

    id: int
    account_id: str
    unit: str
    platform: str
    kind: str
    score: float
    detected_at: datetime
    post_url: str | None


@dataclass(frozen=True)
class FreshnessRecord:
    """How recent the visits behind one figure of a snapshot were."""

    dimension: str  # all | platform | area
    key: str
    status: str  # a status, or "all"
    accounts: int
    oldest_check_at: datetime | None
    never: int
    seen_1d: int
    seen_7d: int
    seen_30d: int
