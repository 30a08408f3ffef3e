"""When each account is visited next, and which due accounts a pass may visit: pure, `now` passed in.

    next_due(...) -> Due          one account's next visit after a visit, and why
    Planner(settings, floors)     next_due for the crawl (run_cycle asks it after every classify)
    host_of(url), budget(host)    the host an account is fetched from; its requests per day
    floors(demand, budgets)       per host, the shortest interval its budget can keep for all its accounts
    Buckets / pick(...)           per pass: the due accounts each host's budget (and Retry-After) admits

The rules, in order (settings in the "Schedule" group):

1. **Errors back off, never stop**: after k visits in a row that told nothing, the next visit is
   `backoff_base_hours * 2**(k-1)` later, capped at `revisit_max_days`, with jitter. Miniflux
   stops polling after 3 errors; its users' most-asked fix is to keep polling, slower.
2. **A gone candidate is confirmed**: an account seen "not there" once is visited again as soon as
   the classifier may call it gone (`gone_min_hours` after the first sighting).
3. **Status**: gone accounts every `revisit_gone_days`, dormant ones every `revisit_dormant_days`.
4. **Activity** (Miniflux's entry-frequency scheduler): an existing account posting p times a week
   is visited every 7/p days, clamped to [`revisit_min_hours`, `revisit_max_days`]. The maximum
   keeps the board's classification honest: no existing account goes unseen for more than a week,
   and an active account whose newest post is about to pass `active_days` is visited right after
   it does, so "dormant" is seen on time, not up to a week late.
5. **The host's budget**: a host allows `budget(host)` requests a day (from `host_budgets`, else
   `host_budget_share` of what its politeness delay permits: 10 s per request on instagram.com is
   8,640 a day, 6,912 planned). When a host's accounts want more than that, every interval on the
   host is raised to the floor that fits (water-filling: frequent posters keep their short interval
   only if the budget allows it), so a next-due time is when the visit can really happen.
   Each pass then takes, host by host, only what a token bucket of that budget admits, and nothing
   from a host still paused by a Retry-After (FreshRSS applies a 429/503 Retry-After to the whole
   domain; the fetcher does that within a pass, the service carries it across passes).

Jitter (± `revisit_jitter`) is drawn from the account's id and the visit's time, so the same inputs
always give the same answer, and accounts first visited together drift apart.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

from crawler.models import Account, Observation, PriorState, Verdict
from crawler.settings import Settings

WEEK = timedelta(days=7)
DAY_S = 86400.0
RATE_WINDOW = timedelta(days=28)  # posts within this window make an account's posting rate
DEFAULT_COST = 2  # requests a visit is assumed to take before its first visit says (page + feed)
FLIP_MARGIN = timedelta(hours=1)  # visit this long after an active account's newest post passes active_days
CONFIRM_MARGIN = timedelta(minutes=10)  # after gone_min_hours, so the confirming visit is surely far enough


@dataclass(frozen=True)
class Due:
    """An account's next visit: when, and the rule that decided it (for status and the logs)."""

    at: datetime
    why: str  # activity | backoff | confirm_gone | gone | dormant | unknown | dormant_soon | host_budget | new
    interval: timedelta  # the wanted interval before the host's floor (what the host's demand is made of)


# --------------------------------------------------------------------------- one account


def posts_per_week(dates: Iterable[datetime | None], now: datetime) -> float | None:
    """Posts a week over the last RATE_WINDOW, from the post dates a visit saw; None without any date.

    A feed lists only its newest posts; when all of them fall inside the window, the span they cover
    is the better denominator (ten posts in five days is two a day, not ten in four weeks).
    """
    seen = [d for d in dates if d is not None and d <= now]
    if not seen:
        return None
    recent = [d for d in seen if now - d <= RATE_WINDOW]
    if not recent:
        return 0.0
    span = RATE_WINDOW
    if len(recent) == len(seen) and len(recent) >= 3:  # the list may be cut: the window is what it shows
        span = max(now - min(recent), timedelta(days=1))
    return len(recent) / (span / WEEK)


def count_rate(prior: PriorState, post_count: int | None, now: datetime) -> float | None:
    """Posts a week from a rise of a post count between two visits (Instagram's public page), or None."""
    if post_count is None or prior.post_count is None or prior.post_count_at is None:
        return None
    weeks = (now - prior.post_count_at) / WEEK
    if weeks <= 0:
        return None
    return max(0, post_count - prior.post_count) / weeks


