"""The fetcher against real misbehaving servers on 127.0.0.x (see tests/hostile.py)."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import os
import socket
import time
import tracemalloc
import zlib
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

import crawler.fetch.guard as guard_module
from crawler.errors import SettingsError
from crawler.fetch import Fetcher, retry_after_seconds
from crawler.models import FETCH_ERRORS, Fetched
from crawler.settings import Settings
from tests.hostile import (
    HostileServer,
    conditional,
    endless_chunked,
    gzip_bomb,
    gzip_nothing,
    header_flood,
    raw_bytes,
    redirect,
    reset_mid_body,
    respond,
    sequence,
    slow,
    slow_headers,
    trickle,
    wordpress_behind_mod_deflate,
    wordpress_db_outage,
)

pytestmark = pytest.mark.timeout(20)

CONTACT = "https://kommun.test/crawler-contact"
# The fetcher spaces request *starts*; the server sees arrivals, which also carry each request's
# own latency (a fresh connection, a busy CI machine). Spacing assertions allow this much of it.
SLACK = 0.04


def make_settings(**changes: object) -> Settings:
    base: dict[str, object] = dict(
        contact=CONTACT,
        allow_private_addresses=True,
        per_host_delay=0.0,
        connect_timeout=1.0,
        read_timeout=1.0,
        deadline=3.0,
        retries=3,
        retry_after_cap=3.0,
        max_body_bytes=1 << 20,
    )
    base.update(changes)
    return Settings(**base)  # type: ignore[arg-type]


class SimClock:
    """Simulated monotonic time for politeness and retry tests: `sleep` advances it at once.

    Waits then cost no wall-clock time, and spacing is asserted exactly, whatever the machine's
    speed. The server stamps arrivals with the same clock (`HostileServer(clock=...)`); tests
    using it keep one request per host in flight, so no sleep can run while a request travels.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def fetch(url: str, settings: Settings | None = None, **kwargs: object) -> Fetched:
    return fetch_many([url], settings, **kwargs)[0]


def fetch_many(
    urls: list[str], settings: Settings | None = None, *, clock: SimClock | None = None,
    wall: datetime | None = None, **kwargs: object,
) -> list[Fetched]:
    """Fetch `urls` concurrently with one Fetcher, the way a crawl cycle does."""
    injected: dict[str, object] = {}
    if clock is not None:
        injected.update(clock=clock, sleep=clock.sleep)
    if wall is not None:
        injected["wall"] = lambda: wall

    async def go() -> list[Fetched]:
        async with Fetcher(settings or make_settings(), backoff_base=0.01, **injected) as fetcher:  # type: ignore[arg-type]
            return list(await asyncio.gather(*(fetcher.fetch(u, **kwargs) for u in urls)))  # type: ignore[arg-type]

    return asyncio.run(go())


@pytest.fixture
def server():
    with HostileServer() as srv:
        yield srv


@pytest.fixture
def clock():
    return SimClock()


@pytest.fixture
def timed(clock):
    """A HostileServer whose arrival stamps come from the simulated clock."""
    with HostileServer(clock=clock) as srv:
        yield srv


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# -- identity -------------------------------------------------------------------------------------


def test_placeholder_contact_is_refused():
    with pytest.raises(SettingsError, match="placeholder"):
        Fetcher(Settings())


def test_user_agent_carries_the_contact_and_plain_fetch_works(server):
    server.route("/", respond(b"<p>hej</p>", headers={"ETag": '"v1"', "Set-Cookie": "id=1"}))
    got = fetch(server.url("/"))
    assert got.ok and got.status == 200 and got.error is None
    assert got.body == b"<p>hej</p>"
    assert got.url == got.final_url == server.url("/")
    assert got.headers["etag"] == '"v1"'
    assert "set-cookie" not in got.headers  # only the headers later stages need
    assert got.content_type == "text/html"
    assert got.attempts == 1 and got.redirects == ()
    assert got.started_at is not None and got.started_at.tzinfo is not None
    ua = server.requests[-1].headers["user-agent"]
    assert CONTACT in ua and ua.startswith("crawler/")


def test_cookies_are_neither_kept_nor_sent(server):
    server.route("/", respond(b"x", headers={"Set-Cookie": "session=abc; Path=/"}))
    fetch_many([server.url("/"), server.url("/?again")], make_settings(concurrency=1))
    assert len(server.requests) == 3  # robots.txt and the two pages
    assert all("cookie" not in r.headers for r in server.requests)


# -- bounds ---------------------------------------------------------------------------------------


