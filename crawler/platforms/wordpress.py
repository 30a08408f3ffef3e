"""WordPress, self-hosted and wordpress.com: the feed (/feed/, ?feed=rss2), the REST API
(/wp-json/wp/v2/posts, read by `feed.parse_rest`), the home page, and wordpress.com's "doesn't
exist" pages. X-WP-Total (the REST API's post count) is kept as the post count.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from urllib.parse import urljoin

from crawler.models import Fetched, Observation
from crawler.platforms import blog, common, read
from crawler.platforms.feed import parse_rest  # noqa: F401 - where it lived before the registry
from crawler.platforms.registry import Platform, Url, register
from crawler.settings import Settings

# wordpress.com answers a deleted or never-registered site with these (often with status 200).
_GONE = re.compile(
    r"doesn't exist|does not exist|is no longer available|no longer available|has been deleted|"
    r"has been archived or suspended|archived or suspended|finns inte|är inte längre tillgänglig|har raderats"
)


def candidates(url: str, feed_url: str | None) -> list[str]:
    """Feed first (declared or /feed/), then the page, then the REST API, then ?feed=rss2.

    The REST API comes before ?feed=rss2 (issue 13 defect 5): with feeds turned off both feed
    URLs answer the same error, and a static front page carries no post dates, so within a visit's
    three requests the REST API (on by default since WordPress 4.7) must be reached. Once it has
    answered it is the account's source and later visits ask it first, in one request.
    """
    base = url if url.endswith("/") else url + "/"
    order = [feed_url or urljoin(base, "feed/"), url, urljoin(base, "wp-json/wp/v2/posts?per_page=1"), base + "?feed=rss2"]
    return list(dict.fromkeys(order))


@common.guarded
def parse(fetched: Fetched, now: datetime, settings: Settings, platform: str = "wordpress") -> Observation:
    """An Observation from any WordPress response: feed, REST JSON, page or removal page."""
    obs = read.read(fetched, now, settings, platform, _page)
    total = _wp_total(fetched)
    if total is not None and obs.exists and obs.feed_url is not None:
        obs = replace(obs, post_count=total)
    return obs


def _page(fetched: Fetched, now: datetime, settings: Settings, platform: str) -> Observation:
    body = fetched.body or b""
    if common.sniff(body) != "html":
        if fetched.status in common.GONE_STATUSES:
            return common.gone_by_status(fetched, platform)
        return Observation(platform, None, "unrecognised response body", source_url=fetched.url)
    tree = common.parse_html(body, dict(fetched.headers))
    m = _GONE.search(common.title_text(tree))
    if m:
        return Observation(platform, False, f"wordpress: site {m.group(0)}", source_url=fetched.url)
    if fetched.status in common.GONE_STATUSES:
        return common.gone_by_status(fetched, platform)
    if blog.login_redirect(fetched):
        return Observation(platform, None, "login wall", login_wall=True, source_url=fetched.url)
    return blog.parse_page(tree, fetched.final_url or fetched.url, now, settings, platform, source_url=fetched.url,
                          raw=body)


def _wp_total(fetched: Fetched) -> int | None:
    raw = fetched.headers.get("x-wp-total")
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) <= 12 else None


def canonical(url: Url) -> Url:
    """wordpress.com sites are served over https."""
    return replace(url, scheme="https", port=None)


PLATFORM = register(Platform(
    name="wordpress", label="WordPress", parse=parse, candidates=candidates, kind="blog",
    hosts=("*.wordpress.com",), aliases=("wp",), canonical=canonical,
))