def _jitter(account_id: str, now: datetime, share: float) -> float:
    """A factor in [1 - share, 1 + share], the same for the same account and moment."""
    if share <= 0:
        return 1.0
    digest = hashlib.blake2b(f"{account_id}|{now.isoformat()}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64  # [0, 1)
    return 1.0 + share * (2 * u - 1)


def backoff(failures: int, settings: Settings) -> timedelta:
    """The wait after `failures` visits in a row that told nothing: doubling, capped, never infinite."""
    cap = settings.revisit_max_days * DAY_S
    exponent = min(max(failures, 1) - 1, 60)  # in float seconds: no timedelta overflow on the way to the cap
    return timedelta(seconds=min(cap, settings.backoff_base_hours * 3600 * 2.0**exponent))


def activity_interval(rate: float | None, settings: Settings) -> timedelta:
    """Entry frequency: a week divided by the posts a week, clamped; the maximum when the rate is 0/unknown."""
    low, high = timedelta(hours=settings.revisit_min_hours), timedelta(days=settings.revisit_max_days)
    if not rate or rate <= 0:
        return high
    return min(high, max(low, WEEK / rate))


def next_due(account_id: str, verdict: Verdict, rate: float | None, now: datetime, settings: Settings,
             floor: timedelta | None = None) -> Due:
    """When to visit an account next, after a visit at `now` that ended in `verdict`.

    `rate` is its posting rate (posts a week, None when unknown); `floor` the host's shortest
    interval under its budget (None: no limit). Pure: the same inputs give the same time.
    """
    jitter = _jitter(account_id, now, settings.revisit_jitter)
    if verdict.gone_streak >= 1 and verdict.status != "gone" and verdict.gone_streak_since is not None:
        # A removal must be confirmed as soon as the classifier may decide it; the host's floor does
        # not delay that (few accounts are gone candidates at a time), the pass's bucket still applies.
        ready = verdict.gone_streak_since + timedelta(hours=settings.gone_min_hours) + CONFIRM_MARGIN
        wait = max(ready - now, timedelta(hours=1))
        return Due(now + wait, "confirm_gone", wait)
    if verdict.consecutive_failures >= 1 and verdict.status != "gone":
        wanted, why = backoff(verdict.consecutive_failures, settings) * jitter, "backoff"
    elif verdict.status == "gone":
        wanted, why = timedelta(days=settings.revisit_gone_days) * jitter, "gone"
    elif verdict.status == "dormant":
        wanted, why = timedelta(days=settings.revisit_dormant_days) * jitter, "dormant"
    elif verdict.status == "active":
        wanted, why = activity_interval(rate, settings) * jitter, "activity"
        if verdict.last_post_at is not None:
            # the moment it turns dormant, if no post comes before: see that on time
            flips = verdict.last_post_at + timedelta(days=settings.active_days) + FLIP_MARGIN
            if now < flips < now + wanted:
                wanted, why = flips - now, "dormant_soon"
    else:  # unknown without failures (e.g. a platform that tells nothing): the longest interval
        wanted, why = timedelta(days=settings.revisit_max_days) * jitter, "unknown"
    wait = wanted
    if floor is not None and floor > wait and why != "dormant_soon":
        wait, why = floor * jitter, "host_budget"
    return Due(now + wait, why, wanted)


class Planner:
    """next_due for the crawl: the settings, the hosts' floors, and each account's posting rate.

    run_cycle asks `after(account, prior, observation, verdict, now)` after every classify and stores
    the answer with the visit (in the same transaction), with the rate it used.
    """

    def __init__(self, settings: Settings, floors: Mapping[str, timedelta] | None = None):
        self.settings = settings
        self.floors = dict(floors or {})

    def rate(self, prior: PriorState, posts_per_week_before: float | None, obs: Observation | None,
             now: datetime) -> float | None:
        """The account's posting rate after this visit: from the post dates read, else a rise of its
        post count (smoothed with the rate before), else the rate before (a 304, an error)."""
        if obs is None:
            return posts_per_week_before
        dated = posts_per_week([p.published_at for p in obs.posts] or [obs.last_post_at], now)
        if dated is not None:
            return dated
        counted = count_rate(prior, obs.post_count, now)
        if counted is not None:
            return counted if posts_per_week_before is None else (counted + posts_per_week_before) / 2
        return posts_per_week_before

    def after(self, account: Account, prior: PriorState, posts_per_week_before: float | None,
              obs: Observation | None, verdict: Verdict, now: datetime) -> tuple[Due, float | None]:
        """The next visit of `account` after this one, and the posting rate to store with it."""
        rate = self.rate(prior, posts_per_week_before, obs, now)
        floor = self.floors.get(host_of(account))
        return next_due(account.id, verdict, rate, now, self.settings, floor), rate


# --------------------------------------------------------------------------- hosts and their budgets


@functools.lru_cache(maxsize=262_144)
def host_of(account: Account) -> str:
    """The host an account's visits go to first (its feed's when it declares one), lower-case, no port."""
    return (urlsplit(account.feed or account.url).hostname or "").lower()


def host_of_url(url: str | None, feed: str | None = None) -> str:
    return (urlsplit(feed or url or "").hostname or "").lower()


def budget(host: str, settings: Settings) -> float:
    """Requests a day the schedule may plan for `host`: `host_budgets` (suffix-matched), else
    `host_budget_share` of the requests its politeness delay allows (infinite with no delay)."""
    host = host.lower()
    for name, per_day in settings.host_budgets.items():
        if host == name or host.endswith("." + name):
            return float(per_day)
    delay = settings.host_delay(host)
    if delay <= 0:
        return math.inf
    return settings.host_budget_share * DAY_S / delay


class Demand(NamedTuple):
    """One account's share of its host's load: its wanted interval and a visit's requests."""

    host: str
    interval: timedelta
    cost: float = DEFAULT_COST


def floors(demand: Iterable[Demand], budgets: Mapping[str, float]) -> dict[str, timedelta]:
    """Per host whose accounts want more than its budget: the interval floor F with
    sum(cost / max(interval, F)) == budget a day (water-filling). Hosts within budget are absent."""
    by_host: dict[str, list[tuple[float, float]]] = {}
    for d in demand:
        by_host.setdefault(d.host, []).append((max(d.interval.total_seconds(), 1.0), float(d.cost)))
    out: dict[str, timedelta] = {}
    for host, items in by_host.items():
        per_day = budgets.get(host, math.inf)
        if per_day == math.inf:
            continue
        per_second = per_day / DAY_S
        if per_second <= 0:
            out[host] = timedelta(days=3650)
            continue
        load = sum(cost / seconds for seconds, cost in items)
        if load <= per_second:
            continue
        out[host] = timedelta(seconds=_solve_floor(items, per_second))
    return out


def _solve_floor(items: list[tuple[float, float]], per_second: float) -> float:
    """F with sum(cost / max(s, F)) == per_second, for (s, cost) items whose load is above it.

    Sorted by s, raising the k shortest to F gives F = cost of those k / (budget - load of the
    rest); the answer is the first k whose F lies between the k-th and the (k+1)-th interval.
    """
    items.sort()
    tail = sum(cost / s for s, cost in items)  # load of the accounts not raised
    head = 0.0  # cost of the accounts raised to F
    for k, (s, cost) in enumerate(items):
        tail -= cost / s
        head += cost
        room = per_second - tail
        if room <= 0:
            continue
        f = head / room
        if f >= s and (k + 1 == len(items) or f <= items[k + 1][0]):
            return f
    return head / per_second  # every account raised


class Buckets:
    """A token bucket per host: `budget` requests a day, at most `window` worth saved up.

    A new bucket starts full (one window's worth): a restarted service may send that much at once,
    which the fetcher's per-host delay still spaces out.
    """

    def __init__(self, settings: Settings, window: timedelta = timedelta(hours=1)):
        self.settings = settings
        self.window_s = max(window.total_seconds(), 600.0)
        self._level: dict[str, float] = {}
        self._at: dict[str, datetime] = {}
        self._budget: dict[str, float] = {}

    def budget(self, host: str) -> float:
        if host not in self._budget:
            self._budget[host] = budget(host, self.settings)
        return self._budget[host]

    def level(self, host: str, now: datetime) -> float:
        """Requests the host's bucket holds at `now`."""
        per_day = self.budget(host)
        if per_day == math.inf:
            return math.inf
        rate = per_day / DAY_S
        full = rate * self.window_s
        last = self._at.get(host)
        level = full if last is None else min(full, self._level[host] + rate * max(0.0, (now - last).total_seconds()))
        self._level[host], self._at[host] = level, now
        return level

    def take(self, host: str, cost: float, now: datetime) -> bool:
        """Spend `cost` requests of the host's budget if the bucket holds them."""
        level = self.level(host, now)
        if level == math.inf:
            return True
        if level < cost:
            return False
        self._level[host] = level - cost
        return True


@dataclass(frozen=True)
class DueAccount:
    """A due account as a pass sees it (from the store's due read)."""

    id: str
    host: str
    due_at: datetime | None  # None: never visited
    cost: float = DEFAULT_COST


@dataclass(frozen=True)
class Pick:
    """What one pass visits, and what it leaves for later, by host."""

    chosen: tuple[str, ...]  # most overdue first
    held_by_budget: Counter = field(default_factory=Counter)
    held_by_pause: Counter = field(default_factory=Counter)


def pick(due: Sequence[DueAccount], now: datetime, buckets: Buckets,
         pauses: Mapping[str, datetime] | None = None, limit: int | None = None) -> Pick:
    """The due accounts this pass visits: never-visited and most overdue first, as long as the
    host's bucket admits them and the host is not paused (a Retry-After still running)."""
    pauses = pauses or {}
    order = sorted(due, key=lambda d: (d.due_at is not None, d.due_at or now, d.id))
    chosen: list[str] = []
    by_budget: Counter = Counter()
    by_pause: Counter = Counter()
    closed: set[str] = set()  # hosts whose bucket ran dry in this pass: keep the order fair
    for d in order:
        until = pauses.get(d.host)
        if until is not None and until > now:
            by_pause[d.host] += 1
            continue
        if d.host in closed or (limit is not None and len(chosen) >= limit):
            by_budget[d.host] += 1
            continue
        if not buckets.take(d.host, max(d.cost, 1.0), now):
            closed.add(d.host)
            by_budget[d.host] += 1
            continue
        chosen.append(d.id)
    return Pick(tuple(chosen), by_budget, by_pause)
