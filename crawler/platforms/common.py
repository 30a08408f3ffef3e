"""What every platform adapter needs: status rules, body decoding and sniffing, HTML helpers,
and the assembly of dated posts into an Observation (plausibility, de-duplication, order).

Pure: takes a Fetched and a `now`, never touches the network or the clock.
"""

from __future__ import annotations

import codecs
import functools
import html
import re
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from crawler.dates import implausible
from crawler.models import Fetched, Observation, Post, PublicText
from crawler.platforms import nesting
from crawler.settings import Settings

MAX_HTML_BYTES = 2 * 1024 * 1024  # selectolax is fast on normal pages; hostile ones are capped
TEXT_LIMIT = 500  # characters kept of one title/summary for the notice detector
MAX_TEXTS = 10  # newest posts whose texts are passed on
MAX_POSTS = 50  # posts kept on an observation (newest first)

GONE_STATUSES = (404, 410)
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml")

_CHARSET = re.compile(rb"""<\?xml[^<>]{0,256}?encoding=["']([\w.:-]{1,40})["']""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^<>]{1,512}?charset=["']?([\w.:-]{1,40})""", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")  # stops at the next "<": one pass even over "<<<<" (a < b stays text)
_SPACE = re.compile(r"\s+")
_HEAD_SNIFF = 2048


def label(fetched: Fetched) -> str:
    """A short description of a failed fetch for Observation.reason ("http 503", "fetch error: dns_error")."""
    if fetched.error == "blocked_by_robots":
        return "blocked by robots.txt"
    if fetched.error == "robots_unreachable":
        return f"robots.txt unreachable (http {fetched.status})" if fetched.status else "robots.txt unreachable"
    if fetched.error:
        return f"fetch error: {fetched.error}"
    if fetched.status is None:
        return "no response"
    return f"http {fetched.status}"


def status_observation(fetched: Fetched, platform: str) -> Observation | None:
    """The Observation that the status alone decides, or None when the body must be read.

    404/410 are left to the adapter (a removal page may say more), which falls back to
    `gone_by_status`.
    """
    source = fetched.url
    if fetched.error is not None or fetched.status is None:
        return Observation(platform, None, label(fetched), source_url=source)
    status = fetched.status
    if status == 304:
        return Observation(platform, True, "not modified", source_url=source)
    if status in GONE_STATUSES:
        return None
    if 200 <= status < 300:
        if not fetched.body or not fetched.body.strip(b"\x00 \t\r\n"):
            return Observation(platform, None, f"http {status} with an empty body", source_url=source)
        return None
    # 401/403/429/5xx and everything else: nothing can be told about existence from a refusal.
    return Observation(platform, None, f"http {status}", source_url=source)


def gone_by_status(fetched: Fetched, platform: str, reason: str | None = None) -> Observation:
    """exists False for a 404/410, with the platform's own reason when the page gave one."""
    return Observation(platform, False, reason or f"http {fetched.status}", source_url=fetched.url)


def clean_bytes(body: bytes) -> bytes:
    """Body bytes for the feed readers: no NULs, an XML declaration naming a charset no decoder can
    use rewritten to UTF-8, and UTF-8 re-encoded from cp1252 when the bytes claim UTF-8 but are not."""
    if b"\x00" in body:
        body = body.replace(b"\x00", b"")
    m = _CHARSET.search(body[:_HEAD_SNIFF])
    if m and usable_charset(m.group(1).decode("ascii", "replace")) is None:
        # expat and feedparser would honour it and raise (idna, "undefined") or read garbage (utf-16).
        body = body[: m.start(1)] + b"utf-8" + body[m.end(1):]
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        pass
    declared = _declared_charset(body)
    if declared and declared not in ("utf-8", "utf8"):
        return body  # the document names its own legacy charset: the parsers honour it
    # Swedish pages saved from old editors: cp1252 bytes behind a UTF-8 label. Bytes cp1252 lacks
    # (0x81, 0x8d, ...) are read as latin-1 so nothing raises.
    text = body.decode("cp1252", errors="replace")
    return text.encode("utf-8")


_ASCII_PROBE = b'<?xml version="1.0" encoding="x"?><meta charset="x"> 09 az AZ'


@functools.lru_cache(maxsize=256)
def usable_charset(name: str | None) -> str | None:
    """The codec name of a declared charset we can decode with, or None when it is unusable.

    A declaration is read as ASCII, so the document is ASCII-compatible if it tells the truth: a
    codec that is unknown, not a text encoding (base64, rot13), refuses errors="replace" (idna),
    always fails ("undefined") or does not read ASCII as ASCII (utf-16, EBCDIC) is ignored.
    """
    if not name or len(name) > 40:
        return None
    try:
        info = codecs.lookup(name)
        if not getattr(info, "_is_text_encoding", True):
            return None
        if _ASCII_PROBE.decode(info.name, errors="replace") != _ASCII_PROBE.decode("ascii"):
            return None
        b"\xe5\xff\x80".decode(info.name, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None
    return info.name


def _declared_charset(body: bytes) -> str | None:
    """The charset the document declares (XML declaration or <meta>), lower case, if usable."""
    head = body[:_HEAD_SNIFF]
    m = _CHARSET.search(head) or _META_CHARSET.search(head)
    if not m:
        return None
    name = m.group(1).decode("ascii", "replace").lower()
    return name if usable_charset(name) else None


def decode(body: bytes, headers: dict | None = None) -> str:
    """Body text for the HTML parser: capped, NUL-free, UTF-8 with a cp1252/declared fallback."""
    body = body[:MAX_HTML_BYTES].replace(b"\x00", b"")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _declared_charset(body)
    if not declared and headers:
        m = re.search(r"charset=([\w.:-]+)", headers.get("content-type", ""), re.IGNORECASE)
        declared = m.group(1).lower() if m and usable_charset(m.group(1)) else None
    if declared and declared not in ("utf-8", "utf8"):
        try:
            return body.decode(declared, errors="replace")
        except (UnicodeError, LookupError):  # a codec that fails on these bytes only: as if undeclared
            pass
    return body.decode("cp1252", errors="replace")


def sniff(body: bytes) -> str:
    """What the body is, whatever its Content-Type says: rss, atom, rdf, jsonfeed, json, html, other."""
    head = body[:_HEAD_SNIFF].lstrip(b"\xef\xbb\xbf\x00 \t\r\n").replace(b"\x00", b"")
    low = head.lower()
    if low.startswith((b"{", b"[")):
        return "jsonfeed" if b"jsonfeed.org/version" in low else "json"
    if low.startswith(b"<?xml") or low.startswith((b"<rss", b"<feed", b"<rdf", b"<!--")):
        # An XML declaration can precede XHTML too: look for the root element.
        for marker, kind in ((b"<rss", "rss"), (b"<feed", "atom"), (b"<rdf:rdf", "rdf")):
            if marker in low:
                return kind
        if b"<html" in low:
            return "html"
        return "other"
    if b"<html" in low or b"<!doctype html" in low or b"<head" in low or b"<body" in low:
        return "html"
    for marker, kind in ((b"<rss", "rss"), (b"<feed", "atom"), (b"<rdf:rdf", "rdf")):
        if marker in low:
            return kind
    return "other"


def is_feed(kind: str) -> bool:
    return kind in ("rss", "atom", "rdf", "jsonfeed")


def plain(fragment: str | None, limit: int = TEXT_LIMIT) -> str:
    """Plain, short text from an HTML fragment (tags dropped, entities and spaces folded)."""
    if not fragment:
        return ""
    text = html.unescape(_TAG.sub(" ", fragment[: limit * 8]))
    text = _SPACE.sub(" ", text).strip()
    return text[:limit]


class TooDeep(ValueError):
    """The page would keep the HTML parser busy for seconds (deep nesting, a tag with huge attributes)."""


# Lexbor's tree building costs the depth of its stack of open elements at every tag (20,000 nested
# <div>s: 0.6 s, 100,000: 26 s; see crawler/platforms/nesting.py and scripts/hostile_parse.py).
# Real pages stay under a few hundred levels and a few million units of work at 2 MiB.
MAX_WORK = 100_000_000  # modelled stack depth summed over the tags: ~0.15-1.5 s of lexbor
MAX_BLOCK_DEPTH = 4000
MAX_ATTRIBUTES = 1000  # on one tag (lexbor checks duplicates quadratically)
_SIMPLE_TAGS = 5000  # a page with fewer tags and no long tag cannot reach MAX_WORK (3 * 5000**2)
_DEPTH_SCAN_FROM = 32 * 1024


def block_depth(body: bytes) -> int:
    """The deepest nesting of block elements as the HTML parser would build it."""
    return nesting.measure(body).deepest_block


def too_slow(body: bytes) -> str | None:
    """Why the HTML parser would take too long on this body, or None (the body as it will be parsed)."""
    if len(body) <= _DEPTH_SCAN_FROM or not nesting.worth_measuring(body, _SIMPLE_TAGS):
        return None
    found = nesting.measure(body, work_limit=MAX_WORK)
    if found.most_attributes > MAX_ATTRIBUTES:
        return f"a tag has {found.most_attributes} attributes"
    if found.stopped and found.most_options * 100 > found.deepest:
        return f"a select holds {found.most_options} options"
    if found.stopped or found.deepest_block > MAX_BLOCK_DEPTH:
        return f"page nested {'at least ' if found.stopped else ''}{found.deepest} levels deep"
    return None


def parse_html(body: bytes, headers: dict | None = None) -> HTMLParser:
    """A selectolax tree of the (capped, decoded) body; TooDeep for a page that would take seconds."""
    capped = body[:MAX_HTML_BYTES]
    why = too_slow(capped)
    if why:
        raise TooDeep(why)
    return HTMLParser(decode(capped, headers))


def guarded(parse):
    """Wrap an adapter's parse: a page too deep to parse tells nothing (exists None), never raises."""

    @functools.wraps(parse)
    def wrapper(fetched: Fetched, now: datetime, settings: Settings, platform: str | None = None) -> Observation:
        try:
            if platform is None:
                return parse(fetched, now, settings)
            return parse(fetched, now, settings, platform)
        except TooDeep as exc:
            return Observation(platform or "blog", None, f"unparseable: {exc}", source_url=fetched.url)

    return wrapper


def meta(tree: HTMLParser | dict[str, str], *names: str) -> str | None:
    """The content of the first <meta property|name|itemprop=NAME> found, in the order of `names`.

    Pass the dict from `metas(tree)` instead of the tree when looking up several names.
    """
    table = tree if isinstance(tree, dict) else metas(tree)
    for name in names:
        value = table.get(name.lower())
        if value:
            return value
    return None


def metas(tree: HTMLParser) -> dict[str, str]:
    """All <meta> names (property, name or itemprop; lower case) -> first non-empty content."""
    table: dict[str, str] = {}
    for node in tree.css("meta[content]"):
        attrs = node.attributes
        content = (attrs.get("content") or "").strip()
        if not content:
            continue
        for attr in ("property", "name", "itemprop"):
            key = attrs.get(attr)
            if key:
                table.setdefault(key.lower(), content)
    return table


def node_text(node: Node | None, limit: int = TEXT_LIMIT) -> str:
    if node is None:
        return ""
    return _SPACE.sub(" ", node.text(separator=" ")).strip()[:limit]


def title_text(tree: HTMLParser) -> str:
    """The page's <title> and first headings, lower case, for matching removal messages."""
    parts = [node_text(tree.css_first("title"), 300)]
    for selector in ("h1", "h2"):
        parts.extend(node_text(n, 300) for n in tree.css(selector)[:3])
    return " | ".join(p for p in parts if p).lower().replace("\u2019", "'")


def visible_text(tree: HTMLParser, limit: int = 3000) -> str:
    """Title, headings and body text without scripts and styles, lower case, for phrase matching.

    Platforms ship their UI strings ("This content isn't available") inside scripts of every
    page; only what a reader would see may decide that a page is a removal notice.
    """
    for node in tree.css("script, style, noscript, template"):
        node.decompose()
    body = node_text(tree.body, limit).lower() if tree.body is not None else ""
    return (title_text(tree) + " | " + body).replace("\u2019", "'")


def has_password_form(tree: HTMLParser) -> bool:
    return tree.css_first('input[type="password"]') is not None or tree.css_first('input[name="pass"]') is not None


def absolute(base: str, href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("javascript:", "mailto:", "#", "data:")):
        return None
    url = urljoin(base, href)
    return url if urlsplit(url).scheme in ("http", "https") else None


def assemble(
    platform: str,
    reason: str,
    dated: Iterable[tuple[str | None, datetime | None]],
    now: datetime,
    settings: Settings,
    *,
    texts: Iterable[PublicText] = (),
    notes: Iterable[str] = (),
    post_count: int | None = None,
    feed_url: str | None = None,
    follow: str | None = None,
    source_url: str | None = None,
    undated_note: str | None = None,
    site_title: str | None = None,
) -> Observation:
    """An exists=True Observation from (post URL, date) pairs.

    Implausible dates (future beyond the skew, before 1995) are dropped and noted; a post seen
    twice (same URL, or same date without a URL) counts once; posts come newest first.
    """
    notes = list(notes)
    future = old = duplicates = 0
    seen: set = set()
    posts: list[Post] = []
    for url, when in dated:
        if when is not None:
            why = implausible(when, now, settings.future_skew_hours)
            if why == "future":
                future += 1
                continue
            if why:
                old += 1
                continue
        key = url or ("date", when)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        posts.append(Post(url, when))
    if future:
        notes.append(f"ignored {future} {'entry' if future == 1 else 'entries'} dated in the future")
    if old:
        notes.append(f"ignored {old} {'entry' if old == 1 else 'entries'} dated before 1995")
    if duplicates:
        notes.append(f"{duplicates} duplicate {'entry' if duplicates == 1 else 'entries'} counted once")
    dated_posts = sorted((p for p in posts if p.published_at), key=lambda p: p.published_at, reverse=True)
    if undated_note and not dated_posts:
        notes.append(undated_note)
    undated_posts = [p for p in posts if p.published_at is None]
    ordered = tuple((dated_posts + undated_posts)[:MAX_POSTS])
    return Observation(
        platform=platform,
        exists=True,
        reason=reason,
        last_post_at=dated_posts[0].published_at if dated_posts else None,
        posts=ordered,
        post_count=post_count,
        feed_url=feed_url,
        texts=tuple(texts),
        notes=tuple(notes),
        follow=follow,
        source_url=source_url,
        site_title=plain(site_title, 200) or None,
    )