def test_slow_trickle_hits_the_deadline(server):
    server.route("/slow", trickle(interval=0.1, count=1000))
    start = time.monotonic()
    got = fetch(server.url("/slow"), make_settings(deadline=1.0))
    assert got.error == "deadline_exceeded"
    assert got.body is None
    assert 900 <= got.elapsed_ms < 1500
    assert time.monotonic() - start < 2.5
    assert server.hits("/slow") == 1  # a deadline is not retried


def test_endless_chunked_body_is_cut(server):
    server.route("/endless", endless_chunked())
    got = fetch(server.url("/endless"), make_settings(max_body_bytes=256 * 1024))
    assert got.error == "too_large" and got.body is None


def test_gzip_bomb_is_cut_with_memory_near_the_cap(server):
    server.route("/bomb", gzip_bomb(512))
    cap = 1 << 20
    tracemalloc.start()
    try:
        got = fetch(server.url("/bomb"), make_settings(max_body_bytes=cap))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.error == "too_large" and got.body is None
    assert peak < 6 * cap, f"peak {peak} bytes"


def test_compressed_stream_that_decodes_to_nothing_is_cut_by_its_raw_size(server):
    # 17.10: 1 GiB of empty deflate blocks was read for 10 s; now the raw bytes are capped too.
    server.route("/nothing", gzip_nothing(1024))
    cap = 256 * 1024

    async def go() -> tuple[Fetched, dict]:
        async with Fetcher(make_settings(max_body_bytes=cap, respect_robots=False), backoff_base=0.01) as fetcher:
            return await fetcher.fetch(server.url("/nothing")), fetcher.stats

    got, stats = asyncio.run(go())
    assert got.error == "too_large" and got.body is None
    assert "compressed" in (got.error_message or "")
    assert cap < stats["raw_bytes"] < 2 * cap  # stopped right after the raw cap, not at the deadline
    assert stats["bytes"] == 0


def test_compressed_body_just_under_the_cap_is_read(server):
    # Incompressible content grows a little when gzipped: the raw cap must leave room for that.
    text = os.urandom(200_000)
    server.route("/rand", respond(gzip.compress(text), headers={"Content-Encoding": "gzip"}))
    got = fetch(server.url("/rand"), make_settings(max_body_bytes=len(text)))
    assert got.ok and got.body == text


def test_gzip_and_deflate_bodies_are_decoded(server):
    text = "Förskolan Äppelträdet".encode() * 50
    server.route("/gz", respond(gzip.compress(text), headers={"Content-Encoding": "gzip"}))
    server.route("/zlib", respond(zlib.compress(text), headers={"Content-Encoding": "deflate"}))
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    server.route("/raw", respond(raw.compress(text) + raw.flush(), headers={"Content-Encoding": "deflate"}))
    server.route("/broken", respond(b"not gzip at all", headers={"Content-Encoding": "gzip"}))
    gz, zl, rw, broken = fetch_many([server.url(p) for p in ("/gz", "/zlib", "/raw", "/broken")])
    assert gz.body == zl.body == rw.body == text
    assert broken.error == "decode_error" and broken.body is None


