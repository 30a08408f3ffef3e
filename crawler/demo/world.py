"""The simulated world: N preschool accounts, their posts over time, deletions, notices, and truth.

Pure and deterministic from a seed; no I/O. The world is compact so that it scales to 100,000
accounts: it keeps two bytearrays (each account's kind and archetype) and a few small sets, and
derives everything else on demand from `random.Random(seed * 1_000_003 + index)`.

Designed around the board's figures and a weekly observer
--------------------------------------------------------
The demo crawls weekly at `cycle_time(k) = 2022-12-01 02:00 UTC + k weeks`. The board compares the
baseline (2023-03-01, the launch of Tempus Hemma; crawler snapshot 2023-03-02 02:00, cycle 13) with
2023-04-15 (crawler snapshot 2023-04-13 02:00, cycle 19). With the default 319 accounts:

* 319 accounts exist at the baseline; 20 are deleted between 2023-03-05 and 2023-03-28, so a
  crawler that needs two not-found visits 24 h apart has marked them gone by cycle 18;
* 248 are active at the baseline and 169 at 2023-04-15: 79 fewer (14 deleted, 65 fell silent);
* 7 of those 79 posted a notice that they move to Tempus Hemma (4 then deleted, 3 fell silent);
* no account that is not active at the baseline becomes active later.

Every decisive moment (a last post, a deletion, a notice) is placed inside a weekly window
[cycle + 3 days 03:00, cycle + 5 days 16:00] (Sunday to Tuesday). A last post there makes the
account turn dormant 90 days later (the default `active_days`; any value 7k days away keeps this) on a Saturday to Monday, at least two days away from any cycle,
so a date read with day precision (Swedish "6 mars 2023", midnight local time) classifies the same.

Instagram shows only a post count. A crawler that dates a rise of the count at the visit that saw
it (the upper bound of the interval) agrees with truth at every cycle for accounts that post within
its view: a last post in week j is seen at cycle j+1, whose 90 days end a day before cycle j+14,
and truth turns dormant between cycles j+13 and j+14 too. Known disagreements, by design:
- a crawler that dates a rise at the *previous* visit turns such accounts dormant one cycle early;
- Instagram accounts whose last post predates the first visit (archetypes "dormant" and "faded")
  cannot be dated by a count; truth is dormant (faded: active until Dec–Feb). An observer can only
  infer "no post since the first visit", which proves dormancy 90 days after that visit: exactly
  at cycle 13 (2023-03-02), the baseline snapshot. Before that the crawler cannot agree.
- login-walled (Instagram/Facebook) and robots-disallowed accounts cannot be observed at all: they
  are only archetypes "steady" or "dormant" and never change, so differences between two dates
  are not affected, but a crawler's absolute counts show them as unknown.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from crawler.settings import Settings

DAY = 86_400.0
WEEK = 7 * DAY
CYCLE0 = datetime(2022, 12, 1, 2, 0, tzinfo=UTC)
_C0 = CYCLE0.timestamp()
BASELINE = datetime(2023, 3, 1, tzinfo=UTC)  # the app's launch: the board's reference date
AS_OF = datetime(2023, 4, 15, tzinfo=UTC)
BASELINE_CYCLE = 13  # 2023-03-02 02:00, the crawler snapshot nearest the baseline
AS_OF_CYCLE = 19  # 2023-04-13 02:00
SIM_END = datetime(2023, 6, 1, tzinfo=UTC)  # nobody posts after this
N_DEFAULT = 319


def cycle_time(k: int) -> datetime:
    """The start of weekly demo cycle k (k=0 is 2022-12-01 02:00 UTC)."""
    return CYCLE0 + timedelta(weeks=k)


def _ts(dt: datetime) -> float:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: the world works in aware UTC datetimes")
    return dt.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


# ---------------------------------------------------------------------------------------------
# Kinds (platform + hosting) and archetypes (how an account evolves), with quotas for 319.

KINDS = ("wp_self", "wp_com", "blogger", "blog", "instagram", "facebook")
KIND_PLATFORM = {
    "wp_self": "wordpress",
    "wp_com": "wordpress",
    "blogger": "blogger",
    "blog": "blog",
    "instagram": "instagram",
    "facebook": "facebook",
}
# ~40 % WordPress (self-hosted and wordpress.com), ~15 % Blogger, ~10 % other blogs,
# ~25 % Instagram, ~10 % Facebook, like the real registry.
_KIND_QUOTA = {"wp_self": 80, "wp_com": 48, "blogger": 48, "blog": 32, "instagram": 80, "facebook": 31}
_BLOG_KINDS = frozenset({0, 1, 2, 3})

ARCHETYPES = (
    "steady",  # posts every few days until the end of the simulation
    "dormant",  # last post before mid-August 2022 (or none at all)
    "faded",  # falls silent Sep–Nov 2022: dormant between Dec and mid-February
    "silenced",  # active at the baseline, last post Dec–Jan: dormant by the as-of date
    "silenced_notice",  # like silenced, and the last post announces the move to Tempus Hemma
    "deleted_active",  # active at the baseline, deleted in March
    "deleted_notice",  # posts the move notice in March, deleted the week after
    "deleted_dormant",  # dormant, deleted in March
    "late_silenced",  # falls silent Jan–Feb: dormant only from late April
    "late_deleted",  # deleted late April – May
)
_A = {name: code for code, name in enumerate(ARCHETYPES)}
_ARCH_QUOTA = {
    "deleted_active": 10,
    "deleted_notice": 4,
    "deleted_dormant": 6,
    "silenced": 62,
    "silenced_notice": 3,
    "faded": 15,
    "dormant": 50,
    "late_silenced": 10,
    "late_deleted": 5,
}
_NOTICE_ARCHS = frozenset({_A["silenced_notice"], _A["deleted_notice"]})
_STATIC_ARCHS = frozenset({_A["steady"], _A["dormant"]})

# Hosts: each is one loopback address of the demo server (a "host" for per-host politeness).
# kommun: the municipality's site; linkinbio: a link-in-bio service (crawler.demo.municipality);
# graph: Meta's Graph API (crawler/demo/graph.py). New hosts go last, so that the others keep their addresses.
HOSTS = ("wpcom", "wpself", "blogspot", "blogs-a", "blogs-b", "instagram", "facebook", "wpself-new", "kommun",
         "linkinbio", "graph")
KIND_HOST = {
    "wp_self": "wpself",
    "wp_com": "wpcom",
    "blogger": "blogspot",
    "instagram": "instagram",
    "facebook": "facebook",
}

AREAS = (
    "Område 1 Centrum",
    "Område 2 Innerstaden",
    "Område 3 Västra Innerstaden",
    "Område 4 Limhamn-Bunkeflo",
    "Område 5 Hyllie",
    "Område 6 Fosie",
    "Område 7 Oxie",
    "Område 8 Husie",
    "Område 9 Rosengård",
    "Område 10 Kirseberg",
)
_NATURE = (
    "Solrosen", "Blåklockan", "Prästkragen", "Vitsippan", "Maskrosen", "Linden", "Eken", "Björken",
    "Rönnen", "Kastanjen", "Ekorren", "Igelkotten", "Nyckelpigan", "Humlan", "Fjärilen", "Myran",
    "Regnbågen", "Stjärnan", "Månskenet", "Solstrålen", "Trollsländan", "Snigeln", "Ugglan", "Räven",
    "Haren", "Grodan", "Pärlan", "Kotten", "Tallen", "Vallmon", "Lärkan", "Svalan", "Sjöstjärnan",
    "Snäckan", "Ankan", "Blåbäret", "Lingonet", "Smultronet", "Äppelträdet", "Vildrosen",
)
_PLACES = (
    "Tallbacken", "Lindängen", "Ekdalen", "Solbacken", "Kastanjegården", "Lönngården", "Bokskogen",
    "Ängslyckan", "Stenkulla", "Ljungdala", "Havsvik", "Sjöbacka", "Äppelgården", "Videdal",
    "Humlegården", "Fågelsången", "Sandviken", "Björkhagen", "Pilbäcken", "Klövervallen",
    "Vindängen", "Mölleslätten", "Kvarnbacken", "Hasselgården", "Rosenlund", "Strandängen",
    "Ekbacken", "Skogsbrynet", "Lekplatsen", "Gröningen",
)

# Public texts that matter to the notice detector. {start} is "1 mars" before the launch, else
# "1 april". The move notices vary their wording; the hard negatives mention Tempus or moving but
# announce no move of the communication.
MOVE_NOTICES = (
    "Från och med {start} hittar ni all information i Tempus Hemma",
    "Viktig information: vi flyttar vår kommunikation till appen Tempus Hemma. Bloggen kommer inte "
    "att uppdateras längre.",
    "Tack för att ni har följt oss här! Från {start} går vi över till Tempus Hemma, där ni hittar "
    "bilder och information från förskolan.",
    "Från {start} publicerar vi inte längre inlägg här. Ladda ner Tempus Hemma för att följa vår "
    "vardag.",
    "Bloggen stängs – framöver kommer all information från förskolan i Tempus Hemma.",
)
HARD_NEGATIVES = (
    "Glöm inte att registrera frånvaro i Tempus",
    "Påminnelse: förskolan stänger v. 28–31, sommaröppet finns på en annan förskola",
    "Vi flyttar till nya lokaler efter sommaren!",
    "Sommarschemat ska registreras i Tempus senast 15 april",
    "Planeringsdag fredag – förskolan stänger kl. 12",
)

POST_NORMAL, POST_NOTICE, POST_NEGATIVE = 0, 1, 2

# Shares of Instagram accounts that are personal (not professional) and of Facebook Pages outside
# the administration's Business Manager: the Graph API cannot read them.
PERSONAL_SHARE = 0.15
UNMANAGED_SHARE = 0.15


@dataclass(frozen=True)
class DemoAccount:
    """One simulated account: registry fields plus what the simulation needs to serve it."""

    index: int
    id: str
    unit: str
    area: str
    kind: str  # one of KINDS
    platform: str  # the registry's platform name
    host: str  # one of HOSTS
    slug: str  # the path segment (blog name, Instagram handle, Facebook page name)
    archetype: str
    deleted_at: datetime | None
    login_wall: bool = False
    robots_disallowed: bool = False
    flaky: bool = False  # some visits get a 503 on the first attempt
    slow: bool = False  # responses are delayed
    moved_at: datetime | None = None  # from then on the old address answers 301 to `wpself-new`
    gone_status: int = 404  # HTTP status once deleted (200 for soft "not available" pages)
    registry_feed: bool = False  # the registry names the feed URL for this account
    followers: int = 0
    following: int = 0
    # Meta's Graph API: a professional (Business/Creator) Instagram account is readable by Business
    # Discovery, a personal one is not; a Facebook Page in the administration's Business Manager is
    # readable through its published_posts, another Page is not (Page Public Content Access).
    professional: bool = False
    managed: bool = False

    @property
    def page_id(self) -> str:
        """The Graph API id of the account (Facebook Page or Instagram user), stable per index."""
        return f"{(1784140 if self.kind == 'instagram' else 1100400) * 10**10 + self.index + 1}"

    @property
    def api_readable(self) -> bool:
        """Whether the Graph API can read this account (while it exists)."""
        return (self.kind == "instagram" and self.professional) or (self.kind == "facebook" and self.managed)

    @property
    def observable(self) -> str:
        """What a crawler can read from the public pages: dates, count (Instagram), login_wall or robots."""
        if self.login_wall:
            return "login_wall"
        if self.robots_disallowed:
            return "robots"
        return "count" if self.kind == "instagram" else "dates"

    def observable_via(self, route: str) -> str:
        """What a crawler can read along `route` ("api": the Graph API where it can, else the public pages)."""
        if route == "api" and self.api_readable:
            return "dates"
        return self.observable


@dataclass(frozen=True)
class Truth:
    """The true state of an account at one moment."""

    exists: bool
    status: str  # active | dormant | gone
    last_post_at: datetime | None
    announced_move: bool
    notice_posted_at: datetime | None
    post_count: int = 0  # posts published so far (Instagram: the profile's count)
    observable: str = "dates"  # see DemoAccount.observable


@dataclass(frozen=True)
class BoardTruth:
    """The board's figures between two dates, from the world's truth."""

    baseline: datetime
    as_of: datetime
    accounts_at_baseline: int
    accounts_at_as_of: int
    active_at_baseline: int
    active_at_as_of: int
    fewer_accounts: int
    fewer_active: int
    fewer_active_announced: int  # of the accounts no longer active, how many posted a move notice
    became_active: int  # not active at baseline, active at as-of (0 by design)


@dataclass(frozen=True)
class PostView:
    """One post as the pages render it (never stored by the crawler)."""

    number: int  # 0-based position in the account's timeline: stable identity of the post
    published_at: float  # epoch seconds, UTC
    kind: int  # POST_NORMAL | POST_NOTICE | POST_NEGATIVE
    variant: int  # which notice / negative text


@dataclass(frozen=True)
class _Timeline:
    times: tuple[float, ...]
    special: tuple[tuple[int, int, int], ...]  # (post number, kind, variant)
    base_count: int  # Instagram posts older than the simulated history


class UrlSource(Protocol):
    def url_for(self, account: DemoAccount) -> str: ...

    def feed_url_for(self, account: DemoAccount) -> str | None: ...


def _quotas(n: int, table: dict[str, int], total: int = N_DEFAULT) -> dict[str, int]:
    """Scale quotas given for `total` accounts to n accounts (exact for n == total)."""
    return {name: round(count * n / total) for name, count in table.items()}


def _slugify(text: str) -> str:
    table = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u"})
    out = []
    for ch in text.lower().translate(table):
        out.append(ch if ch.isascii() and ch.isalnum() else "-")
    return "-".join(part for part in "".join(out).split("-") if part)


def _window(rng: random.Random, week: int) -> float:
    """A moment in week `week` between Sunday 03:00 and Tuesday 16:59 UTC (see module docstring)."""
    thursday_midnight = _C0 - 2 * 3600 + week * WEEK
    return thursday_midnight + rng.randint(3, 5) * DAY + rng.randint(3 * 3600, 17 * 3600 - 1)


class World:
    """N simulated accounts; `truth(id, at)` says what is really true at any moment.

    The contract world: every decisive moment inside its weekly window (see the module docstring).
    crawler/demo/field.py's FieldWorld changes the class attributes and `_moment` below.
    """

    name = "contract"
    notice_kinds: frozenset[int] = _BLOG_KINDS  # kinds whose accounts may post the move notice
    hidden_archetypes: frozenset[int] | None = _STATIC_ARCHS  # login walls/robots only on these (None: any)
    faults_on_changing = False  # flaky answers also on accounts whose status changes

    def __init__(self, accounts: int = N_DEFAULT, seed: int = 1, rules: Settings | None = None):
        if accounts < 1:
            raise ValueError("a world needs at least one account")
        self.n = accounts
        self.seed = seed
        # The rules of truth are the crawler's own settings (active_days, gone_after, gone_min_hours):
        # the demo hands the same ones to the crawler, so a changed rule changes both.
        self.rules = rules or Settings()
        self._width = max(3, len(str(accounts)))
        rng = random.Random(seed)
        self._kinds = self._assign_kinds(rng)
        self._archs = self._assign_archetypes(rng)
        self._moved, self._robots = self._assign_roles(rng)
        # Per-instance caches, bounded so that a 100,000-account world stays small.
        self.account = lru_cache(maxsize=8192)(self._account)  # type: ignore[method-assign]
        self._timeline = lru_cache(maxsize=8192)(self._make_timeline)  # type: ignore[method-assign]

    # -- construction -----------------------------------------------------------------------

    def _assign_kinds(self, rng: random.Random) -> bytearray:
        quota = _quotas(self.n, _KIND_QUOTA)
        quota["wp_self"] += self.n - sum(quota.values())
        while quota["wp_self"] < 0:  # tiny worlds: rounding overshoots
            biggest = max(quota, key=lambda k: quota[k])
            quota[biggest] -= 1
            quota["wp_self"] += 1
        kinds = bytearray()
        for code, name in enumerate(KINDS):
            kinds.extend(bytes([code]) * quota[name])
        order = list(kinds)
        rng.shuffle(order)
        return bytearray(order)

    def _assign_archetypes(self, rng: random.Random) -> bytearray:
        quota = _quotas(self.n, _ARCH_QUOTA)
        # Shrink the quotas of tiny worlds until they fit (largest first).
        while sum(quota.values()) > self.n:
            biggest = max(quota, key=lambda k: quota[k])
            quota[biggest] -= 1
        archs = bytearray([_A["steady"]]) * self.n
        # Move notices are posted on blogs, where a crawler can read them.
        blog_indexes = [i for i, k in enumerate(self._kinds) if k in self.notice_kinds]
        n_notice = min(quota["silenced_notice"] + quota["deleted_notice"], len(blog_indexes))
        notice_indexes = rng.sample(blog_indexes, n_notice)
        taken = set(notice_indexes)
        for pos, i in enumerate(notice_indexes):
            archs[i] = _A["silenced_notice"] if pos < quota["silenced_notice"] else _A["deleted_notice"]
        rest = [i for i in range(self.n) if i not in taken]
        rng.shuffle(rest)
        pos = 0
        for name, count in quota.items():
            if _A[name] in _NOTICE_ARCHS:
                continue
            for i in rest[pos : pos + count]:
                archs[i] = _A[name]
            pos += count
        return archs

    def _assign_roles(self, rng: random.Random) -> tuple[int | None, frozenset[int]]:
        wp_self, blog = KINDS.index("wp_self"), KINDS.index("blog")
        steady = _A["steady"]
        moved = next(
            (i for i in range(self.n) if self._kinds[i] == wp_self and self._archs[i] == steady), None
        )
        hidden = self.hidden_archetypes
        candidates = [
            i
            for i in range(self.n)
            if self._kinds[i] in (wp_self, blog) and (hidden is None or self._archs[i] in hidden) and i != moved
        ]
        count = min(len(candidates), max(1, round(3 * self.n / N_DEFAULT)))
        return moved, frozenset(rng.sample(candidates, count))

    # -- accounts ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.n

    def index_of(self, account_id: str | int) -> int:
        """The index of an account given its id (or its index)."""
        if isinstance(account_id, int):
            index = account_id
        else:
            prefix, _, digits = account_id.rpartition("-")
            if prefix != "mlm" or not digits.isdigit():
                raise KeyError(account_id)
            index = int(digits) - 1
        if not 0 <= index < self.n:
            raise KeyError(account_id)
        return index

    def accounts(self) -> Iterator[DemoAccount]:
        """Every account, in index order."""
        for i in range(self.n):
            yield self.account(i)

    def robots_accounts(self) -> list[DemoAccount]:
        """The accounts whose host's robots.txt disallows them."""
        return [self.account(i) for i in sorted(self._robots)]

    def moved_account(self) -> DemoAccount | None:
        """The blog that moves to a new address (301) on 2023-02-06, if the world has one."""
        return None if self._moved is None else self.account(self._moved)

    def _moment(self, rng: random.Random, week: int) -> float:
        """When a decisive event of week `week` happens (a last post, a deletion, a notice)."""
        return _window(rng, week)

    def _rng(self, index: int, salt: int = 0) -> random.Random:
        return random.Random((self.seed * 1_000_003 + index) * 4 + salt)

    def _account(self, key: str | int) -> DemoAccount:
        i = self.index_of(key)
        rng = self._rng(i)
        kind = KINDS[self._kinds[i]]
        arch_code = self._archs[i]
        arch = ARCHETYPES[arch_code]
        style = rng.random()
        nature, place = rng.choice(_NATURE), rng.choice(_PLACES)
        if style < 0.45:
            unit = f"Förskolan {nature}"
        elif style < 0.8:
            unit = f"{place}{'' if place.endswith('s') else 's'} förskola"
        else:
            unit = f"Förskolan {nature}, {place}"
        area = AREAS[rng.randrange(len(AREAS))]
        static = arch_code in _STATIC_ARCHS
        may_hide = self.hidden_archetypes is None or arch_code in self.hidden_archetypes
        login_wall = kind in ("instagram", "facebook") and may_hide and rng.random() < (
            0.15 if kind == "instagram" else 0.2
        )
        robots = i in self._robots
        flaky_draw, slow_draw = rng.random(), rng.random()
        flaky = (static or self.faults_on_changing) and not login_wall and not robots and flaky_draw < 0.06
        slow = arch_code == _A["steady"] and not login_wall and slow_draw < 0.02
        gone_draw = rng.random()
        if kind == "wp_self":
            gone_status = 410 if gone_draw < 0.5 else 404
        elif kind in ("instagram",):
            gone_status = 200  # Instagram answers "Sorry, this page isn't available." with 200
        elif kind == "facebook":
            gone_status = 200 if gone_draw < 0.6 else 404
        else:
            gone_status = 404
        base = _slugify(unit)
        if kind == "instagram":
            slug = base.replace("-", "_")[:22] + f"_{i + 1}"
        elif kind == "facebook":
            slug = "".join(w.capitalize() for w in base.split("-"))[:40] + f"-{i + 1}"
        else:
            slug = f"{base[:40]}-{i + 1}"
        host = KIND_HOST.get(kind) or ("blogs-a" if i % 2 == 0 else "blogs-b")
        deleted_at = self._deleted_at(i)
        meta_draw = random.Random(f"graph-api:{self.seed}:{i}").random()
        return DemoAccount(
            index=i,
            id=f"mlm-{i + 1:0{self._width}d}",
            unit=unit,
            area=area,
            kind=kind,
            platform=KIND_PLATFORM[kind],
            host=host,
            slug=slug,
            archetype=arch,
            deleted_at=None if deleted_at is None else _dt(deleted_at),
            login_wall=login_wall,
            robots_disallowed=robots,
            flaky=flaky,
            slow=slow,
            moved_at=datetime(2023, 2, 6, 10, 30, tzinfo=UTC) if i == self._moved else None,
            gone_status=gone_status,
            registry_feed=kind in ("wp_self", "wp_com", "blogger") and rng.random() < 0.3,
            followers=rng.randint(40, 1900) if kind in ("instagram", "facebook") else 0,
            following=rng.randint(0, 300) if kind == "instagram" else 0,
            # A draw of its own, so that adding the Graph API changed none of the draws above.
            professional=kind == "instagram" and meta_draw >= PERSONAL_SHARE,
            managed=kind == "facebook" and meta_draw >= UNMANAGED_SHARE,
        )

    def _deleted_at(self, i: int) -> float | None:
        arch = ARCHETYPES[self._archs[i]]
        rng = self._rng(i, 1)
        if arch in ("deleted_active", "deleted_dormant"):
            return self._moment(rng, rng.randint(13, 16))
        if arch == "deleted_notice":
            return self._moment(rng, self._notice_week(i) + 1)
        if arch == "late_deleted":
            return self._moment(rng, rng.randint(20, 24))
        return None

    def _notice_week(self, i: int) -> int:
        """The week of the move notice of a notice archetype."""
        rng = self._rng(i, 2)
        if self._archs[i] == _A["deleted_notice"]:
            return rng.randint(13, 15)
        return rng.randint(1, 5)

    # -- timelines -----------------------------------------------------------------------------

    def _make_timeline(self, i: int) -> _Timeline:
        rng = self._rng(i, 3)
        arch = ARCHETYPES[self._archs[i]]
        kind = KINDS[self._kinds[i]]
        mean_gap = rng.uniform(3.0, 12.0) * DAY
        start = _ts(datetime(2022, 3, 1, tzinfo=UTC)) + rng.uniform(0, 150) * DAY
        end = _ts(SIM_END)
        last: float | None = None  # a forced last post (silencing, notice)
        deleted = self._deleted_at(i)
        if arch in ("dormant", "deleted_dormant"):
            # Some never posted (a Facebook page without posts tells nothing, so not there).
            if rng.random() < 0.08 and kind != "facebook":
                return _Timeline((), (), 0)
            last = _ts(datetime(2019, 6, 1, tzinfo=UTC)) + rng.uniform(0, 1160) * DAY  # to Aug 2022
            start = last - rng.uniform(60, 700) * DAY
            mean_gap = rng.uniform(5.0, 30.0) * DAY
            end = last
        elif arch == "faded":
            last = self._moment(rng, rng.randint(-12, -3))
        elif arch == "silenced":
            last = self._moment(rng, rng.randint(0, 5))
        elif arch == "silenced_notice" or arch == "deleted_notice":
            last = self._moment(self._rng(i, 2), self._notice_week(i))
        elif arch == "late_silenced":
            last = self._moment(rng, rng.randint(7, 11))
        if last is not None:
            end = last - 3600
        if deleted is not None:
            end = min(end, deleted - 3600)
        times: list[float] = []
        t = start
        cap = 30 * DAY  # a steady poster never pauses long enough to look dormant
        while True:
            t += min(cap, rng.uniform(0.3, 2.0) * mean_gap)
            if t >= end:
                break
            times.append(float(int(t)))  # whole seconds, as platforms show them
        if last is not None:
            times.append(last)
        special: list[tuple[int, int, int]] = []
        if self._archs[i] in _NOTICE_ARCHS:
            special.append((len(times) - 1, POST_NOTICE, rng.randrange(len(MOVE_NOTICES))))
        elif kind != "instagram" and arch in ("steady", "late_silenced", "late_deleted") and rng.random() < 0.15:
            lo = bisect.bisect_left(times, _ts(datetime(2023, 1, 1, tzinfo=UTC)))
            if lo < len(times) - 1:
                special.append((rng.randrange(lo, len(times) - 1), POST_NEGATIVE, rng.randrange(len(HARD_NEGATIVES))))
        base = rng.randint(0, 400) if kind == "instagram" and times else 0
        return _Timeline(tuple(times), tuple(special), base)

    def posts(self, account_id: str | int, at: datetime, limit: int = 10) -> list[PostView]:
        """The newest `limit` posts published by `at`, newest first (empty once deleted)."""
        i = self.index_of(account_id)
        tl = self._timeline(i)
        n = bisect.bisect_right(tl.times, _ts(at))
        specials = {num: (kind, variant) for num, kind, variant in tl.special}
        out = []
        for num in range(n - 1, max(-1, n - 1 - limit), -1):
            kind, variant = specials.get(num, (POST_NORMAL, 0))
            out.append(PostView(num, tl.times[num], kind, variant))
        return out

    def post_count(self, account_id: str | int, at: datetime) -> int:
        """Posts published by `at` (Instagram: including those before the simulated history)."""
        tl = self._timeline(self.index_of(account_id))
        return tl.base_count + bisect.bisect_right(tl.times, _ts(at))

    def exists(self, account_id: str | int, at: datetime) -> bool:
        deleted = self.account(account_id).deleted_at
        return deleted is None or at < deleted

    def notice_posted_at(self, account_id: str | int) -> datetime | None:
        """When the account posted its move notice (None for accounts that never do)."""
        tl = self._timeline(self.index_of(account_id))
        for num, kind, _ in tl.special:
            if kind == POST_NOTICE:
                return _dt(tl.times[num])
        return None

    # -- truth ---------------------------------------------------------------------------------

    def truth(self, account_id: str | int, at: datetime) -> Truth:
        """The true state of one account at `at`."""
        i = self.index_of(account_id)
        acc = self.account(i)
        tl = self._timeline(i)
        at_ts = _ts(at)
        n = bisect.bisect_right(tl.times, at_ts)
        last = tl.times[n - 1] if n else None
        notice = self.notice_posted_at(i)
        if notice is not None and notice > at:
            notice = None
        exists = acc.deleted_at is None or at < acc.deleted_at
        if not exists:
            status = "gone"
        elif last is not None and at_ts - last <= self.rules.active_days * DAY:
            status = "active"
        else:
            status = "dormant"
        return Truth(
            exists=exists,
            status=status,
            last_post_at=None if last is None else _dt(last),
            announced_move=notice is not None,
            notice_posted_at=notice,
            post_count=tl.base_count + n,
            observable=acc.observable,
        )

    def board_truth(self, baseline: datetime = BASELINE, as_of: datetime = AS_OF) -> BoardTruth:
        """The board's figures (accounts, active, fewer, announced) between two dates."""
        acc_b = acc_a = act_b = act_a = announced = became = 0
        for i in range(self.n):
            tb, ta = self.truth(i, baseline), self.truth(i, as_of)
            acc_b += tb.exists
            acc_a += ta.exists
            act_b += tb.status == "active"
            act_a += ta.status == "active"
            if tb.status == "active" and ta.status != "active" and ta.announced_move:
                announced += 1
            if tb.status != "active" and ta.status == "active":
                became += 1
        return BoardTruth(
            baseline=baseline,
            as_of=as_of,
            accounts_at_baseline=acc_b,
            accounts_at_as_of=acc_a,
            active_at_baseline=act_b,
            active_at_as_of=act_a,
            fewer_accounts=acc_b - acc_a,
            fewer_active=act_b - act_a,
            fewer_active_announced=announced,
            became_active=became,
        )

    # -- registry ------------------------------------------------------------------------------

    def sources_yaml(self, web: UrlSource, settings: dict[str, Any] | None = None) -> str:
        """A sources.yaml registry of every account at the URLs `web` serves them on."""
        import yaml  # only here: the world needs nothing else outside the standard library

        accounts = []
        for acc in self.accounts():
            entry: dict[str, Any] = {
                "id": acc.id,
                "unit": acc.unit,
                "area": acc.area,
                "platform": acc.platform,
                "url": web.url_for(acc),
            }
            if acc.registry_feed:
                feed = web.feed_url_for(acc)
                if feed:
                    entry["feed"] = feed
            accounts.append(entry)
        doc = {"settings": dict(settings or demo_settings()), "accounts": accounts}
        header = (
            f"# Registry of the simulated web ({self.n} accounts, seed {self.seed}).\n"
            "# Generated by crawler.demo; every URL is on a loopback demo server.\n"
        )
        return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200)


def demo_settings() -> dict[str, Any]:
    """The `settings:` of a demo registry: a demo contact, loopback allowed, small delays."""
    return {
        "contact": "demo-operator@localhost.invalid",
        "allow_private_addresses": True,
        "per_host_delay": 0.0,
        "per_host_concurrency": 4,
        "concurrency": 32,
        "retries": 3,
    }
