"""Generic blog pages: feed discovery, soft 404s, and the newest POST date read from the HTML.

Post dates are read inside post containers (article, .post, .hentry, .h-entry, ...) first, in
this order: marked-up publish dates (time.published, itemprop=datePublished, abbr.published),
other <time datetime>, the visible text of date elements ("Publicerad 12 mars 2023", "igår"),
then the start of the post's text. Sidebars, navigation, page footers, calendars and comments
are never read, so a calendar widget, a "today" date or a copyright year cannot pass for a
post. Page metadata (article:published_time, JSON-LD datePublished of a posting) counts too;
og:updated_time and dateModified only when nothing else dates the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from crawler.dates import find_dates, generic_page_day, parse_machine, parse_visible
from crawler.models import Fetched, Observation, PublicText
from crawler.platforms import common, feed, read
from crawler.platforms.common import HTMLParser, Node
from crawler.platforms.registry import Platform, register
from crawler.settings import Settings

COMMON_FEED_PATHS = ("feed/", "rss.xml", "atom.xml", "index.xml", "feed.xml")

POST_CONTAINERS = (
    "article, .post, .hentry, .h-entry, .entry, .blog-post, .type-post, .post-outer, .blogpost, "
    "[itemtype*='BlogPosting'], [itemtype*='Article'], .news-item, .nyhet, .blog-item, .post-item, .article-item, "
    ".sv-channel-item, [data-hook='post-list-item']"
)
# Parts of a page whose dates are never post dates. Tags and classes are compared lower case.
_NOISE_TAGS = {"nav", "aside", "script", "style", "noscript", "template", "form", "select"}
_NOISE_CLASSES = (
    "sidebar", "widget", "calendar", "kalender", "comment", "kommentar", "related", "breadcrumb",
    "footer", "copyright", "site-info", "menu", "navigation", "tagcloud", "recent-posts", "share",
    "cookie", "today", "weather", "clock",
)
# Inside a post only these are noise: an entry footer or meta block carries the post's own date.
_NOISE_IN_POST = ("comment", "kommentar", "related", "share", "sharedaddy", "jp-relatedposts")
_POST_META_CLASSES = ("post-info", "entry-meta", "entry-footer", "post-meta", "post-footer", "article-footer",
                      "postmeta", "byline")
_CONTAINER_CLASSES = ("post", "hentry", "h-entry", "entry", "blog-post", "type-post", "news-item", "nyhet", "blog-item",
                      "post-item", "article-item", "sv-channel-item")
_PUBLISHED = (
    "time.published[datetime], time.entry-date[datetime], time.dt-published[datetime], "
    "[itemprop='datePublished'], abbr.published[title], .published[title], abbr.dt-published[title]"
)
_DATE_ELEMENTS = (
    ".entry-date, .post-date, .postdate, .date, .datum, .published, .posted-on, .date-header, "
    ".post-meta, .entry-meta, .meta, .byline, .post-timestamp, .timestamp, .pubdate, .publicerad, "
    ".post-info, .postmeta, time, [class*='date'], [class*='datum'], [class*='published']"
)
_LINKS = ".entry-title a[href], .post-title a[href], a[rel='bookmark'], h1 a[href], h2 a[href], h3 a[href], .u-url[href]"
_TITLES = ".entry-title, .post-title, .p-name, h1, h2, h3"
_SUMMARIES = ".entry-summary, .entry-content, .post-body, .post-content, .e-content, .excerpt, p"
_POSTING_TYPES = {"blogposting", "article", "newsarticle", "socialmediaposting", "posting", "report"}

_SOFT_404 = re.compile(
    r"\b404\b|page not found|not found|sidan (?:hittades|kunde) inte|sidan finns inte|hittades inte|"
    r"kunde inte hittas|finns inte längre|no longer available|domain\b.{0,80}\bfor sale|\bis for sale|är till salu|"
    r"this domain has expired|domänen har gått ut",
)
_COMMENTS_FEED = re.compile(r"comment|kommentar", re.IGNORECASE)


def candidates(url: str, feed: str | None) -> list[str]:
    """The declared feed, the page (which may name its feed), then the usual feed paths."""
    base = url if url.endswith("/") else url + "/"
    return list(dict.fromkeys([u for u in (feed, url) if u] + [urljoin(base, p) for p in COMMON_FEED_PATHS]))


@common.guarded
def parse(fetched: Fetched, now: datetime, settings: Settings, platform: str = "blog") -> Observation:
    """An Observation from a blog response: a feed if the body is one, else the HTML page."""
    return read.read(fetched, now, settings, platform, read_page)


def read_page(fetched: Fetched, now: datetime, settings: Settings, platform: str) -> Observation:
    """A response that is not a feed: a blog page (or a login wall, or something unreadable)."""
    if fetched.status in common.GONE_STATUSES:
        return common.gone_by_status(fetched, platform)
    if login_redirect(fetched):
        return Observation(platform, None, "login wall", login_wall=True, source_url=fetched.url)
    body = fetched.body or b""
    if common.sniff(body) != "html":
        return Observation(platform, None, "unrecognised body (neither feed nor HTML)", source_url=fetched.url)
    tree = common.parse_html(body, dict(fetched.headers))
    return parse_page(tree, fetched.final_url or fetched.url, now, settings, platform, source_url=fetched.url, raw=body)


def login_redirect(fetched: Fetched) -> bool:
    path = urlsplit(fetched.final_url or "").path.lower()
    return "wp-login.php" in path or path.rstrip("/").endswith(("/login", "/logga-in"))


def discover_feed(tree: HTMLParser, base: str) -> str | None:
    """The page's own feed from <link rel="alternate" type="...rss/atom/json...">, comments feeds skipped."""
    for node in tree.css("link[href]"):
        attrs = node.attributes
        rel = (attrs.get("rel") or "").lower().split()
        kind = (attrs.get("type") or "").lower().split(";")[0].strip()
        if "alternate" not in rel or kind not in common.FEED_TYPES + ("application/json",):
            continue
        href = attrs.get("href") or ""
        if kind == "application/json" and "feed" not in href.lower():
            continue  # WordPress names its REST API with this type: not a feed
        if _COMMENTS_FEED.search(href) or _COMMENTS_FEED.search(attrs.get("title") or ""):
            continue
        url = common.absolute(base, href)
        if url:
            return url
    return None


