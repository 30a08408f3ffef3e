"""Feeds: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON Feed and WordPress REST post lists (json),
read into an Observation. Only feed bodies come here: `read.py` decides what a body is.

The newest entry's date (published, else updated) is the last post; implausible dates are
dropped and noted; duplicates count once. A bad field costs that value only: a date with a year
that cannot exist (0000, 99999999999) is ignored and noted, never the feed. Big feeds (thousands
of entries) take a fast path: a regex scan of every entry's dates and links, and feedparser only
over the first entries for the texts the notice detector reads. Only bytes ever reach feedparser
(a str may be opened as a path).

Linear on hostile input: entries are cut at their start tags (an unclosed <item> ends where the
next one starts, instead of a lazy scan to the end of the body for each), and every pattern inside
an entry is bounded, so a 5 MiB feed of unclosed tags is read in one pass.

Speed: feedparser costs 0.3 ms per entry even without sanitising (3-9 ms for an ordinary feed),
more than the whole HTTP request. A well-formed feed without a DOCTYPE is therefore read with the
C expat parser (ElementTree) first, ~20x faster; anything it refuses (broken XML, entities, odd
encodings) goes to feedparser, which is lenient. Both readers agree on the corpus (tested).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import feedparser

from crawler.dates import impossible_year, parse_machine
from crawler.models import Observation, PublicText
from crawler.platforms import common
from crawler.settings import Settings

BIG_FEED_ENTRIES = 200  # from this many entries on, the regex fast path reads the dates
LENIENT_MAX_BYTES = 512 * 1024  # feedparser reads at most this much (~0.5 s); broken feeds beyond: the scan
# The big-feed scan. Every repetition is bounded and no value or attribute run crosses a "<", so
# each byte is looked at a bounded number of times however the tags are (un)closed.
_ENTRY_START = re.compile(rb"<(?:\w{1,32}:)?(?:item|entry)[\s>/]", re.IGNORECASE)
_ENTRY_END = re.compile(rb"</(?:\w{1,32}:)?(?:item|entry)\s{0,64}>", re.IGNORECASE)


def _field(names: bytes, value: int) -> re.Pattern[bytes]:
    """<name attrs>value</name> (CDATA or not) with the value at most `value` bytes and no "<"."""
    return re.compile(
        rb"<((?:\w{1,32}:)?(?:" + names + rb"))(?:\s[^<>]{0,1024})?>\s{0,64}(?:<!\[CDATA\[)?"
        rb"([^<]{0,%d}?)(?:\]\]>)?\s{0,64}</\1\s{0,64}>" % value,
        re.IGNORECASE,
    )


_PUBLISHED = _field(rb"pubDate|published|issued|date|created", 256)
_UPDATED = _field(rb"updated|modified", 256)
_ID = _field(rb"guid|id", 4096)
_RSS_LINK = re.compile(rb"<link>\s{0,64}(?:<!\[CDATA\[)?([^<]{0,4096}?)(?:\]\]>)?\s{0,64}</link>", re.IGNORECASE)
_ATOM_LINK = re.compile(rb"<(?:\w{1,32}:)?link\b([^<>]{0,4096})>", re.IGNORECASE)
_HREF = re.compile(rb"""href\s{0,64}=\s{0,64}["']([^"'<>]{1,4096})["']""", re.IGNORECASE)
_REL = re.compile(rb"""rel\s{0,64}=\s{0,64}["']([^"'<>]{1,256})["']""", re.IGNORECASE)
_TOTAL = re.compile(rb"<(?:\w+:)?totalResults>\s*(\d{1,9})\s*<", re.IGNORECASE)
_CLOSERS = {"rss": b"</channel></rss>", "atom": b"</feed>", "rdf": b"</rdf:RDF>"}


def candidates(url: str, feed: str | None) -> list[str]:
    """A feed account is read from its feed (declared, or the URL itself)."""
    return [u for u in dict.fromkeys([feed, url]) if u]


class _Dates:
    """Machine dates of one feed, counting the values whose year cannot exist (noted, then ignored)."""

    def __init__(self) -> None:
        self.impossible = 0

    def read(self, raw: object) -> datetime | None:
        if not isinstance(raw, str):
            return None
        if impossible_year(raw):
            self.impossible += 1
            return None
        return parse_machine(raw)

    def notes(self) -> list[str]:
        n = self.impossible
        return [f"ignored {n} {'date' if n == 1 else 'dates'} with an impossible year"] if n else []


def parse_feed(body: bytes, url: str, now: datetime, settings: Settings, platform: str,
               *, kind: str | None = None) -> Observation:
    """An Observation from feed bytes already known (or sniffed) to be a feed."""
    kind = kind or common.sniff(body)
    if kind in ("jsonfeed", "json"):
        return _json_feed(body, url, now, settings, platform)
    body = common.clean_bytes(body)
    starts = _ENTRY_START.findall(body) if len(body) > 64 * 1024 else None
    if starts is not None and len(starts) >= BIG_FEED_ENTRIES:
        return _big_feed(body, url, now, settings, platform, kind)
    dates = _Dates()
    quick = _strict_entries(body, dates)
    if quick is None and len(body) > LENIENT_MAX_BYTES:
        return _big_feed(body, url, now, settings, platform, kind)  # broken and big: feedparser takes seconds
    if quick is not None:
        entries, title, description = quick
        dated = [(link, when) for link, when, _t, _s in entries]
        texts = []
        for link, when, entry_title, summary in entries:
            if entry_title:
                texts.append((when, PublicText("title", entry_title, link, when)))
            if summary:
                texts.append((when, PublicText("summary", summary, link, when)))
        return common.assemble(
            platform, "feed parsed", dated, now, settings,
            texts=_newest_texts(texts) + _own_texts(description), notes=dates.notes(), post_count=_total(body),
            feed_url=url, source_url=url,
            undated_note="feed has no entries" if not entries else "feed has no dated entries", site_title=title,
        )
    return _lenient(body, url, now, settings, platform)


def _lenient(body: bytes, url: str, now: datetime, settings: Settings, platform: str) -> Observation:
    """feedparser over the whole feed: slower, but reads broken XML too."""
    parsed = feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False)
    entries = parsed.get("entries", [])
    dated = []
    dates = _Dates()
    texts: list[tuple[datetime | None, PublicText]] = []
    for entry in entries:
        when = _entry_date(entry, dates)
        link = entry.get("link") or entry.get("id") or None
        dated.append((link, when))
        texts.extend(_entry_texts(entry, link, when))
    if parsed.get("bozo") and not parsed.get("feed", {}).get("title") and not any(w for _, w in dated):
        # Broken XML with nothing recognisable in it: not evidence that the account is there.
        return Observation(platform, None, "feed unreadable", source_url=url)
    notes = [f"feed not well-formed ({type(parsed.bozo_exception).__name__})"] if parsed.get("bozo") and entries else []
    notes += dates.notes()
    channel = parsed.get("feed", {})
    return common.assemble(
        platform, "feed parsed", dated, now, settings,
        texts=_newest_texts(texts) + _own_texts(channel.get("subtitle")), notes=notes, post_count=_total(body),
        feed_url=url, source_url=url,
        undated_note="feed has no entries" if not entries else "feed has no dated entries",
        site_title=channel.get("title"),
    )


def _struct(value: Any) -> datetime | None:
    if not value:
        return None
    try:  # feedparser's tuples are UTC
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _entry_date(entry: Any, dates: _Dates) -> datetime | None:
    # Our own reading of the raw string keeps naive times as Stockholm time (feedparser says UTC);
    # feedparser's parsed tuple is the fallback for formats we do not know, when its year is the
    # one written (it reads "Sat, 01 Jan 0000" as 2000).
    for raw_key, parsed_key in (("published", "published_parsed"), ("updated", "updated_parsed"),
                                ("created", "created_parsed")):
        # dict.get: feedparser's own get() maps a missing "updated" to "published" with a warning
        raw = dict.get(entry, raw_key)
        before = dates.impossible
        when = dates.read(raw)
        if when is None and dates.impossible == before:
            when = _struct(dict.get(entry, parsed_key))
            if when is not None and isinstance(raw, str) and str(when.year) not in raw and f"{when.year % 100:02d}" not in raw:
                when = None
        if when is not None:
            return when
    return None


def _entry_texts(entry: Any, link: str | None, when: datetime | None) -> Iterator[tuple[datetime | None, PublicText]]:
    title = common.plain(entry.get("title"))
    if title:
        yield when, PublicText("title", title, link, when)
    summary = entry.get("summary")
    if not summary and entry.get("content"):
        summary = entry["content"][0].get("value")
    summary = common.plain(summary)
    if summary:
        yield when, PublicText("summary", summary, link, when)


def _own_texts(description: object) -> list[PublicText]:
    """The feed's own description (RSS channel <description>, Atom <subtitle>, JSON Feed
    "description"): where WordPress and Blogger put the site's tagline, so a notice written there
    ("Vi flyttar till Tempus Hemma") is read on every visit that reads the feed. In memory only."""
    text = common.plain(description) if isinstance(description, str) else ""
    return [PublicText("description", text)] if text else []


def _newest_texts(texts: list[tuple[datetime | None, PublicText]]) -> list[PublicText]:
    """Texts of the newest posts (MAX_TEXTS posts, two texts each), newest first."""
    floor = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(texts, key=lambda pair: pair[0] or floor, reverse=True)
    return [t for _, t in ordered[: common.MAX_TEXTS * 2]]


def _total(body: bytes) -> int | None:
    """Blogger's openSearch:totalResults: the number of posts on the blog."""
    m = _TOTAL.search(body[:8192])
    return int(m.group(1)) if m else None


