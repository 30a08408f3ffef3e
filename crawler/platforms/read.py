"""The one sniff-and-dispatch: is this response a feed or a page?

    read(fetched, now, settings, platform, page) -> Observation
        the status rules, then a feed body (RSS, Atom, RDF, JSON Feed, a WordPress REST list,
        whatever its Content-Type says) to the feed reader, anything else to `page`
    read_if_feed(fetched, now, settings, platform) -> Observation | None

Every adapter reads its responses through here, so a feed served as text/html or a page served
at a feed URL is read for what it is, in one place. Sits above `feed` and below the adapters:
the page reader is passed in, so neither reader imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crawler.models import Fetched, Observation
from crawler.platforms import common, feed
from crawler.settings import Settings

PageReader = Callable[[Fetched, datetime, Settings, str], Observation]


def read(fetched: Fetched, now: datetime, settings: Settings, platform: str, page: PageReader) -> Observation:
    """The Observation of any response: status rules, a feed body, else `page(fetched, ...)`."""
    decided = common.status_observation(fetched, platform)
    if decided is not None:
        return decided
    as_feed = read_if_feed(fetched, now, settings, platform)
    if as_feed is not None:
        return as_feed
    return page(fetched, now, settings, platform)


def read_if_feed(fetched: Fetched, now: datetime, settings: Settings, platform: str) -> Observation | None:
    """The observation of a feed body (with a 404/410 status it is still gone); None for any other body."""
    body = fetched.body or b""
    kind = common.sniff(body)
    if not is_feed_body(kind):
        return None
    if fetched.status in common.GONE_STATUSES:
        return common.gone_by_status(fetched, platform)
    return feed.parse_feed(body, fetched.url, now, settings, platform, kind=kind)


def is_feed_body(kind: str) -> bool:
    """Whether a sniffed kind is read by the feed reader (feeds, and JSON such as a REST post list)."""
    return common.is_feed(kind) or kind == "json"
