"""`crawler demo`: weekly crawl cycles against the simulated web, the board's figures, and --check.

run_demo() starts the demo web (crawler.demo.server) on loopback, writes its sources.yaml, creates
an inventory, then runs one crawl cycle per simulated week from 2022-12-01 02:00 UTC to the end of
May 2023 with the world's clock, and compares the crawler's snapshots nearest the board's dates
(2023-03-02 and 2023-04-13) with what the world says is true. With `check=True` it also measures
status accuracy per account, date errors and notices found or missed.

This module reads the crawler's store; the crawler never reads the demo world.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crawler import crawl, discover, sources
from crawler import settings as settings_mod
from crawler.demo import municipality
from crawler.demo.graph import DEMO_IG_USER_ID, DemoGraph
from crawler.demo.server import DemoWeb
from crawler.demo.world import (
    AS_OF,
    AS_OF_CYCLE,
    BASELINE,
    BASELINE_CYCLE,
    BoardTruth,
    World,
    cycle_time,
    demo_settings,
)
from crawler.fetch import Fetcher
from crawler.parse_pool import ParsePool
from crawler.store import Store
from crawler.store.records import CandidateDetail, CandidateRecord

LAST_CYCLE = 25  # 2023-05-25, the last weekly cycle in May 2023


@dataclass(frozen=True)
class AccountView:
    """What the inventory said about one account right after a cycle."""

    status: str | None
    last_post_at: datetime | None
    estimated: bool


@dataclass
class CrawlerBoard:
    """The board's figures as measured by the crawler between two cycles."""

    accounts_at_baseline: int
    accounts_at_as_of: int
    active_at_baseline: int
    active_at_as_of: int
    fewer_accounts: int
    fewer_active: int
    fewer_active_flagged: int  # of those no longer active, how many had a notice flagged
    unknown_at_as_of: int


@dataclass
class CheckReport:
    """--check: how the crawler's inventory compares with the world's truth."""

    status_agreement: dict[int, tuple[int, int]]  # cycle -> (agreeing, total)
    disagreements: dict[int, Counter]  # cycle -> Counter of "expected->got"
    disagreeing_ids: dict[int, list[str]]
    exact_dates: int  # dated accounts whose last post date the crawler read exactly (±1 min)
    dated_accounts: int
    date_errors_hours: list[float]  # absolute errors of dated accounts that were not exact
    estimate_lags_days: list[float]  # count-based estimates: crawler minus truth
    notices_true: list[str]
    notices_found: list[str]
    notices_missed: list[str]
    notices_false: list[str]
    discovery: DiscoveryCheck | None = None

    @property
    def ok(self) -> bool:
        baseline = self.status_agreement.get(BASELINE_CYCLE, (0, 1))
        as_of = self.status_agreement.get(AS_OF_CYCLE, (0, 1))
        found = self.discovery is None or self.discovery.ok
        return baseline[0] == baseline[1] and as_of[0] == as_of[1] and not self.notices_missed and found


@dataclass(frozen=True)
class DiscoveryView:
    """What `crawler discover` proposed and excluded on the demo web after the last cycle."""

    report: discover.RunReport
    proposed: tuple[CandidateDetail, ...]
    excluded: tuple[CandidateRecord, ...]


@dataclass(frozen=True)
class DiscoveryCheck:
    """--check: discovery against the municipality's truth (URLs)."""

    missing: tuple[str, ...]  # the accounts the registry lacks
    found: tuple[str, ...]  # of those, proposed
    missed: tuple[str, ...]
    look_alikes: tuple[str, ...]  # profiles and posts that must not be proposed
    false: tuple[str, ...]  # proposed but not missing (a look-alike, or anything else)
    by_api: tuple[str, ...] = ()  # missing accounts the Graph API judged (professional Instagram accounts)
    wrong_route: tuple[str, ...] = ()  # judged by another route than the world says ("URL: checked")

    @property
    def ok(self) -> bool:
        return not self.missed and not self.false and not self.wrong_route


