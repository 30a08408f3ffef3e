"""The driver in crawler.platforms: which URLs a visit fetches (observe), detect, inspect_file,
observation_to_dict. The fetch callable is a fake over a dict of responses: no network."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from crawler.models import Fetched
from crawler.platforms import detect, inspect_file, observation_to_dict, observe
from crawler.settings import Settings

NOW = datetime(2023, 4, 15, 12, 0, tzinfo=UTC)
BASE = "http://127.0.0.5:8080/solrosen/"
FEED = BASE + "feed/"
RSS = (b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Solrosen</title>'
       b"<item><title>Vi bakar</title><link>" + BASE.encode() + b"p/2/</link><pubDate>Sun, 12 Mar 2023 09:30:00 +0000</pubDate></item>"
       b"<item><title>Sn\xc3\xb6</title><link>" + BASE.encode() + b"p/1/</link><pubDate>Thu, 02 Feb 2023 09:30:00 +0000</pubDate></item>"
       b"</channel></rss>")
PAGE = (b'<!DOCTYPE html><html><head><title>Solrosen</title></head><body><main><article><h2><a href="p/2/">Vi bakar</a></h2>'
        b'<time datetime="2023-03-12T10:30:00+01:00">12 mars 2023</time></article></main></body></html>')
PAGE_WITH_FEED = PAGE.replace(b"</title>", b'</title><link rel="alternate" type="application/rss+xml" href="feed/">')
PAGE_UNDATED = b'<!DOCTYPE html><html><head><title>Solrosen</title></head><body><p>V\xc3\xa4lkommen!</p></body></html>'


def ok(url: str, body: bytes, ctype: str = "text/html; charset=utf-8") -> Fetched:
    return Fetched(url=url, final_url=url, status=200, headers={"content-type": ctype}, body=body)


def status(url: str, code: int) -> Fetched:
    return Fetched(url=url, final_url=url, status=code, headers={"content-type": "text/html"}, body=b"<html><body>x</body></html>")


def error(url: str, kind: str) -> Fetched:
    return Fetched(url=url, final_url=url, error=kind)


class FakeWeb:
    """Answers from a dict; anything else is a 404. Records every URL asked for."""

    def __init__(self, responses: dict[str, Fetched]):
        self.responses = responses
        self.calls: list[str] = []

    async def __call__(self, url: str) -> Fetched:
        self.calls.append(url)
        return self.responses.get(url) or status(url, 404)


def run(platform, url, web, feed=None, **kw):
    return asyncio.run(observe(platform, url, feed, web, NOW, Settings(), **kw))


def test_steady_state_is_one_request_to_the_known_feed():
    web = FakeWeb({FEED: ok(FEED, RSS, "application/rss+xml")})
    obs, fetches = run("wordpress", BASE, web, known_feed=FEED)
    assert web.calls == [FEED] and len(fetches) == 1
    assert obs.exists is True and obs.reason == "feed parsed"
    assert obs.last_post_at == datetime(2023, 3, 12, 9, 30, tzinfo=UTC)
    assert obs.feed_url == FEED and obs.source_url == FEED
    assert [p.url for p in obs.posts] == [BASE + "p/2/", BASE + "p/1/"]


def test_a_304_on_the_first_request_ends_the_visit():
    web = FakeWeb({FEED: Fetched(url=FEED, final_url=FEED, status=304)})
    obs, fetches = run("wordpress", BASE, web, known_feed=FEED)
    assert web.calls == [FEED]
    assert (obs.exists, obs.reason, obs.source_url) == (True, "not modified", FEED)


def test_wordpress_without_a_known_feed_tries_feed_first():
    web = FakeWeb({FEED: ok(FEED, RSS, "application/rss+xml")})
    obs, _ = run("wordpress", BASE, web)
    assert web.calls == [FEED]
    assert obs.feed_url == FEED


def test_a_feed_404_never_makes_a_live_account_gone():
    web = FakeWeb({BASE: ok(BASE, PAGE)})  # /feed/ is a 404
    obs, fetches = run("wordpress", BASE, web)
    assert web.calls[:2] == [FEED, BASE]
    assert obs.exists is True
    assert obs.last_post_at is not None and obs.last_post_at.date().isoformat() == "2023-03-12"
    assert obs.source_url == BASE


def test_a_declared_feed_that_fails_sends_the_driver_to_the_page():
    bridge = "http://127.0.0.9:8080/bridge/humlan.xml"
    url = "http://127.0.0.5:8080/forskolan_humlan/"
    profile = (b'<html><head><meta property="og:title" content="Humlan (@forskolan_humlan) &#x2022; Instagram photos and videos">'
               b'<meta property="og:description" content="10 Followers, 2 Following, 33 Posts - See Instagram photos and videos from Humlan (@forskolan_humlan)">'
               b"</head><body></body></html>")
    web = FakeWeb({bridge: error(bridge, "dns_error"), url: ok(url, profile)})
    obs, _ = run("instagram", url, web, feed=bridge)
    assert web.calls == [bridge, url]
    assert obs.exists is True and obs.post_count == 33


def test_only_the_page_itself_can_say_gone():
    web = FakeWeb({})  # feed and page both 404
    obs, fetches = run("wordpress", BASE, web)
    assert web.calls[:2] == [FEED, BASE]
    assert obs.exists is False and obs.reason == "http 404"
    assert len(fetches) == 2  # nothing more is tried once the page said it is gone


def test_a_failed_feed_with_no_budget_left_for_the_page_is_unknown_not_gone():
    web = FakeWeb({})
    obs, fetches = run("wordpress", BASE, web, max_fetches=1)
    assert len(fetches) == 1
    assert obs.exists is None and "page not checked" in obs.reason


def test_page_unreachable_after_feed_404_is_unknown():
    web = FakeWeb({BASE: error(BASE, "connect_error")})
    obs, _ = run("wordpress", BASE, web)
    assert obs.exists is None and obs.reason == "fetch error: connect_error"


def test_a_discovered_feed_is_followed_and_remembered():
    url = "http://127.0.0.6:8080/valen/"
    web = FakeWeb({url: ok(url, PAGE_WITH_FEED.replace(b"feed/", b"/valen/feed/")),
                   url + "feed/": ok(url + "feed/", RSS, "text/html")})  # RSS labelled text/html
    obs, _ = run("blog", url, web)
    assert web.calls == [url, url + "feed/"]
    assert obs.exists is True and obs.feed_url == url + "feed/" and obs.follow is None


def test_a_discovered_feed_that_fails_keeps_the_page_reading():
    url = "http://127.0.0.6:8080/valen/"
    web = FakeWeb({url: ok(url, PAGE_WITH_FEED.replace(b"feed/", b"/valen/feed/")), url + "feed/": status(url + "feed/", 500)})
    obs, fetches = run("blog", url, web)
    assert obs.exists is True and obs.last_post_at is not None and obs.feed_url is None
    assert len(fetches) == 2  # no guessing of other feed paths once the page has dated the account


def test_an_undated_page_makes_the_driver_try_the_usual_feed_paths_within_budget():
    url = "http://127.0.0.6:8080/valen/"
    web = FakeWeb({url: ok(url, PAGE_UNDATED), url + "rss.xml": ok(url + "rss.xml", RSS, "application/xml")})
    obs, fetches = run("blog", url, web, max_fetches=3)
    assert web.calls == [url, url + "feed/", url + "rss.xml"]
    assert obs.exists is True and obs.feed_url == url + "rss.xml"
    web = FakeWeb({url: ok(url, PAGE_UNDATED)})
    obs, fetches = run("blog", url, web, max_fetches=2)
    assert len(fetches) == 2 and obs.exists is True and obs.last_post_at is None


def test_instagram_login_wall_is_unknown_in_one_request():
    url = "http://127.0.0.5:8080/forskolan_humlan/"
    login = "http://127.0.0.5:8080/accounts/login/?next=%2Fforskolan_humlan%2F"
    wall = Fetched(url=url, final_url=login, status=200, headers={"content-type": "text/html"},
                   body=b'<html><body><form><input name="password" type="password"></form></body></html>', redirects=(login,))
    web = FakeWeb({url: wall})
    obs, fetches = run("instagram", url, web)
    assert web.calls == [url]
    assert obs.exists is None and obs.login_wall is True and obs.reason == "login wall"


@pytest.mark.parametrize("code", [401, 403, 429, 500, 503])
def test_refusals_and_server_errors_tell_nothing(code):
    url = "http://127.0.0.7:8080/ekorren/"
    obs, fetches = run("facebook", url, FakeWeb({url: status(url, code)}))
    assert obs.exists is None and obs.reason == f"http {code}" and len(fetches) == 1


def test_max_fetches_is_a_hard_bound():
    web = FakeWeb({})
    for n in (1, 2, 3):
        _, fetches = run("blog", "http://127.0.0.6:8080/x/", web, known_feed="http://127.0.0.6:8080/x/atom.xml", max_fetches=n)
        assert len(fetches) <= n


@pytest.mark.parametrize(
    ("url", "platform"),
    [
        ("https://www.instagram.com/forskolan_humlan/", "instagram"),
        ("https://instagram.com/x", "instagram"),
        ("https://www.facebook.com/forskolanekorren/", "facebook"),
        ("https://m.facebook.com/x", "facebook"),
        ("https://fb.com/x", "facebook"),
        ("https://forskolanlonnen.blogspot.com/", "blogger"),
        ("https://forskolanlonnen.blogspot.se/", "blogger"),
        ("https://solrosen.wordpress.com/", "wordpress"),
        ("https://forskolanvalen.se/", "blog"),
        ("http://127.0.0.5:8080/forskolan_humlan/", "blog"),
        ("notfacebook.com/x", "blog"),
    ],
)
def test_detect(url, platform):
    assert detect(url) == platform


def test_inspect_file_and_json_view(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    obs = inspect_file(path, FEED, now=NOW)
    data = observation_to_dict(obs)
    json.dumps(data)  # JSON-ready
    assert data["platform"] == "blog" and data["exists"] is True
    assert data["last_post_at"] == "2023-03-12T09:30:00+00:00"
    assert data["posts"][0] == {"url": BASE + "p/2/", "published_at": "2023-03-12T09:30:00+00:00"}
    assert "texts" not in data  # titles and summaries are never printed or stored
    gone = tmp_path / "gone.html"
    gone.write_bytes(b"<html><head><title>Page Not Found &bull; Instagram</title></head><body>"
                     b"<h2>Sorry, this page isn't available.</h2></body></html>")
    assert inspect_file(gone, "https://www.instagram.com/x/", now=NOW).exists is False
    assert inspect_file(gone, "https://example.se/x/", status=404, platform="blog", now=NOW).reason == "http 404"