def soft_404(tree: HTMLParser) -> str | None:
    """A short reason when the page only says it does not exist (a 200 "not found" page)."""
    # Only the title and the main heading: h2s on a list page are post titles, which may say anything.
    parts = [common.node_text(tree.css_first("title"), 300)] + [common.node_text(n, 300) for n in tree.css("h1")[:2]]
    m = _SOFT_404.search(" | ".join(parts).lower())
    if not m:
        return None
    return f"soft 404 (page says {m.group(0)!r})"


def parse_page(tree: HTMLParser, base: str, now: datetime, settings: Settings, platform: str,
               *, source_url: str | None = None, discover: bool = True, raw: bytes | None = None) -> Observation:
    """Read an HTML page of a blog: feed to follow, post dates, texts; a soft 404 is exists False.

    `raw` (the response body) lets a page that none of our readers dates go to htmldate.
    """
    follow = discover_feed(tree, base) if discover else None
    table = common.metas(tree)
    page_meta = _meta_dates(tree, table)
    description = common.meta(table, "og:description", "description")
    site_title = common.meta(table, "og:site_name") or common.node_text(tree.css_first("title"), 200)
    own = site_texts(tree, description)  # before the header and sidebars are dropped as noise
    _drop_noise(tree)
    posts = list(_posts(tree, base, now))
    dated = [(url, when) for url, when, _texts in posts if when is not None]
    notes: list[str] = []
    if not dated and (why := soft_404(tree)) and not follow:
        return Observation(platform, False, why, source_url=source_url)
    if page_meta["published"]:
        # Without post containers the page itself is the post (a single-post page): its URL goes with it.
        dated.extend((None if dated else source_url, when) for when in page_meta["published"])
    if not dated:
        loose = _loose_dates(tree, now)
        if loose:
            dated.extend((None, when) for when in loose)
            notes.append("dates read from date elements outside any post")
    if not dated and len(posts) <= 1 and raw is not None and not page_meta["modified"]:
        # Nothing of ours dates the page: htmldate's knowledge of other markup and of dated URLs,
        # then the newest visible date in the page's text (archives listing "Fri 14 April 2023").
        # A single post whose date we did not find is htmldate's home ground (mkdocs-material puts
        # it in the sidebar); not a list of undated posts: their dates are ones we refuse ("3/2/23").
        when = generic_page_day(common.decode(raw), base, now)
        if when is not None:
            dated.append((None, when))
            notes.append("date read by htmldate (no post date of ours in the page)")
        else:
            listed = _text_dates(tree, now)
            if listed:
                dated.extend((None, when) for when in listed)
                notes.append("dates read from the page's text")
    if not dated and page_meta["modified"]:
        dated.extend((None, when) for when in page_meta["modified"])
        notes.append("date from page metadata (modified time), not a post date")
    texts: list[PublicText] = []
    for url, when, post_texts in posts[: common.MAX_TEXTS]:
        texts.extend(PublicText(kind, text, url, when) for kind, text in post_texts)
    texts.extend(own)
    # Posts without a date still tell that the page has posts; keep them undated.
    dated.extend((url, None) for url, when, _t in posts if when is None and url)
    return common.assemble(
        platform, "page parsed", dated, now, settings, texts=texts, notes=notes,
        follow=follow, source_url=source_url, undated_note="no post dates found in the page",
        site_title=site_title,
    )


