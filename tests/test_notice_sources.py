"""What the notice detector reads besides posts (issue 14, "what is read"): the site's tagline and
description, an account's bio. Real WordPress (tests/fixtures/real, replayed on loopback by
tests/replay.py) and the loopback Graph API (crawler/demo/graph.py), crawled by crawl.run_cycle into
a real SQLite inventory. The texts are read in memory; of a flagged text only its snippet is stored.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pytest

from crawler.crawl import run_cycle
from crawler.demo.field import FieldWorld
from crawler.demo.graph import DEMO_IG_USER_ID, DemoGraph
from crawler.demo.server import DemoWeb
from crawler.demo.world import World, cycle_time
from crawler.fetch import Fetcher
from crawler.models import Account, Fetched
from crawler.platforms import blog, feed
from crawler.settings import Settings
from crawler.store import Store
from tests.replay import REAL, ReplayServer

pytestmark = pytest.mark.timeout(90)

SOLROSEN = REAL / "wordpress" / "twentytwentythree-solrosen"  # block theme: the tagline only in <title> and feeds
TALLBACKEN = REAL / "wordpress" / "twentytwentyone-tallbacken"  # classic theme: .site-description in the header
RECORDED = "Här berättar vi om vardagen på förskolan"  # both sites' tagline (Settings > General) as captured
START = datetime(2023, 4, 15, 10, 0, tzinfo=UTC)
# What the sites' posts say (feed excerpts), none of it a notice: never to be found in the inventory.
POST_WORDS = ("Vi har fått besked om sommarens öppettider", "Nattinlägg i april")


def settings(**values) -> Settings:
    return Settings(contact="notice-test@localhost.invalid", allow_private_addresses=True, per_host_delay=0.0,
                    connect_timeout=2.0, read_timeout=2.0, deadline=5.0, retries=1, **values)  # type: ignore[call-arg]


class RetaggedSite(ReplayServer):
    """A captured WordPress site whose tagline was changed in Settings > General. WordPress prints the
    tagline (`bloginfo('description')`) wherever the recorded one is: the feeds' channel
    <description> and Atom <subtitle>, the front page's <title>, a classic theme's header; so every
    body serves the new one in its place, escaped as WordPress escapes it."""

    def __init__(self, folder: Path, tagline: str):
        super().__init__(folder)
        self.tagline = tagline

    def _rewrite(self, data: bytes) -> bytes:
        return super()._rewrite(data).replace(RECORDED.encode(), escape(self.tagline, quote=False).encode())


def crawl(store: Store, account: Account, **values):
    async def cycle():
        async with Fetcher(settings(**values), backoff_base=0.001) as fetcher:
            return await run_cycle(store, [account], settings(**values), clock=lambda: START, fetcher=fetcher)

    result = asyncio.run(cycle())
    assert result.state == "finished" and result.outcomes == {"ok": 1}, result
    return result


def solrosen_by_feed(site: ReplayServer) -> Account:
    return Account(id="solrosen", unit="Förskolan Solrosen", area="Centrum", platform="wordpress",
                   url=site.url("/"), feed=site.url("/feed/"))


@pytest.mark.parametrize("tagline, kind", [
    ("Vi flyttar till Tempus Hemma", "move"),
    ("Bloggen är nedlagd. Tack för alla fina år!", "closing"),
    ("Vi har flyttat till Instagram: @solrosen_forskola", "elsewhere"),
    (RECORDED, None),  # the tagline as recorded: no notice
])
def test_a_notice_in_the_feeds_tagline_is_flagged_with_its_kind_and_snippet(store: Store, tmp_path, tagline, kind):
    with RetaggedSite(SOLROSEN, tagline) as site:
        result = crawl(store, solrosen_by_feed(site))
        paths = [path for path, _ in site.requests]
    assert [p for p in paths if p != "/robots.txt"] == ["/feed/"]  # one request: the feed alone told it
    if kind is None:
        assert result.new_notices == 0 and store.notices() == []
        return
    [notice] = store.notices()
    assert result.new_notices == 1
    assert (notice.kind, notice.snippet, notice.state) == (kind, tagline, "pending")
    assert notice.post_url is None  # the account's own text, not a post's
    assert notice.score >= settings().notice_threshold and notice.matched


@pytest.mark.parametrize("name", ["feed.xml", "feed_atom.xml", "broken feed.xml"])
def test_every_reading_of_a_feed_takes_its_channel_description(name):
    # RSS <description> and Atom <subtitle> read by expat; a feed that is not well-formed (cut short
    # by a proxy) by feedparser; each keeps the tagline as the account's own text
    tagline = "Vi flyttar till Tempus Hemma & appen"
    with RetaggedSite(SOLROSEN, tagline) as site:
        body = site._rewrite((SOLROSEN / "live" / name.removeprefix("broken ")).read_bytes())
    if name.startswith("broken"):
        body = body[: len(body) // 2]
    obs = feed.parse_feed(body, "http://solrosen.test/feed/", START, settings(), "wordpress")
    assert obs.exists is True and obs.posts
    assert [(t.kind, t.text) for t in obs.texts if t.url is None] == [("description", tagline)]
    assert ("feed not well-formed" in " ".join(obs.notes)) == name.startswith("broken")


def test_a_json_feed_description_is_read_too():
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Förskolan Humlan",
                       "description": "Bloggen är arkiverad sedan 2024. Följ oss i Tempus Hemma.",
                       "items": [{"id": "1", "url": "https://humlan.example/1", "title": "Vinterlek",
                                  "date_published": "2023-02-14T09:12:33+01:00"}]}).encode()
    obs = feed.parse_feed(body, "https://humlan.example/feed.json", START, settings(), "blog")
    assert [t.text for t in obs.texts if t.url is None] == ["Bloggen är arkiverad sedan 2024. Följ oss i Tempus Hemma."]


def test_a_notice_in_the_page_header_tagline_is_read_from_the_page(tmp_path):
    # Twenty Twenty-One prints the tagline as <p class="site-description"> and has no og:description:
    # the page alone (what a first visit reads before its feed) carries it.
    tagline = "Bloggen är stängd – all information kommer nu i Tempus Hemma"
    with RetaggedSite(TALLBACKEN, tagline) as site:
        body = site._rewrite((TALLBACKEN / "live" / "front.html").read_bytes())
    assert b'class="site-description"' in body and b"og:description" not in body
    fetched = Fetched(url="http://tallbacken.test/", final_url="http://tallbacken.test/", status=200,
                      headers={"content-type": "text/html; charset=UTF-8"}, body=body)
    obs = blog.parse(fetched, START, settings(), "wordpress")
    own = [t for t in obs.texts if t.url is None]
    assert [(t.kind, t.text) for t in own] == [("description", tagline)]  # read once, from the header


def test_a_blog_read_from_its_page_and_feed_flags_the_tagline_once(store: Store):
    tagline = "Bloggen är stängd – all information kommer nu i Tempus Hemma"
    with RetaggedSite(TALLBACKEN, tagline) as site:
        # Registered as a plain blog: its page is read first (a `wordpress` account goes to /feed/ first)
        account = Account(id="tallbacken", unit="Förskolan Tallbacken", area="Söder", platform="blog",
                          url=site.url("/"))
        result = crawl(store, account)
        paths = [path for path, _ in site.requests]
    assert "/" in paths and "/feed/" in paths  # the page (header tagline), then the feed it names
    [notice] = store.notices()  # page header and feed channel say the same: one notice
    assert result.new_notices == 1 and notice.kind == "move" and notice.post_url is None
    assert notice.snippet == tagline and any("Tempus Hemma" in m for m in notice.matched)


def inventory_bytes(folder: Path) -> bytes:
    """Everything SQLite wrote: the database, and its journal or WAL if any is left."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob("inventory.sqlite*")))


