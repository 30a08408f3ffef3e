"""The demo web server, over real HTTP on loopback: every platform's pages, 304s, robots, faults."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest

from crawler.demo.pages import http_date
from crawler.demo.server import DemoWeb
from crawler.demo.world import World, cycle_time
from crawler.settings import Settings

BASELINE = cycle_time(13)
ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearchrss/1.0/}"


@pytest.fixture(scope="module")
def world() -> World:
    return World(319, seed=1)


@pytest.fixture(scope="module")
def web(world):
    with DemoWeb(world, BASELINE, faults=False, slow_seconds=0) as running:
        yield running


MOBILE = Settings().mobile_user_agent  # what the crawler sends to Instagram (Platform.mobile)


@pytest.fixture()
def client(web):
    web.set_clock(BASELINE)
    with httpx.Client(timeout=5, trust_env=False, headers={"User-Agent": MOBILE}) as c:
        yield c


def pick(world, kind, archetype="steady", **flags):
    """The first account of a kind and archetype without special roles (unless asked for)."""
    for acc in world.accounts():
        if acc.kind != kind or acc.archetype != archetype:
            continue
        wanted = {"login_wall": False, "robots_disallowed": False, "flaky": False, "slow": False}
        wanted.update(flags)
        if all(getattr(acc, k) == v for k, v in wanted.items()) and (acc.moved_at is None) != bool(
            flags.get("moved")
        ):
            return acc
    raise LookupError(kind)


def newest(world, acc, at=BASELINE):
    return world.posts(acc.index, at, limit=1)[0].published_at


@pytest.mark.parametrize("kind", ["wp_self", "wp_com"])
def test_wordpress_home_feed_and_api(world, web, client, kind):
    acc = pick(world, kind)
    home = client.get(web.url_for(acc))
    assert home.status_code == 200
    feed_url = re.search(r'<link rel="alternate" type="application/rss\+xml"[^>]*href="([^"]+)"', home.text)
    assert feed_url and feed_url.group(1) == web.feed_url_for(acc)
    feed = client.get(feed_url.group(1))
    assert feed.headers["content-type"].startswith("application/rss+xml")
    items = ET.fromstring(feed.content).findall("./channel/item")
    assert 1 <= len(items) <= 10
    first = parsedate_to_datetime(items[0].findtext("pubDate"))
    assert first.timestamp() == newest(world, acc)
    assert items[0].findtext("title") and items[0].findtext("category") and items[0].findtext("link")
    api = client.get(web.url_for(acc) + "wp-json/wp/v2/posts?per_page=1").json()
    assert len(api) == 1
    assert datetime.fromisoformat(api[0]["date_gmt"]).replace(tzinfo=UTC).timestamp() == newest(world, acc)


def test_blogger_atom_feed_counts_every_post(world, web, client):
    acc = pick(world, "blogger")
    home = client.get(web.url_for(acc))
    assert 'type="application/atom+xml"' in home.text
    feed = client.get(web.feed_url_for(acc))
    root = ET.fromstring(feed.content)
    assert int(root.findtext(f"{OPENSEARCH}totalResults")) == world.post_count(acc.index, BASELINE)
    published = datetime.fromisoformat(root.find(f"{ATOM}entry").findtext(f"{ATOM}published"))
    assert published.timestamp() == newest(world, acc)


def test_other_blog_has_dated_articles_and_sidebar_traps(world, web, client):
    acc = pick(world, "blog")
    page = client.get(web.url_for(acc)).text
    assert "<article>" in page
    assert "februari 2023" in page or "mars 2023" in page  # Swedish visible dates
    assert "<caption>mars 2023</caption>" in page  # the calendar widget shows the clock's month
    assert "© 2012–2023" in page
    stamps = re.findall(r'<time datetime="([^"]+)"', page)
    if stamps:  # a third of the blogs show only the visible Swedish date
        assert datetime.fromisoformat(stamps[0]).timestamp() == newest(world, acc)


def test_instagram_profile_count_rises_with_the_clock(world, web, client):
    acc = pick(world, "instagram")
    counts = []
    for k in (12, 13, 20):
        web.set_clock(cycle_time(k))
        page = client.get(web.url_for(acc)).text
        m = re.search(r'og:description" content="[\d,]+ Followers, [\d,]+ Following, ([\d,]+) Posts - See', page)
        assert m, page[:300]
        counts.append(int(m.group(1).replace(",", "")))
        assert counts[-1] == world.post_count(acc.index, cycle_time(k))
    assert counts[0] <= counts[1] < counts[2]


def test_instagram_shows_a_desktop_user_agent_one_page_for_every_profile(world, web, client):
    # Sherlock (2026): without a session, a desktop User-Agent gets the same 200 page for an
    # existing and a missing profile; a mobile one gets the profile's own <title> and meta.
    acc = pick(world, "instagram")
    desktop = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) crawler/0.2"}
    existing = client.get(web.url_for(acc), headers=desktop)
    missing = client.get(f"{web.base_url('instagram')}/nobody_here_1/", headers=desktop)
    assert existing.status_code == missing.status_code == 200
    assert existing.text == missing.text and "<title>Instagram</title>" in existing.text
    assert "og:description" not in existing.text
    mobile = client.get(web.url_for(acc)).text
    assert f"(@{acc.slug})" in re.search(r"<title>([^<]*)</title>", mobile).group(1)


def test_facebook_page_shows_public_post_dates(world, web, client):
    acc = pick(world, "facebook")
    page = client.get(web.url_for(acc)).text
    assert 'property="og:title"' in page
    utimes = [int(u) for u in re.findall(r'data-utime="(\d+)"', page)]
    assert utimes and utimes[0] == newest(world, acc)


def test_login_walls_redirect_to_the_login_page(world, web, client):
    for kind, login in (("instagram", "/accounts/login/?next="), ("facebook", "/login/?next=")):
        acc = next(a for a in world.accounts() if a.kind == kind and a.login_wall)
        response = client.get(web.url_for(acc))
        assert response.status_code == 302
        assert login in response.headers["location"]
        assert client.get(response.headers["location"]).status_code == 200


@pytest.mark.parametrize(
    ("kind", "statuses", "text"),
    [
        ("wp_self", {404, 410}, ""),
        ("wp_com", {404}, "doesn’t exist"),
        ("blogger", {404}, "has been removed"),
        ("blog", {404}, ""),
        ("instagram", {200}, "Sorry, this page isn't available."),
        ("facebook", {200, 404}, "This content isn't available right now"),
    ],
)
def test_deleted_accounts_look_like_their_platform(world, web, client, kind, statuses, text):
    candidates = [a for a in world.accounts() if a.kind == kind and a.deleted_at and a.deleted_at < cycle_time(19)]
    assert candidates, f"the 319-account world deletes a {kind} account before the as-of cycle"
    acc = candidates[0]
    web.set_clock(acc.deleted_at - timedelta(hours=1))
    assert client.get(web.url_for(acc)).status_code == 200
    web.set_clock(acc.deleted_at + timedelta(hours=1))
    response = client.get(web.url_for(acc))
    assert response.status_code in statuses
    assert text in response.text
    if kind == "instagram":
        assert "og:description" not in response.text


def test_conditional_get_answers_304(world, web, client):
    acc = pick(world, "wp_self")
    feed = web.feed_url_for(acc)
    first = client.get(feed)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(feed, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(feed, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(feed, headers={"If-None-Match": '"other"'}).status_code == 200
    older = http_date(newest(world, acc) - 60)
    assert client.get(feed, headers={"If-Modified-Since": older}).status_code == 200
    # After the account's next post, the same validators no longer match.
    later = next(p for p in reversed(world.posts(acc.index, cycle_time(25), limit=200))
                 if p.published_at > newest(world, acc))
    web.set_clock(datetime.fromtimestamp(later.published_at, tz=UTC))
    again = client.get(feed, headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["etag"] != etag


def test_a_second_pass_at_the_same_clock_is_all_304(world, web, client):
    validators = {}
    for acc in list(world.accounts())[:60]:
        r = client.get(web.url_for(acc))
        if r.status_code == 200:
            validators[acc.id] = r.headers["etag"]
    assert len(validators) > 40
    statuses = {client.get(web.url_for(world.account(i)), headers={"If-None-Match": tag}).status_code
                for i, tag in validators.items()}
    assert statuses == {304}


def test_robots_txt_disallows_the_shy_accounts(world, web, client):
    shy = world.robots_accounts()
    assert shy
    for acc in shy:
        robots = client.get(f"{web.base_url(acc.host)}/robots.txt")
        assert robots.status_code == 200
        assert f"Disallow: /{acc.slug}/" in robots.text
    assert "Disallow: /wp-admin/" in client.get(f"{web.base_url('wpcom')}/robots.txt").text


def test_the_moved_blog_redirects_permanently(world, web, client):
    acc = world.moved_account()
    assert acc is not None and acc.moved_at is not None
    web.set_clock(acc.moved_at - timedelta(days=1))
    assert client.get(web.url_for(acc)).status_code == 200
    web.set_clock(acc.moved_at + timedelta(days=1))
    response = client.get(web.url_for(acc) + "feed/")
    assert response.status_code == 301
    target = response.headers["location"]
    assert target.startswith(web.base_url("wpself-new")) and target.endswith(f"/{acc.slug}/feed/")
    assert client.get(target).status_code == 200


def test_unknown_paths_are_404(web, client):
    assert client.get(f"{web.base_url('wpself')}/no-such-blog-99999/").status_code == 404
    assert client.get(f"{web.base_url('instagram')}/nobody_1/").status_code == 404
    assert client.post(f"{web.base_url('wpself')}/x/").status_code == 405


def test_keep_alive_and_counters(world, web, client):
    web.reset_stats()
    acc = pick(world, "wp_com")
    for _ in range(5):
        client.get(web.url_for(acc), headers={"User-Agent": "probe/1"})
    stats = web.stats()["wpcom"]
    assert stats["requests"] == 5
    assert stats["connections"] == 1  # one kept-alive connection
    assert stats["max_in_flight"] == 1
    assert stats["user_agent"] == "probe/1"
    assert stats["statuses"] == {"200": 5}
    assert stats["min_gap_ms"] is not None  # measured between the five requests
    time.sleep(0.05)
    client.get(web.url_for(acc))
    client.get(web.url_for(acc))
    assert web.stats()["wpcom"]["min_gap_ms"] < 50  # the smallest spacing, not the latest


def test_control_endpoint_sets_the_clock(web, client):
    base = web.control_url
    response = client.post(f"{base}/__clock", content="2023-04-13T02:00:00Z")
    assert response.status_code == 200
    assert response.json()["clock"] == "2023-04-13T02:00:00Z"
    assert web.clock == cycle_time(19)
    assert client.post(f"{base}/__clock", content="yesterday").status_code == 400
    assert client.post(f"{base}/__clock", content="2023-04-13T02:00:00").status_code == 400
    assert set(client.get(f"{base}/__stats").json()["hosts"]) >= {"wpcom", "instagram"}


def test_flaky_accounts_fail_once_then_recover(world):
    flaky = [a for a in world.accounts() if a.flaky]
    assert flaky
    with DemoWeb(world, BASELINE, slow_seconds=0) as web, httpx.Client(timeout=5, trust_env=False) as client:
        seen_503 = False
        for k in range(0, 6):  # about one week in three fails
            web.set_clock(cycle_time(k))
            for acc in flaky[:5]:
                first = client.get(web.url_for(acc)).status_code
                second = client.get(web.url_for(acc)).status_code
                assert second != 503
                seen_503 |= first == 503
        assert seen_503


def test_slow_accounts_are_slow(world):
    acc = next(a for a in world.accounts() if a.slow)
    with DemoWeb(world, BASELINE, faults=True, slow_seconds=0.2) as web, httpx.Client(trust_env=False) as client:
        started = time.perf_counter()
        assert client.get(web.url_for(acc)).status_code == 200
        assert time.perf_counter() - started >= 0.2


def test_every_account_answers_on_one_kept_alive_connection_per_host(world, web, client):
    # (requests per second are measured by scripts/bench.py, not asserted here)
    web.reset_stats()
    web.set_clock(BASELINE)
    accounts = [acc for acc in world.accounts() if acc.deleted_at is None or acc.deleted_at > BASELINE]
    statuses = Counter(client.get(web.url_for(acc)).status_code for acc in accounts)
    walled = sum(acc.login_wall for acc in accounts)
    moved = sum(acc.moved_at is not None for acc in accounts)
    # a login wall redirects to the login page, a moved blog to its new address; the rest are pages
    assert statuses == Counter({200: len(accounts) - walled - moved, 302: walled, 301: moved})
    stats = web.stats()
    assert sum(s["requests"] for s in stats.values()) == len(accounts)
    assert all(s["connections"] == 1 for s in stats.values() if s["requests"])


def test_runs_as_a_separate_process(tmp_path):
    sources = tmp_path / "sources.yaml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.demo.server", "--accounts", "40", "--seed", "3",
         "--clock", "2023-03-02T02:00:00Z", "--first-address", "20", "--sources", str(sources)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()  # the server prints one JSON line once it listens
        info = json.loads(line)
        assert info["hosts"]["wpcom"].startswith("127.0.0.20:")
        assert sources.read_text(encoding="utf-8").count("- id: mlm-") == 40
        with httpx.Client(timeout=5, trust_env=False) as client:
            robots = client.get(f"http://{info['hosts']['blogspot']}/robots.txt")
            assert robots.status_code == 200
            set_clock = client.post(f"http://{info['control']}/__clock", content="2023-04-13T02:00:00+00:00")
            assert set_clock.json()["clock"] == "2023-04-13T02:00:00Z"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def _raw(address: tuple[str, int], data: bytes) -> bytes:
    import socket

    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:  # the server closes the connection after these requests
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def test_http10_head_and_malformed_requests(world, web):
    acc = pick(world, "blogger")
    address = web.hosts["blogspot"]
    path = f"/{acc.slug}/".encode()
    reply = _raw(address, b"HEAD " + path + b" HTTP/1.0\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head and body == b""
    assert int(re.search(rb"Content-Length: (\d+)", head).group(1)) > 500
    assert _raw(address, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")
    # Two pipelined requests on one connection, the second asks to close.
    two = _raw(address, b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /robots.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert two.count(b"HTTP/1.1 200 OK") == 2
