"""The platform registry: every platform the crawler knows is declared once, here, by its module.

    Platform(name, label, parse, candidates, kind=..., hosts=..., aliases=..., opaque=...,
             exclusive=..., host_delay=..., canonical=..., api=..., mobile=...)
                                                  one declaration per platform module
    register(platform) / unregister(name)         at import of the module (tests: `registered()`)
    get(name) / names() / all_platforms()         what sources, the CLI, classify and reports ask
    by_alias(word) / readers()                    "ig" -> instagram; readers that are not platforms
    detect(url) -> Platform | None                the platform that owns the URL's host
    detect_host(host) -> Platform | None          the same for a host name
    canonical_url(url) -> str                     one spelling per account (aliases, www., ?hl=)
    profile_url(url) -> str | None                the account (profile) a link shows; None for a post
    host_delay(host) -> float | None              a platform's politeness default for the host

Like urlwatch's job kinds: the rest of the crawler never names a platform, it asks the registry.
Adding a platform is one module that ends with `PLATFORM = register(Platform(...))` and one line
in `crawler/platforms/__init__.py` (the list of built-in modules).

Host patterns: "instagram.com" is that host and every subdomain; "*.wordpress.com" only the
subdomains; "blogspot.*" a `blogspot` label followed by a country suffix ("blogspot.se",
"x.blogspot.co.uk"), never by an arbitrary domain ("blogspot.evil.example").
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from crawler.models import Fetched, Observation
    from crawler.settings import Settings

    Parse = Callable[[Fetched, datetime, Settings, str], Observation]
else:
    Parse = Callable
Candidates = Callable[[str, "str | None"], list[str]]
Canonical = Callable[["Url"], "Url"]
Profile = Callable[["Url"], "Url | None"]

KINDS = ("blog", "social", "other")

# Query parameters that never tell two accounts apart (campaign and click tracking).
_TRACKING = re.compile(r"^(?:utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|igsh|_ga|ref_src)$", re.IGNORECASE)
_SUFFIX_LABEL = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class Url:
    """A URL split for canonicalisation: lower-case scheme and host, no credentials or default port."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: tuple[tuple[str, str], ...]

    def text(self) -> str:
        netloc = self.host if self.port is None else f"{self.host}:{self.port}"
        if ":" in self.host and not self.host.startswith("["):
            netloc = f"[{self.host}]" if self.port is None else f"[{self.host}]:{self.port}"
        return urlunsplit((self.scheme, netloc, self.path or "/", urlencode(self.query), ""))

    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


@dataclass(frozen=True)
class Platform:
    """One platform: how the registry names it, which URLs are its, how they are read and spaced."""

    name: str  # the `platform:` value in sources.yaml
    label: str  # how people write it ("WordPress", "Instagram"), for messages
    parse: Parse  # (Fetched, now, settings, platform) -> Observation, pure
    candidates: Candidates  # (url, declared feed) -> the URLs to try, in order
    kind: str = "other"  # "blog" | "social" | "other": how reports group it ("blogs that went dormant")
    hosts: tuple[str, ...] = ()  # host patterns whose URLs certainly belong to it (see the module doc)
    aliases: tuple[str, ...] = ()  # other words people write for it (spreadsheet columns, "ig", "fb")
    opaque: bool = False  # a login wall hides posts: "no date seen" is no evidence of "no posts"
    exclusive: bool = False  # a URL on its hosts must be registered under it (nothing else can read it)
    host_delay: float | None = None  # politeness default (seconds between requests) on its hosts
    canonical: Canonical | None = None  # its own URL rules on top of the generic ones
    # The account a canonical URL of this platform shows (its profile), or None for a post or one
    # of the platform's own pages. Default: the site root is the account (a blog on its own host).
    profile: Profile | None = None
    registrable: bool = True  # False for readers that are not platforms (the "feed" reader of inspect)
    api: str | None = None  # the official API reader that can read its accounts (crawler/meta: "business_discovery")
    mobile: bool = False  # its public pages tell more to a mobile User-Agent (Instagram: a profile-specific title)

    def owns(self, host: str) -> bool:
        """Whether `host` (lower case, no port) is one of this platform's hosts."""
        return any(_host_matches(host, pattern) for pattern in self.hosts)


_REGISTRY: dict[str, Platform] = {}