def test_header_floods_and_malformed_responses_are_protocol_errors(server):
    server.route("/many", header_flood(100_000))
    server.route("/long", header_flood(1, b"X-Long: " + b"a" * 1_000_000 + b"\r\n"))
    server.route("/status", raw_bytes(b"HTTP/1.1 abc Nope\r\n\r\n"))
    server.route("/garbage", raw_bytes(b"\x00\x01\x02 not http at all\r\n\r\n"))
    server.route("/chunks", raw_bytes(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"))
    paths = ("/many", "/long", "/status", "/garbage", "/chunks")
    results = fetch_many([server.url(p) for p in paths], make_settings(respect_robots=False))
    for path, got in zip(paths, results, strict=True):
        assert got.error in ("protocol_error", "truncated"), (path, got.error, got.error_message)
        assert got.body is None
    assert results[0].error == results[1].error == "protocol_error"


def test_slowloris_headers_hit_the_deadline(server):
    server.route("/slow-head", slow_headers(interval=0.1))
    got = fetch(server.url("/slow-head"), make_settings(deadline=1.0, respect_robots=False))
    assert got.error == "deadline_exceeded" and got.status is None


def test_reset_mid_body_is_truncated(server):
    server.route("/rst", reset_mid_body(rst=True))
    server.route("/fin", reset_mid_body(rst=False))
    for got in fetch_many([server.url("/rst"), server.url("/fin")]):
        assert got.error == "truncated", got.error_message
        assert got.body is None


def test_http10_without_length_works(server):
    server.route("/old", respond(b"A" * 70_000, http10=True))
    got = fetch(server.url("/old"))
    assert got.ok and got.body == b"A" * 70_000


def test_http10_without_length_still_capped(server):
    server.route("/old", respond(b"A" * 70_000, http10=True))
    got = fetch(server.url("/old"), make_settings(max_body_bytes=10_000))
    assert got.error == "too_large"


def test_lying_content_type_and_bad_bytes_come_back_as_is(server):
    rss = b'<?xml version="1.0"?><rss><channel><title>x</title></channel></rss>'
    junk = b"\xff\xfe caf\xe9 \x00\x00 \xc3\x28 end"
    server.route("/rss", respond(rss, content_type="text/html"))
    server.route("/junk", respond(junk, content_type="text/html; charset=utf-8"))
    rss_got, junk_got = fetch_many([server.url("/rss"), server.url("/junk")])
    assert rss_got.body == rss and rss_got.content_type == "text/html"
    assert junk_got.ok and junk_got.body == junk


# -- redirects and the guard ------------------------------------------------------------------------


def test_redirect_chain_is_followed_and_recorded(server):
    server.route("/a", redirect("/b", 301))
    server.route("/b", redirect(server.url("/c"), 307))
    server.route("/c", respond(b"end"))
    got = fetch(server.url("/a"))
    assert got.ok and got.body == b"end"
    assert got.redirects == (server.url("/b"), server.url("/c"))
    assert got.final_url == server.url("/c")


def test_redirect_loop(server):
    server.route("/loop", redirect("/loop"))
    got = fetch(server.url("/loop"), make_settings(max_redirects=4))
    assert got.error == "too_many_redirects"
    assert len(got.redirects) == 4
    assert server.hits("/loop") == 5  # the first request and four hops, no more


def test_redirect_to_file_scheme_is_blocked(server):
    server.route("/r", redirect("file:///etc/passwd"))
    got = fetch(server.url("/r"))
    assert got.error == "blocked_scheme"
    assert got.final_url.startswith("file:")
    assert got.redirects == (got.final_url,)


def test_non_http_scheme_is_blocked_without_request():
    assert fetch("ftp://127.0.0.1/x").error == "blocked_scheme"
    assert fetch("http:///no-host").error == "protocol_error"


def test_guard_refuses_loopback_literal_and_name(server):
    settings = make_settings(allow_private_addresses=False)
    literal, name = fetch_many([server.url("/"), f"http://localhost:{server.port}/"], settings)
    assert literal.error == "blocked_address"
    assert name.error == "blocked_address", name.error_message  # refused at connect time
    assert server.connections == 0 and server.requests == []


def test_guard_refuses_every_spelling_of_loopback(server):
    # The system reads these as 127.0.0.1, and aiohttp hands hosts made of digits and dots
    # (or holding a colon) straight to it, without the resolver the guard sits in.
    spellings = ["2130706433", "127.1", "0177.0.0.1", "0x7f.0.0.1", "017700000001", "127.0.0.1.", "0",
                 "0.0.0.0", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]", "[::]", "localhost"]
    urls = [f"http://{s}:{server.port}/" for s in spellings]
    results = fetch_many(urls, make_settings(allow_private_addresses=False))
    for url, got in zip(urls, results, strict=True):
        # httpx itself refuses some spellings as invalid URLs; either way nothing is requested
        assert got.error in ("blocked_address", "protocol_error"), (url, got.error, got.error_message)
        assert got.attempts == 0, url
    assert [r.error for r in results].count("blocked_address") >= 9
    assert server.connections == 0 and server.requests == []


def test_guard_refuses_redirects_to_internal_addresses(monkeypatch):
    # In this test 127.0.0.1 plays a public site; everything else that is not global stays forbidden.
    real = guard_module.is_forbidden_address
    public = ipaddress.ip_address("127.0.0.1")
    monkeypatch.setattr(guard_module, "is_forbidden_address", lambda ip: ip != public and real(ip))
    with HostileServer("127.0.0.1") as site, HostileServer("127.0.0.2") as internal:
        internal.route("/admin", respond(b"secret"))
        site.route("/to-internal", redirect(internal.url("/admin")))
        site.route("/to-metadata", redirect("http://169.254.169.254/latest/meta-data/"))
        site.route("/to-v6", redirect("http://[::1]/"))
        site.route("/ok", respond(b"public"))
        settings = make_settings(allow_private_addresses=False)
        results = fetch_many([site.url(p) for p in ("/to-internal", "/to-metadata", "/to-v6", "/ok")], settings)
    assert [r.error for r in results[:3]] == ["blocked_address"] * 3
    assert results[0].final_url == internal.url("/admin")
    assert results[3].ok and results[3].body == b"public"  # the guard lets public peers through
    assert internal.connections == 0


def test_is_forbidden_address():
    forbidden = ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "::1", "fc00::1",
                 "fe80::1", "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1"]
    for text in forbidden:
        assert guard_module.is_forbidden_address(ipaddress.ip_address(text)), text
    for text in ["193.45.1.1", "2a00:1450:4001::1"]:
        assert not guard_module.is_forbidden_address(ipaddress.ip_address(text)), text


# IPv6 forms that carry an internal IPv4 address (17.2): NAT64 (well-known and local-use), 6to4,
# Teredo, IPv4-compatible and -translated; site-local and multicast (also IPv4 multicast).
EMBEDDING_FORMS = ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::808:808", "2002:7f00:1::1",
                   "2002:a00:1::1", "::127.0.0.1", "::ffff:0:7f00:1", "::ffff:0:a9fe:a9fe",
                   "2001:0:4136:e378:8000:63bf:80ff:fffe", "fec0::1", "ff02::1", "ff0e::1", "224.0.1.1",
                   "239.255.255.250"]


