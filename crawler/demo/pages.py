"""What each simulated platform serves: page, feed and API rendering, routing, robots.txt.

Pure: `render(world, at, bases, host, target)` maps one request to a `Page` from the world's state
at `at`. The texts are invented Swedish preschool texts (no real names). The shapes follow the real
platforms closely enough to exercise the crawler's adapters: WordPress RSS 2.0, `/wp-json/wp/v2/posts`
and a home page that names its feed; Blogger Atom with openSearch:totalResults; other blogs with
`<article>`, `<time datetime>` and Swedish visible dates plus sidebar traps (calendar, copyright
year); Instagram's og:description post count (to a mobile User-Agent: a desktop one gets the same
login page for every profile), login wall and 200 "isn't available" page; Facebook
pages with `<abbr data-utime>`, removed pages and login walls.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from urllib.parse import parse_qs, quote, urlsplit

from crawler.demo import municipality
from crawler.demo.world import (
    HARD_NEGATIVES,
    MOVE_NOTICES,
    POST_NEGATIVE,
    POST_NOTICE,
    DemoAccount,
    PostView,
    World,
)

try:
    from zoneinfo import ZoneInfo

    _STOCKHOLM = ZoneInfo("Europe/Stockholm")
except Exception:  # no tz database: Swedish winter time is close enough for a demo
    from datetime import timedelta, timezone

    _STOCKHOLM = timezone(timedelta(hours=1))  # type: ignore[assignment]

MONTHS_SV = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)
_DAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LAUNCH = datetime(2023, 3, 1, tzinfo=UTC)

TITLES = (
    "Vi har målat höstlöv", "Utflykt till parken", "Veckans tema: vatten", "Luciafirande på förskolan",
    "Vi bakar pepparkakor", "Skapande med lera", "Rörelse i hallen", "Vi upptäcker snön",
    "Sagostund i biblioteket", "Experiment med is", "Vi planterar frön", "Musik och rörelse",
    "Besök av brandbilen", "Vi bygger kojor", "Naturpromenad i skogen", "Vår odling växer",
    "Bokstavsjakt", "Vi leker med former", "Matematik i sandlådan", "Vi tittar på småkryp",
    "Teater för de yngsta", "Fruktstund ute", "Vi lär oss om trafik", "Påskpyssel",
    "Våren är här", "Vi firar barnens dag", "Dans och sång", "Regnig dag – vi hoppar i vattenpussar",
    "Vi målar med vattenfärg", "Utematematik", "Vi sorterar skräp", "Hälsovecka",
)
SUMMARIES = (
    "Barnen har utforskat material och pratat om vad de ser.",
    "Idag var vi ute hela förmiddagen och lekte i det fina vädret.",
    "Vi har arbetat i små grupper och turats om att berätta.",
    "Barnen visade stort intresse och ställde många frågor.",
    "Vi avslutade med en gemensam samling och sång.",
    "Tack till alla vårdnadshavare som hjälpte till!",
    "Nästa vecka fortsätter vi med samma tema.",
    "Vi har dokumenterat arbetet med bilder i våra portfolios.",
)


@dataclass(frozen=True)
class Page:
    """One response: status, body and what the server needs for headers and caching."""

    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    last_modified: float | None = None  # epoch seconds; with an ETag, enables 304s
    location: str | None = None
    cacheable: bool = True  # conditional GET supported (not for redirects and errors)


# -- small helpers -----------------------------------------------------------------------------

def http_date(ts: float) -> str:
    """An RFC 7231 / RFC 822 date in GMT, independent of the locale."""
    d = datetime.fromtimestamp(ts, tz=UTC)
    return f"{_DAYS_EN[d.weekday()]}, {d.day:02d} {_MONTHS_EN[d.month - 1]} {d.year} {d:%H:%M:%S} GMT"


def _rfc822(ts: float) -> str:
    return http_date(ts)[:-3] + "+0000"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=_STOCKHOLM)


def swedish_date(ts: float) -> str:
    """The visible date of a post, as a Swedish blog shows it: "6 mars 2023" (local time)."""
    d = _local(ts)
    return f"{d.day} {MONTHS_SV[d.month - 1]} {d.year}"


def _slug_words(text: str) -> str:
    table = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "–": "-"})
    return re.sub(r"[^a-z0-9]+", "-", text.lower().translate(table)).strip("-")


def post_title(world: World, acc: DemoAccount, post: PostView) -> str:
    if post.kind == POST_NOTICE:
        return "Viktig information till vårdnadshavare"
    if post.kind == POST_NEGATIVE:
        return HARD_NEGATIVES[post.variant]
    return TITLES[(acc.index * 31 + post.number * 17 + world.seed) % len(TITLES)]


def post_summary(world: World, acc: DemoAccount, post: PostView) -> str:
    if post.kind == POST_NOTICE:
        start = "1 mars" if post.published_at < LAUNCH.timestamp() else "1 april"
        return MOVE_NOTICES[post.variant].format(start=start)
    if post.kind == POST_NEGATIVE:
        return HARD_NEGATIVES[post.variant] + ". Hör av er till personalen om ni har frågor."
    return SUMMARIES[(acc.index * 7 + post.number * 5 + world.seed) % len(SUMMARIES)]


def _html(status: int, body: str, last_modified: float | None = None, cacheable: bool = True) -> Page:
    return Page(status, body.encode("utf-8"), last_modified=last_modified, cacheable=cacheable)


def _not_found() -> Page:
    return _html(404, "<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
                      "<body><h1>Not Found</h1></body></html>", cacheable=False)


# -- robots.txt ---------------------------------------------------------------------------------

_ROBOTS = {
    "wpcom": "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\nDisallow: /wp-login.php\n",
    "wpself": "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n",
    "wpself-new": "User-agent: *\nDisallow: /wp-admin/\n",
    "blogspot": "User-agent: Mediapartners-Google\nDisallow:\n\nUser-agent: *\nDisallow: /search\nAllow: /\n",
    "blogs-a": "User-agent: *\nDisallow: /cgi-bin/\n",
    "blogs-b": "User-agent: *\nDisallow: /cgi-bin/\nDisallow: /admin/\n",
    "instagram": "User-agent: *\nDisallow: /api/\nDisallow: /direct/\n",
    "facebook": "User-agent: *\nDisallow: /ajax/\nDisallow: /messages/\n",
}


def robots_txt(world: World, host: str) -> Page:
    """robots.txt of one host: ordinary rules plus a Disallow for each robots-shy account on it."""
    lines = [_ROBOTS.get(host, "User-agent: *\nDisallow:\n")]
    for acc in world.robots_accounts():
        if acc.host == host:
            lines.append(f"Disallow: /{acc.slug}/\n")
    return Page(200, "".join(lines).encode(), content_type="text/plain; charset=utf-8")


# -- routing --------------------------------------------------------------------------------------

_SLUG_INDEX = re.compile(r"[-_](\d+)$")


def find_account(world: World, host: str, slug: str) -> DemoAccount | None:
    """The account served at /slug/ on `host`, or None (the slug ends with the account number)."""
    m = _SLUG_INDEX.search(slug)
    if not m:
        return None
    index = int(m.group(1)) - 1
    if not 0 <= index < len(world):
        return None
    acc = world.account(index)
    if acc.slug != slug:
        return None
    if acc.host == host or (host == "wpself-new" and acc.moved_at is not None):
        return acc
    return None


def state_key(world: World, acc: DemoAccount, at: datetime) -> tuple:
    """What an account's pages depend on at `at`: equal keys render equal bodies."""
    exists = world.exists(acc.index, at)
    moved = acc.moved_at is not None and at >= acc.moved_at
    count = world.post_count(acc.index, at) if exists else -1
    month = (at.year, at.month) if acc.kind == "blog" else None  # sidebar calendar and copyright
    return (exists, moved, count, month)


