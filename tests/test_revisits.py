"""Revisits of an account on what real software serves (tests/fixtures/real, replayed on loopback by
tests/replay.py), crawled by crawl.run_cycle into a real SQLite inventory with a simulated clock:
issue 13's defects 1 (gone, then the address serves something else), 3 (304 after an outage),
5 (WordPress with feeds off and a static front page) and 7 (the REST API's post count).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from crawler.crawl import run_cycle
from crawler.fetch import Fetcher
from crawler.models import Account
from crawler.settings import Settings
from crawler.store import Store
from tests.replay import REAL, ReplayServer

from .conftest import sql_rows

pytestmark = pytest.mark.timeout(60)

SOLROSEN = REAL / "wordpress" / "twentytwentythree-solrosen"
EKBACKEN = REAL / "wordpress" / "twentytwentytwo-ekbacken"
START = datetime(2023, 4, 15, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def settings() -> Settings:
    return Settings(contact="revisit-test@localhost.invalid", allow_private_addresses=True, per_host_delay=0.0,
                    connect_timeout=2.0, read_timeout=2.0, deadline=5.0, retries=3)  # type: ignore[call-arg]


class Site(ReplayServer):
    """The replay, plus a state "deleted" in which every path answers the site's recorded 404 page
    (what a host serves for an account it removed: the step that makes the account gone)."""

    def response_for(self, path: str) -> dict:
        if self.state == "deleted":
            live = self.capture["states"]["live"]
            return next(e for e in live["responses"] if e["path"] == live["fallback"])
        return super().response_for(path)


def crawl(store: Store, site: Site, states: list[str], *, unit: str = "Förskolan Solrosen") -> list[tuple]:
    """One cycle a day, the site in each of `states` in turn: (state, outcome, status, reason) per day."""
    account = Account(id="solrosen", unit=unit, area="Centrum", platform="wordpress", url=site.url("/"))
    out = []
    for day, state in enumerate(states):
        site.state = state
        at = START + day * DAY

        async def cycle(at: datetime = at):
            async with Fetcher(settings(), backoff_base=0.001) as fetcher:
                return await run_cycle(store, [account], settings(), clock=lambda: at, fetcher=fetcher)

        result = asyncio.run(cycle())
        record = store.account("solrosen")
        out.append((state, next(iter(result.outcomes)), record.status, record.status_reason))
    return out


@pytest.mark.parametrize("later", ["removed", "removed-nginx", "replaced"])
def test_defect_1_a_deleted_sites_address_serving_something_else_stays_gone(store: Store, later: str):
    """Apache's "It works", nginx's welcome page, another WordPress (with a post dated after the
    gone date): none is the account, so it stays gone with its own last post date, not theirs."""
    with Site(SOLROSEN) as site:
        days = crawl(store, site, ["live", "deleted", "deleted", later, later])
        last_post = store.account("solrosen").last_post_at
    assert [d[2] for d in days] == ["active", "active", "gone", "gone", "gone"]
    assert days[3][3].startswith("now serves something else (")
    assert days[3][3].endswith("; no post or name of the account); gone kept")
    assert last_post == datetime(2023, 4, 13, 22, 20, tzinfo=UTC)  # Solrosen's newest post, never the other site's
    changes = sql_rows(store, "SELECT new FROM status_changes WHERE account_id = 'solrosen' ORDER BY id")
    assert [c["new"] for c in changes] == ["active", "gone"]


def test_defect_1_the_account_itself_coming_back_is_active_again(store: Store):
    with Site(SOLROSEN) as site:
        days = crawl(store, site, ["live", "deleted", "deleted", "removed", "live"])
    assert [d[2] for d in days] == ["active", "active", "gone", "gone", "active"]
    assert days[-1][3].startswith("back after gone (its last known post is listed again): last post 2023-04-14")


def test_defect_1_a_gone_account_is_asked_without_validators(store: Store):
    """Apache answers 304 to the old feed's If-Modified-Since with its default page: never asked so."""
    with Site(SOLROSEN) as site:
        crawl(store, site, ["live", "deleted", "deleted"])
        site.requests.clear()
        crawl(store, site, ["removed"])
        asked = [h for _path, h in site.requests]
    assert asked and not any("if-modified-since" in h or "if-none-match" in h for h in asked)


def test_defect_3_a_304_after_an_outage_brings_the_stored_status_back(store: Store):
    """live, three days of database outage (robots.txt 500: unknown), then the feed answers 304."""
    with Site(SOLROSEN) as site:
        days = crawl(store, site, ["live", "outage", "outage", "outage", "live", "live"])
    assert [d[1] for d in days] == ["ok", "robots_unreachable", "robots_unreachable", "robots_unreachable",
                                    "not_modified", "not_modified"]
    assert [d[2] for d in days] == ["active", "active", "active", "unknown", "active", "active"]
    assert days[4][3] == "last post 2023-04-14 (5 days ago)"  # defect 6 too: the Swedish day of 00:20 CEST


def test_defect_5_feeds_off_and_a_static_front_page_are_read_through_the_rest_api(store: Store):
    """Ekbacken: /feed/ and ?feed=rss2 answer 500 (wp_die's XML), / is a page without posts, the
    REST API lists the newest post (2023-04-09, X-WP-Total 12). The broken feed is asked once, on
    the first visit only (with the fetcher's retries of a 500), ?feed=rss2 (the same error) never;
    later visits go to the REST API in one request."""
    with Site(EKBACKEN) as site:
        first = crawl(store, site, ["live"])
        first_requests = [p for p, _h in site.requests if not p.startswith("/robots.txt")]
        site.requests.clear()
        later = crawl(store, site, ["live"])
        later_requests = [p for p, _h in site.requests if not p.startswith("/robots.txt")]
        record = store.account("solrosen")
    assert first[0][2] == "active" and first[0][3].startswith("last post 2023-04-09 "), first
    assert 1 <= first_requests.count("/feed/") <= settings().retries and "/?feed=rss2" not in first_requests
    assert later_requests == ["/wp-json/wp/v2/posts?per_page=1"], later_requests
    assert later[0][2] == "active"
    assert record.post_count == 12  # defect 7: X-WP-Total reaches the parser


def test_defect_6_a_date_only_hugo_post_shows_its_own_day_everywhere(store: Store):
    """Hugo with timeZone Europe/Stockholm publishes `date: 2023-04-14` as local midnight, stored
    2023-04-13T22:00Z: status reason, export, report and review all say the 14th."""
    from crawler import export, report, review

    with Site(REAL / "hugo" / "hugo-lotsen") as site:
        account = Account(id="lotsen", unit="Förskolan Lotsen", area="Centrum", platform="blog", url=site.url("/"))

        async def cycle():
            async with Fetcher(settings(), backoff_base=0.001) as fetcher:
                return await run_cycle(store, [account], settings(), clock=lambda: START, fetcher=fetcher)

        asyncio.run(cycle())
    record = store.account("lotsen")
    assert record.last_post_at == datetime(2023, 4, 13, 22, 0, tzinfo=UTC)  # stored in UTC
    assert record.status_reason == "last post 2023-04-14 (1 day ago)"
    row = export.export_rows(store)[0]
    assert row["last_post_at"] == "2023-04-14T00:00:00+02:00"
    assert report.Words("en").day("2023-04-13T22:00:00+00:00") == "2023-04-14" and review._day(record.last_post_at) == "2023-04-14"