def test_is_forbidden_address_unwraps_embedded_ipv4():
    for text in EMBEDDING_FORMS:
        assert guard_module.is_forbidden_address(ipaddress.ip_address(text)), text
    # the same forms around a public IPv4 address reach a public peer
    for text in ["64:ff9b::808:808", "2002:808:808::1", "::ffff:0:808:808", "::ffff:8.8.8.8"]:
        assert not guard_module.is_forbidden_address(ipaddress.ip_address(text)), text


def test_guard_refuses_embedded_ipv4_forms_by_literal():
    settings = make_settings(allow_private_addresses=False)
    urls = [f"http://[{t}]/" if ":" in t else f"http://{t}/" for t in EMBEDDING_FORMS]
    for url, got in zip(urls, fetch_many(urls, settings), strict=True):
        assert got.error == "blocked_address", (url, got.error, got.error_message)
        assert got.attempts == 0


def test_guard_refuses_redirects_to_embedded_ipv4_forms(monkeypatch):
    real = guard_module.is_forbidden_address
    public = ipaddress.ip_address("127.0.0.1")  # plays a public site here
    monkeypatch.setattr(guard_module, "is_forbidden_address", lambda ip: ip != public and real(ip))
    with HostileServer("127.0.0.1") as site:
        for i, text in enumerate(EMBEDDING_FORMS):
            host = f"[{text}]" if ":" in text else text
            site.route(f"/r{i}", redirect(f"http://{host}:{site.port}/admin"))
        results = fetch_many([site.url(f"/r{i}") for i in range(len(EMBEDDING_FORMS))],
                             make_settings(allow_private_addresses=False))
    for text, got in zip(EMBEDDING_FORMS, results, strict=True):
        assert got.error == "blocked_address", (text, got.error, got.error_message)
        assert len(got.redirects) == 1 and got.attempts == 1  # the redirect was read, the target never asked


def test_guard_refuses_a_name_whose_aaaa_embeds_an_internal_ipv4(server):
    asked: list[str] = []

    async def resolver(host: str, port: int, timeout: float | None) -> list[ipaddress.IPv6Address]:
        asked.append(host)
        return {"nat64.forskola.test": [ipaddress.ip_address("64:ff9b::7f00:1")],
                "sixtofour.forskola.test": [ipaddress.ip_address("2002:7f00:1::1")],
                "mixed.forskola.test": [ipaddress.ip_address("2a00:1450:4001::1"),
                                        ipaddress.ip_address("::ffff:0:7f00:1")]}[host]

    async def go() -> list[Fetched]:
        settings = make_settings(allow_private_addresses=False, respect_robots=False)
        async with Fetcher(settings, resolver=resolver) as fetcher:  # type: ignore[arg-type]
            names = ("nat64", "sixtofour", "mixed")
            return [await fetcher.fetch(f"http://{n}.forskola.test:{server.port}/") for n in names]

    results = asyncio.run(go())
    assert [r.error for r in results] == ["blocked_address"] * 3, [r.error_message for r in results]
    assert asked == ["nat64.forskola.test", "sixtofour.forskola.test", "mixed.forskola.test"]
    assert server.connections == 0


def test_dns_failure_with_and_without_guard():
    for allow in (True, False):
        got = fetch("http://no-such-preschool.invalid/", make_settings(allow_private_addresses=allow))
        assert got.error == "dns_error", (allow, got.error, got.error_message)
        assert got.status is None and got.body is None