@dataclass
class DemoResult:
    """Everything a demo run produced; `text` is what the CLI prints."""

    out_dir: Path
    sources_path: Path
    db_path: Path
    cycles: list[crawl.CycleResult]
    crawler: CrawlerBoard | None
    truth: BoardTruth
    check: CheckReport | None
    seconds: float
    requests: int
    text: str = ""
    views: dict[int, dict[str, AccountView]] = field(default_factory=dict, repr=False)
    field_report: Any = None  # FieldReport of the field world (crawler/demo/field.py), else None
    discovery: DiscoveryView | None = None
    route: str = "api"  # how Instagram and Facebook were read: "api" (the Graph API where it can) or "public"
    routes: list = field(default_factory=list)  # store.route_counts() after the last cycle
    api_calls: int = 0  # Graph API calls the demo's Graph server answered


def _views(store: Store) -> dict[str, AccountView]:
    return {a.id: AccountView(a.status, a.last_post_at, a.last_post_estimated) for a in store.accounts()}


def _flagged(store: Store, until: datetime | None = None) -> dict[str, datetime]:
    """Accounts with a notice flagged (pending or confirmed), and when it was first detected.

    Both kinds count: the detector calls a move notice that also ends the blog a "closing".
    """
    out: dict[str, datetime] = {}
    for n in store.notices():
        at = n.detected_at
        if n.state == "rejected" or (until is not None and at > until):
            continue
        if n.account_id not in out or at < out[n.account_id]:
            out[n.account_id] = at
    return out


def crawler_board(views: dict[int, dict[str, AccountView]], flagged: dict[str, datetime]) -> CrawlerBoard:
    """The board's figures from the inventory right after the baseline and as-of cycles."""
    before, after = views[BASELINE_CYCLE], views[AS_OF_CYCLE]
    as_of_time = cycle_time(AS_OF_CYCLE) + timedelta(days=1)
    exists_b = sum(v.status != "gone" for v in before.values())
    exists_a = sum(v.status != "gone" for v in after.values())
    active_b = {i for i, v in before.items() if v.status == "active"}
    active_a = {i for i, v in after.items() if v.status == "active"}
    stopped = active_b - active_a
    return CrawlerBoard(
        accounts_at_baseline=exists_b,
        accounts_at_as_of=exists_a,
        active_at_baseline=len(active_b),
        active_at_as_of=len(active_a),
        fewer_accounts=exists_b - exists_a,
        fewer_active=len(active_b) - len(active_a),
        fewer_active_flagged=sum(1 for i in stopped if i in flagged and flagged[i] <= as_of_time),
        unknown_at_as_of=sum(v.status == "unknown" for v in after.values()),
    )


def _gone_confirmable(world: World, deleted_at: datetime | None, k: int) -> bool:
    """Whether weekly visits up to cycle k have seen a deleted account missing often and long
    enough for the crawler's gone rule (gone_after visits spanning gone_min_hours)."""
    if deleted_at is None:
        return True
    missing = [j for j in range(k + 1) if cycle_time(j) >= deleted_at]
    if not missing:
        return True  # not deleted yet at cycle k: truth is the status itself
    span = cycle_time(k) - cycle_time(missing[0])
    return len(missing) >= world.rules.gone_after and span >= timedelta(hours=world.rules.gone_min_hours)


