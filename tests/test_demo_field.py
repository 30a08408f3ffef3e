"""The field world (crawler/demo/field.py): randomised timing, faults and hidden changes, notices on
every platform; and field_report, the measurement of a crawler's error against truth."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest

from crawler import notices
from crawler.demo.field import FieldWorld, field_report, render_field
from crawler.demo.pages import render
from crawler.demo.runner import run_demo
from crawler.demo.world import HOSTS, World, cycle_time
from crawler.models import Fetched
from crawler.platforms import adapter
from crawler.settings import Settings

pytestmark = pytest.mark.timeout(120)

BASES = {h: f"http://127.0.0.{i + 2}:8000" for i, h in enumerate(HOSTS)}


@dataclass(frozen=True)
class View:
    status: str | None


def truthful_views(world, cycles):
    return {k: {a.id: View("unknown" if a.observable in ("login_wall", "robots") else world.truth(a.index, cycle_time(k)).status)
                for a in world.accounts()} for k in cycles}


def test_the_field_world_breaks_the_contracts_promises():
    field, contract = FieldWorld(319, seed=1), World(319, seed=1)
    # notices on Instagram and Facebook too (the contract world posts them on blogs only)
    kinds = Counter(a.kind for a in field.accounts() if field.notice_posted_at(a.index))
    assert kinds["instagram"] + kinds["facebook"] >= 1
    assert not any(a.kind in ("instagram", "facebook") for a in contract.accounts() if contract.notice_posted_at(a.index))
    # hidden accounts that change (fall silent, get deleted); faults on changing accounts
    hidden = [a for a in field.accounts() if a.observable in ("login_wall", "robots")]
    assert any(a.archetype not in ("steady", "dormant") for a in hidden)
    assert any(a.deleted_at for a in hidden) or any(a.archetype == "silenced" for a in hidden)
    assert any(a.flaky and a.archetype not in ("steady", "dormant") for a in field.accounts())
    assert not any(a.archetype not in ("steady", "dormant") for a in contract.accounts()
                   if a.observable in ("login_wall", "robots"))

    # decisive moments (last posts, deletions, notices) anywhere in the week, also near a crawl
    def near_a_crawl(world) -> int:
        rng = random.Random(5)
        moments = [world._moment(rng, week) for week in range(20) for _ in range(50)]
        return sum(min(abs(m - cycle_time(k).timestamp()) for k in range(22)) < 3 * 3600 for m in moments)

    assert near_a_crawl(field) >= 150 and near_a_crawl(contract) == 0
    deleted = [a.deleted_at for a in field.accounts() if a.deleted_at]
    assert any(min(abs((d - cycle_time(k)).total_seconds()) for k in range(30)) < 3 * 3600 for d in deleted)


def test_an_instagram_move_notice_is_in_the_bio_and_is_flagged():
    world = FieldWorld(319, seed=1)
    acc = next(a for a in world.accounts() if a.kind == "instagram" and world.notice_posted_at(a.index) and not a.login_wall)
    at = world.notice_posted_at(acc.index) + timedelta(hours=1)
    page = render(world, at, BASES, "instagram", f"/{acc.slug}/")
    fetched = Fetched(url="u", final_url="u", status=200, headers={"content-type": "text/html"}, body=page.body)
    obs = adapter("instagram").parse(fetched, at, Settings(), "instagram")
    hits = notices.detect(obs.texts, Settings().notice_threshold)
    assert [t.kind for t in obs.texts][0] == "bio" and hits and hits[0].kind == "move"
    before = render(world, at - timedelta(hours=2), BASES, "instagram", f"/{acc.slug}/")
    assert b"biography" not in before.body


def test_field_report_of_a_crawler_that_sees_truth_at_every_cycle():
    world = FieldWorld(80, seed=2)
    cycles = range(0, 20)
    report = field_report(world, truthful_views(world, cycles))
    assert report.misclassified == report.late == report.undecided == 0
    assert report.total == 80 * 20 and report.agree + report.unseen == report.total
    # every change of true status shows at the first cycle after it: within a week
    assert report.changes > 0 and report.not_caught == 0 and max(report.caught_days) <= 7.0


def test_field_report_counts_a_late_and_a_wrong_crawler_as_such():
    world = FieldWorld(80, seed=2)
    cycles = list(range(0, 20))
    views = truthful_views(world, cycles)
    changing = next(a for a in world.accounts() if a.observable == "dates"
                    and any(world.truth(a.index, cycle_time(k)).status != world.truth(a.index, cycle_time(k - 1)).status
                            for k in cycles[1:]))
    k = next(k for k in cycles[1:] if world.truth(changing.index, cycle_time(k)).status
             != world.truth(changing.index, cycle_time(k - 1)).status)
    views[k][changing.id] = View(world.truth(changing.index, cycle_time(k - 1)).status)  # one cycle late
    steady = next(a for a in world.accounts() if a.observable == "dates" and a.archetype == "steady" and a.deleted_at is None)
    views[5][steady.id] = View("dormant")  # plainly wrong
    views[6][steady.id] = View("unknown")  # an abstention
    report = field_report(world, views)
    assert report.late == 1 and report.misclassified == 1 and report.undecided == 1
    assert report.wrong == Counter({"active->dormant": 1})
    assert max(report.caught_days) > 7.0  # the late change was shown a cycle later
    text = "\n".join(render_field(report))
    assert "misclassified" in text and "1 active->dormant" in text


@pytest.mark.slow
def test_crawler_demo_world_field_reports_the_crawlers_error(tmp_path):
    result = run_demo(tmp_path / "field", accounts=40, seed=3, cycles=8, world_name="field", slow_seconds=0.0)
    report = result.field_report
    assert report is not None and report.total == 40 * 8
    assert report.misclassified <= report.total * 0.02, report.wrong
    assert "How wrong a weekly crawl is (field world: 40 accounts x 8 cycles" in result.text
    with pytest.raises(ValueError):
        run_demo(tmp_path / "x", accounts=5, cycles=1, world_name="moon")