def test_connection_refused_is_retried_then_connect_error():
    port = closed_port()
    got = fetch(f"http://127.0.0.1:{port}/", make_settings(respect_robots=False))
    assert got.error == "connect_error"
    assert got.attempts == 3
    # With robots on, the unreachable robots.txt speaks for the whole origin (fetched once).
    got = fetch(f"http://127.0.0.1:{port}/")
    assert got.error == "connect_error" and "robots.txt" in (got.error_message or "")


# -- retries ------------------------------------------------------------------------------------------


def test_429_retry_after_seconds_is_waited(timed, clock):
    server = timed
    server.route("/r", sequence(respond(b"slow down", 429, {"Retry-After": "1"}), respond(b"fine")))
    start = clock()
    got = fetch(server.url("/r"), clock=clock)
    assert got.ok and got.body == b"fine" and got.attempts == 2
    arrivals = server.arrivals("/r")
    assert arrivals[1] - arrivals[0] >= 0.95
    assert clock() - start < 3


def test_429_retry_after_http_date_is_waited(timed, clock):
    server = timed
    wall = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    in_two_seconds = format_datetime(wall + timedelta(seconds=2), usegmt=True)
    server.route("/r", sequence(respond(b"", 429, {"Retry-After": in_two_seconds}), respond(b"fine")))
    got = fetch(server.url("/r"), clock=clock, wall=wall)
    assert got.ok and got.attempts == 2
    arrivals = server.arrivals("/r")
    assert 0.9 <= arrivals[1] - arrivals[0] <= 2.6  # HTTP-dates have whole seconds


def test_absurd_retry_after_is_not_waited_and_defers_the_host(timed, clock):
    server = timed
    server.route("/r", respond(b"", 429, {"Retry-After": "86400"}))
    server.route("/other", respond(b"x"))
    start = clock()

    async def go() -> tuple[Fetched, Fetched]:
        async with Fetcher(make_settings(), backoff_base=0.01, clock=clock, sleep=clock.sleep) as fetcher:
            first = await fetcher.fetch(server.url("/r"))
            return first, await fetcher.fetch(server.url("/other"))

    first, other = asyncio.run(go())
    assert clock() - start < 1
    assert first.error == "rate_limited" and first.status == 429
    assert first.headers["retry-after"] == "86400"
    assert first.attempts == 1
    assert other.error == "rate_limited" and server.hits("/other") == 0  # the host asked for a pause
    assert other.attempts == 0


def test_503_burst_then_success(server):
    server.route("/b", sequence(respond(b"", 503), respond(b"", 503), respond(b"ok")))

    async def go() -> tuple[Fetched, dict]:
        async with Fetcher(make_settings(), backoff_base=0.01) as fetcher:
            return await fetcher.fetch(server.url("/b")), fetcher.stats

    got, stats = asyncio.run(go())
    assert got.ok and got.body == b"ok" and got.attempts == 3
    assert stats["retries"] == 2


def test_503_retry_after_is_waited(timed, clock):
    server = timed
    server.route("/m", sequence(respond(b"", 503, {"Retry-After": "0.4"}), respond(b"back")))
    got = fetch(server.url("/m"), clock=clock)
    assert got.ok and got.body == b"back"
    first, second = server.arrivals("/m")
    assert second - first >= 0.4 - SLACK


def test_503_forever_ends_as_server_error_with_body(server):
    server.route("/down", respond(b"<h1>maintenance</h1>", 503))
    got = fetch(server.url("/down"), make_settings(retries=4))
    assert got.error == "server_error" and got.status == 503
    assert got.attempts == 4 and server.hits("/down") == 4
    assert got.body == b"<h1>maintenance</h1>"
    assert "maintenance" not in (got.error_message or "")


def test_404_is_returned_with_body_and_not_retried(server):
    server.route("/gone", respond(b"<h1>Sidan finns inte</h1>", 404))
    got = fetch(server.url("/gone"))
    assert got.ok and got.status == 404 and got.body == b"<h1>Sidan finns inte</h1>"
    assert server.hits("/gone") == 1


def test_retry_after_parsing():
    now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Sun, 01 Mar 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Sun, 01 Mar 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("-5", now) is None
    assert retry_after_seconds(None, now) is None
    later = now + timedelta(days=1)
    assert retry_after_seconds(later.strftime("%a, %d %b %Y %H:%M:%S GMT"), now) == 86400


# -- conditional GET -------------------------------------------------------------------------------


def test_304_round_trip_with_etag(server):
    server.route("/feed", conditional(b"<rss/>", etag='"abc"'))
    first = fetch(server.url("/feed"))
    again = fetch(server.url("/feed"), etag=first.headers["etag"])
    assert first.status == 200 and again.status == 304 and again.not_modified and again.ok
    assert server.requests[-1].headers["if-none-match"] == '"abc"'