def test_nothing_of_what_is_read_is_stored_but_the_snippet_of_a_flagged_text(tmp_path):
    # A long tagline: the notice first, then more than a snippet's worth of words about the preschool.
    notice = "Den här bloggen uppdateras inte längre. All information kommer i Tempus Hemma."
    rest = (" Förskolan Solrosen ligger vid parken och har fyra avdelningar med barn mellan ett och fem år."
            " Vi tycker om att vara ute i alla väder, att sjunga och att bygga kojor av filtar och stolar."
            " Välkommen att hälsa på oss, ring gärna först. Hälsningar från Zyxwvutsgatan.")
    tagline = notice + rest
    db = tmp_path / "db"
    db.mkdir()
    with RetaggedSite(SOLROSEN, tagline) as site, Store.open(db / "inventory.sqlite") as store:
        crawl(store, solrosen_by_feed(site))
        [flagged] = store.notices()
    assert flagged.kind == "move" and flagged.post_url is None
    assert len(flagged.snippet) <= 200 and flagged.snippet.startswith("Den här bloggen uppdateras inte längre")
    assert flagged.snippet.endswith("…") and "Zyxwvutsgatan" not in flagged.snippet  # cut: the end is not kept

    stored = inventory_bytes(db)
    assert flagged.snippet.encode() in stored
    assert b"Zyxwvutsgatan" not in stored  # the tagline beyond the snippet
    assert "Hälsningar från".encode() not in stored
    for words in POST_WORDS:  # the posts' titles and excerpts the detector read and did not flag
        assert words.encode() not in stored