def render(world: World, at: datetime, bases: dict[str, str], host: str, target: str) -> Page:
    """The response to GET `target` on demo host `host` at world time `at`."""
    parts = urlsplit(target)
    path = parts.path
    if path == "/robots.txt":
        return robots_txt(world, host)
    outside = municipality.of(world).render(bases, host, path)  # the city's site, accounts the registry lacks
    if outside is not None:
        status, content_type, text = outside
        return Page(status, text.encode("utf-8"), content_type, cacheable=False)
    if host == "instagram" and path.startswith("/accounts/login"):
        return _html(200, _LOGIN_PAGE.format(site="Instagram"), cacheable=False)
    if host == "facebook" and path.startswith("/login"):
        return _html(200, _LOGIN_PAGE.format(site="Facebook"), cacheable=False)
    segments = path.split("/")
    if len(segments) < 2 or not segments[1]:
        return _html(200, "<!DOCTYPE html><html><head><title>Demo host</title></head><body></body></html>")
    acc = find_account(world, host, segments[1])
    if acc is None:
        return _not_found()
    if len(segments) == 2:  # /slug without the trailing slash, as servers do
        return Page(301, location=f"{bases[host]}/{acc.slug}/", cacheable=False)
    rest = "/" + "/".join(segments[2:])
    query = parse_qs(parts.query)
    if host == "wpself-new":
        if at < acc.moved_at:  # type: ignore[operator]
            return _not_found()
    elif acc.moved_at is not None and at >= acc.moved_at:
        new = f"{bases['wpself-new']}{path}" + (f"?{parts.query}" if parts.query else "")
        return Page(301, location=new, cacheable=False)
    base = f"{bases[host]}/{acc.slug}/"
    if not world.exists(acc.index, at):
        return _gone_page(acc)
    if acc.kind in ("wp_self", "wp_com"):
        return _wordpress(world, acc, at, base, rest, query, bases)
    if acc.kind == "blogger":
        return _blogger(world, acc, at, base, rest, bases)
    if acc.kind == "blog":
        return _blog(world, acc, at, base, rest, bases)
    if acc.kind == "instagram":
        return _instagram(world, acc, at, bases[host], rest)
    return _facebook(world, acc, at, bases[host], rest)


