"""Blogger (*.blogspot.*): the Atom feed /feeds/posts/default (openSearch:totalResults is the
number of posts), the blog page, and Blogger's "blog not found / has been removed" pages.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urljoin

from crawler.models import Fetched, Observation
from crawler.platforms import blog, common, feed
from crawler.settings import Settings

_GONE = re.compile(
    r"blog not found|blog has been removed|blog has been deleted|has been removed|"
    r"bloggen hittades inte|bloggen har tagits bort|har tagits bort|bloggen har raderats"
)
_PRIVATE = re.compile(r"open to invited readers only|endast öppen för inbjudna läsare|inbjudna läsare")


def candidates(url: str, feed_url: str | None) -> list[str]:
    """The feed (declared or /feeds/posts/default), then the blog page."""
    base = url if url.endswith("/") else url + "/"
    return list(dict.fromkeys([feed_url or urljoin(base, "feeds/posts/default"), url]))


@common.guarded
def parse(fetched: Fetched, now: datetime, settings: Settings, platform: str = "blogger") -> Observation:
    """An Observation from a Blogger response (feed, page, removal or private-blog page)."""
    decided = common.status_observation(fetched, platform)
    if decided is not None:
        return decided
    read = feed.read_if_feed(fetched, now, settings, platform)
    if read is not None:
        return read
    tree = common.parse_html(fetched.body or b"", dict(fetched.headers))
    heading = common.title_text(tree)
    text = common.visible_text(tree, 2000)
    if _PRIVATE.search(text):
        return Observation(platform, None, "blogger: blog open to invited readers only", source_url=fetched.url)
    if fetched.status in common.GONE_STATUSES:
        if _GONE.search(text):
            return common.gone_by_status(fetched, platform, "blogger: blog not found or removed")
        return common.gone_by_status(fetched, platform)
    if _GONE.search(heading):  # a 200 removal page: only trust the title and headings
        return Observation(platform, False, "blogger: blog not found or removed", source_url=fetched.url)
    return blog.parse_page(tree, fetched.final_url or fetched.url, now, settings, platform, source_url=fetched.url)