# --------------------------------------------------------------------------- a bio (Instagram, Graph API)

class BioGraph(DemoGraph):
    """The demo's Graph API, where one account's biography is what `bios` says."""

    def __init__(self, world: World, token: str, bios: dict[str, str]):
        super().__init__(world, token)
        self.bios = bios

    def _user_field(self, acc, name, at):
        if name == "biography" and acc.slug in self.bios:
            return self.bios[acc.slug]
        return super()._user_field(acc, name, at)


TOKEN = "EAAG" + "x" * 40


@pytest.fixture(scope="module")
def world() -> World:
    return World(319, seed=1)


def test_a_notice_in_an_instagram_bio_read_through_the_graph_api_is_flagged(world, store, monkeypatch):
    at = cycle_time(13)
    acc = next(a for a in world.accounts() if a.kind == "instagram" and a.professional and a.deleted_at is None
               and world.posts(a.index, at))
    bio = "Vi har flyttat! 📱 All info till vårdnadshavare finns nu i Tempus Hemma. Kontot är vilande."
    monkeypatch.setenv("TEST_META", TOKEN)
    with DemoWeb(world, at, faults=False, slow_seconds=0, graph=BioGraph(world, TOKEN, {acc.slug: bio})) as web:
        meta = {"base_url": web.base_url("graph"), "instagram_user_id": DEMO_IG_USER_ID, "token_env": "TEST_META",
                "call_interval": 0.0}
        account = Account(acc.id, acc.unit, acc.area, acc.platform, web.url_for(acc))

        async def cycle():
            async with Fetcher(settings(meta=meta), backoff_base=0.001) as fetcher:
                return await run_cycle(store, [account], settings(meta=meta), clock=lambda: at, fetcher=fetcher)

        result = asyncio.run(cycle())
        calls = list(web.server.graph.calls)
    assert result.state == "finished", result
    assert any("biography" in fields for _path, fields in calls)  # the bio came from the Graph API
    [notice] = store.notices()
    assert notice.kind == "move" and notice.post_url is None and "Tempus Hemma" in notice.snippet
    assert notice.snippet == bio


def test_a_notice_in_a_public_instagram_bio_is_flagged_by_a_crawl(store):
    # The field world writes an Instagram account's move notice into its bio (the profile page's
    # embedded JSON); no Graph API is configured, so the public profile is read.
    world = FieldWorld(319, seed=1)
    acc = next(a for a in world.accounts() if a.kind == "instagram" and world.notice_posted_at(a.index)
               and a.observable not in ("login_wall", "robots") and not a.flaky and a.deleted_at is None)
    at = world.notice_posted_at(acc.index) + timedelta(hours=1)
    with DemoWeb(world, at, faults=False, slow_seconds=0) as web:
        account = Account(acc.id, acc.unit, acc.area, acc.platform, web.url_for(acc))

        async def cycle():
            async with Fetcher(settings(), backoff_base=0.001) as fetcher:
                return await run_cycle(store, [account], settings(), clock=lambda: at, fetcher=fetcher)

        result = asyncio.run(cycle())
    assert result.state == "finished" and result.new_notices == 1, result
    [notice] = store.notices()
    assert notice.kind == "move" and notice.post_url is None and "Tempus Hemma" in notice.snippet
