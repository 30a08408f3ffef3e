"""The simulated world: board figures, determinism, scale, and what a weekly observer can see."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from crawler.demo.world import (
    AS_OF,
    AS_OF_CYCLE,
    BASELINE,
    BASELINE_CYCLE,
    HARD_NEGATIVES,
    POST_NEGATIVE,
    POST_NOTICE,
    World,
    cycle_time,
)
from crawler.settings import Settings

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def world() -> World:
    return World(319, seed=1)


def test_cycle_times_are_the_board_snapshots():
    assert cycle_time(0) == datetime(2022, 12, 1, 2, tzinfo=UTC)
    assert cycle_time(BASELINE_CYCLE) == datetime(2023, 3, 2, 2, tzinfo=UTC)
    assert cycle_time(AS_OF_CYCLE) == datetime(2023, 4, 13, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("baseline", "as_of"),
    [(BASELINE, AS_OF), (cycle_time(BASELINE_CYCLE), cycle_time(AS_OF_CYCLE))],
    ids=["board-dates", "cycle-dates"],
)
def test_truth_reproduces_the_board_figures(world, baseline, as_of):
    board = world.board_truth(baseline, as_of)
    assert board.accounts_at_baseline == 319
    assert board.fewer_accounts == 20
    assert board.fewer_active == 79
    assert board.fewer_active_announced == 7
    assert board.became_active == 0


@pytest.mark.parametrize("seed", [2, 3])
def test_figures_hold_for_other_seeds(seed):
    board = World(319, seed=seed).board_truth()
    assert (board.accounts_at_baseline, board.fewer_accounts, board.fewer_active) == (319, 20, 79)
    assert board.fewer_active_announced == 7


def test_platform_mix_is_like_the_registry(world):
    kinds = Counter(acc.platform for acc in world.accounts())
    assert kinds["wordpress"] == 128
    assert kinds["blogger"] == 48
    assert kinds["blog"] == 32
    assert kinds["instagram"] == 80
    assert kinds["facebook"] == 31
    assert {acc.kind for acc in world.accounts() if acc.platform == "wordpress"} == {"wp_self", "wp_com"}


def test_generation_is_deterministic():
    a, b = World(319, seed=7), World(319, seed=7)
    assert list(a.accounts()) == list(b.accounts())
    at = datetime(2023, 4, 1, tzinfo=UTC)
    assert [a.truth(i, at) for i in range(319)] == [b.truth(i, at) for i in range(319)]
    assert [acc.unit for acc in World(319, seed=8).accounts()] != [acc.unit for acc in a.accounts()]


def test_ids_units_and_areas_look_real(world):
    accounts = list(world.accounts())
    assert len({acc.id for acc in accounts}) == 319
    assert len({(acc.host, acc.slug) for acc in accounts}) == 319
    assert accounts[0].id == "mlm-001"
    assert all("förskola" in acc.unit.lower() for acc in accounts)
    assert 8 <= len({acc.area for acc in accounts}) <= 10
    assert world.account("mlm-042") == world.account(41)
    with pytest.raises(KeyError):
        world.account("mlm-999")


def test_ten_thousand_accounts_scale_the_quotas():
    # (how fast a world generates is measured by scripts/bench.py, not asserted here)
    w = World(10_000, seed=1)
    accounts = list(w.accounts())
    assert len(accounts) == 10_000 and len({a.id for a in accounts}) == 10_000
    board = w.board_truth()
    # Quotas scale with the size of the world.
    r = 10_000 / 319
    assert board.fewer_accounts == round(10 * r) + round(4 * r) + round(6 * r)
    assert board.became_active == 0


def test_hundred_thousand_accounts_are_compact():
    tracemalloc.start()
    try:
        w = World(100_000, seed=1)
        for i in range(0, 100_000, 97):
            w.truth(i, AS_OF)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024


def test_tiny_worlds_work():
    for n in (1, 5, 30):
        w = World(n, seed=1)
        assert len(list(w.accounts())) == n
        assert w.board_truth().accounts_at_baseline == n


def test_no_status_change_within_a_day_of_any_cycle(world):
    """Transitions keep a day away from cycle times, so day-precision dates classify the same."""
    for i in range(len(world)):
        for k in range(0, 27):
            at = cycle_time(k)
            before, after = world.truth(i, at - DAY), world.truth(i, at + DAY)
            assert before.status == after.status, (world.account(i).id, k)


def test_no_account_becomes_active_after_the_baseline(world):
    for i in range(len(world)):
        if world.truth(i, BASELINE).status != "active":
            assert all(world.truth(i, cycle_time(k)).status != "active" for k in range(BASELINE_CYCLE, 27))


def test_deletions_are_confirmable_by_the_as_of_cycle(world):
    """Two not-found visits a week apart must both fall before the as-of snapshot."""
    deleted = [acc for acc in world.accounts() if acc.deleted_at and acc.deleted_at < AS_OF]
    assert len(deleted) == 20
    for acc in deleted:
        assert cycle_time(BASELINE_CYCLE) < acc.deleted_at < cycle_time(AS_OF_CYCLE - 2)
        assert not (acc.login_wall or acc.robots_disallowed)


def test_truth_follows_the_rules_the_crawler_is_given():
    default, longer = World(319, seed=1), World(319, seed=1, rules=Settings(active_days=118))
    assert default.rules == Settings()
    acc = next(a for a in default.accounts() if a.archetype == "silenced" and a.observable == "dates")
    last = default.truth(acc.index, AS_OF).last_post_at
    at = last + timedelta(days=100)
    assert default.truth(acc.index, at).status == "dormant"
    assert longer.truth(acc.index, at).status == "active"
    assert longer.board_truth().fewer_active < default.board_truth().fewer_active


def test_unobservable_accounts_never_change(world):
    hidden = [acc for acc in world.accounts() if acc.observable in ("login_wall", "robots")]
    assert hidden, "the world should have login walls and robots-disallowed accounts"
    for acc in hidden:
        statuses = {world.truth(acc.index, cycle_time(k)).status for k in range(27)}
        assert len(statuses) == 1, acc.id


def test_notices_and_hard_negatives(world):
    notices = [acc for acc in world.accounts() if world.notice_posted_at(acc.index)]
    assert len(notices) == 7
    assert all(acc.platform in ("wordpress", "blogger", "blog") for acc in notices)
    for acc in notices:
        posted = world.notice_posted_at(acc.index)
        assert world.posts(acc.index, posted, limit=1)[0].kind == POST_NOTICE
        assert not world.truth(acc.index, posted - timedelta(seconds=1)).announced_move
        assert world.truth(acc.index, posted).announced_move
        # A weekly crawler sees the notice before the account disappears.
        assert any(
            posted < cycle_time(k) and world.exists(acc.index, cycle_time(k)) for k in range(27)
        ), acc.id
    negatives = [
        p
        for acc in world.accounts()
        for p in world.posts(acc.index, AS_OF + 60 * DAY, limit=200)
        if p.kind == POST_NEGATIVE
    ]
    assert len(negatives) >= 5
    assert {HARD_NEGATIVES[p.variant] for p in negatives} > {HARD_NEGATIVES[negatives[0].variant]}


def test_posts_and_counts_follow_the_clock(world):
    acc = next(a for a in world.accounts() if a.archetype == "steady" and a.kind == "instagram")
    counts = [world.post_count(acc.index, cycle_time(k)) for k in range(27)]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    posts = world.posts(acc.index, AS_OF, limit=5)
    assert len(posts) == 5
    assert [p.published_at for p in posts] == sorted((p.published_at for p in posts), reverse=True)
    assert all(p.published_at <= AS_OF.timestamp() for p in posts)


def test_deleted_accounts_show_no_posts_after_deletion(world):
    acc = next(a for a in world.accounts() if a.archetype == "deleted_active")
    truth = world.truth(acc.index, acc.deleted_at)
    assert (truth.exists, truth.status) == (False, "gone")
    assert world.truth(acc.index, acc.deleted_at - timedelta(seconds=1)).exists
    assert world.posts(acc.index, SIM_END_PLUS, limit=1)[0].published_at < acc.deleted_at.timestamp()


SIM_END_PLUS = datetime(2023, 7, 1, tzinfo=UTC)


class _FakeWeb:
    def url_for(self, acc):
        return f"http://127.0.0.2:8000/{acc.slug}/"

    def feed_url_for(self, acc):
        return f"http://127.0.0.2:8000/{acc.slug}/feed/"


def test_sources_yaml_lists_every_account(world):
    doc = yaml.safe_load(world.sources_yaml(_FakeWeb()))
    assert doc["settings"]["allow_private_addresses"] is True
    assert len(doc["accounts"]) == 319
    first = doc["accounts"][0]
    assert set(first) >= {"id", "unit", "area", "platform", "url"}
    assert any("feed" in entry for entry in doc["accounts"])
    assert any("ö" in entry["unit"] for entry in doc["accounts"])
