"""Instagram profiles: exists or not (the "isn't available" page comes with status 200), login
walls, and what the profile meta still tells: the post count in og:description (which rises when
the account posts) and the bio. Dates only when the page carries them (taken_at timestamps).

Read with a mobile User-Agent (`mobile=True` below): Instagram shows a phone the profile's own
<title> and meta, and a desktop the same page titled "Instagram" for every profile, existing or
not. That bare title is a login wall, never "gone" (only the explicit "isn't available" message is
a gone candidate, confirmed on a later visit by classify's hysteresis). The post count is read only when og:description
shows one. Exact dates come from the Graph API route instead (crawler/meta, crawler/routes.py).
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import datetime
from urllib.parse import urlsplit

from crawler.dates import from_timestamp, parse_machine
from crawler.models import Fetched, Observation, PublicText
from crawler.platforms import common, social
from crawler.platforms.registry import Platform, Url, register
from crawler.settings import Settings

_GONE = re.compile(
    r"sorry, this page isn't available|this page isn't available|den här sidan är inte tillgänglig|"
    r"sidan är inte tillgänglig|page not found • instagram|user not found|profile isn't available"
)
_LOGIN_PATHS = ("/accounts/login", "/challenge", "/accounts/suspended")
# "1,234 Posts", "789 inlägg", "1.2K Posts", "1,2 tn inlägg", "12,5 mn inlägg"
# Bounded and anchored at the start of a number, so a page of digits is scanned once (and int()
# never meets a number longer than Python converts).
_POSTS = re.compile(
    r"(?<![\d,.])(?P<num>\d{1,3}(?:[,.\u00a0\u202f ]\d{3}){1,4}|\d{1,12})(?:[.,](?P<dec>\d{1,2}))?\s{0,8}"
    r"(?P<suf>k|m|b|tn|mn|md|mio|mil|tusen|miljoner)?\.?\s{1,8}(?:posts?|inlägg|publications|beiträge|innlegg|opslag)\b",
    re.IGNORECASE,
)
_TAKEN_AT = re.compile(r'"(?:taken_at_timestamp|taken_at)"\s{0,64}:\s{0,64}(\d{10})')
_BIO = re.compile(r'"biography"\s{0,64}:\s{0,64}("(?:[^"\\]|\\.){0,2000}")')


candidates = social.candidates


def handle_of(url: str) -> str | None:
    """The profile handle: the first path segment of the URL (works on loopback demo hosts too)."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return parts[0].lower() if parts else None


@common.guarded
def parse(fetched: Fetched, now: datetime, settings: Settings, platform: str = "instagram") -> Observation:
    """An Observation from an Instagram profile response (or from a declared feed)."""
    decided = social.preamble(fetched, now, settings, platform, _LOGIN_PATHS)
    if decided is not None:
        return decided
    source = fetched.url
    body = fetched.body or b""
    tree = common.parse_html(body, dict(fetched.headers))
    og_title = common.meta(tree, "og:title") or ""
    description = common.meta(tree, "og:description", "description") or ""
    if _is_profile(og_title, description, handle_of(fetched.final_url or source)):
        return _profile(tree, body, og_title, description, source, now, settings, platform)
    page = common.visible_text(tree)
    if _GONE.search(page):
        return Observation(platform, False, "instagram: page not available", source_url=source)
    if common.node_text(tree.css_first("title"), 300).strip().lower() == "instagram":
        # Instagram's page without the profile (a desktop User-Agent, a session wall) is titled
        # "Instagram" alone, for existing and missing profiles alike: without the explicit "isn't
        # available" message above it says nothing about the account, and never means "gone".
        return Observation(platform, None, "login wall (a bare 'Instagram' title: no profile shown)",
                           login_wall=True, source_url=source)
    if fetched.status in common.GONE_STATUSES:
        return common.gone_by_status(fetched, platform)
    if common.has_password_form(tree) or "log in" in page or "logga in" in page:
        return Observation(platform, None, "login wall", login_wall=True, source_url=source)
    return Observation(platform, None, "instagram: no profile data in the page", source_url=source)


