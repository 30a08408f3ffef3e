"""Platforms: the registry of platform modules, and the driver that visits one account.

    names() / get(name) / all_platforms()      the platforms sources.yaml may name (registry.py)
    detect(url) -> platform name               by the URL's host; "blog" when the host does not tell
    canonical_url(url) -> str                  one spelling per account
    profile_url(url) -> str | None             the account a link shows (None for a post)
    adapter(platform) -> Platform              its parse() and candidates(); unknown names read as blogs
    observe(...) -> (Observation, [Fetched])   the visit of one account: at most `max_fetches`
    inspect_file(path, url) -> Observation     one saved page read as the crawler would read it

Each platform is one module that declares itself with `register(Platform(...))`; its parse is a
pure function of a Fetched and a `now`. Only `observe` calls the fetch callable it is given, and
only `inspect_file` reads a file (for `crawler inspect`). Shared pieces: `common` (status rules,
decoding, HTML helpers, assembly), `read` (is the body a feed or a page), `feed` (the feed
reader), `blog` (the page reader), `social` (what Instagram and Facebook share).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler.clock import utcnow
from crawler.models import Fetched, Observation
from crawler.platforms import registry
from crawler.platforms.registry import (
    Platform,
    all_platforms,
    by_alias,
    canonical_url,
    get,
    names,
    profile_url,
    register,
)
from crawler.settings import Settings

# The built-in platforms, one module each, in the order the registry lists them.
# Adding a platform: write crawler/platforms/NAME.py ending in `PLATFORM = register(Platform(...))`
# and add its name here.
BUILTIN = (
    "wordpress",
    "blogger",
    "blog",
    "instagram",
    "facebook",
    "other",
)
for _module in BUILTIN:
    importlib.import_module(f"crawler.platforms.{_module}")
registry.arrange(BUILTIN)

__all__ = ["ADAPTERS", "BUILTIN", "Platform", "adapter", "all_platforms", "by_alias", "canonical_url", "detect",
           "get", "host_delay", "inspect_file", "is_opaque", "names", "observation_to_dict", "observe", "profile_url",
           "register"]

_CONTENT_TYPES = {".xml": "application/xml", ".rss": "application/rss+xml", ".atom": "application/atom+xml",
                  ".json": "application/json", ".html": "text/html; charset=utf-8", ".htm": "text/html"}


def detect(url: str, default: str | None = "blog") -> str | None:
    """The platform of a URL by its host name; `default` ("blog") when the host does not tell."""
    found = registry.detect(url)
    return found.name if found is not None else default


def adapter(platform: str) -> Platform:
    """The reader of a platform (parse and candidates); unknown platforms read as blogs."""
    return registry.get(platform) or registry.get("blog")  # type: ignore[return-value]


def is_opaque(platform: str | None) -> bool:
    """Whether the platform hides posts behind a login wall (no date seen is no evidence)."""
    found = registry.get(platform) if platform else None
    return found is not None and found.opaque


def host_delay(host: str) -> float | None:
    """The politeness default (seconds between requests) of the platform owning `host`, or None."""
    return registry.host_delay(host)


class _Adapters(Mapping[str, Platform]):
    """Every registered reader by name (the platforms and the "feed" reader), as it is now."""

    def __getitem__(self, name: str) -> Platform:
        found = registry.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([*names(), *(p.name for p in registry.readers())])

    def __len__(self) -> int:
        return len(list(iter(self)))


ADAPTERS: Mapping[str, Platform] = _Adapters()


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


async def observe(
    platform: str,
    url: str,
    feed: str | None,
    fetch: Callable[[str], Awaitable[Fetched]],
    now: datetime,
    settings: Settings,
    *,
    known_feed: str | None = None,
    max_fetches: int = 3,
    parse: Callable[[Fetched], Awaitable[Observation]] | None = None,
) -> tuple[Observation, list[Fetched]]:
    """Visit one account: fetch the fewest URLs that tell whether it exists and when it last posted.

    The known feed (or last source) goes first, so a steady-state visit is one request. A 304 on
    that first request ends the visit ("not modified"). A feed that fails never makes the account
    gone: the page itself is checked next. A discovered feed (Observation.follow) is fetched next.
    `parse` reads one response instead of the platform's parse in this process (the crawl passes
    its worker pool's, which bounds each read in time).
    """
    module = adapter(platform)
    pending: list[str] = list(dict.fromkeys([u for u in [known_feed] if u] + module.candidates(url, feed)))
    tried: set[str] = set()
    fetches: list[Fetched] = []
    page_obs: Observation | None = None  # what the account's own page said
    best: Observation | None = None  # the most useful exists=True reading so far
    failure: Observation | None = None  # the first failed feed/API reading, for the reason
    while pending and len(fetches) < max_fetches:
        target = pending.pop(0)
        if target in tried:
            continue
        tried.add(target)
        fetched = await fetch(target)
        fetches.append(fetched)
        if len(fetches) == 1 and fetched.not_modified:
            return Observation(platform, True, "not modified", source_url=target), fetches
        read = await parse(fetched) if parse is not None else module.parse(fetched, now, settings, platform)
        obs = replace(read, source_url=target, platform=platform)
        if _same(target, url):
            page_obs = obs
            if obs.exists is not True:
                break  # the account's own page decides gone / unknown; no feed can overrule it
        if obs.exists is True:
            if best is None or _rank(obs) > _rank(best):
                best = obs
            if obs.follow and obs.follow not in tried:
                pending.insert(0, obs.follow)
                continue
            if obs.feed_url or best.last_post_at is not None:
                break  # a feed that parsed is the answer, even an empty one
            continue  # a page without dates: the remaining feed candidates may date it
        # A feed or API URL failed (gone, error, login): that says nothing about the account
        # until its page has been looked at.
        failure = failure or obs
        if best is not None and best.last_post_at is not None:
            break  # a dated reading is in hand: a broken feed link costs no further requests
        if page_obs is None:
            pending = [url] + [u for u in pending if not _same(u, url)]
    return _conclude(platform, url, best, page_obs, failure), fetches


def _rank(obs: Observation) -> tuple[bool, bool]:
    """Dated beats undated; a feed beats a page."""
    return (obs.last_post_at is not None, obs.feed_url is not None)


def _conclude(platform: str, url: str, best: Observation | None, page_obs: Observation | None,
              failure: Observation | None) -> Observation:
    if page_obs is not None and page_obs.exists is not True:
        return page_obs
    if best is not None:
        notes = best.notes
        if best is not page_obs and page_obs is not None and page_obs.texts:
            # the page's own description (and post texts) still feed the notice detector
            own = tuple(t for t in page_obs.texts if t.kind == "description" and t not in best.texts)
            best = replace(best, texts=best.texts + own)
        if best.site_title is None and page_obs is not None and page_obs.site_title:
            best = replace(best, site_title=page_obs.site_title)  # a REST API list names no site
        if failure is not None and best.last_post_at is None:
            notes = notes + (f"also tried: {failure.reason}",)
        return replace(best, notes=notes, follow=None)
    if failure is not None:
        # Never a gone verdict from a feed alone: the page could not be checked in this visit.
        reason = f"{failure.reason} (page not checked)" if failure.exists is False else failure.reason
        return replace(failure, exists=None if failure.exists is False else failure.exists, reason=reason)
    return Observation(platform, None, "nothing fetched", source_url=url)


def inspect_file(path: str | Path, url: str, status: int = 200, platform: str | None = None,
                 now: datetime | None = None, settings: Settings | None = None,
                 content_type: str | None = None,
                 read: Callable[[str, Fetched], Observation] | None = None) -> Observation:
    """Read a saved response body as the crawler would (for `crawler inspect FILE`); `read(platform,
    fetched)` instead of the platform's parse in this process (the CLI passes the parse pool's)."""
    path = Path(path)
    body = path.read_bytes()
    if now is None:
        now = utcnow()
    settings = settings or Settings()
    platform = platform or detect(url)
    ctype = content_type or _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    fetched = Fetched(url=url, final_url=url, status=status, headers={"content-type": ctype}, body=body)
    obs = read(platform, fetched) if read is not None else adapter(platform).parse(fetched, now, settings, platform)
    return replace(obs, platform=platform, source_url=obs.source_url or url)


def observation_to_dict(obs: Observation) -> dict[str, Any]:
    """A JSON-ready view of an Observation (no texts: they are never stored or printed)."""
    return {
        "platform": obs.platform,
        "exists": obs.exists,
        "reason": obs.reason,
        "last_post_at": obs.last_post_at.isoformat() if obs.last_post_at else None,
        "post_count": obs.post_count,
        "feed_url": obs.feed_url,
        "source_url": obs.source_url,
        "follow": obs.follow,
        "posts": [{"url": p.url, "published_at": p.published_at.isoformat() if p.published_at else None}
                  for p in obs.posts],
        "notes": list(obs.notes),
        "login_wall": obs.login_wall,
    }
