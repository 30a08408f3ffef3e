"""The field world: the contract world's accounts with the timing and faults of the real field, and
the measurement of how wrong a weekly crawl then is.

The contract world (world.py) places every decisive moment inside a weekly window far from the
crawl, so that a correct crawler agrees with truth exactly: it is the crawler's contract. The field
world keeps the same kinds, archetypes and quotas but drops those promises:

* posts, deletions and notices fall at any moment of their week, and one in four within three
  hours of a crawl (just before or just after it);
* move notices are posted on Instagram (in the bio) and Facebook (as a post) too, not only on blogs;
* login walls and robots.txt hide accounts whatever they do, so hidden accounts fall silent and are
  deleted without the crawler being able to see it; flaky answers (a 503 on the first request of
  a week) hit accounts that change too.

`field_report(world, views)` compares the crawler's inventory after every weekly cycle with truth
at that cycle, with tolerances: a disagreement is *late* when truth changed since the previous
crawl (or a deletion has not yet been seen on the visits the gone rule needs), *unseen* when the
account is hidden (the crawler says unknown, by design), *undecided* when a visible account is
called unknown (an abstention, not a wrong status), otherwise *misclassified*; and, for every
change of true status, how many days after it the crawler first showed the new status.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from crawler.demo.world import _C0, DAY, WEEK, World, cycle_time

NEAR_CRAWL = 3 * 3600.0  # "near a cycle boundary": within three hours of a crawl
NEAR_SHARE = 0.25


class _View(Protocol):
    status: str | None


class FieldWorld(World):
    """The contract world's accounts with the field's timing, hidden changes and notices everywhere."""

    name = "field"
    notice_kinds = frozenset(range(6))  # every kind, Instagram and Facebook included
    hidden_archetypes = None  # login walls and robots.txt on any account, deleted ones too
    faults_on_changing = True

    def _moment(self, rng: random.Random, week: int) -> float:
        start = _C0 + week * WEEK  # the crawl of cycle `week`
        if rng.random() < NEAR_SHARE:
            # within three hours of the next crawl, before or after it
            return start + WEEK + rng.uniform(-NEAR_CRAWL, NEAR_CRAWL)
        return start + rng.uniform(0, WEEK)


@dataclass
class FieldReport:
    """How the inventory after each cycle compares with truth at that cycle (see the module docstring)."""

    cycles: int
    accounts: int
    agree: int = 0
    late: int = 0
    unseen: int = 0
    undecided: int = 0  # a visible account the crawler calls unknown (e.g. an Instagram count not yet risen)
    misclassified: int = 0
    wrong: Counter = field(default_factory=Counter)  # "truth->crawler" of the misclassified
    changes: int = 0  # changes of true status between two cycles (visible accounts)
    caught_days: list[float] = field(default_factory=list)  # per caught change: crawler's time - truth's
    caught_by: dict[str, list[float]] = field(default_factory=dict)  # the same, by the new status
    not_caught: int = 0
    by_cycle: dict[int, tuple[int, int]] = field(default_factory=dict)  # cycle -> (misclassified, late)

    @property
    def total(self) -> int:
        return self.agree + self.late + self.unseen + self.undecided + self.misclassified

    def share(self, n: int) -> float:
        return n / self.total if self.total else 0.0

    def days_late(self, q: float) -> float | None:
        if not self.caught_days:
            return None
        ordered = sorted(self.caught_days)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _change_moment(world: World, index: int, lo: datetime, hi: datetime) -> datetime:
    """When the true status of account `index` changed between `lo` and `hi` (to the minute)."""
    before = world.truth(index, lo).status
    while hi - lo > timedelta(minutes=1):
        mid = lo + (hi - lo) / 2
        if world.truth(index, mid).status == before:
            lo = mid
        else:
            hi = mid
    return hi


def field_report(world: World, views: Mapping[int, Mapping[str, _View]], route: str = "public") -> FieldReport:
    """The crawler's error against truth over the cycles in `views` (cycle -> account id -> view);
    `route` is how Instagram and Facebook were read (DemoAccount.observable_via)."""
    from crawler.demo.runner import _gone_confirmable  # the runner imports this module
    cycles = sorted(views)
    report = FieldReport(cycles=len(cycles), accounts=len(world))
    for acc in world.accounts():
        hidden = acc.observable_via(route) in ("login_wall", "robots")
        truths = {k: world.truth(acc.index, cycle_time(k)) for k in cycles}
        for pos, k in enumerate(cycles):
            got = views[k][acc.id].status if acc.id in views[k] else None
            want = truths[k].status
            if got == want:
                report.agree += 1
                continue
            if hidden:
                report.unseen += 1
                continue
            previous = truths[cycles[pos - 1]].status if pos else None
            changed = previous is not None and previous != want
            if changed or not _gone_confirmable(world, acc.deleted_at, k):
                report.late += 1
                wrong, late = report.by_cycle.get(k, (0, 0))
                report.by_cycle[k] = (wrong, late + 1)
                continue
            if got == "unknown":
                report.undecided += 1
                continue
            report.misclassified += 1
            report.wrong[f"{want}->{got}"] += 1
            wrong, late = report.by_cycle.get(k, (0, 0))
            report.by_cycle[k] = (wrong + 1, late)
        if hidden:
            continue
        for pos in range(1, len(cycles)):
            a, b = cycles[pos - 1], cycles[pos]
            if truths[a].status == truths[b].status:
                continue
            report.changes += 1
            moment = _change_moment(world, acc.index, cycle_time(a), cycle_time(b))
            new = truths[b].status
            caught = next((k for k in cycles[pos:] if truths[k].status == new
                           and acc.id in views[k] and views[k][acc.id].status == new), None)
            if caught is None:
                report.not_caught += 1
            else:
                days = (cycle_time(caught) - moment).total_seconds() / DAY
                report.caught_days.append(days)
                report.caught_by.setdefault(new, []).append(days)
    return report


def render_field(report: FieldReport) -> list[str]:
    """The lines `crawler demo --world field` prints about the crawler's error."""
    def row(label: str, n: int, why: str = "") -> str:
        return f"  {label:<16}{n:>7}  {report.share(n):>6.1%}" + (f"  {why}" if why else "")

    lines = [
        "",
        f"How wrong a weekly crawl is (field world: {report.accounts} accounts x {report.cycles} cycles = "
        f"{report.total} account-weeks; the inventory after each cycle against truth at that moment):",
        row("agree", report.agree),
        row("late", report.late, "truth changed since the previous crawl, or a deletion not yet seen twice 24 h apart"),
        row("unseen", report.unseen, "login wall or robots.txt: the crawler says unknown, never a guess"),
        row("undecided", report.undecided, "visible, but the crawler says unknown (a post count that has not risen yet)"),
        row("misclassified", report.misclassified,
            ", ".join(f"{n} {what}" for what, n in report.wrong.most_common(4)) or ""),
    ]
    if report.changes:
        median = statistics.median(report.caught_days) if report.caught_days else None
        p90, worst = report.days_late(0.9), max(report.caught_days, default=None)
        lines.append(
            f"  status changes: {report.changes}; shown by the crawler {len(report.caught_days)}"
            + (f", days late median {median:.1f}, 90 % within {p90:.1f}, max {worst:.1f}" if median is not None else "")
            + (f"; not yet shown by the last cycle: {report.not_caught}" if report.not_caught else "")
        )
        for status, days in sorted(report.caught_by.items()):
            lines.append(f"    to {status:<8} {len(days):>4} changes, days late median {statistics.median(days):.1f}, "
                         f"max {max(days):.1f}")
    return lines