def _is_profile(og_title: str, description: str, handle: str | None) -> bool:
    text = (og_title + " " + description).lower()
    if handle and f"@{handle}" in text:
        return True
    # A profile's meta always names the handle as "(@handle)"; a URL without a handle (e.g. a
    # redirect) still shows it there.
    return "(@" in text and ("instagram" in text or _POSTS.search(description) is not None)


def _profile(tree, body: bytes, og_title: str, description: str, source: str, now: datetime,
             settings: Settings, platform: str) -> Observation:
    notes: list[str] = []
    count = None
    m = _POSTS.search(description)
    if m:
        count, note = post_count(m)
        if note:
            notes.append(note)
    else:
        notes.append("no post count in the profile meta")
    texts = [PublicText("description", common.plain(description))] if description else []
    raw = common.decode(body)
    bio = _BIO.search(raw)
    if bio:
        with contextlib.suppress(ValueError):
            texts.insert(0, PublicText("bio", common.plain(json.loads(bio.group(1)))))
    dated = [(None, from_timestamp(ts)) for ts in _TAKEN_AT.findall(raw)[:50]]
    dated += [(None, parse_machine(n.attributes.get("datetime"))) for n in tree.css("time[datetime]")[:50]]
    dated = [(u, d) for u, d in dated if d is not None]
    return common.assemble(platform, "instagram: profile", dated, now, settings, texts=texts, notes=notes,
                           post_count=count, source_url=source)


_SUFFIX = {"k": 1_000, "tn": 1_000, "tusen": 1_000, "m": 1_000_000, "mn": 1_000_000, "mio": 1_000_000,
           "mil": 1_000_000, "miljoner": 1_000_000, "b": 1_000_000_000, "md": 1_000_000_000}


def post_count(m: re.Match) -> tuple[int | None, str | None]:
    """The exact post count, or (None, note) when Instagram shows it abbreviated ("1.2K")."""
    suffix = (m.group("suf") or "").lower()
    if suffix or m.group("dec"):
        shown = re.sub(r"\s+\S+$", "", m.group(0)).strip()
        return None, f"post count abbreviated ({shown}): exact count unknown"
    return int(re.sub(r"\D", "", m.group("num"))), None


# First path segments that are Instagram's own pages, not handles.
_RESERVED = frozenset({"p", "reel", "reels", "tv", "explore", "stories", "accounts", "direct", "about", "legal",
                       "developer", "web", "challenge", "emails", "privacy", "session", "oauth", "api"})
_MAIN_HOSTS = frozenset({"instagram.com", "www.instagram.com", "m.instagram.com", "instagr.am", "www.instagr.am"})


def canonical(url: Url) -> Url:
    """A profile is `https://www.instagram.com/<handle>/`: handles ignore case; tabs and ?hl= are views of it."""
    if url.host not in _MAIN_HOSTS:
        return url
    segments = url.segments()
    if segments and segments[0].lower() not in _RESERVED:
        path = f"/{segments[0].lower()}/"
    else:  # a post (/p/<code>/: codes are case-sensitive) or one of Instagram's own pages
        path = "/" + "".join(s + "/" for s in segments)
    return Url("https", "www.instagram.com", None, path, ())


# Tabs of a profile: views of the same account (a post is /p/<code>/ or /reel/<code>/).
_TABS = frozenset({"reels", "tagged", "guides", "channel", "feed", "saved"})


def profile(url: Url) -> Url | None:
    """The profile `/<handle>/` a canonical URL shows; None for a post or Instagram's own pages."""
    segments = url.segments()
    if not segments or segments[0].lower() in _RESERVED or len(segments) > 2:
        return None
    if len(segments) == 2 and segments[1].lower() not in _TABS:
        return None
    return Url(url.scheme, url.host, url.port, f"/{segments[0]}/", ())


PLATFORM = register(Platform(
    name="instagram", label="Instagram", parse=parse, candidates=candidates, kind="social",
    hosts=("instagram.com", "instagr.am"), aliases=("ig", "insta"),
    opaque=True, exclusive=True, host_delay=10.0, canonical=canonical, profile=profile,
    api="business_discovery", mobile=True,
))
