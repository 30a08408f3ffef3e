"""The demo runner: the board comparison and --check, then (when the crawl stack is complete) a real run."""

from __future__ import annotations

import importlib
import importlib.util
from datetime import timedelta

import pytest

from crawler.demo.runner import AccountView, compare, crawler_board, run_demo
from crawler.demo.world import AS_OF_CYCLE, BASELINE_CYCLE, World, cycle_time


@pytest.fixture(scope="module")
def world() -> World:
    return World(319, seed=1)


def perfect_views(world: World, cycles=(BASELINE_CYCLE, AS_OF_CYCLE)) -> dict[int, dict[str, AccountView]]:
    """What an ideal crawler's inventory would hold after each cycle."""
    views = {}
    for k in cycles:
        at = cycle_time(k)
        view = {}
        for acc in world.accounts():
            truth = world.truth(acc.index, at)
            hidden = acc.observable in ("login_wall", "robots") and truth.exists
            view[acc.id] = AccountView("unknown" if hidden else truth.status, truth.last_post_at, False)
        views[k] = view
    return views


def true_flags(world: World) -> dict:
    return {acc.id: world.notice_posted_at(acc.index) + timedelta(days=7)
            for acc in world.accounts() if world.notice_posted_at(acc.index)}


def test_an_ideal_crawler_measures_the_board_figures(world):
    board = crawler_board(perfect_views(world), true_flags(world))
    truth = world.board_truth()
    assert board.accounts_at_baseline == truth.accounts_at_baseline == 319
    assert board.fewer_accounts == truth.fewer_accounts == 20
    assert board.fewer_active == truth.fewer_active == 79
    assert board.fewer_active_flagged == 7
    assert board.unknown_at_as_of > 0  # login walls and robots.txt: seen as unknown, never guessed


def test_check_agrees_with_an_ideal_crawler_and_names_mistakes(world):
    views = perfect_views(world)
    flags = true_flags(world)
    report = compare(world, views, flags)
    assert report.status_agreement[BASELINE_CYCLE] == (319, 319)
    assert report.ok
    assert report.exact_dates == report.dated_accounts > 100
    # Now a crawler that misses one notice, flags a hard negative and calls one account gone too early.
    wrong_id = next(acc.id for acc in world.accounts() if acc.archetype == "steady" and acc.observable == "dates")
    views[AS_OF_CYCLE][wrong_id] = AccountView("gone", None, False)
    missed = sorted(flags)[0]
    del flags[missed]
    flags[wrong_id] = cycle_time(15)
    report = compare(world, views, flags)
    assert report.status_agreement[AS_OF_CYCLE] == (318, 319)
    assert report.disagreements[AS_OF_CYCLE] == {"active->gone": 1}
    assert report.disagreeing_ids[AS_OF_CYCLE] == [wrong_id]
    assert report.notices_missed == [missed]
    assert report.notices_false == [wrong_id]
    assert not report.ok


_STACK = all(importlib.util.find_spec(m) for m in ("crawler.platforms", "crawler.notices", "crawler.crawl"))


@pytest.mark.slow
@pytest.mark.skipif(
    not _STACK or not hasattr(importlib.import_module("crawler.platforms"), "observe"),
    reason="the crawl stack (platforms.observe) is not complete yet",
)
def test_the_crawler_measures_what_the_world_knows(tmp_path):
    """End to end: 20 weekly cycles of the real crawler over a 60-account world (about 7 s)."""
    lines: list[str] = []
    result = run_demo(tmp_path, accounts=60, seed=1, check=True, progress=lines.append, cycles=20,
                      slow_seconds=0)
    assert len(lines) == 20 and all(c.state == "finished" for c in result.cycles)
    assert (tmp_path / "sources.yaml").exists() and (tmp_path / "inventory.sqlite").exists()
    board, truth = result.crawler, result.truth
    assert board is not None
    assert (board.accounts_at_baseline, board.fewer_accounts, board.fewer_active) == (
        truth.accounts_at_baseline, truth.fewer_accounts, truth.fewer_active)
    assert board.fewer_active_flagged == truth.fewer_active_announced > 0
    assert result.check.status_agreement == {BASELINE_CYCLE: (60, 60), AS_OF_CYCLE: (60, 60)}
    assert result.check.ok and not result.check.notices_false
    assert "fewer active since" in result.text and "Check against the world's truth" in result.text


def test_runner_plumbing_with_a_stub_adapter(tmp_path, monkeypatch):
    """The runner's cycles, clock and views, with a trivial adapter standing in for crawler.platforms."""
    import re
    from datetime import UTC, datetime

    from crawler import crawl
    from crawler.models import Observation, Post

    async def observe(platform, url, feed, fetch, now, settings, known_feed=None):
        fetched = await fetch(url)
        body = (fetched.body or b"").decode("utf-8", "replace")
        if fetched.status in (404, 410) or "isn't available" in body:
            return Observation(platform, False, "not found"), [fetched]
        stamps = [datetime.fromisoformat(s).astimezone(UTC) for s in re.findall(r'datetime="([^"]+)"', body)]
        posts = tuple(Post(None, s) for s in stamps)
        return Observation(platform, True, "stub", last_post_at=max(stamps, default=None), posts=posts), [fetched]

    monkeypatch.setattr(crawl.platforms, "observe", observe, raising=False)
    lines: list[str] = []
    result = run_demo(tmp_path, accounts=30, seed=4, check=True, progress=lines.append, cycles=2, slow_seconds=0)
    assert [c.state for c in result.cycles] == ["finished", "finished"]
    assert [line[:10] for line in lines] == ["2022-12-01", "2022-12-08"]
    assert set(result.views) == {1}
    assert sum(result.cycles[-1].statuses.values()) == 30
    assert result.requests >= 60
    # The stub reads <time datetime> only: blogs and WordPress home pages get dated, others do not.
    agreeing, total = result.check.status_agreement[1]
    assert total == 30 and 0 < agreeing <= 30


def test_check_allows_the_prior_status_until_a_deletion_is_confirmable(world):
    acc = next(a for a in world.accounts() if a.archetype == "late_deleted")
    k = next(k for k in range(30) if cycle_time(k) > acc.deleted_at)
    views = perfect_views(world, cycles=(k, k + 1))
    for cycle in (k, k + 1):
        views[cycle][acc.id] = AccountView("active", None, False)  # not yet marked gone
    report = compare(world, views, {})
    assert report.status_agreement[k] == (319, 319)  # one not-found visit so far: fine
    assert report.disagreements[k + 1] == {"gone->active": 1}  # two visits a week apart: should be gone