# ------------------------------------------------------------------------------------- helpers

# Where blog software shows the site's tagline in the page header: WordPress's classic themes
# (`bloginfo('description')` as .site-description) and block themes (the Site Tagline block),
# Blogger's Header widget, and the usual names of other themes.
_TAGLINES = (".site-description, .wp-block-site-tagline, .Header .description, .blog-description, "
             ".site-tagline, .tagline, .site-subtitle")


def site_texts(tree: HTMLParser, description: str | None) -> list[PublicText]:
    """The site's own words about itself, for the notice detector (in memory only): the header
    tagline and the page's og:description / meta description, each text once."""
    found = [common.node_text(node) for node in tree.css(_TAGLINES)[:3]] + [common.plain(description)]
    return [PublicText("description", text) for text in dict.fromkeys(found) if text]



def _classes(node: Node) -> str:
    return (node.attributes.get("class") or "").lower() + " " + (node.attributes.get("id") or "").lower()


def _is_container(node: Node) -> bool:
    if node.tag == "article":
        return True
    words = _classes(node).split()
    return any(c in words for c in _CONTAINER_CLASSES) or "blogposting" in (node.attributes.get("itemtype") or "").lower()


def _is_noise(node: Node, in_post: bool) -> bool:
    if node.tag in _NOISE_TAGS:
        return True
    classes = _classes(node)
    if in_post:
        return any(word in classes for word in _NOISE_IN_POST)
    if node.tag == "footer":
        # A post's own footer (Pelican's <footer class="post-info"> around <time class="published">)
        # outside any post container is the page's post meta, not the page footer.
        return not any(word in classes for word in _POST_META_CLASSES)
    if node.tag == "header" and ("site-header" in classes or "masthead" in classes):
        return True
    if not classes.strip() or _is_container(node):
        return False
    if "widget" in classes and ("blog" in classes.split() or "blog1" in classes):
        return False  # Blogger wraps the posts themselves in <div class="widget Blog" id="Blog1">
    return any(word in classes for word in _NOISE_CLASSES)


def _drop_noise(tree: HTMLParser) -> None:
    body = tree.body
    if body is None:
        return
    doomed = []
    stack = [(child, False) for child in _children(body)]
    while stack:
        node, in_post = stack.pop()
        if node.tag in ("-text", "-comment"):
            continue
        if _is_noise(node, in_post):
            doomed.append(node)
            continue
        inside = in_post or _is_container(node)
        stack.extend((child, inside) for child in _children(node))
    for node in doomed:
        node.decompose()


def _children(node: Node) -> Iterator[Node]:
    child = node.child
    while child is not None:
        yield child
        child = child.next


MAX_CONTAINERS = 500  # a list page shows tens of posts; beyond this a page is an archive dump


def _outermost_containers(tree: HTMLParser) -> list[Node]:
    found = tree.css(POST_CONTAINERS)[: MAX_CONTAINERS * 2]
    out = []
    inner_ids = set()
    for node in found:
        if node.mem_id in inner_ids:
            continue
        for inner in node.css(POST_CONTAINERS):
            if inner.mem_id != node.mem_id:
                inner_ids.add(inner.mem_id)
        out.append(node)
    # A list page wraps its posts in one outer container sometimes (".entry" around the loop):
    # when an outer one holds several, the inner ones are the posts.
    result = []
    for node in out:
        inner = [n for n in node.css(POST_CONTAINERS) if n.mem_id != node.mem_id]
        result.extend(_outermost_list(inner) if len(inner) > 1 else [node])
    return result


def _outermost_list(nodes: list[Node]) -> list[Node]:
    ids = {n.mem_id for n in nodes}
    keep = []
    for node in nodes:
        parent, nested = node.parent, False
        while parent is not None:
            if parent.mem_id in ids:
                nested = True
                break
            parent = parent.parent
        if not nested:
            keep.append(node)
    return keep