def test_304_round_trip_with_last_modified(server):
    stamp = "Wed, 21 Oct 2025 07:28:00 GMT"
    server.route("/feed", conditional(b"<rss/>", last_modified=stamp))
    first = fetch(server.url("/feed"))
    again = fetch(server.url("/feed"), last_modified=first.headers["last-modified"])
    assert first.status == 200 and again.status == 304
    assert server.requests[-1].headers["if-modified-since"] == stamp


def test_wordpress_behind_apache_mod_deflate_answers_304(server):
    # 13 defect 4: mod_deflate sends ETag "<md5>-gzip"; sent back as is, WordPress (which needs
    # both validators to match when given both) never answered 304.
    stamp = "Tue, 14 Feb 2023 09:30:00 GMT"
    feed = b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Eken</title></channel></rss>'
    server.route("/feed/", wordpress_behind_mod_deflate(feed, stamp))
    first = fetch(server.url("/feed/"))
    assert first.status == 200 and first.body == feed
    assert first.headers["etag"].endswith('-gzip"')  # stored as received
    again = fetch(server.url("/feed/"), etag=first.headers["etag"], last_modified=first.headers["last-modified"])
    assert again.status == 304 and again.not_modified, server.requests[-1].headers
    sent = server.requests[-1].headers
    assert sent["if-none-match"] == first.headers["etag"].replace('-gzip"', '"')
    assert sent["if-modified-since"] == stamp


def test_validators_sent_back_drop_only_a_compression_suffix():
    from crawler.fetch.conditional import conditional_headers, sendable_etag

    assert sendable_etag('"5d41402abc4b2a76-gzip"') == '"5d41402abc4b2a76"'
    assert sendable_etag('W/"abc-gzip"') == 'W/"abc"'
    assert sendable_etag('"abc"') == '"abc"'
    assert sendable_etag('"-gzip"') == '"-gzip"'  # nothing would be left: sent as is
    assert sendable_etag('"gzip"') == '"gzip"'
    assert conditional_headers(None, None) == {}
    assert conditional_headers('"a-gzip"', "Tue, 14 Feb 2023 09:30:00 GMT") == {
        "If-None-Match": '"a"', "If-Modified-Since": "Tue, 14 Feb 2023 09:30:00 GMT"}


# -- robots.txt ------------------------------------------------------------------------------------


def test_robots_disallow_and_crawl_delay(timed, clock):
    server = timed
    robots = b"User-agent: *\nDisallow: /\n\nUser-agent: crawler\nDisallow: /private\nCrawl-delay: 0.3\n"
    server.route("/robots.txt", respond(robots, content_type="text/plain"))
    server.route("/private", respond(b"no"))
    server.route("/p1", respond(b"1"))
    server.route("/p2", respond(b"2"))
    private, p1, p2 = fetch_many([server.url("/private"), server.url("/p1"), server.url("/p2")], clock=clock)
    assert private.error == "blocked_by_robots" and server.hits("/private") == 0
    assert p1.ok and p2.ok
    assert server.hits("/robots.txt") == 1
    times = sorted(r.arrived for r in server.requests)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps and min(gaps) >= 0.3 - SLACK, gaps


def test_robots_is_checked_on_every_redirect_hop(server):
    server.route("/robots.txt", respond(b"User-agent: *\nDisallow: /private\n", content_type="text/plain"))
    server.route("/open", redirect("/private/page"))
    got = fetch(server.url("/open"))
    assert got.error == "blocked_by_robots"
    assert got.redirects == (server.url("/private/page"),)
    assert server.hits("/private/page") == 0


def test_robots_429_means_rate_limited(server):
    server.route("/robots.txt", respond(b"", 429, {"Retry-After": "0"}))
    server.route("/page", respond(b"x"))
    got = fetch(server.url("/page"))
    assert got.error == "rate_limited" and server.hits("/page") == 0


def test_crawl_delay_is_capped(timed, clock):
    server = timed
    server.route("/robots.txt", respond(b"User-agent: *\nCrawl-delay: 3600\n", content_type="text/plain"))
    server.route("/a", respond(b"a"))
    server.route("/b", respond(b"b"))
    start = clock()
    results = fetch_many([server.url("/a"), server.url("/b")], make_settings(retry_after_cap=0.3), clock=clock)
    assert all(r.ok for r in results)
    assert clock() - start < 2
    times = sorted(r.arrived for r in server.requests)
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.3 - SLACK


