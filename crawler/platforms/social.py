"""What the social platforms (Instagram, Facebook) share before their own markup is read.

Both serve login walls by redirect, and both may be given a declared feed (a bridge or an official
API export) in place of the profile page; only the reading of the page itself differs.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from crawler.models import Fetched, Observation
from crawler.platforms import common, read
from crawler.settings import Settings


def candidates(url: str, feed_url: str | None) -> list[str]:
    """The declared feed (a bridge or an export) if any, then the profile page."""
    return list(dict.fromkeys([u for u in (feed_url, url) if u]))


def preamble(fetched: Fetched, now: datetime, settings: Settings, platform: str,
             login_paths: tuple[str, ...]) -> Observation | None:
    """The observation when the status, a login redirect or a feed body decides; None to read the page."""
    decided = common.status_observation(fetched, platform)
    if decided is not None:
        return decided
    if urlsplit(fetched.final_url or "").path.lower().startswith(login_paths):
        return Observation(platform, None, "login wall", login_wall=True, source_url=fetched.url)
    return read.read_if_feed(fetched, now, settings, platform)
