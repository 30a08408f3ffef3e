"""Notices through real crawls: a WordPress site (tests/fixtures/real, replayed on loopback by
tests/replay.py) whose newest post is edited between visits, crawled by crawl.run_cycle into a real
SQLite inventory with a simulated clock.

Issue 14, "the strongest evidence is kept": a post whose title is weak (seen first) and whose
excerpt is decisive (seen on a later visit) ends up with the excerpt's evidence, on the same pending
notice; a decided notice is never overwritten; a weaker later text changes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.crawl import run_cycle
from crawler.fetch import Fetcher
from crawler.models import Account
from crawler.settings import Settings
from crawler.store import Store
from tests.replay import REAL, ReplayServer

pytestmark = pytest.mark.timeout(60)

SOLROSEN = REAL / "wordpress" / "twentytwentythree-solrosen"
START = datetime(2023, 4, 15, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
NEWEST = "/2023/04/14/nattinlagg-i-april/"

WEAK_TITLE = "Bloggen tackar för sig"  # the detector: closing, ~0.74
DECISIVE = ("Bloggen stängs ner efter sommaren. All information om verksamheten kommer i fortsättningen "
            "i Tempus Hemma, appen där ni redan anmäler frånvaro.")  # move, ~0.99
ORDINARY = "Vi har fått besked om sommarens öppettider: förskolan har öppet hela juli."  # the recorded excerpt


def settings() -> Settings:
    return Settings(contact="notice-test@localhost.invalid", allow_private_addresses=True, per_host_delay=0.0,
                    connect_timeout=2.0, read_timeout=2.0, deadline=5.0, retries=1)  # type: ignore[call-arg]


class EditedSite(ReplayServer):
    """Solrosen as recorded, except that its newest post can be edited: `edit(title, excerpt)` changes
    that item of /feed/ (a post with only a picture has an empty excerpt) and its ETag, as WordPress
    does when a post is saved again."""

    def __init__(self, folder: Path, scratch: Path):
        super().__init__(folder)
        self.scratch = scratch
        self.version = 0
        self.feed: dict | None = None

    def edit(self, title: str, excerpt: str) -> None:
        live = super().response_for("/feed/")
        body = (self.folder / live["body"]).read_text(encoding="utf-8")
        body = body.replace("<title>Nattinlägg i april</title>", f"<title>{title}</title>", 1)
        body = body.replace(f"<description><![CDATA[{ORDINARY}]]></description>",
                            f"<description><![CDATA[{excerpt}]]></description>", 1)
        body = body.replace(f"<p>{ORDINARY}</p>", f"<p>{excerpt}</p>" if excerpt else "<figure></figure>", 1)
        self.version += 1
        path = self.scratch / f"feed-{self.version}.xml"
        path.write_text(body, encoding="utf-8")
        etag = f'"edited-{self.version}-gzip"'
        self.feed = {**live, "body": str(path), "headers": {**live["headers"], "etag": etag}}

    def response_for(self, path: str) -> dict:
        if path == "/feed/" and self.feed is not None:
            return self.feed
        return super().response_for(path)


def visit(store: Store, site: EditedSite, day: int) -> int:
    """One crawl cycle of the site on START + day; returns how many notices it flagged anew."""
    account = Account(id="solrosen", unit="Förskolan Solrosen", area="Centrum", platform="wordpress",
                      url=site.url("/"))
    at = START + day * DAY

    async def cycle():
        async with Fetcher(settings(), backoff_base=0.001) as fetcher:
            return await run_cycle(store, [account], settings(), clock=lambda: at, fetcher=fetcher)

    result = asyncio.run(cycle())
    assert result.state == "finished" and result.outcomes == {"ok": 1}, result
    return result.new_notices


@pytest.fixture
def site(tmp_path: Path):
    with EditedSite(SOLROSEN, tmp_path) as s:
        yield s


def test_a_decisive_excerpt_seen_later_replaces_the_weak_title_of_the_pending_notice(store: Store, site: EditedSite):
    site.edit(WEAK_TITLE, "")  # first published with a picture only
    assert visit(store, site, 0) == 1
    [first] = store.notices()
    assert (first.kind, first.snippet, first.state) == ("closing", WEAK_TITLE, "pending")
    assert settings().notice_threshold <= first.score < 0.8
    assert first.post_url == site.url(NEWEST)

    site.edit(WEAK_TITLE, DECISIVE)  # the post is edited: now the excerpt says where information goes
    assert visit(store, site, 1) == 0  # the same post: no new notice
    [later] = store.notices()
    assert later.id == first.id and later.state == "pending"
    assert later.kind == "move" and later.score >= 0.95
    assert "Tempus Hemma" in later.snippet and "Bloggen stängs" in later.snippet
    assert any("Tempus Hemma" in m for m in later.matched)
    assert later.detected_at == first.detected_at == START  # first flagged then
    assert store.pending_summary().count == 1


def test_a_weaker_text_on_a_later_visit_changes_nothing(store: Store, site: EditedSite):
    site.edit(WEAK_TITLE, DECISIVE)
    visit(store, site, 0)
    [strong] = store.notices()
    site.edit(WEAK_TITLE, "")  # the excerpt is removed again: only the weak title is left
    assert visit(store, site, 1) == 0
    assert store.notices() == [strong]


@pytest.mark.parametrize("decision", ["confirmed", "rejected"])
def test_a_decided_notice_is_never_overwritten_by_a_stronger_text(store: Store, site: EditedSite, decision: str):
    site.edit(WEAK_TITLE, "")
    visit(store, site, 0)
    [weak] = store.notices()
    assert store.set_notice_state(weak.id, "pending", decision, "Kim", START + DAY / 2, None)
    decided = store.notice(weak.id)

    site.edit(WEAK_TITLE, DECISIVE)
    assert visit(store, site, 1) == 0
    [after] = store.notices()
    assert after == decided  # evidence, kind, score and the decision as the reviewer saw them
    assert (after.kind, after.snippet, after.state) == ("closing", WEAK_TITLE, decision)