def test_robots_404_allows_everything(server):
    server.route("/page", respond(b"x"))
    assert fetch(server.url("/page")).ok


def test_robots_500_disallows_everything_as_unreachable_not_as_a_block(server):
    server.route("/robots.txt", respond(b"oops", 500))
    server.route("/page", respond(b"x"))
    got = fetch(server.url("/page"))
    assert got.error == "robots_unreachable" and got.status == 500 and server.hits("/page") == 0


@pytest.mark.parametrize(
    ("status", "retry_after"), [(500, None), (503, "3600"), (503, "30")], ids=["dead_db", "drop-in", "short-retry"]
)
def test_wordpress_database_outage_on_robots_txt_is_robots_unreachable_with_its_status(status, retry_after):
    # 13 defect 2: a 500/503 on robots.txt (WordPress serves it through PHP, so every database
    # outage) was recorded as "blocked by robots.txt" with no HTTP status.
    clock = SimClock()
    with HostileServer(clock=clock) as site:
        site.route("/robots.txt", wordpress_db_outage(status, retry_after))
        site.route("/", respond(b"<html>front page</html>"))
        site.route("/feed/", respond(b"<rss/>", content_type="application/rss+xml"))
        page, feed = fetch_many([site.url("/"), site.url("/feed/")], make_settings(retry_after_cap=60), clock=clock)
        robots_hits = site.hits("/robots.txt")
        asked = [r.path for r in site.requests]
    for got in (page, feed):
        assert got.error == "robots_unreachable", got.error_message
        assert got.status == status and got.attempts == 0 and got.body is None
        assert f"HTTP {status}" in (got.error_message or "")
        assert "disallow" not in (got.error_message or "").lower()
    assert set(asked) == {"/robots.txt"}  # RFC 9309: nothing else from that host this cycle
    assert robots_hits == (1 if retry_after == "3600" else 3)  # retried like any 5xx, unless told to wait long


def test_robots_unreachable_is_its_own_outcome_and_never_a_block(server):
    from crawler.crawl import visit
    from crawler.models import Account

    server.route("/robots.txt", wordpress_db_outage(503))
    account = Account("wp", "Förskolan Eken", "Centrum", "wordpress", server.url("/"))
    now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

    async def go():
        async with Fetcher(make_settings(), backoff_base=0.01) as fetcher:
            return await visit(account, None, fetcher, now, make_settings())

    outcome, fetches, obs, verdict, *_ = asyncio.run(go())
    assert outcome == "robots_unreachable"
    assert all(f.error == "robots_unreachable" and f.status == 503 for f in fetches)
    assert obs is None or "robots.txt unreachable (http 503)" in obs.reason
    assert verdict.status == "unknown" and "robots.txt unreachable" in verdict.reason
    assert "disallow" not in verdict.reason
    assert [r.path for r in server.requests if r.path != "/robots.txt"] == []


def test_robots_unreachable_reports_the_network_error():
    got = fetch("http://no-such-preschool.invalid/page")
    assert got.error == "dns_error"


def test_huge_robots_is_parsed_up_to_500_kib(server):
    filler = b"# " + b"x" * 1000 + b"\n"
    robots = b"User-agent: *\nDisallow: /early\n" + filler * 600 + b"Disallow: /late\n"
    server.route("/robots.txt", respond(robots, content_type="text/plain"))
    server.route("/late", respond(b"x"))
    early, late = fetch_many([server.url("/early"), server.url("/late")])
    assert early.error == "blocked_by_robots"
    assert late.ok  # the rule past 500 KiB is not read


def test_robots_redirect_loop_means_allowed(server):
    server.route("/robots.txt", redirect("/robots.txt"))
    server.route("/page", respond(b"x"))
    assert fetch(server.url("/page")).ok
    assert server.hits("/robots.txt") == 6  # first request and five hops, RFC 9309


def test_robots_can_be_turned_off(server):
    server.route("/robots.txt", respond(b"oops", 500))
    server.route("/page", respond(b"x"))
    assert fetch(server.url("/page"), make_settings(respect_robots=False)).ok
    assert server.hits("/robots.txt") == 0


# -- politeness ------------------------------------------------------------------------------------


def test_per_host_delay_spaces_request_starts(timed, clock):
    server = timed
    for i in range(4):
        server.route(f"/p{i}", respond(b"x"))
    results = fetch_many([server.url(f"/p{i}") for i in range(4)], make_settings(per_host_delay=0.2), clock=clock)
    assert all(r.ok for r in results)
    times = sorted(r.arrived for r in server.requests)  # robots.txt included: it is a request too
    assert len(times) == 5
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.2 - SLACK, gaps
    assert times[-1] - times[0] >= 4 * 0.2 - SLACK
    assert max(r.elapsed_ms for r in results) < 150  # waiting our turn is not the site's slowness


