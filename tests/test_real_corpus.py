"""The corpus of what real blog software serves (tests/fixtures/real/, made by
scripts/corpus/make_corpus.py) and its replay server (tests/replay.py).

The replay must answer as the real server did: every conditional request recorded from Apache,
WordPress and nginx is asked again of the replay and must get the same status. Defects of issue 13
that were found there have regression tests here and in tests/test_revisits.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from crawler.dates import STOCKHOLM
from crawler.fetch import Fetcher
from crawler.platforms import observe
from crawler.settings import Settings
from tests.replay import REAL, ReplayServer, captures, load

pytestmark = pytest.mark.timeout(60)

CAPTURES = captures()
TYPES = {"front", "listing", "archive", "post", "page", "feed", "api", "robots", "missing", "removed", "outage"}
NOW = datetime.fromisoformat("2023-04-15T10:00:00+00:00")


def settings() -> Settings:
    return Settings(contact="corpus-test@localhost.invalid", allow_private_addresses=True, per_host_delay=0.0,
                    connect_timeout=2.0, read_timeout=2.0, deadline=5.0, retries=1)  # type: ignore[call-arg]


def visit(site: ReplayServer, platform: str, url: str | None = None):
    async def go():
        async with Fetcher(settings(), backoff_base=0.01) as fetcher:
            return await observe(platform, url or site.url("/"), None, fetcher.fetch, NOW, settings())

    return asyncio.run(go())


def test_the_corpus_covers_the_software_and_stays_small():
    assert {p.parent.name for p in CAPTURES} >= {"wordpress", "hugo", "jekyll", "pelican"}
    themes = {load(p)["theme"] for p in CAPTURES if p.parent.name == "wordpress"}
    assert len(themes) >= 3
    size = sum(f.stat().st_size for f in REAL.rglob("*") if f.is_file())
    assert size < 6 * 1024 * 1024


@pytest.mark.parametrize("folder", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_capture_is_complete(folder: Path):
    cap = load(folder)
    assert cap["truth"]["newest_day"] and cap["truth"]["newest_at"].endswith("Z")
    assert cap["conditional"] in ("wordpress-apache-deflate", "nginx")
    for state, content in cap["states"].items():
        assert any(r["path"] == content["fallback"] for r in content["responses"]), state
        for r in content["responses"]:
            assert r["type"] in TYPES
            assert (folder / r["body"]).is_file(), r["body"]
            if r["type"] != "robots":
                assert set(r["expected"]) >= {"exists", "newest_day", "newest_at"}
    # the newest post is the truth's: a newest_day of the front page or feed equals the site's
    live = cap["states"]["live"]["responses"]
    assert any(r["expected"].get("newest_day") == cap["truth"]["newest_day"] for r in live if r["type"] != "robots")


@pytest.mark.parametrize("folder", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_replay_answers_conditional_requests_as_the_real_server_did(folder: Path):
    cap = load(folder)
    assert cap["probes"], "no conditional requests recorded"
    with ReplayServer(folder) as site, httpx.Client() as client:
        for probe in cap["probes"]:
            site.state = probe["state"]
            got = client.get(site.url(probe["path"]), headers={"Accept-Encoding": "gzip", **probe["request"]})
            assert got.status_code == probe["status"], (probe["state"], probe["path"], probe["label"])


def test_replay_rewrites_the_origin_and_gzips_like_apache():
    folder = REAL / "wordpress" / "twentytwentythree-solrosen"
    with ReplayServer(folder) as site, httpx.Client() as client:
        feed = client.get(site.url("/feed/"), headers={"Accept-Encoding": "gzip"})
        assert feed.headers["content-encoding"] == "gzip" and feed.headers["etag"].endswith('-gzip"')
        assert f"<link>{site.origin}</link>" in feed.text and "solrosen.test" not in feed.text
        plain = client.get(site.url("/feed/"), headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and not plain.headers["etag"].endswith('-gzip"')
        api = client.get(site.url("/wp-json/wp/v2/posts?per_page=1"))
        assert api.headers["x-wp-total"] == "27"
        assert json.loads(api.text)[0]["link"].startswith(site.origin + "/2023/04/14/")
        assert client.get(site.url("/no/such/page/")).status_code == 404
        site.state = "outage"
        assert client.get(site.url("/robots.txt")).status_code == 500
        site.state = "removed"
        assert "It works!" in client.get(site.url("/")).text


@pytest.mark.parametrize("folder", [p for p in CAPTURES if p.name != "twentytwentytwo-ekbacken"],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_crawler_reads_the_newest_post_day_of_each_live_site(folder: Path):
    cap = load(folder)
    platform = "wordpress" if cap["software"] == "wordpress" else "blog"
    with ReplayServer(folder) as site:
        obs, _ = visit(site, platform, site.url(cap.get("account_path", "/")))
    assert obs.exists is True, obs.reason
    assert obs.last_post_at is not None
    assert obs.last_post_at.astimezone(STOCKHOLM).date().isoformat() == cap["truth"]["newest_day"]


# ------------------------------------------------------------- issue 13's defects 5 and 7 (fixed; more in test_revisits.py)

EKBACKEN = REAL / "wordpress" / "twentytwentytwo-ekbacken"


def test_defect_5_feeds_off_and_static_front_page_read_through_the_rest_api():
    cap = load(EKBACKEN)
    with ReplayServer(EKBACKEN) as site:
        obs, _ = visit(site, "wordpress")
    assert obs.last_post_at is not None
    assert obs.last_post_at.astimezone(STOCKHOLM).date().isoformat() == cap["truth"]["newest_day"]


def test_defect_5_a_feed_that_answers_an_error_document_is_asked_once_a_visit():
    with ReplayServer(EKBACKEN) as site:
        visit(site, "wordpress")
        feed_requests = [p for p, _ in site.requests if p in ("/feed/", "/?feed=rss2")]
    assert len(feed_requests) <= 1, feed_requests


def test_defect_7_the_rest_api_post_count_is_read_from_x_wp_total():
    folder = REAL / "wordpress" / "twentytwentythree-solrosen"
    with ReplayServer(folder) as site:
        obs, _ = visit(site, "wordpress", site.url("/"))
        api, _ = asyncio.run(_fetch_and_parse(site.url("/wp-json/wp/v2/posts?per_page=1")))
    assert api.post_count == 27


async def _fetch_and_parse(url: str):
    from crawler.platforms import wordpress

    async with Fetcher(settings(), backoff_base=0.01) as fetcher:
        fetched = await fetcher.fetch(url)
    return wordpress.parse(fetched, NOW, settings(), "wordpress"), fetched


@pytest.mark.parametrize("state", ["removed", "removed-nginx", "replaced"])
def test_defect_1_what_a_deleted_sites_address_serves_later(state: str):
    """The page alone looks alive (so the classifier must use the account's history, defect 1):
    this pins what the crawler reads from it today, for the fixer's regression test."""
    folder = REAL / "wordpress" / "twentytwentythree-solrosen"
    with ReplayServer(folder, state=state) as site:
        obs, _ = visit(site, "wordpress")
    assert obs.exists is True  # 200 pages: "something answers", which is not "the account is back"


def _accuracy():
    import importlib.util

    spec = importlib.util.spec_from_file_location("accuracy", Path(__file__).parent.parent / "scripts" / "accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_accuracy_on_the_real_corpus_never_reads_a_live_page_as_gone_and_reads_every_feed():
    accuracy = _accuracy()
    rows = accuracy.run_real(REAL, with_htmldate=False)
    assert len(rows) >= 100
    assert not [r["path"] for r in rows if r["expected_exists"] is True and r["exists"] is False]
    feeds = [r for r in rows if r["type"] in ("feed", "api")]
    assert all(r["days"]["ours"] == r["expected_day"] for r in feeds), [r["path"] for r in feeds]