_LOGIN_PAGE = (
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in • {site}</title></head>"
    "<body><form method=\"post\"><input name=\"username\"><input name=\"password\" type=\"password\">"
    "<button>Log in</button></form></body></html>"
)


def _gone_page(acc: DemoAccount) -> Page:
    name = escape(acc.slug)
    if acc.kind == "wp_com":
        body = (f"<!DOCTYPE html><html><head><title>{name}.wordpress.com doesn’t exist</title></head><body>"
                f"<h1>{name}.wordpress.com doesn’t exist</h1><p>Do you want to register "
                f"<strong>{name}.wordpress.com</strong>?</p></body></html>")
    elif acc.kind == "wp_self":
        title = "410 Gone" if acc.gone_status == 410 else "404 Not Found"
        body = f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    elif acc.kind == "blogger":
        body = ("<!DOCTYPE html><html><head><title>Blogger: Blog not found</title></head><body>"
                f"<p>Sorry, the blog at {name}.blogspot.com has been removed. This address is not "
                "available for new blogs.</p></body></html>")
    elif acc.kind == "instagram":
        body = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>Page not found • Instagram</title></head><body><h2>Sorry, this page isn't "
                "available.</h2><p>The link you followed may be broken, or the page may have been "
                "removed. Go back to Instagram.</p></body></html>")
    elif acc.kind == "facebook":
        body = ("<!DOCTYPE html><html lang=\"sv\"><head><meta charset=\"utf-8\"><title>Facebook</title>"
                "</head><body><h2>This content isn't available right now</h2><p>When this happens, "
                "it's usually because the owner only shared it with a small group of people, changed "
                "who can see it or it's been deleted.</p></body></html>")
    else:
        body = "<!DOCTYPE html><html><head><title>Sidan finns inte</title></head><body><h1>404</h1></body></html>"
    return _html(acc.gone_status, body, last_modified=acc.deleted_at.timestamp() if acc.deleted_at else None)