def compare(world: World, views: dict[int, dict[str, AccountView]], flagged: dict[str, datetime],
            route: str = "public") -> CheckReport:
    """--check: the inventory after the given cycles against the world's truth at those times.

    `route` is how the crawler read Instagram and Facebook ("api": the Graph API where it can), which
    decides what it could see (DemoAccount.observable_via)."""
    agreement: dict[int, tuple[int, int]] = {}
    disagreements: dict[int, Counter] = {}
    ids: dict[int, list[str]] = {}
    for k, view in sorted(views.items()):
        at = cycle_time(k)
        good, wrong, wrong_ids = 0, Counter(), []
        for acc in world.accounts():
            truth = world.truth(acc.index, at)
            hidden = acc.observable_via(route) in ("login_wall", "robots") and truth.exists
            expected = "unknown" if hidden else truth.status
            got = view[acc.id].status if acc.id in view else None
            allowed = {expected}
            if not _gone_confirmable(world, acc.deleted_at, k):
                # Seen missing too few times (or too briefly) for gone: the earlier status still holds.
                allowed.add(world.truth(acc.index, acc.deleted_at - timedelta(seconds=1)).status)
            if got in allowed:
                good += 1
            else:
                wrong[f"{expected}->{got}"] += 1
                wrong_ids.append(acc.id)
        agreement[k] = (good, len(world))
        disagreements[k] = wrong
        ids[k] = wrong_ids
    last = max(views)
    exact = dated = 0
    errors: list[float] = []
    lags: list[float] = []
    for acc in world.accounts():
        truth = world.truth(acc.index, cycle_time(last))
        view = views[last].get(acc.id)
        if view is None or not truth.exists or truth.last_post_at is None or view.last_post_at is None:
            continue
        seen = acc.observable_via(route)
        if seen == "count" or view.estimated:
            lags.append((view.last_post_at - truth.last_post_at).total_seconds() / 86_400)
            continue
        if seen != "dates":
            continue
        dated += 1
        error = abs((view.last_post_at - truth.last_post_at).total_seconds())
        if error <= 60:
            exact += 1
        else:
            errors.append(error / 3600)
    true_notices = [acc.id for acc in world.accounts() if world.notice_posted_at(acc.index)]
    return CheckReport(
        status_agreement=agreement,
        disagreements=disagreements,
        disagreeing_ids=ids,
        exact_dates=exact,
        dated_accounts=dated,
        date_errors_hours=errors,
        estimate_lags_days=lags,
        notices_true=true_notices,
        notices_found=[i for i in true_notices if i in flagged],
        notices_missed=[i for i in true_notices if i not in flagged],
        notices_false=sorted(i for i in flagged if i not in set(true_notices)),
    )


def run_demo(
    out_dir: str | Path,
    accounts: int = 319,
    seed: int = 1,
    check: bool = False,
    progress: Callable[[str], None] | None = None,
    *,
    cycles: int = LAST_CYCLE + 1,
    faults: bool = True,
    slow_seconds: float = 0.05,
    settings: dict[str, Any] | None = None,
    world_name: str = "contract",
    route: str = "api",
) -> DemoResult:
    """Crawl the simulated web weekly from 2022-12-01 and compare with the world's truth.

    Writes `sources.yaml` and `inventory.sqlite` into `out_dir`. `cycles` below 20 stops before the
    as-of snapshot, so the board comparison is then left out. `world_name` "field" crawls the
    field world (crawler/demo/field.py) and measures the crawler's error after every cycle.
    `route="api"` configures the Graph API (the demo's loopback Graph server, a token in
    `out_dir/meta-token` of mode 0600) so that Instagram and Facebook accounts are read through it
    where it can; `"public"` reads them all from their public pages, as without `settings: meta:`.
    """
    if route not in ("api", "public"):
        raise ValueError(f"route must be 'api' or 'public', not {route!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    values = dict(settings or demo_settings())
    # The world's truth follows the rules the crawler is given (the environment included).
    rules = settings_mod.build(values)
    if world_name not in ("contract", "field"):
        raise ValueError(f"unknown world {world_name!r}: contract or field")
    from crawler.demo.field import FieldWorld, field_report

    world = (FieldWorld if world_name == "field" else World)(accounts, seed=seed, rules=rules)
    started = time.perf_counter()
    say = progress or (lambda line: None)
    sources_path = out / "sources.yaml"
    db_path = out / "inventory.sqlite"
    for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        stale.unlink(missing_ok=True)  # a demo always starts from an empty inventory
    (out / TOKEN_FILE).unlink(missing_ok=True)
    token = _demo_token(out) if route == "api" else None
    graph = DemoGraph(world, token)
    city = municipality.of(world)
    with DemoWeb(world, cycle_time(0), faults=faults, slow_seconds=slow_seconds, graph=graph) as web:
        bases = {h: web.base_url(h) for h in web.hosts}
        # Where discovery looks: the municipality's sitemap of preschool pages, its link-in-bio host.
        written = {**values, "discovery": values.get("discovery") or city.discovery_settings(bases)}
        if route == "api":  # the loopback Graph API, its token in a file only the crawler may read
            written["meta"] = {"base_url": web.base_url("graph"), "instagram_user_id": DEMO_IG_USER_ID,
                               "token_file": str(out / TOKEN_FILE), "call_interval": 0.0}
        sources_path.write_text(world.sources_yaml(web, written), encoding="utf-8")
        registry = sources.load(sources_path)
        # the route changes what is seen, not truth
        if registry.settings.replace(discovery=rules.discovery, meta=rules.meta) != rules:
            raise RuntimeError("the demo registry's settings differ from the rules of the world's truth")
        store = Store.open(db_path)
        try:
            results, views = asyncio.run(_cycles(store, registry, web, cycles, say))
            flagged = _flagged(store)
            found = asyncio.run(_discover(store, registry, web, cycle_time(cycles - 1) + timedelta(days=1), say))
            requests = sum(s["requests"] for s in web.stats().values())
            routes = store.route_counts()
        finally:
            store.close()
    truth = world.board_truth(BASELINE, AS_OF)
    board = crawler_board(views, flagged) if BASELINE_CYCLE in views and AS_OF_CYCLE in views else None
    # The check reads the board's cycles and the last one; `views` keeps every cycle for tests.
    checked = {k: views[k] for k in (BASELINE_CYCLE, AS_OF_CYCLE, cycles - 1) if k in views}
    report = compare(world, checked, flagged, route) if check else None
    if report is not None:
        report.discovery = check_discovery(city, bases, found, route)
    result = DemoResult(out, sources_path, db_path, results, board, truth, report,
                        time.perf_counter() - started, requests, views=views,
                        field_report=field_report(world, views, route) if world_name == "field" else None,
                        discovery=found, route=route, routes=routes, api_calls=len(graph.calls))
    result.text = render_text(result, world)
    return result


TOKEN_FILE = "meta-token"


def _demo_token(out: Path) -> str:
    """A fresh token for the demo's Graph API, written as Meta's would be kept: a file of mode 0600."""
    token = "EAAdemo" + secrets.token_hex(24)
    path = out / TOKEN_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token + "\n")
    return token


