"""Blogger (*.blogspot.*): the Atom feed /feeds/posts/default (openSearch:totalResults is the
number of posts), the blog page, and Blogger's "blog not found / has been removed" pages.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from urllib.parse import urljoin

from crawler.models import Fetched, Observation
from crawler.platforms import blog, common, read
from crawler.platforms.registry import Platform, Url, register
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
    return read.read(fetched, now, settings, platform, _page)


def _page(fetched: Fetched, now: datetime, settings: Settings, platform: str) -> Observation:
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
    return blog.parse_page(tree, fetched.final_url or fetched.url, now, settings, platform, source_url=fetched.url,
                          raw=fetched.body)


def canonical(url: Url) -> Url:
    """One address per blog: https, the .com host for a country one (name.blogspot.se), no ?m=1."""
    labels = url.host.split(".")
    if "blogspot" in labels:
        labels = labels[: labels.index("blogspot")] + ["blogspot", "com"]
    query = tuple((k, v) for k, v in url.query if k != "m")  # ?m=1: the mobile view of the same page
    return replace(url, scheme="https", host=".".join(labels), port=None, query=query)


def profile(url: Url) -> Url | None:
    """A blog is the root of its blogspot host; posts, and blogger.com's own pages, are not blogs."""
    if "blogspot" not in url.host.split(".")[:-1] or url.segments():
        return None
    return Url(url.scheme, url.host, url.port, "/", ())


PLATFORM = register(Platform(
    name="blogger", label="Blogger", parse=parse, candidates=candidates, kind="blog",
    hosts=("blogspot.*", "blogger.com"), aliases=("blogspot",), canonical=canonical, profile=profile,
))