def _entry_blocks(body: bytes) -> list[tuple[int, int, int]]:
    """(content start, content end, end of the closing tag) of each entry: from its start tag to its end tag, or to the next entry's start
    when it is not closed before that (one pass over the body, however many tags are unclosed)."""
    starts = [(m.start(), m.end()) for m in _ENTRY_START.finditer(body)]
    ends = [(m.start(), m.end()) for m in _ENTRY_END.finditer(body)]
    blocks = []
    e = 0
    for i, (_tag, content) in enumerate(starts):
        limit = starts[i + 1][0] if i + 1 < len(starts) else len(body)
        while e < len(ends) and ends[e][0] < content:
            e += 1
        if e < len(ends) and ends[e][0] <= limit:
            blocks.append((content, ends[e][0], ends[e][1]))
        else:
            blocks.append((content, limit, limit))
    return blocks


def _big_feed(body: bytes, url: str, now: datetime, settings: Settings, platform: str, kind: str) -> Observation:
    dated = []
    ends = []
    dates = _Dates()
    for content, stop, after in _entry_blocks(body):
        block = body[content:stop]
        when = None
        for pattern in (_PUBLISHED, _UPDATED):
            for dm in pattern.finditer(block):
                when = dates.read(dm.group(2).decode("utf-8", "replace"))
                if when is not None:
                    break
            if when is not None:
                break
        dated.append((_block_link(block), when))
        if len(ends) < common.MAX_TEXTS * 3:
            ends.append(after)
    # The newest texts: feedparser over the head of the feed only (feeds list newest first).
    texts: list[tuple[datetime | None, PublicText]] = []
    own: list[PublicText] = []
    if ends:
        head = body[: min(ends[-1], LENIENT_MAX_BYTES)] + _CLOSERS.get(kind, b"")
        parsed = feedparser.parse(io.BytesIO(head), sanitize_html=False, resolve_relative_uris=False)
        for entry in parsed.get("entries", []):
            link = entry.get("link") or entry.get("id") or None
            texts.extend(_entry_texts(entry, link, _entry_date(entry, _Dates())))
        own = _own_texts(parsed.get("feed", {}).get("subtitle"))
    return common.assemble(
        platform, "feed parsed", dated, now, settings,
        texts=_newest_texts(texts) + own, notes=[f"big feed: {len(dated)} {'entry' if len(dated) == 1 else 'entries'} scanned", *dates.notes()],
        post_count=_total(body), feed_url=url, source_url=url,
        undated_note="feed has no dated entries",
    )