async def _cycles(
    store: Store, registry: sources.Registry, web: DemoWeb, cycles: int, say: Callable[[str], None]
) -> tuple[list[crawl.CycleResult], dict[int, dict[str, AccountView]]]:
    async with ParsePool(registry.settings) as pool:  # one set of parse workers for every cycle
        return await _each_cycle(store, registry, web, cycles, say, pool)


async def _each_cycle(
    store: Store, registry: sources.Registry, web: DemoWeb, cycles: int, say: Callable[[str], None], pool: ParsePool
) -> tuple[list[crawl.CycleResult], dict[int, dict[str, AccountView]]]:
    results: list[crawl.CycleResult] = []
    views: dict[int, dict[str, AccountView]] = {}
    for k in range(cycles):
        at = cycle_time(k)
        web.set_clock(at)
        wall = time.monotonic()

        def clock(at: datetime = at, wall: float = wall) -> datetime:
            # Simulated time runs at wall speed from the cycle's start: checks get distinct times.
            return at + timedelta(seconds=time.monotonic() - wall)

        # A short retry backoff: the demo's 503s are transient and the clock is simulated anyway.
        async with Fetcher(registry.settings, backoff_base=0.05) as fetcher:
            result = await crawl.run_cycle(
                store, registry.accounts, registry.settings, clock=clock, trigger="demo", fetcher=fetcher, pool=pool
            )
        results.append(result)
        views[k] = _views(store)
        s = result.statuses
        say(
            f"{at:%Y-%m-%d} cycle {k:2d}: {result.done}/{result.total} accounts, "
            f"{s.get('active', 0)} active, {s.get('dormant', 0)} dormant, {s.get('gone', 0)} gone, "
            f"{s.get('unknown', 0)} unknown; {result.new_notices} new notices ({result.seconds:.1f} s)"
        )
    return results, views


