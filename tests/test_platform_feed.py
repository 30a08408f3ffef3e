"""crawler.platforms.feed beyond the corpus: the 10,000-entry feed (fast path), that only bytes
reach feedparser, the big-feed path agreeing with the normal one, and texts kept short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from crawler.models import Fetched
from crawler.platforms import adapter, feed
from crawler.settings import Settings

NOW = datetime(2023, 4, 15, 12, 0, tzinfo=UTC)
NEWEST = datetime(2023, 3, 12, 9, 30, tzinfo=UTC)


def rss(n: int, *, duplicates: int = 0, junk: bool = True, newest_at: int | None = None) -> bytes:
    """n items spaced 6 h apart, the newest at position `newest_at` (default: the middle)."""
    middle = n // 2 if newest_at is None else newest_at
    items = []
    for i in range(n):
        when = NEWEST - timedelta(hours=6 * abs(i - middle))
        items.append(f"<item><title>Inlägg {i}</title><link>https://big.example.se/p/{i}</link>"
                     f"<pubDate>{when:%a, %d %b %Y %H:%M:%S} +0000</pubDate><description><![CDATA[<p>Text {i} "
                     + "lång " * 200 + "</p>]]></description></item>")
    items.extend(items[:duplicates])
    if junk:
        items.insert(0, "<item><title>F</title><link>https://big.example.se/f</link><pubDate>Fri, 01 Jan 2100 00:00:00 +0000</pubDate></item>")
        items.insert(1, "<item><title>E</title><link>https://big.example.se/e</link><pubDate>Thu, 01 Jan 1970 00:00:00 +0000</pubDate></item>")
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Stor</title>'
            "<link>https://big.example.se/</link>" + "".join(items) + "</channel></rss>").encode()


def parse(body: bytes, ctype: str = "application/rss+xml"):
    url = "https://big.example.se/feed/"
    fetched = Fetched(url=url, final_url=url, status=200, headers={"content-type": ctype}, body=body)
    return adapter("feed").parse(fetched, NOW, Settings(), "blog")


@pytest.mark.timeout(60)  # a hang, not a speed: speed is measured in scripts/bench.py
def test_ten_thousand_entries_with_duplicates_newest_right_and_fast(monkeypatch):
    read = []
    real = feedparser.parse

    def spy(source, *args, **kwargs):
        parsed = real(source, *args, **kwargs)
        read.append(len(parsed.entries))
        return parsed

    monkeypatch.setattr(feedparser, "parse", spy)
    body = rss(10_000, duplicates=500)
    obs = parse(body)
    assert obs.exists is True and obs.last_post_at == NEWEST
    assert len({p.url for p in obs.posts}) == len(obs.posts)  # duplicates counted once
    assert any("future" in n for n in obs.notes) and any("1995" in n for n in obs.notes)
    assert any("big feed: 10502 entries" in n for n in obs.notes)
    assert 0 < len(obs.texts) <= 20 and all(len(t.text) <= 500 for t in obs.texts)
    # feedparser on all entries takes tens of seconds: it reads only the head (the newest texts)
    assert read and max(read) <= 40, read


def test_big_feed_path_agrees_with_the_normal_path():
    for newest_at in (0, 150, 299):
        body = rss(300, duplicates=20, newest_at=newest_at)
        fast = parse(body)
        small = feed.BIG_FEED_ENTRIES
        try:
            feed.BIG_FEED_ENTRIES = 10**9  # force feedparser over every entry
            slow = parse(body)
        finally:
            feed.BIG_FEED_ENTRIES = small
        assert fast.last_post_at == slow.last_post_at == NEWEST
        assert [p.url for p in fast.posts] == [p.url for p in slow.posts]
        assert [n for n in fast.notes if n.startswith("ignored")] == [n for n in slow.notes if n.startswith("ignored")]


def test_only_bytes_reach_feedparser(monkeypatch):
    seen = []
    real = feedparser.parse

    def spy(source, *args, **kwargs):
        seen.append((type(source).__name__, kwargs.get("sanitize_html"), kwargs.get("resolve_relative_uris")))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    parse(rss(5))
    parse(rss(400))  # the big path parses its head with feedparser too
    assert seen and all(kind in ("BytesIO", "bytes") for kind, _, _ in seen)
    assert all(s is False and r is False for _, s, r in seen)


def test_a_body_that_looks_like_a_path_is_not_opened():
    obs = parse(b"/etc/passwd", "application/rss+xml")
    assert obs.exists is not True or not obs.posts


def test_feed_texts_are_short_plain_and_newest_first():
    obs = parse(rss(30, junk=False, newest_at=29))
    assert obs.texts[0].text == "Inlägg 29"
    assert all("<" not in t.text for t in obs.texts)
    assert all(len(t.text) <= 500 for t in obs.texts)
    assert len(obs.texts) <= 20


def test_garbage_labelled_as_a_feed_tells_nothing():
    for body in (b"<?xml version='1.0'?><nonsense><<<", b"<?xml version='1.0'?><rss><channel><item>\x00\xff<<<"):
        obs = parse(body, "application/rss+xml")
        assert obs.exists is None, obs


def test_the_expat_reader_and_feedparser_agree_on_every_corpus_feed():
    from pathlib import Path

    from crawler.platforms import common

    corpus = Path(__file__).parent / "fixtures" / "platforms"
    compared = 0
    for path in sorted(corpus.glob("*/*.xml")):
        body = common.clean_bytes(path.read_bytes())
        if not common.is_feed(common.sniff(body)):
            continue
        url = "https://x.example.se/feed/"
        lenient = feed._lenient(body, url, NOW, Settings(), "blog")
        strict = feed.parse_feed(body, url, NOW, Settings(), "blog")
        assert strict.last_post_at == lenient.last_post_at, path.name
        assert [p.url for p in strict.posts] == [p.url for p in lenient.posts], path.name
        assert strict.post_count == lenient.post_count, path.name
        assert {t.text for t in strict.texts if t.kind == "title"} == {t.text for t in lenient.texts if t.kind == "title"}, path.name
        compared += 1
    assert compared >= 15