def _block_link(block: bytes) -> str | None:
    m = _RSS_LINK.search(block)
    if m and m.group(1).strip():
        return m.group(1).strip().decode("utf-8", "replace")
    for lm in _ATOM_LINK.finditer(block):
        attrs = lm.group(1)
        rel = _REL.search(attrs)
        href = _HREF.search(attrs)
        if href and (rel is None or rel.group(1).lower() == b"alternate"):
            return href.group(1).decode("utf-8", "replace")
    m = _ID.search(block)
    return m.group(2).strip().decode("utf-8", "replace") if m else None


def _json_feed(body: bytes, url: str, now: datetime, settings: Settings, platform: str) -> Observation:
    try:
        data = json.loads(common.clean_bytes(body))
    except (ValueError, RecursionError):
        return Observation(platform, None, "json unreadable", source_url=url)
    if isinstance(data, list):  # the WordPress REST API answers with a list of posts
        return parse_rest(data, url, now, settings, platform)
    if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
        return Observation(platform, None, "json is not a feed", source_url=url)
    dated = []
    dates = _Dates()
    texts: list[tuple[datetime | None, PublicText]] = []
    for item in data.get("items", []):
        if not isinstance(item, dict):
            continue
        when = None
        for key in ("date_published", "date_modified"):
            when = dates.read(item.get(key))
            if when is not None:
                break
        link = next((item[k] for k in ("url", "external_url", "id") if isinstance(item.get(k), str)), None)
        dated.append((link, when))
        title = common.plain(item.get("title") if isinstance(item.get("title"), str) else None)
        if title:
            texts.append((when, PublicText("title", title, link, when)))
        summary = next((item[k] for k in ("summary", "content_text", "content_html") if isinstance(item.get(k), str)), None)
        if summary:
            texts.append((when, PublicText("summary", common.plain(summary), link, when)))
    return common.assemble(
        platform, "feed parsed", dated, now, settings, texts=_newest_texts(texts) + _own_texts(data.get("description")),
        notes=dates.notes(), feed_url=url, source_url=url,
        undated_note="feed has no entries" if not dated else "feed has no dated entries",
    )