async def _discover(store: Store, registry: sources.Registry, web: DemoWeb, at: datetime,
                    say: Callable[[str], None]) -> DiscoveryView:
    """`crawler discover` on the demo web, as it is after the last cycle."""
    web.set_clock(at)
    async with Fetcher(registry.settings, backoff_base=0.05) as fetcher:
        # Instagram candidates through the loopback Graph API when settings.meta is configured (--route api)
        report = await discover.with_graph(registry, store, fetcher.fetch, at)
    say(f"{at:%Y-%m-%d} discovery: {report.summary()}")
    return DiscoveryView(report, tuple(store.candidate(i) for i in report.proposed),
                         tuple(store.candidates("excluded")))


def check_discovery(city: municipality.Municipality, bases: dict[str, str], found: DiscoveryView,
                    route: str = "public") -> DiscoveryCheck:
    """Discovery's proposals against the municipality's truth, and the route that judged each missing
    account: the Graph API for a professional Instagram account when the API is configured (route
    "api"), the public profile page otherwise (a personal account, Facebook, route "public")."""
    truth = city.truth
    missing = tuple(f"{bases[m.host]}/{m.slug}/" for m in truth.missing)
    looks = tuple(f"{bases[x.host]}{x.path}" for x in truth.look_alikes)
    proposed = {d.candidate.url: d.candidate for d in found.proposed}
    by_api, wrong = [], []
    for m, url in zip(truth.missing, missing, strict=True):
        c = proposed.get(url)
        if c is None:
            continue
        api = c.checked == discover.GRAPH_PROFESSIONAL
        if api:
            by_api.append(url)
        if api != (route == "api" and m.professional):
            wrong.append(f"{url}: {c.checked}")
    return DiscoveryCheck(missing, tuple(u for u in missing if u in proposed),
                          tuple(u for u in missing if u not in proposed), looks,
                          tuple(sorted(set(proposed) - set(missing))), tuple(by_api), tuple(wrong))


def render_text(result: DemoResult, world: World) -> str:
    """The demo's printed report: the cycles, the board's figures (crawler vs truth), the check."""
    t = result.truth
    lines = [
        f"Simulated web: {len(world)} preschool accounts (seed {world.seed}); "
        f"{len(result.cycles)} weekly cycles from {cycle_time(0):%Y-%m-%d} "
        f"in {result.seconds:.1f} s, {result.requests} requests.",
        f"Registry: {result.sources_path}   Inventory: {result.db_path}",
        "",
    ]
    b = result.crawler
    if b is not None:
        lines += [
            f"Board figures: launch of Tempus Hemma ({BASELINE:%Y-%m-%d}) against {AS_OF:%Y-%m-%d}",
            f"(crawler snapshots of {cycle_time(BASELINE_CYCLE):%Y-%m-%d} and {cycle_time(AS_OF_CYCLE):%Y-%m-%d})",
            "",
            f"{'':36}{'crawler':>10}{'truth':>10}",
            f"{'accounts at the launch':36}{b.accounts_at_baseline:>10}{t.accounts_at_baseline:>10}",
            f"{'fewer accounts since':36}{b.fewer_accounts:>10}{t.fewer_accounts:>10}",
            f"{'active at the launch':36}{b.active_at_baseline:>10}{t.active_at_baseline:>10}",
            f"{'fewer active since':36}{b.fewer_active:>10}{t.fewer_active:>10}",
            f"{'  of which announced Tempus Hemma':36}{b.fewer_active_flagged:>10}{t.fewer_active_announced:>10}",
            "",
            f"The crawler's absolute active counts leave out {b.unknown_at_as_of} accounts it cannot see "
            "(login walls, robots.txt): they are unknown, never guessed.",
            "Move notices are flagged for review (`crawler review list`); the crawler column counts flagged "
            "notices, the board's figure counts confirmed ones.",
        ]
    if result.field_report is not None:
        from crawler.demo.field import render_field

        lines += render_field(result.field_report)
    lines += ["", *route_lines(result)]
    c = result.check
    if c is not None:
        lines += ["", "Check against the world's truth:"]
        for k, (good, total) in sorted(c.status_agreement.items()):
            wrong = ", ".join(f"{n} {what}" for what, n in c.disagreements[k].most_common(4))
            lines.append(f"  status at {cycle_time(k):%Y-%m-%d}: {good}/{total} agree" + (f" ({wrong})" if wrong else ""))
        worst = (f", the rest within {max(c.date_errors_hours):.1f} h (pages that show only a day)"
                 if c.date_errors_hours else "")
        lines.append(f"  last-post dates read: {c.exact_dates}/{c.dated_accounts} exact to the minute{worst}")
        if c.estimate_lags_days:
            lines.append(
                f"  estimated from post counts: {len(c.estimate_lags_days)} accounts, lag median "
                f"{statistics.median(c.estimate_lags_days):.1f} d, max {max(c.estimate_lags_days):.1f} d"
            )
        lines.append(
            f"  move notices: {len(c.notices_found)}/{len(c.notices_true)} found"
            + (f", missed {', '.join(c.notices_missed)}" if c.notices_missed else "")
            + f", {len(c.notices_false)} flagged without a true notice"
        )
        if c.discovery is not None:
            d = c.discovery
            lines.append(f"  discovery: {len(d.found)}/{len(d.missing)} missing accounts proposed"
                         + (f", missed {', '.join(d.missed)}" if d.missed else "")
                         + f"; {len(d.false)} proposed that are not missing ({len(d.look_alikes)} look-alikes on the web); "
                         f"{len(d.by_api)} judged by the Graph API, {len(d.found) - len(d.by_api)} by the profile page"
                         + (f"; judged by the wrong route: {', '.join(d.wrong_route)}" if d.wrong_route else ""))
    if result.discovery is not None:
        lines += ["", *discovery_text(result.discovery)]
    return "\n".join(lines)