# -- WordPress --------------------------------------------------------------------------------------

def _wp_post_url(world: World, acc: DemoAccount, base: str, post: PostView) -> str:
    d = _local(post.published_at)
    return f"{base}{d:%Y/%m/%d}/{_slug_words(post_title(world, acc, post))}-{post.number}/"


def _wordpress(world: World, acc: DemoAccount, at: datetime, base: str, rest: str, query: dict,
               bases: dict[str, str]) -> Page:
    posts = world.posts(acc.index, at, limit=10)
    modified = posts[0].published_at if posts else 0.0
    unit = escape(acc.unit)
    if rest in ("/feed/", "/feed", "/feed/rss2/"):
        items = []
        for p in posts:
            link = _wp_post_url(world, acc, base, p)
            items.append(
                f"<item><title>{escape(post_title(world, acc, p))}</title><link>{link}</link>"
                f"<pubDate>{_rfc822(p.published_at)}</pubDate><dc:creator><![CDATA[Förskolan]]></dc:creator>"
                f"<category><![CDATA[{'Information' if p.kind else 'Verksamhet'}]]></category>"
                f"<guid isPermaLink=\"false\">{base}?p={p.number + 1}</guid>"
                f"<description><![CDATA[{post_summary(world, acc, p)}]]></description></item>"
            )
        body = (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\" "
            "xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
            "xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel>"
            f"<title>{unit}</title><atom:link href=\"{base}feed/\" rel=\"self\" type=\"application/rss+xml\" />"
            f"<link>{base}</link><description>Information från {unit}</description>"
            f"<lastBuildDate>{_rfc822(modified)}</lastBuildDate><language>sv-SE</language>"
            "<generator>https://wordpress.org/?v=6.1.1</generator>" + "".join(items) + "</channel></rss>"
        )
        return Page(200, body.encode(), "application/rss+xml; charset=UTF-8", modified)
    if rest.startswith("/wp-json/wp/v2/posts"):
        try:
            per_page = max(1, min(100, int(query.get("per_page", ["10"])[0])))
        except ValueError:
            return Page(400, b'{"code":"rest_invalid_param"}', "application/json; charset=UTF-8", cacheable=False)
        out = []
        for p in world.posts(acc.index, at, limit=per_page):
            local = _local(p.published_at)
            out.append({
                "id": p.number + 1,
                "date": local.strftime("%Y-%m-%dT%H:%M:%S"),
                "date_gmt": datetime.fromtimestamp(p.published_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "modified_gmt": datetime.fromtimestamp(p.published_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "status": "publish",
                "link": _wp_post_url(world, acc, base, p),
                "title": {"rendered": escape(post_title(world, acc, p))},
                "excerpt": {"rendered": f"<p>{escape(post_summary(world, acc, p))}</p>\n"},
            })
        body = json.dumps(out, ensure_ascii=False).encode()
        return Page(200, body, "application/json; charset=UTF-8", modified)
    if rest == "/":
        articles = []
        for p in posts[:6]:
            articles.append(
                f"<article class=\"post type-post\"><h2 class=\"entry-title\"><a href=\"{_wp_post_url(world, acc, base, p)}\">"
                f"{escape(post_title(world, acc, p))}</a></h2><div class=\"entry-meta\"><time class=\"entry-date published\" "
                f"datetime=\"{_local(p.published_at).isoformat()}\">{swedish_date(p.published_at)}</time></div>"
                f"<div class=\"entry-summary\"><p>{escape(post_summary(world, acc, p))}</p></div></article>"
            )
        body = (
            f"<!DOCTYPE html><html lang=\"sv-SE\"><head><meta charset=\"UTF-8\"><title>{unit}</title>"
            f"<link rel=\"alternate\" type=\"application/rss+xml\" title=\"{unit} &raquo; Flöde\" href=\"{base}feed/\" />"
            f"<link rel=\"https://api.w.org/\" href=\"{base}wp-json/\" />"
            "<meta name=\"generator\" content=\"WordPress 6.1.1\" /></head>"
            f"<body class=\"home blog\"><header><h1 class=\"site-title\">{unit}</h1></header><main>"
            + ("".join(articles) or "<p>Inga inlägg hittades.</p>")
            + f"</main><footer><p>Drivs med WordPress</p>{municipality.of(world).footer(acc, bases)}</footer>"
            "</body></html>"
        )
        return _html(200, body, modified)
    return _single_post(world, acc, at, base, rest, modified)


def _single_post(world: World, acc: DemoAccount, at: datetime, base: str, rest: str, modified: float) -> Page:
    m = re.search(r"-(\d+)(?:/|\.html)$", rest)
    if not m:
        return _not_found()
    number = int(m.group(1))
    found = [p for p in world.posts(acc.index, at, limit=10_000) if p.number == number]
    if not found:
        return _not_found()
    p = found[0]
    body = (
        f"<!DOCTYPE html><html lang=\"sv\"><head><meta charset=\"utf-8\"><title>{escape(post_title(world, acc, p))}</title>"
        f"<meta property=\"article:published_time\" content=\"{_local(p.published_at).isoformat()}\"></head>"
        f"<body><article><h1>{escape(post_title(world, acc, p))}</h1><time datetime=\"{_local(p.published_at).isoformat()}\">"
        f"{swedish_date(p.published_at)}</time><p>{escape(post_summary(world, acc, p))}</p></article></body></html>"
    )
    return _html(200, body, modified)


# -- Blogger ------------------------------------------------------------------------------------------

def _blogger_iso(ts: float) -> str:
    d = _local(ts)
    return d.strftime("%Y-%m-%dT%H:%M:%S.000") + d.strftime("%z")[:3] + ":" + d.strftime("%z")[3:]


def _blogger_post_url(world: World, acc: DemoAccount, base: str, p: PostView) -> str:
    d = _local(p.published_at)
    return f"{base}{d:%Y/%m}/{_slug_words(post_title(world, acc, p))[:30]}-{p.number}.html"


def _blogger(world: World, acc: DemoAccount, at: datetime, base: str, rest: str, bases: dict[str, str]) -> Page:
    posts = world.posts(acc.index, at, limit=25)
    total = world.post_count(acc.index, at)
    modified = posts[0].published_at if posts else 0.0
    unit = escape(acc.unit)
    blog_id = 7_000_000_000 + acc.index
    if rest.startswith("/feeds/posts/default"):
        entries = []
        for p in posts:
            entries.append(
                f"<entry><id>tag:blogger.com,1999:blog-{blog_id}.post-{p.number}</id>"
                f"<published>{_blogger_iso(p.published_at)}</published><updated>{_blogger_iso(p.published_at)}</updated>"
                f"<title type='text'>{escape(post_title(world, acc, p))}</title>"
                f"<summary type='text'>{escape(post_summary(world, acc, p))}</summary>"
                f"<link rel='alternate' type='text/html' href='{_blogger_post_url(world, acc, base, p)}'/>"
                "<author><name>Förskolan</name></author></entry>"
            )
        body = (
            "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom' "
            "xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/' xmlns:blogger='http://schemas.google.com/blogger/2008'>"
            f"<id>tag:blogger.com,1999:blog-{blog_id}</id><updated>{_blogger_iso(modified)}</updated>"
            f"<title type='text'>{unit}</title><link rel='alternate' type='text/html' href='{base}'/>"
            f"<link rel='self' type='application/atom+xml' href='{base}feeds/posts/default'/>"
            f"<author><name>Förskolan</name></author><generator version='7.00' uri='http://www.blogger.com'>Blogger</generator>"
            f"<openSearch:totalResults>{total}</openSearch:totalResults><openSearch:startIndex>1</openSearch:startIndex>"
            "<openSearch:itemsPerPage>25</openSearch:itemsPerPage>" + "".join(entries) + "</feed>"
        )
        return Page(200, body.encode(), "application/atom+xml; charset=UTF-8", modified)
    if rest == "/":
        articles = "".join(
            f"<div class=\"date-outer\"><h2 class=\"date-header\"><span>{swedish_date(p.published_at)}</span></h2>"
            f"<div class=\"post hentry\"><h3 class=\"post-title\"><a href=\"{_blogger_post_url(world, acc, base, p)}\">"
            f"{escape(post_title(world, acc, p))}</a></h3><div class=\"post-body\">{escape(post_summary(world, acc, p))}</div>"
            f"<abbr class=\"published\" title=\"{_blogger_iso(p.published_at)}\">{_local(p.published_at):%H:%M}</abbr></div></div>"
            for p in posts[:7]
        )
        body = (
            f"<!DOCTYPE html><html lang=\"sv\"><head><meta charset=\"UTF-8\"><title>{unit}</title>"
            f"<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{unit} - Atom\" href=\"{base}feeds/posts/default\" />"
            f"<link rel=\"alternate\" type=\"application/rss+xml\" title=\"{unit} - RSS\" href=\"{base}feeds/posts/default?alt=rss\" />"
            "<meta name=\"generator\" content=\"blogger\" /></head>"
            f"<body><div class=\"header\"><h1>{unit}</h1></div><div class=\"blog-posts\">{articles}</div>"
            f"{municipality.of(world).footer(acc, bases)}</body></html>"
        )
        return _html(200, body, modified)
    return _single_post(world, acc, at, base, rest, modified)


# -- other blogs (dated HTML only) ----------------------------------------------------------------

def _calendar(at: datetime) -> str:
    """A sidebar calendar of the current month: a trap full of dates that are not post dates."""
    first = at.replace(day=1)
    cells = "".join(f"<td><a href=\"?d={first:%Y%m}{d:02d}\">{d}</a></td>" for d in range(1, 29))
    return (f"<div class=\"widget calendar\"><table><caption>{MONTHS_SV[at.month - 1]} {at.year}</caption>"
            f"<tr>{cells}</tr></table></div>")


def _blog(world: World, acc: DemoAccount, at: datetime, base: str, rest: str, bases: dict[str, str]) -> Page:
    if rest != "/":
        return _single_post(world, acc, at, base, rest, 0.0)
    posts = world.posts(acc.index, at, limit=5)
    modified = posts[0].published_at if posts else 0.0
    with_time = (acc.index // 2) % 3 != 0  # a third of the blogs show only the Swedish date
    articles = []
    for p in posts:
        date = swedish_date(p.published_at)
        when = (f"<time datetime=\"{_local(p.published_at).isoformat()}\">{date}</time>" if with_time
                else f"<span class=\"datum\">Publicerad {date}</span>")
        articles.append(
            f"<article><h2><a href=\"{base}inlagg/{_slug_words(post_title(world, acc, p))}-{p.number}.html\">"
            f"{escape(post_title(world, acc, p))}</a></h2>{when}<p>{escape(post_summary(world, acc, p))}</p></article>"
        )
    unit = escape(acc.unit)
    body = (
        f"<!DOCTYPE html><html lang=\"sv\"><head><meta charset=\"utf-8\"><title>{unit}</title></head><body>"
        f"<header><h1>{unit}</h1><nav><a href=\"{base}\">Hem</a></nav></header>"
        f"<main>{''.join(articles) or '<p>Här kommer snart nyheter från förskolan.</p>'}</main>"
        f"<aside>{_calendar(at)}<div class=\"widget\"><h3>Om oss</h3><p>Vi är en förskola i Malmö.</p></div></aside>"
        f"<footer>© 2012–{at.year} {unit}{municipality.of(world).footer(acc, bases)}</footer></body></html>"
    )
    return _html(200, body, modified)


# -- Instagram and Facebook -----------------------------------------------------------------------

# What Instagram serves a desktop (non-mobile) User-Agent without a session: one page for every
# profile, existing or not (Sherlock's finding, 2026). Only a mobile User-Agent gets the profile's
# own <title> and meta; the crawler sends one for Instagram (Platform.mobile).
INSTAGRAM_DESKTOP_WALL = _html(200, (
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Instagram</title></head>"
    "<body><div id=\"react-root\"><p>Log in to see photos and videos from friends.</p>"
    "<a href=\"/accounts/login/\">Log in</a></div></body></html>"), cacheable=False)


def instagram_needs_mobile(host: str, target: str, user_agent: str) -> bool:
    """Whether this request gets Instagram's desktop wall (a profile asked without a mobile User-Agent)."""
    path = urlsplit(target).path
    return (host == "instagram" and "mobile" not in user_agent.lower() and path != "/robots.txt"
            and not path.startswith("/accounts/"))


def _instagram(world: World, acc: DemoAccount, at: datetime, host_base: str, rest: str) -> Page:
    if rest != "/":
        return _not_found()
    if acc.login_wall:
        nxt = quote(f"/{acc.slug}/", safe="")
        return Page(302, location=f"{host_base}/accounts/login/?next={nxt}", cacheable=False)
    count = world.post_count(acc.index, at)
    unit, handle = escape(acc.unit), escape(acc.slug)
    title = f"{unit} (@{handle}) • Instagram photos and videos"
    desc = (f"{acc.followers:,} Followers, {acc.following:,} Following, {count:,} Posts - "
            f"See Instagram photos and videos from {unit} (@{handle})")
    newest = world.posts(acc.index, at, limit=1)
    # A move notice on Instagram is written into the bio (the field world has them; the contract
    # world posts notices on blogs only), which the page carries in its embedded profile JSON.
    bio = post_summary(world, acc, newest[0]) if newest and newest[0].kind == POST_NOTICE else ""
    profile = ("<script type=\"application/json\">" + json.dumps({"biography": bio}).replace("</", "<\\/") + "</script>"
               if bio else "")
    body = (
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
        f"<meta property=\"og:type\" content=\"profile\"><meta property=\"og:title\" content=\"{title}\">"
        f"<meta property=\"og:description\" content=\"{desc}\"><meta name=\"description\" content=\"{desc}\">"
        f"<meta property=\"og:url\" content=\"{host_base}/{handle}/\"></head>"
        f"<body><div id=\"react-root\"></div>{profile}</body></html>"
    )
    # Instagram sends no Last-Modified; the ETag alone lets an unchanged profile answer 304.
    return _html(200, body, None)


def _facebook(world: World, acc: DemoAccount, at: datetime, host_base: str, rest: str) -> Page:
    if rest != "/":
        return _not_found()
    if acc.login_wall:
        nxt = quote(f"{host_base}/{acc.slug}/", safe="")
        return Page(302, location=f"{host_base}/login/?next={nxt}", cacheable=False)
    posts = world.posts(acc.index, at, limit=4)
    unit = escape(acc.unit)
    items = "".join(
        f"<div role=\"article\"><abbr data-utime=\"{int(p.published_at)}\" title=\"{swedish_date(p.published_at)}\">"
        f"{swedish_date(p.published_at)}</abbr><div data-ad-preview=\"message\"><p>{escape(post_summary(world, acc, p))}</p></div></div>"
        for p in posts
    )
    body = (
        f"<!DOCTYPE html><html lang=\"sv\"><head><meta charset=\"utf-8\"><title>{unit} | Facebook</title>"
        f"<meta property=\"og:title\" content=\"{unit}\"><meta property=\"og:type\" content=\"website\">"
        f"<meta property=\"og:description\" content=\"{unit}. {acc.followers} gillar. Förskola i Malmö.\">"
        f"<meta property=\"og:url\" content=\"{host_base}/{escape(acc.slug)}/\"></head>"
        f"<body><div id=\"pagelet_timeline_main_column\">{items}</div></body></html>"
    )
    return _html(200, body, posts[0].published_at if posts else None)
