"""Platform adapters and the driver that decides which URLs to fetch for one account.

    detect(url) -> platform name          adapter(platform) -> module with parse() and candidates()
    observe(...) -> (Observation, [Fetched])   the visit of one account: at most `max_fetches`
    inspect_file(path, url) -> Observation     one saved page read as the crawler would read it

Each adapter module (feed, wordpress, blogger, blog, instagram, facebook) is a pure function of a
Fetched and a `now`; only `observe` calls the fetch callable it is given, and only
`inspect_file` reads a file (for `crawler inspect`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from crawler.clock import utcnow
from crawler.models import Fetched, Observation
from crawler.platforms import blog, blogger, facebook, feed, instagram, wordpress
from crawler.settings import Settings

ADAPTERS: dict[str, ModuleType] = {
    "wordpress": wordpress,
    "blogger": blogger,
    "blog": blog,
    "instagram": instagram,
    "facebook": facebook,
    "feed": feed,
    "other": blog,
}

_CONTENT_TYPES = {".xml": "application/xml", ".rss": "application/rss+xml", ".atom": "application/atom+xml",
                  ".json": "application/json", ".html": "text/html; charset=utf-8", ".htm": "text/html"}


def detect(url: str) -> str:
    """The platform of a URL by its host name; "blog" for anything not recognised."""
    host = (urlsplit(url if "//" in url else "//" + url).hostname or "").lower()
    if host == "instagram.com" or host.endswith((".instagram.com", "instagr.am")):
        return "instagram"
    if host in ("facebook.com", "fb.com", "fb.me") or host.endswith((".facebook.com", ".fb.com")):
        return "facebook"
    if ".blogspot." in f".{host}" or host.endswith("blogger.com"):
        return "blogger"
    if host.endswith(".wordpress.com"):
        return "wordpress"
    return "blog"


def adapter(platform: str) -> ModuleType:
    """The adapter module of a platform (parse and candidates); unknown platforms read as blogs."""
    return ADAPTERS.get(platform, blog)


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
) -> tuple[Observation, list[Fetched]]:
    """Visit one account: fetch the fewest URLs that tell whether it exists and when it last posted.

    The known feed (or last source) goes first, so a steady-state visit is one request. A 304 on
    that first request ends the visit ("not modified"). A feed that fails never makes the account
    gone: the page itself is checked next. A discovered feed (Observation.follow) is fetched next.
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
        obs = replace(module.parse(fetched, now, settings, platform), source_url=target, platform=platform)
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
            best = replace(best, texts=best.texts + tuple(t for t in page_obs.texts if t.kind == "description"))
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
                 content_type: str | None = None) -> Observation:
    """Read a saved response body as the crawler would (for `crawler inspect FILE`)."""
    path = Path(path)
    body = path.read_bytes()
    if now is None:
        now = utcnow()
    settings = settings or Settings()
    platform = platform or detect(url)
    ctype = content_type or _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    fetched = Fetched(url=url, final_url=url, status=status, headers={"content-type": ctype}, body=body)
    obs = adapter(platform).parse(fetched, now, settings, platform)
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
