"""Hostile bodies through every adapter: bounded time, no exception, nothing claimed from junk."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from crawler.models import Fetched
from crawler.platforms import ADAPTERS, common
from crawler.settings import Settings

NOW = datetime(2023, 4, 15, 12, 0, tzinfo=UTC)
NAMES = sorted(set(ADAPTERS) - {"other"})


def fetched(body: bytes, ctype: str = "text/html") -> Fetched:
    return Fetched(url="http://127.0.0.8:8080/x/", final_url="http://127.0.0.8:8080/x/", status=200,
                   headers={"content-type": ctype}, body=body)


@pytest.mark.parametrize("name", NAMES)
def test_a_deep_nest_of_divs_is_refused_fast(name):
    body = b"<html><body>" + b"<div>" * 100_000 + b"x" + b"</div>" * 100_000 + b"</body></html>"
    started = time.perf_counter()
    obs = ADAPTERS[name].parse(fetched(body), NOW, Settings(), name)
    assert time.perf_counter() - started < 2.0  # lexbor alone would take ~25 s on this page
    assert obs.exists is None and obs.reason.startswith("unparseable")


def test_block_depth_of_ordinary_pages_is_small():
    page = (common.MAX_BLOCK_DEPTH // 2) * b"<div><p>x</p><img src=a><br></div>"
    assert common.block_depth(page) == 1
    assert common.block_depth(b"<DIV><section><ul><li>x</ul></section></DIV>") == 3


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "body",
    [
        bytes(range(256)) * 200,  # binary junk
        b"\x00" * 10_000,
        b"\xff\xfe<\x00h\x00t\x00m\x00l\x00>\x00",  # UTF-16 bytes
        b"<html><body>" + b"<p>12 mars 2023 lorem</p>" * 200_000 + b"</body></html>",  # 5 MB: capped before parsing
        b"<?xml version='1.0'?><rss><channel><item><pubDate>\xff\xfe</pubDate></item>",
        b'{"items": [{"date_published": 12}], "version": "https://jsonfeed.org/version/1.1"}',
        b"[1, 2, {\"date_gmt\": null}]",
    ],
    ids=["binary", "nuls", "utf16", "5mb", "broken-rss", "odd-jsonfeed", "odd-rest"],
)
def test_junk_never_raises(name, body):
    obs = ADAPTERS[name].parse(fetched(body), NOW, Settings(), name)
    assert obs.exists in (True, False, None)
    assert obs.last_post_at is None or obs.last_post_at <= NOW


def test_cp1252_page_labelled_utf8_keeps_swedish_text():
    body = "<html><body><article><h2>Vi har målat höstlöv</h2><p>12 mars 2023</p></article></body></html>".encode("cp1252")
    obs = ADAPTERS["blog"].parse(fetched(body, "text/html; charset=utf-8"), NOW, Settings(), "blog")
    assert obs.last_post_at is not None
    assert any("målat höstlöv" in t.text for t in obs.texts)
