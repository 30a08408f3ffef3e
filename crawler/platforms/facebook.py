"""Facebook pages: exists or not ("This content isn't available right now", any status), login
walls, and any public dates the page carries (data-utime, datetime attributes, publish_time /
creation_time in embedded JSON). og:description is passed on for the notice detector.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from crawler.dates import from_timestamp, parse_machine
from crawler.models import Fetched, Observation, PublicText
from crawler.platforms import common, social
from crawler.platforms.registry import Platform, Url, register
from crawler.settings import Settings

_GONE = re.compile(
    r"this content isn't available|this content is not available|det här innehållet är inte tillgängligt|"
    r"innehållet är inte tillgängligt|the link you followed may be broken|länken du följde kan vara bruten|"
    r"this page isn't available|sidan är inte tillgänglig"
)
_LOGIN_PATHS = ("/login", "/checkpoint", "/login.php")
_JSON_TIMES = re.compile(r'"(?:publish_time|creation_time|created_time|backdated_time)"\s{0,64}:\s{0,64}"?(\d{10})"?')
_JSON_ISO = re.compile(r'"(?:created_time|updated_time)"\s{0,64}:\s{0,64}"(\d{4}-\d\d-\d\dT[^"]{4,30})"')


candidates = social.candidates


@common.guarded
def parse(fetched: Fetched, now: datetime, settings: Settings, platform: str = "facebook") -> Observation:
    """An Observation from a Facebook page response (or from a declared feed)."""
    decided = social.preamble(fetched, now, settings, platform, _LOGIN_PATHS)
    if decided is not None:
        return decided
    source = fetched.url
    body = fetched.body or b""
    tree = common.parse_html(body, dict(fetched.headers))
    table = common.metas(tree)
    og_title = common.meta(table, "og:title")
    og_url = common.meta(table, "og:url")
    description = common.meta(table, "og:description", "description")
    raw = common.decode(body)
    dated = _dates(tree, raw)
    page = common.visible_text(tree)
    # A page that carries its own page meta exists, whatever UI strings it also contains.
    if not og_url and not (og_title and og_title.lower() != "facebook") and _GONE.search(page):
        return Observation(platform, False, "facebook: content not available", source_url=source)
    if fetched.status in common.GONE_STATUSES:
        return common.gone_by_status(fetched, platform)
    if not (og_title or og_url) and not dated:
        if common.has_password_form(tree) or "log in" in page or "logga in" in page:
            return Observation(platform, None, "login wall", login_wall=True, source_url=source)
        return Observation(platform, None, "facebook: no page data in the page", source_url=source)
    texts = [PublicText("description", common.plain(description))] if description else []
    posts = _articles(tree, fetched.final_url or source)
    for url, when, text in posts[: common.MAX_TEXTS]:
        if text:
            texts.append(PublicText("summary", text, url, when))
    if not posts:
        for node in tree.css("[data-ad-preview='message'], .userContent")[: common.MAX_TEXTS]:
            text = common.node_text(node)
            if text:
                texts.append(PublicText("summary", text))
    # Posts read from their own container carry a URL; the same instant seen elsewhere is the same post.
    seen = {when for _, when, _ in posts if when is not None}
    dated = [(url, when) for url, when, _ in posts] + [(u, w) for u, w in dated if w not in seen]
    return common.assemble(platform, "facebook: page", dated, now, settings, texts=texts, source_url=source,
                           undated_note="no public post dates in the page")


def _articles(tree, base: str) -> list[tuple[str | None, datetime | None, str]]:
    """(permalink, date, message) of each post container the page shows (role=article)."""
    out = []
    for node in tree.css("[role='article']")[:50]:
        stamp = node.css_first("[data-utime]")
        when = from_timestamp(stamp.attributes.get("data-utime") or "") if stamp is not None else None
        if when is None and (timed := node.css_first("[datetime]")) is not None:
            when = parse_machine(timed.attributes.get("datetime"))
        link = None
        for a in node.css("a[href]"):
            href = a.attributes.get("href") or ""
            if any(mark in href for mark in ("/posts/", "story_fbid", "/permalink", "/photos/", "/videos/")):
                link = common.absolute(base, href)
                break
        message = node.css_first("[data-ad-preview='message'], .userContent")
        out.append((link, when, common.node_text(message) if message is not None else ""))
    return out


def _dates(tree, raw: str) -> list[tuple[str | None, datetime | None]]:
    found: list[datetime | None] = []
    for node in tree.css("[data-utime]")[:200]:
        found.append(from_timestamp(node.attributes.get("data-utime") or ""))
    for node in tree.css("[datetime]")[:200]:
        found.append(parse_machine(node.attributes.get("datetime")))
    found.extend(from_timestamp(ts) for ts in _JSON_TIMES.findall(raw[:1_000_000])[:200])
    found.extend(parse_machine(iso) for iso in _JSON_ISO.findall(raw[:1_000_000])[:200])
    return [(None, when) for when in found if when is not None]


def page_name(url: str) -> str | None:
    """The Page a URL names, as the Graph API's Page list can be matched with: its lower-case name,
    or "id:<n>" for profile.php?id=<n>; None for a URL that names no Page (works on demo hosts too)."""
    parts = urlsplit(url if "//" in url else "//" + url)
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        return None
    first = segments[0].lower()
    if first == "profile.php":
        ident = next((v for k, v in parse_qsl(parts.query) if k == "id"), "")
        return f"id:{ident}" if ident.isdigit() else None
    if first in _RESERVED:
        return None
    return first


# First path segments that are Facebook's own pages (or kinds of page), not page names.
_RESERVED = frozenset({"pages", "pg", "groups", "people", "events", "watch", "marketplace", "gaming", "login",
                       "login.php", "checkpoint", "profile.php", "permalink.php", "story.php", "photo.php", "share",
                       "sharer", "sharer.php", "hashtag", "help", "policies", "privacy", "business", "ads"})
# The tabs of a page: views of the same account.
_TABS = frozenset({"about", "photos", "videos", "posts", "events", "reviews", "community", "mentions", "followers",
                   "friends", "services", "reels", "live_videos", "timeline"})
_ID_QUERY = {"profile.php": ("id",), "permalink.php": ("story_fbid", "id"), "story.php": ("story_fbid", "id")}
_LOCALE = re.compile(r"^[a-z]{2}-[a-z]{2}$")


def _main_host(host: str) -> bool:
    if host in ("fb.com", "www.fb.com", "fb.me"):
        return True
    sub, _, rest = host.partition(".")
    return host == "facebook.com" or (rest == "facebook.com" and (
        sub in ("www", "m", "mbasic", "mobile", "touch", "web") or bool(_LOCALE.match(sub))))


def canonical(url: Url) -> Url:
    """A page is `https://www.facebook.com/<name>/`: names ignore case; tabs, locales and fb.me are views of it.

    `profile.php?id=N` keeps its id; a post keeps its path after the lower-cased page name.
    """
    if not _main_host(url.host):
        return url
    segments = url.segments()
    query: tuple[tuple[str, str], ...] = ()
    if not segments:
        path = "/"
    elif segments[0].lower() in _ID_QUERY:
        keep = _ID_QUERY[segments[0].lower()]
        path = "/" + segments[0].lower()
        query = tuple((k, v) for k, v in url.query if k in keep)
    elif segments[0].lower() in _RESERVED:
        path = "/" + "".join(s + "/" for s in segments)
    elif len(segments) == 2 and segments[1].lower() in _TABS or len(segments) == 1:
        path = f"/{segments[0].lower()}/"
    else:
        path = "/" + "".join(s + "/" for s in [segments[0].lower(), *segments[1:]])
    return Url("https", "www.facebook.com", None, path, query)


def profile(url: Url) -> Url | None:
    """The page `/<name>/` (or `profile.php?id=N`) a canonical URL shows; None for a post, a
    group, an event or Facebook's own pages (sharer, login, hashtag)."""
    segments = url.segments()
    if not segments:
        return None
    first = segments[0].lower()
    if first == "profile.php":
        ids = [(k, v) for k, v in url.query if k == "id" and v.isdigit()]
        return Url(url.scheme, url.host, url.port, "/profile.php", tuple(ids[:1])) if ids else None
    if first in _RESERVED or first in _ID_QUERY or "." in first:
        return None
    if len(segments) > 2 or len(segments) == 2 and segments[1].lower() not in _TABS:
        return None
    return Url(url.scheme, url.host, url.port, f"/{segments[0]}/", ())


PLATFORM = register(Platform(
    name="facebook", label="Facebook", parse=parse, candidates=candidates, kind="social",
    hosts=("facebook.com", "fb.com", "fb.me"), aliases=("fb",),
    opaque=True, exclusive=True, host_delay=10.0, canonical=canonical, profile=profile,
    api="page_posts",
))