def register(platform: Platform) -> Platform:
    """Add a platform (at import of its module); a second platform of the same name is an error."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", platform.name):
        raise ValueError(f"platform name {platform.name!r}: use lower-case letters, digits, '_' or '-'")
    if platform.kind not in KINDS:
        raise ValueError(f"platform {platform.name!r}: kind must be one of {', '.join(KINDS)}")
    if platform.name in _REGISTRY and _REGISTRY[platform.name] is not platform:
        raise ValueError(f"platform {platform.name!r} is already registered")
    for pattern in platform.hosts:
        _check_pattern(pattern)
    _REGISTRY[platform.name] = platform
    return platform


def unregister(name: str) -> None:
    """Remove a platform (for tests that register their own)."""
    _REGISTRY.pop(name, None)


@contextlib.contextmanager
def registered(platform: Platform) -> Iterator[Platform]:
    """`with registered(Platform(...)):` the platform exists inside the block only."""
    register(platform)
    try:
        yield platform
    finally:
        unregister(platform.name)


def arrange(order: Iterable[str]) -> None:
    """List these platforms first, in this order (modules that import each other register out of order)."""
    first = [name for name in order if name in _REGISTRY]
    arranged = {name: _REGISTRY[name] for name in first} | {n: p for n, p in _REGISTRY.items() if n not in first}
    _REGISTRY.clear()
    _REGISTRY.update(arranged)


def get(name: str) -> Platform | None:
    """The platform (or reader) of that name, or None."""
    return _REGISTRY.get(name)


def all_platforms() -> tuple[Platform, ...]:
    """The platforms a registry entry may name, in declaration order (readers left out)."""
    return tuple(p for p in _REGISTRY.values() if p.registrable)


def readers() -> tuple[Platform, ...]:
    """The readers that are not platforms (the "feed" reader of `crawler inspect`)."""
    return tuple(p for p in _REGISTRY.values() if not p.registrable)


def names() -> tuple[str, ...]:
    """The `platform:` values sources.yaml accepts, in declaration order."""
    return tuple(p.name for p in all_platforms())


def by_alias(word: str) -> Platform | None:
    """The platform a person means by `word` ("WordPress", "ig", "blogspot"), case-insensitive."""
    word = word.strip().lower()
    for platform in all_platforms():
        if word == platform.name or word == platform.label.lower() or word in platform.aliases:
            return platform
    return None


# --------------------------------------------------------------------------- URLs


def host_of(url: str) -> str:
    """The URL's host name, lower case, without port or trailing dot ("" when it has none)."""
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


def detect(url: str) -> Platform | None:
    """The platform whose hosts the URL is on, or None when its host does not tell.

    When two platforms claim a host, the longer (more specific) pattern wins.
    """
    return detect_host(host_of(url))


def detect_host(host: str) -> Platform | None:
    """detect() for a host name already lower case without port (no URL parsing: the registry
    loader asks this once per account)."""
    if not host:
        return None
    best: tuple[int, Platform] | None = None
    for platform in _REGISTRY.values():
        for pattern in platform.hosts:
            if _host_matches(host, pattern) and (best is None or len(pattern) > best[0]):
                best = (len(pattern), platform)
    return best[1] if best else None


def host_delay(host: str) -> float | None:
    """The politeness default of the platform that owns `host`, or None."""
    platform = detect("//" + host)
    return platform.host_delay if platform is not None else None


def wants_mobile(host: str) -> bool:
    """Whether the platform that owns `host` is read with the mobile User-Agent."""
    platform = detect_host(host.rstrip(".").lower())
    return platform is not None and platform.mobile


def split(url: str) -> Url | None:
    """A URL in canonical parts (https assumed without a scheme), or None when it has no host."""
    text = url.strip()
    if "//" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return None
    scheme = parts.scheme.lower() or "https"
    if (scheme, port) in (("http", 80), ("https", 443)):
        port = None
    query = tuple((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k))
    return Url(scheme, host, port, parts.path or "/", query)


def canonical_url(url: str) -> str:
    """The one spelling of an account's URL, so that two spellings of one account compare equal.

    Generic rules for every URL: lower-case scheme and host, no credentials, default port or
    fragment, no tracking parameters, "/" for an empty path. A platform's own rules come on top
    (Instagram: `https://www.instagram.com/<handle>/` for `instagr.am/<Handle>?hl=sv`). A URL
    without a host is returned stripped, unchanged otherwise.
    """
    parts = split(url)
    if parts is None:
        return url.strip()
    platform = detect(parts.text())
    if platform is not None and platform.canonical is not None:
        parts = platform.canonical(parts)
    return parts.text()


def profile_url(url: str) -> str | None:
    """The canonical profile URL of the account that `url` shows, or None: a post, one of the
    platform's own pages (explore, sharer), or a host no platform claims (discovery's rule for
    which links name an account)."""
    parts = split(url)
    if parts is None:
        return None
    platform = detect(parts.text())
    if platform is None:
        return None
    if platform.canonical is not None:
        parts = platform.canonical(parts)
    found = profile_of(platform, parts)
    return found.text() if found is not None else None


def profile_of(platform: Platform, url: Url) -> Url | None:
    """The profile that `url` (already canonical for `platform`) shows, by the platform's rule."""
    if platform.profile is not None:
        return platform.profile(url)
    return Url(url.scheme, url.host, url.port, "/", ()) if not url.segments() else None


# --------------------------------------------------------------------------- host patterns


def _check_pattern(pattern: str) -> None:
    core = pattern.removeprefix("*.").removesuffix(".*")
    if not core or pattern != pattern.lower() or "/" in pattern or ":" in pattern or "*" in core:
        raise ValueError(f"host pattern {pattern!r}: write 'example.com', '*.example.com' or 'label.*'")


def _host_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    if pattern.endswith(".*"):
        # "blogspot.*": the label, then a country suffix of one or two short labels.
        label = pattern[:-2]
        labels = host.split(".")
        for i, part in enumerate(labels):
            if part == label:
                tail = labels[i + 1:]
                return 1 <= len(tail) <= 2 and all(_SUFFIX_LABEL.match(t) for t in tail)
        return False
    return host == pattern or host.endswith("." + pattern)
