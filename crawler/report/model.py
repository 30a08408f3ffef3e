"""What a report is, as data: points, the accounts at them, the changes, the tiers, the series.

Built by crawler.report.build from the store's records; every renderer formats only this.
Times are kept as aware UTC datetimes; days people read are the inventory's local days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from crawler.models import Reason


@dataclass(frozen=True)
class AccountAt:
    """One registered account's status at a point, from its status history."""

    id: str
    unit: str
    area: str
    platform: str
    url: str
    status: str  # active | dormant | gone | unknown | unchecked
    since: datetime | None
    why: Reason | None


@dataclass(frozen=True)
class Inactive:
    """An account inactive for longer than the city's guideline allows, with the evidence."""

    id: str
    unit: str
    area: str
    platform: str
    url: str
    inactive_since: date  # the last post's day, or the day since which nothing was posted (post count)
    by_post_count: bool  # inactive_since is the first reading of an unchanged post count, not a post
    months: int  # whole months from inactive_since to the point


@dataclass
class Point:
    """A date asked for and the snapshot that stands for it, with every figure there."""

    requested: str
    snapshot: dict[str, Any] | None = None
    nearest: datetime | None = None  # when no snapshot fits: the nearest one there is
    accounts: dict[str, AccountAt] = field(default_factory=dict)
    announced: list[str] = field(default_factory=list)  # accounts whose move notice was detected by then
    pending: list[str] = field(default_factory=list)  # accounts with a notice detected by then, still pending
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # dimension -> key -> status
    past_guideline: list[Inactive] = field(default_factory=list)
    blogs: list[str] = field(default_factory=list)  # blogs that exist, status active or dormant
    blogs_monthly: list[str] = field(default_factory=list)  # of those, a post within the guideline's month(s)
    warmup: bool = False  # some registered account had not been told apart yet (see build.warm_up)

    @property
    def available(self) -> bool:
        return self.snapshot is not None

    @property
    def at(self) -> datetime | None:
        return self.snapshot["taken_at"] if self.snapshot else None

    def ids(self, status: str) -> list[str]:
        return sorted(i for i, a in self.accounts.items() if a.status == status)


@dataclass(frozen=True)
class Change:
    """An account whose status differs between the two points, with the evidence."""

    id: str
    unit: str
    area: str
    platform: str
    url: str
    old: str
    new: str
    since: datetime | None
    why: Reason | None
    last_post_at: datetime | None
    last_post_estimated: bool
    notice: dict[str, Any] | None


@dataclass(frozen=True)
class NoticeRow:
    """A confirmed notice of the period: a move to Tempus Hemma, a closing, a move elsewhere."""

    account_id: str
    unit: str
    area: str
    platform: str
    kind: str  # move | closing | elsewhere (the reviewer's decision)
    detected_at: datetime
    published_at: datetime | None
    snippet: str
    link: str


@dataclass
class Report:
    """Everything a report shows, as data; the renderers only format it."""

    baseline: Point
    as_of: Point
    tolerance_days: float
    rule: str
    generated_at: datetime
    db: str
    cohort: dict[str, Any] | None
    changes: list[Change]
    series: list[Point]  # the periods' points (--every), else every snapshot up to the as-of
    every: str | None  # the period of the series ("6m"), None: one point per snapshot
    notices: list[NoticeRow]
    settings: dict[str, Any]  # the settings in force that the definitions name
    notes: list[dict[str, Any]] = field(default_factory=list)  # the snapshot and the history disagree
    timeline: list[Point] = field(default_factory=list)  # every snapshot up to the as-of: the chart's points
    warmup_until: datetime | None = None  # the first snapshot after the start-up crawls (None: no start-up)
