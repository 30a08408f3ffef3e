"""Values passed from one stage of the flow to the next.

sources -> Account -> fetch -> Fetched -> parse -> Observation -> notices -> NoticeHit
                                                             -> classify -> Verdict -> store

All are small frozen dataclasses. Datetimes are timezone-aware and in UTC. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# The platforms an Account may name are registered in crawler/platforms/ (`platforms.names()`).
STATUSES = ("active", "dormant", "gone", "unknown")

# Outcomes recorded on a check (one visit of one account). `ok` and `not_modified` are successes;
# the rest say precisely why the visit told us nothing (or that the account is gone).
OUTCOMES = (
    "ok",
    "not_modified",
    "gone",
    "login_wall",
    "blocked_by_robots",
    "robots_unreachable",
    "error",
)

# Error kinds a fetch can end with (Fetched.error). Kept in one place so that the classifier,
# reports and tests agree on the spelling.
FETCH_ERRORS = (
    "blocked_by_robots",  # robots.txt disallows the URL, nothing was requested
    "robots_unreachable",  # robots.txt answered 5xx (its status is Fetched.status): the site is failing, nothing requested
    "blocked_scheme",  # not http(s)
    "blocked_address",  # the peer address is loopback/private/link-local and the guard is on
    "dns_error",  # the host name does not resolve
    "connect_error",  # refused, unreachable, TLS failure
    "timeout",  # connect/read/write/pool timeout of httpx
    "deadline_exceeded",  # the whole request took longer than the total deadline
    "too_large",  # the (decompressed) body passed max_body_bytes
    "too_many_redirects",
    "truncated",  # the connection closed before the announced body was complete
    "rate_limited",  # 429 beyond the retries or with a Retry-After above the cap
    "server_error",  # 5xx after the retries
    "protocol_error",  # malformed HTTP
    "decode_error",  # broken Content-Encoding
    "parse_timeout",  # reading the response took longer than settings.parse_timeout (its worker was stopped)
    "internal_error",  # a crawler bug while reading the response (recorded by crawl.py, never raised)
    "api_error",  # the Graph API answered with an error object (its code is in the message)
    "api_unavailable",  # the Graph API was not called: token expired or refused, throttled, not configured
)


@dataclass(frozen=True, slots=True)
class Account:
    """One entry of sources.yaml (slots: a registry of 100,000 is 100,000 of these in memory)."""

    id: str
    unit: str
    area: str
    platform: str
    url: str
    feed: str | None = None
    added: date | None = None
    notes: str | None = None
    route: str | None = None  # auto (None) | api | public: how it is read (crawler/routes.py)


@dataclass(frozen=True)
class Fetched:
    """The result of one visit of one URL: a value, never an exception.

    `status` is the HTTP status of the final response (None when no response came; for
    `robots_unreachable`, and `rate_limited` by robots.txt, it is robots.txt's status);
    `error` is one of FETCH_ERRORS or None; `body` is None unless a complete body was read.
    `headers` holds only the headers that matter downstream, with lower-case names.
    """

    url: str
    final_url: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    elapsed_ms: int = 0
    redirects: tuple[str, ...] = ()
    error: str | None = None
    error_message: str | None = None
    started_at: datetime | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """A response was received in full (any status); the parser may look at it."""
        return self.error is None and self.status is not None

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Post:
    """A post seen on an account: its URL (may carry names: stored only hashed) and date."""

    url: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class PublicText:
    """A short public text the notice detector reads (title, summary, bio, description).

    Passed on in memory only; stored solely as a short snippet when a notice is flagged.
    """

    # "title" | "summary" (a post's); "bio" | "description" (the account's own: bio, tagline, feed
    # channel description, og:description)
    kind: str
    text: str
    url: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class Observation:
    """What one visit tells about an account, as read by a platform adapter.

    exists: True (it is there), False (removed: a gone candidate), None (cannot be told).
    `follow` asks the caller to fetch another URL (a discovered feed) and parse that instead.
    """

    platform: str
    exists: bool | None
    reason: str
    last_post_at: datetime | None = None
    posts: tuple[Post, ...] = ()
    post_count: int | None = None
    feed_url: str | None = None
    texts: tuple[PublicText, ...] = ()
    notes: tuple[str, ...] = ()
    login_wall: bool = False
    follow: str | None = None
    source_url: str | None = None  # the URL whose response this observation was read from
    # The site's own name as it gives it (page <title>/og:site_name, feed title): in memory only,
    # for "is this still the same account" after gone.
    site_title: str | None = None
    route: str = "public"  # "public" (the platform's own pages) or "api" (an official API: exact, not opaque)


@dataclass(frozen=True)
class NoticeHit:
    """A public text flagged as a notice: a move to Tempus Hemma, a closing or a move elsewhere."""

    score: float
    matched: tuple[str, ...]
    snippet: str
    kind: str  # "move" | "closing" | "elsewhere" (crawler.notices.KINDS)
    post_url: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class PriorState:
    """What the store knows about an account before this visit (input to the classifier)."""

    status: str | None = None  # None for a never-classified account
    status_since: datetime | None = None
    last_post_at: datetime | None = None
    post_count: int | None = None
    post_count_at: datetime | None = None  # when post_count was last read
    # Added for the classifier (defaults keep older callers working):
    post_count_since: datetime | None = None  # first read of the current post_count (None: unknown)
    last_post_estimated: bool = False  # last_post_at is an upper bound from a post-count rise
    consecutive_failures: int = 0  # visits in a row that told nothing (errors, login walls)
    gone_streak: int = 0  # visits in a row with exists=False
    gone_streak_since: datetime | None = None  # time of the first visit of that streak
    last_checked_at: datetime | None = None
    # Evidence of identity for an account coming back after gone (defect 1 of issue 13):
    last_post_url: str | None = None  # the newest post seen before (the store keeps it as evidence)
    unit: str | None = None  # the registry's name of the unit ("Förskolan Solrosen")


@dataclass(frozen=True)
class Reason:
    """Why an account has its status, as data: a kind (crawler.reasons.KINDS) and its values.

    Values are JSON-ready (ints, bools, None, text; days as "YYYY-MM-DD" in the inventory's local
    time zone), so a reason is stored once (status_changes.reason_kind + reason_values) and written
    in Swedish or English by crawler.reasons through the message catalogs. Kind "text" is a reason
    that is only text: what inventories before schema version 6 stored, or a caller's own words.
    """

    kind: str
    values: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def text(cls, text: str) -> Reason:
        return cls("text", {"text": text})

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def with_values(self, **values: Any) -> Reason:
        return Reason(self.kind, {**self.values, **values})

    def __str__(self) -> str:
        from crawler.reasons import render  # the English text (the catalogs' source language)

        return render(self, "en")


@dataclass(frozen=True)
class Verdict:
    """The classifier's decision after one visit, with the counters to store for the next.

    `why` is the reason as data (a plain string is taken as a Reason of kind "text");
    `reason` is its English text.
    """

    status: str
    why: Reason
    changed: bool
    last_post_at: datetime | None
    last_post_estimated: bool = False  # inferred from a rise of the post count, not read
    consecutive_failures: int = 0
    gone_streak: int = 0
    gone_streak_since: datetime | None = None
    post_count_since: datetime | None = None  # first read of the current post count, to store

    def __post_init__(self) -> None:
        if isinstance(self.why, str):
            object.__setattr__(self, "why", Reason.text(self.why))

    @property
    def reason(self) -> str:
        return str(self.why)


def source_fetch(fetches: Sequence[Fetched], obs: Observation | None) -> Fetched | None:
    """The fetch an observation was read from (the last one with its source_url), else the last fetch.

    A visit may try several URLs (guessed feed paths after the page); what the visit *was* (its
    outcome, the validators and the fields of its check row) is that of the response it was read from.
    """
    if obs is not None and obs.source_url:
        for f in reversed(fetches):
            if f.url == obs.source_url:
                return f
    return fetches[-1] if fetches else None