@pytest.mark.parametrize("per_host", [1, 3])
def test_per_host_concurrency(server, per_host):
    server.route("/robots.txt", respond(b"", content_type="text/plain"))
    for i in range(6):
        server.route(f"/s{i}", slow(0.15, respond(b"x")))
    results = fetch_many([server.url(f"/s{i}") for i in range(6)], make_settings(per_host_concurrency=per_host))
    assert all(r.ok for r in results)
    assert server.max_in_flight == per_host


def test_global_concurrency_spans_hosts():
    with HostileServer("127.0.0.1") as a, HostileServer("127.0.0.2") as b:
        for srv in (a, b):
            srv.route("/robots.txt", respond(b"", content_type="text/plain"))
            srv.route("/s", slow(0.15, respond(b"x")))
        settings = make_settings(concurrency=1, per_host_concurrency=2)
        results = fetch_many([a.url("/s"), b.url("/s"), a.url("/s?2"), b.url("/s?2")], settings)
        assert all(r.ok for r in results)
        spans = sorted((r.arrived, r.arrived + 0.15) for srv in (a, b) for r in srv.requests if r.path == "/s")
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end - 0.01  # never two slow requests at once, whatever the host


def test_zero_delay_adds_no_sleeping(server, clock):
    server.route("/robots.txt", respond(b"", content_type="text/plain"))
    server.route("/x", respond(b"x"))
    results = fetch_many([server.url(f"/x?{i}") for i in range(20)], clock=clock)
    assert all(r.ok for r in results)
    assert [s for s in clock.sleeps if s > 0] == []


def test_errors_are_known_kinds_and_messages_hold_no_body(server):
    secret = b"Barnens namn: Alva och Nils"
    server.route("/down", respond(secret, 503))
    server.route("/rst", reset_mid_body())
    for got in fetch_many([server.url("/down"), server.url("/rst")]):
        assert got.error in FETCH_ERRORS
        assert "Alva" not in (got.error_message or "")


def test_injected_transport_is_used_and_literal_addresses_still_checked():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        return httpx.Response(200, headers={"Content-Type": "application/rss+xml"}, content=b"<rss/>")

    async def go() -> tuple[Fetched, Fetched]:
        settings = make_settings(allow_private_addresses=False)
        async with Fetcher(settings, transport=httpx.MockTransport(handler)) as fetcher:
            return await fetcher.fetch("https://forskola.example.se/feed/"), await fetcher.fetch("http://10.0.0.1/")

    public, private = asyncio.run(go())
    assert public.ok and public.body == b"<rss/>" and public.content_type == "application/rss+xml"
    assert private.error == "blocked_address"
    assert seen == ["https://forskola.example.se/robots.txt", "https://forskola.example.se/feed/"]


def test_connections_are_reused(server):
    server.route("/robots.txt", respond(b"", content_type="text/plain"))
    server.route("/x", respond(b"x"))
    results = fetch_many([server.url(f"/x?{i}") for i in range(10)], make_settings(per_host_concurrency=1))
    assert all(r.ok for r in results)
    assert server.connections == 1  # robots.txt and ten pages over one kept-alive connection


# -- on what real software recorded (tests/fixtures/real, replayed on loopback) ---------------------


def test_real_wordpress_behind_debian_apache_answers_the_crawler_304():
    # 13 defect 4, on WordPress 6.1 + Debian's Apache as the corpus recorded them.
    from tests.replay import REAL, ReplayServer

    with ReplayServer(REAL / "wordpress" / "twentytwentythree-solrosen") as site:
        first = fetch(site.url("/feed/"))
        assert first.status == 200 and first.headers["etag"].endswith('-gzip"')
        again = fetch(site.url("/feed/"), etag=first.headers["etag"], last_modified=first.headers["last-modified"])
        assert again.status == 304 and again.not_modified


def test_real_wordpress_database_outage_is_robots_unreachable():
    # 13 defect 2, on the recorded outage (MariaDB stopped): robots.txt answers 500.
    from tests.replay import REAL, ReplayServer

    with ReplayServer(REAL / "wordpress" / "twentytwentythree-solrosen", state="outage") as site:
        page, feed = fetch_many([site.url("/"), site.url("/feed/")])
        asked = [path for path, _ in site.requests]
    for got in (page, feed):
        assert got.error == "robots_unreachable" and got.status == 500, got.error_message
    assert set(asked) == {"/robots.txt"}