def discovery_text(found: DiscoveryView) -> list[str]:
    """The demo's discovery section: proposals with their evidence, and what was left out and why."""
    r = found.report
    lines = [f"Discovery (`crawler discover`) after the last cycle: {r.summary()}."]
    if found.proposed:
        lines.append("Proposed, for a person to accept or dismiss (`crawler discover list`):")
    for d in found.proposed:
        c = d.candidate
        lines.append(f"  #{c.id:<3} {c.score:.2f} {c.platform:9} {(c.unit or '?')[:30]:30} {(c.area or '?')[:26]:26} {c.url}")
        lines.append(f"        checked: {c.checked or 'not checked'}")
        for e in d.evidence[:2]:
            lines.append(f"        {e.how} \"{e.link_text}\" on {e.page_url}")
    if found.excluded:
        lines.append("Not proposed (look-alikes; `crawler discover list --state excluded`):")
        for c in found.excluded:
            lines.append(f"  #{c.id:<3} {c.url}: {c.reason.split('; ')[0]}")
    return lines


def route_lines(result: DemoResult) -> list[str]:
    """How the last cycle read the accounts: through the Graph API or the public pages, and why not."""
    api = sum(r.count for r in result.routes if r.route == "api")
    by_note: Counter = Counter()
    for r in result.routes:
        if r.route == "public" and r.note:
            by_note[(r.note, r.status == "unknown")] += r.count
    if result.route == "public":
        lines = ["Routes: Instagram and Facebook were read from their public pages (`--route public`); "
                 "`crawler demo` without it reads them through the loopback Graph API."]
    else:
        lines = [f"Routes: {api} Instagram and Facebook accounts read through the Graph API with exact dates "
                 f"({result.api_calls} Graph API calls in {len(result.cycles)} cycles); `--route public` "
                 "reads them from their public pages instead."]
    for (note, unknown), n in sorted(by_note.items(), key=lambda item: -item[1]):
        lines.append(f"  {n} from the public page{' (unknown there)' if unknown else ''}: {note}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python -m crawler.demo.runner OUT_DIR [--accounts N] [--seed S] [--check]` (the CLI's twin)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m crawler.demo.runner", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="demo-out")
    parser.add_argument("--accounts", type=int, default=319)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", action="store_true", help="compare the inventory with the world's truth")
    parser.add_argument("--quiet", action="store_true", help="no line per cycle")
    parser.add_argument("--route", choices=("api", "public"), default="api",
                        help="read Instagram and Facebook through the Graph API (default) or their public pages")
    args = parser.parse_args(argv)
    result = run_demo(args.out_dir, accounts=args.accounts, seed=args.seed, check=args.check,
                      progress=None if args.quiet else print, route=args.route)
    print(result.text)
    return 0 if result.check is None or result.check.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