def _posts(tree: HTMLParser, base: str, now: datetime) -> Iterator[tuple[str | None, datetime | None, list[tuple[str, str]]]]:
    for node in _outermost_containers(tree)[:MAX_CONTAINERS]:
        when = _container_date(node, now)
        link = node.css_first(_LINKS)
        url = common.absolute(base, link.attributes.get("href")) if link is not None else None
        texts = []
        title = common.node_text(node.css_first(_TITLES))
        if title:
            texts.append(("title", title))
        summary_node = node.css_first(_SUMMARIES)
        summary = common.node_text(summary_node)
        if summary and summary != title:
            texts.append(("summary", summary))
        yield url, when, texts


def _container_date(node: Node, now: datetime) -> datetime | None:
    for found in node.css(_PUBLISHED):
        attrs = found.attributes
        raw = attrs.get("datetime") or attrs.get("content") or attrs.get("title")
        when = parse_machine(raw) if raw else None
        if when is None:
            when = parse_visible(found.text(), now, yearless=True)
        if when is not None:
            return when
    for found in node.css("time[datetime]"):
        classes = _classes(found)
        if "updated" in classes or "modified" in classes:
            continue
        when = parse_machine(found.attributes.get("datetime"))
        if when is not None:
            return when
    for found in node.css(_DATE_ELEMENTS):
        if "updated" in _classes(found) or "modified" in _classes(found):
            continue
        when = parse_visible(found.text(separator=" "), now, yearless=True)
        if when is not None:
            return when
    head = node.text(separator=" ")[:300]
    when = parse_visible(head, now)
    if when is not None:
        return when
    for found in node.css("time.updated[datetime], [itemprop='dateModified']"):
        when = parse_machine(found.attributes.get("datetime") or found.attributes.get("content"))
        if when is not None:
            return when
    return None


def _loose_dates(tree: HTMLParser, now: datetime) -> list[datetime]:
    """Dates in date elements of a page without post containers (noise already dropped)."""
    out = []
    for node in tree.css("time[datetime]"):
        when = parse_machine(node.attributes.get("datetime"))
        if when is not None:
            out.append(when)
    if out:
        return out
    for node in tree.css(_DATE_ELEMENTS):
        out.extend(find_dates(node.text(separator=" ")[:500], now, yearless=True))
    return out


MAX_TEXT_SCAN = 200_000  # characters of a page's text read for visible dates (archives are long lists)


def _text_dates(tree: HTMLParser, now: datetime) -> list[datetime]:
    """Visible full dates in the text of a page without posts (noise already dropped): an archive
    list. Only dates with a year (no yearless or relative forms outside a date element)."""
    if tree.body is None:
        return []
    return find_dates(tree.body.text(separator=" ")[:MAX_TEXT_SCAN], None)


def _meta_dates(tree: HTMLParser, table: dict[str, str]) -> dict[str, list[datetime]]:
    published: list[datetime] = []
    modified: list[datetime] = []
    for name in ("article:published_time", "datePublished", "date", "dc.date", "DC.date.issued"):
        raw = common.meta(table, name)
        when = parse_machine(raw) if raw else None
        if when is not None:
            published.append(when)
            break
    for name in ("article:modified_time", "og:updated_time"):
        raw = common.meta(table, name)
        when = parse_machine(raw) if raw else None
        if when is not None:
            modified.append(when)
            break
    for script in tree.css('script[type="application/ld+json"]'):
        text = script.text()
        if not text or len(text) > 200_000:
            continue
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # broken, or nested deeper than the parser recurses
            continue
        for obj in _ld_objects(data):
            types = obj.get("@type")
            types = {t.lower() for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)}
            if not types & _POSTING_TYPES:
                continue
            for key, bucket in (("datePublished", published), ("dateModified", modified)):
                value = obj.get(key)
                when = parse_machine(value) if isinstance(value, str) else None
                if when is not None:
                    bucket.append(when)
    return {"published": published, "modified": modified}


def _ld_objects(data: object, depth: int = 0) -> Iterator[dict]:
    if depth > 6:
        return
    if isinstance(data, list):
        for item in data[:200]:
            yield from _ld_objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "itemListElement", "item", "blogPost", "hasPart"):
            if key in data:
                yield from _ld_objects(data[key], depth + 1)


PLATFORM = register(Platform(name="blog", label="Blog", parse=parse, candidates=candidates, kind="blog",
                             aliases=("blogg",)))
# Not a platform: `crawler inspect --platform feed` reads a feed URL the way a blog's feed is read.
FEED_READER = register(Platform(name="feed", label="Feed", parse=parse, candidates=feed.candidates,
                                registrable=False))