def parse_rest(data: list, url: str, now: datetime, settings: Settings, platform: str) -> Observation:
    """The REST API's list of posts: date_gmt (UTC) or date (local time), and link."""
    dated = []
    dates = _Dates()
    texts = []
    for item in data[:100]:
        if not isinstance(item, dict):
            continue
        gmt = item.get("date_gmt")
        when = dates.read(gmt)
        if when is not None and not re.search(r"(Z|[+-]\d\d:?\d\d)$", gmt.strip()):
            # date_gmt carries no zone but is UTC; parse_machine read it as Stockholm time.
            with contextlib.suppress(ValueError):  # not ISO after all (RFC 822 without a zone): keep it
                when = datetime.fromisoformat(gmt.strip()[:19]).replace(tzinfo=UTC)
        if when is None:
            when = dates.read(item.get("date"))
        link = item.get("link") if isinstance(item.get("link"), str) else None
        dated.append((link, when))
        for key, kind in (("title", "title"), ("excerpt", "summary")):
            value = item.get(key)
            rendered = value.get("rendered") if isinstance(value, dict) else None
            text = common.plain(rendered if isinstance(rendered, str) else None)
            if text:
                texts.append(PublicText(kind, text, link, when))
    return common.assemble(
        platform, "rest api parsed", dated, now, settings, texts=texts[: common.MAX_TEXTS * 2],
        notes=dates.notes(), feed_url=url, source_url=url, undated_note="REST API lists no dated posts",
    )


_ITEM_TAGS = {"item", "entry"}
_PUBLISHED_TAGS = ("published", "pubDate", "date", "issued", "created")
_UPDATED_TAGS = ("updated", "modified")
_SUMMARY_TAGS = ("summary", "description", "encoded", "content")
_CHANNEL_DESCRIPTIONS = ("description", "subtitle", "tagline")  # RSS/RDF, Atom 1.0, Atom 0.3


@functools.lru_cache(maxsize=512)
def _local(tag: object) -> str:
    """The local name of an ElementTree tag ("{namespace}name" -> "name"); comments have none."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _strict_entries(body: bytes, dates: _Dates) -> tuple[list[tuple[str | None, datetime | None, str, str]], str, str] | None:
    """(link, date, title, summary) per entry, the channel's title and description, with expat; or
    None when the body needs feedparser."""
    head = body[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in body[:65536]:
        return None  # DTDs and entities are feedparser's business: expat would try to expand them
    try:
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError, LookupError):
        return None
    if _local(root.tag) not in ("rss", "feed", "RDF"):
        return None
    out = []
    # Entries sit directly under <feed>, <rdf:RDF> or <rss><channel>: no need to walk their insides.
    parents = [root, *(child for child in root if _local(child.tag) == "channel")]
    for element in (child for parent in parents for child in parent):
        if _local(element.tag) not in _ITEM_TAGS:
            continue
        fields: dict[str, str] = {}
        link = None
        for child in element:
            name = _local(child.tag)
            if name == "link":
                href = child.get("href")
                rel = child.get("rel", "alternate")
                if href and rel == "alternate" and link is None:
                    link = href.strip()
                elif not href and child.text and child.text.strip() and link is None:
                    link = child.text.strip()
            elif name not in fields and child.text:
                fields[name] = child.text
        when = None
        for group in (_PUBLISHED_TAGS, _UPDATED_TAGS):
            for name in group:
                if name in fields:
                    when = dates.read(fields[name])
                    if when is not None:
                        break
            if when is not None:
                break
        link = link or (fields.get("guid") or fields.get("id") or "").strip() or None
        summary = next((fields[n] for n in _SUMMARY_TAGS if n in fields and fields[n].strip()), "")
        out.append((link, when, common.plain(fields.get("title")), common.plain(summary)))
    channel_title = next((c.text or "" for parent in parents for c in parent if _local(c.tag) == "title"), "")
    description = next((c.text or "" for parent in parents for c in parent
                        if _local(c.tag) in _CHANNEL_DESCRIPTIONS and (c.text or "").strip()), "")
    return out, channel_title, description
