"""WordPress, self-hosted and wordpress.com: the feed (/feed/, ?feed=rss2), the REST API
(/wp-json/wp/v2/posts), the home page, and wordpress.com's "doesn't exist" pages.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urljoin

from crawler.dates import parse_machine
from crawler.models import Fetched, Observation, PublicText
from crawler.platforms import blog, common, feed
from crawler.settings import Settings

# wordpress.com answers a deleted or never-registered site with these (often with status 200).
_GONE = re.compile(
    r"doesn't exist|does not exist|is no longer available|no longer available|has been deleted|"
    r"has been archived or suspended|archived or suspended|finns inte|är inte längre tillgänglig|har raderats"
)


def candidates(url: str, feed_url: str | None) -> list[str]:
    """Feed first (declared or /feed/), then the page, then ?feed=rss2 and the REST API."""
    base = url if url.endswith("/") else url + "/"
    order = [feed_url or urljoin(base, "feed/"), url, base + "?feed=rss2", urljoin(base, "wp-json/wp/v2/posts?per_page=1")]
    return list(dict.fromkeys(order))


@common.guarded
def parse(fetched: Fetched, now: datetime, settings: Settings, platform: str = "wordpress") -> Observation:
    """An Observation from any WordPress response: feed, REST JSON, page or removal page."""
    decided = common.status_observation(fetched, platform)
    if decided is not None:
        return decided
    body = fetched.body or b""
    kind = common.sniff(body) if body else "other"
    if kind == "html":
        tree = common.parse_html(body, dict(fetched.headers))
        heading = common.title_text(tree)
        m = _GONE.search(heading)
        if m:
            return Observation(platform, False, f"wordpress: site {m.group(0)}", source_url=fetched.url)
        if fetched.status in common.GONE_STATUSES:
            return common.gone_by_status(fetched, platform)
        if blog.login_redirect(fetched):
            return Observation(platform, None, "login wall", login_wall=True, source_url=fetched.url)
        return blog.parse_page(tree, fetched.final_url or fetched.url, now, settings, platform, source_url=fetched.url)
    if fetched.status in common.GONE_STATUSES:
        return common.gone_by_status(fetched, platform)
    if common.is_feed(kind) or kind == "json":
        obs = feed.parse_feed(body, fetched.url, now, settings, platform, kind=kind)
        total = _wp_total(fetched)
        if total is not None and obs.exists:
            obs = replace(obs, post_count=total)
        return obs
    return Observation(platform, None, "unrecognised response body", source_url=fetched.url)


def _wp_total(fetched: Fetched) -> int | None:
    raw = fetched.headers.get("x-wp-total")
    return int(raw) if raw and raw.strip().isdigit() else None


def parse_rest(data: list, url: str, now: datetime, settings: Settings, platform: str) -> Observation:
    """The REST API's list of posts: date_gmt (UTC) or date (local time), and link."""
    dated = []
    texts = []
    for item in data[:100]:
        if not isinstance(item, dict):
            continue
        when = None
        gmt = item.get("date_gmt")
        if isinstance(gmt, str):
            when = parse_machine(gmt)
            if when is not None and not re.search(r"(Z|[+-]\d\d:?\d\d)$", gmt.strip()):
                # date_gmt carries no zone but is UTC; parse_machine read it as Stockholm time.
                naive = datetime.fromisoformat(gmt.strip()[:19])
                when = naive.replace(tzinfo=UTC)
        if when is None and isinstance(item.get("date"), str):
            when = parse_machine(item["date"])
        link = item.get("link") if isinstance(item.get("link"), str) else None
        dated.append((link, when))
        for key, kind in (("title", "title"), ("excerpt", "summary")):
            value = item.get(key)
            rendered = value.get("rendered") if isinstance(value, dict) else None
            text = common.plain(rendered if isinstance(rendered, str) else None)
            if text:
                texts.append(PublicText(kind, text, link, when))
    return common.assemble(
        platform, "rest api parsed", dated, now, settings, texts=texts[: common.MAX_TEXTS * 2],
        feed_url=url, source_url=url, undated_note="REST API lists no dated posts",
    )
