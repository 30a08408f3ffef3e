"""The demo runner: the real crawler over the simulated web, measured against the world's truth.

Every test here runs the crawler (fetch, platforms, notices, classify, store) on loopback; none
compares the world's truth with itself. The check's ability to name mistakes is tested by planting
mistakes in what the real crawler stored.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from crawler.demo.runner import AccountView, compare, run_demo
from crawler.demo.world import AS_OF_CYCLE, BASELINE_CYCLE, World, cycle_time, demo_settings

ACCOUNTS, CYCLES = 60, 20


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """20 weekly cycles of the real crawler over a 60-account world (about 7 s)."""
    lines: list[str] = []
    result = run_demo(tmp_path_factory.mktemp("demo"), accounts=ACCOUNTS, seed=1, check=True,
                      progress=lines.append, cycles=CYCLES, slow_seconds=0)
    return result, lines


@pytest.mark.slow
def test_the_crawler_measures_what_the_world_knows(crawled):
    result, lines = crawled
    assert len(lines) == CYCLES + 1 and all(c.state == "finished" for c in result.cycles)
    assert " discovery: read " in lines[-1]  # after the cycles, `crawler discover` on the same web
    assert [line[:10] for line in lines[:2]] == ["2022-12-01", "2022-12-08"]
    assert result.sources_path.exists() and result.db_path.exists()
    board, truth = result.crawler, result.truth
    assert (board.accounts_at_baseline, board.fewer_accounts, board.fewer_active) == (
        truth.accounts_at_baseline, truth.fewer_accounts, truth.fewer_active)
    assert truth.fewer_accounts > 0 and truth.fewer_active > truth.fewer_accounts
    assert board.fewer_active_flagged == truth.fewer_active_announced > 0
    assert board.unknown_at_as_of > 0  # login walls and robots.txt: unknown, never guessed
    assert result.check.status_agreement == {BASELINE_CYCLE: (ACCOUNTS, ACCOUNTS), AS_OF_CYCLE: (ACCOUNTS, ACCOUNTS)}
    assert set(result.views) == set(range(CYCLES))  # what the inventory said after every cycle
    assert result.check.ok and not result.check.notices_false and not result.check.notices_missed
    check = result.check
    assert check.dated_accounts > 30 and check.exact_dates >= check.dated_accounts - 3
    assert all(hours < 24 for hours in check.date_errors_hours)  # pages that show only the day
    assert "fewer active since" in result.text and "Check against the world's truth" in result.text
    # Discovery on the demo web: the accounts the registry lacks, none of the look-alikes.
    found = check.discovery
    assert found.ok and len(found.found) == len(found.missing) >= 3 and not found.false
    assert {d.candidate.url for d in result.discovery.proposed} == set(found.missing)
    assert not {c.url for c in result.discovery.excluded} - set(found.look_alikes)
    assert "Discovery (`crawler discover`) after the last cycle" in result.text


def test_the_check_names_mistakes_planted_in_the_crawlers_inventory(crawled):
    result, _ = crawled
    world = World(ACCOUNTS, seed=1)
    views = {k: dict(v) for k, v in result.views.items() if k in (BASELINE_CYCLE, AS_OF_CYCLE)}
    flagged = {a: cycle_time(15) for a in result.check.notices_found}
    assert compare(world, views, flagged, result.route).ok  # what the crawler stored agrees
    # a crawler that calls a live account gone, misses one notice and flags an account without one
    wrong_id = next(acc.id for acc in world.accounts()
                    if views[AS_OF_CYCLE][acc.id].status == "active" and acc.observable == "dates")
    views[AS_OF_CYCLE][wrong_id] = AccountView("gone", None, False)
    missed = sorted(flagged)[0]
    del flagged[missed]
    flagged[wrong_id] = cycle_time(15)
    report = compare(world, views, flagged, result.route)
    assert report.status_agreement[AS_OF_CYCLE] == (ACCOUNTS - 1, ACCOUNTS)
    assert report.disagreements[AS_OF_CYCLE] == {"active->gone": 1}
    assert report.disagreeing_ids[AS_OF_CYCLE] == [wrong_id]
    assert report.notices_missed == [missed]
    assert report.notices_false == [wrong_id]
    assert not report.ok


def test_the_check_allows_the_prior_status_until_a_deletion_is_confirmable(crawled):
    result, _ = crawled
    world = World(ACCOUNTS, seed=1)
    acc = next(a for a in world.accounts()
               if a.deleted_at and a.deleted_at < cycle_time(CYCLES - 3) and a.observable == "dates")
    k = next(k for k in range(CYCLES) if cycle_time(k) >= acc.deleted_at)  # the first visit that misses it
    before = world.truth(acc.index, acc.deleted_at - timedelta(seconds=1)).status
    views = {j: dict(result.views[j]) for j in (k, k + 1)}
    assert views[k][acc.id].status == before  # the real crawler: one not-found visit is not gone yet
    assert views[k + 1][acc.id].status == "gone"  # two visits a week apart: gone
    assert compare(world, views, {}, result.route).status_agreement[k] == (ACCOUNTS, ACCOUNTS)
    views[k + 1][acc.id] = AccountView(before, None, False)  # a crawler that never marks it gone
    assert compare(world, views, {}, result.route).disagreements[k + 1] == {f"gone->{before}": 1}


@pytest.mark.slow
def test_a_changed_rule_changes_truth_and_crawler_alike(tmp_path):
    # active_days 62 instead of 90: whole weeks less keep the world's one-day margins around cycles
    result = run_demo(tmp_path, accounts=ACCOUNTS, seed=1, check=True, cycles=CYCLES, slow_seconds=0,
                      settings=demo_settings() | {"active_days": 62})
    default = World(ACCOUNTS, seed=1).board_truth()
    assert result.truth.fewer_active < default.fewer_active  # the rule reached the truth...
    assert result.crawler.fewer_active == result.truth.fewer_active  # ...and the crawler
    assert result.check.status_agreement[BASELINE_CYCLE] == (ACCOUNTS, ACCOUNTS)
    assert result.check.status_agreement[AS_OF_CYCLE] == (ACCOUNTS, ACCOUNTS)


@pytest.mark.slow
def test_the_graph_api_route_dates_instagram_and_facebook_exactly_where_the_public_pages_cannot(crawled, tmp_path):
    # The same world and cycles, Instagram and Facebook read only from their public pages.
    api, _ = crawled
    public = run_demo(tmp_path, accounts=ACCOUNTS, seed=1, check=True, cycles=CYCLES, slow_seconds=0, route="public")
    world = World(ACCOUNTS, seed=1)
    assert api.route == "api" and public.route == "public"
    assert api.check.ok and public.check.ok  # both agree with what each route can see
    readable = [a for a in world.accounts() if a.api_readable]
    assert readable and sum(r.count for r in api.routes if r.route == "api") == len(
        [a for a in readable if not a.deleted_at or a.deleted_at > cycle_time(CYCLES - 1)])
    assert not any(r.route == "api" for r in public.routes) and public.api_calls == 0
    # the board's figures: login-walled professional accounts are known through the API, and
    # post-count estimates become exact dates
    assert api.crawler.unknown_at_as_of < public.crawler.unknown_at_as_of
    assert api.check.exact_dates > public.check.exact_dates
    assert len(api.check.estimate_lags_days) < len(public.check.estimate_lags_days)
    assert abs(api.crawler.active_at_baseline - api.truth.active_at_baseline) <= abs(
        public.crawler.active_at_baseline - public.truth.active_at_baseline)
    assert "read through the Graph API with exact dates" in api.text and "--route public" in public.text
    # the public demo keeps no token; the API demo's is a file only the crawler may read
    assert not (tmp_path / "meta-token").exists() and "meta:" not in public.sources_path.read_text()
    assert oct((api.out_dir / "meta-token").stat().st_mode & 0o777) == "0o600"
