"""Discovery: accounts the registry lacks, found on pages the crawler may read, for a person to decide.

    extract(body, url, headers) -> PageLinks    links, rel="me", JSON-LD sameAs, "@handle" mentions (pure)
    Hosts(accounts).account_of(url)             the account (platform, profile URL) a link names; None
                                                for a post, a platform's own page or any other page
    Units(accounts, municipality).match(texts)  the registry's units a name or a page speaks of
    judge(finding, facts, units, settings)      score, reasons, vetoes -> proposed or excluded (pure)
    run(registry, store, fetch, now)            the one I/O path: read pages through the Fetcher,
                                                check each candidate's profile, store the judgements
    accept(...) / dismiss(...)                  a person's decisions (accept writes sources.yaml
                                                through the registry's own validation)

Where it looks: every registered account's own page (a blog's header and footer linking its
Instagram, rel="me", sameAs), the seed pages of `settings.discovery` (the municipality's page about
each preschool, or a sitemap of them), and link-in-bio pages linked from either. It fetches only
those pages, link-in-bio pages and the profile pages of candidates (never a post), through the
Fetcher (robots.txt, per-host limits, the contact in the User-Agent), and keeps only URLs, link
texts and where they were found. A profile's own name and bio are read to judge it, never stored.

Why selectolax and json, not extruct: discovery needs three things from a page (anchors with their
rel/itemprop and text, <link rel=me>, JSON-LD sameAs), and selectolax already parses every page the
crawler reads. Measured on the demo's pages and the real-software corpus (scripts/bench_discover.py,
docs/PERFORMANCE.md), extruct found no sameAs or rel=me that this reader missed, cost far more per
page, and brings lxml, rdflib and five more packages; see the README's library table.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from crawler import platforms, sanitize, sources
from crawler.clock import to_local
from crawler.errors import CrawlerError, Problem, RegistryError
from crawler.models import Account, Fetched
from crawler.platforms import common
from crawler.platforms.registry import Url, profile_of, split
from crawler.settings import Discovery, Settings
from crawler.store import SeenLink, Sighting, Store

Fetch = Callable[[str], Awaitable[Fetched]]

MAX_LINKS = 2000  # links read from one page
MAX_SCRIPTS = 20  # JSON-LD blocks read from one page
MAX_LINK_TEXT = 200
MAX_BIO_PAGES = 500  # link-in-bio pages read in one run
MAX_SITEMAP_URLS = 50_000  # the sitemap protocol's own limit per file
MAX_SITEMAP_FILES = 50

_REGIONS = {"header": "header", "footer": "footer", "nav": "nav", "aside": "aside"}
_REGION_WORDS = (("footer", "footer"), ("header", "header"), ("masthead", "header"), ("sidebar", "aside"),
                 ("widget", "aside"), ("menu", "nav"), ("nav", "nav"))
_LOC = re.compile(r"<loc>\s*([^<\s]{1,2000})\s*</loc>", re.IGNORECASE)
_SITEMAP_INDEX = re.compile(r"<sitemapindex\b", re.IGNORECASE)
_BLOG_WORDS = re.compile(r"\bbloggs?(?:en|ar|arna)?\b|\bblog\b", re.IGNORECASE)
_INVITING = re.compile(r"följ|folj|follow|besök|besok|visit|vår|vårt|våra|var\s|our\b|hitta oss|find us|gilla oss",
                       re.IGNORECASE)
# A parents' association (or a similar group) is not the preschool's own account.
_PARENTS = re.compile(r"föräldra|foraldra|forældre|parents?\W{0,3}(?:association|council|group|committee)|"
                      r"hem och skola|\bPTA\b|föräldrarnas|vårdnadshavarförening", re.IGNORECASE)
# "Lunds kommun", "Lund kommun", "i Lunds kommun": the municipality an account names.
_MUNICIPALITY = re.compile(r"\b([A-ZÅÄÖÉ][\wåäöéü]+(?:[- ][A-ZÅÄÖÉ][\wåäöéü]+)?)\s+(?:kommun|stad)\b")
_GENERIC = frozenset({"forskolan", "forskola", "forskolor", "forskolorna", "forskolans", "forskole", "preschool",
                      "kindergarten", "och", "i", "pa", "the", "of", "www", "com", "se", "http", "https", "blogg",
                      "kommun", "stad", "omrade", "enhet"})


def clean_text(text: str | None, limit: int = MAX_LINK_TEXT) -> str:
    """Crawled text made safe to store and print: entities decoded, control and bidi characters
    removed, whitespace collapsed, at most `limit` characters."""
    if not text:
        return ""
    text = text[: limit * 8]
    if "&" in text:
        text = html.unescape(text)
    return " ".join(sanitize.text(text).split())[:limit]  # never a control or bidi character


# --------------------------------------------------------------------------- reading a page


@dataclass(frozen=True)
class Link:
    """One link on a page: where it points, its text, how it was written, where on the page."""

    url: str
    text: str
    how: str  # link | rel-me | same-as | mention
    region: str | None  # header | footer | nav | aside | main | head


@dataclass(frozen=True)
class PageLinks:
    """What discovery reads from one page (nothing else of it is kept)."""

    url: str
    title: str  # <title>, og:title or the first heading, to guess the unit a seed page is about
    links: tuple[Link, ...]


def extract(body: bytes, url: str, headers: dict | None = None) -> PageLinks:
    """The links, rel="me", JSON-LD sameAs and "@handle" mentions of an HTML page (pure).

    A page that would take the HTML parser seconds (common.too_slow) gives no links.
    """
    try:
        tree = common.parse_html(body, headers)
    except common.TooDeep:
        return PageLinks(url, "", ())
    base = url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = common.absolute(url, base_node.attributes.get("href")) or url
    title = clean_text(common.meta(tree, "og:title") or common.node_text(tree.css_first("title"), 300)
                       or common.node_text(tree.css_first("h1"), 300), 300)
    links: list[Link] = []
    for node in tree.css("a[href], link[href], area[href]")[:MAX_LINKS]:
        attrs = node.attributes
        target = common.absolute(base, attrs.get("href"))
        if target is None:
            continue
        rel = (attrs.get("rel") or "").lower().split()
        how = "rel-me" if "me" in rel else "same-as" if (attrs.get("itemprop") or "").lower() == "sameas" else "link"
        if node.tag == "link" and how == "link":
            continue  # stylesheets, feeds, canonical: not a link a reader follows
        text = node.text(deep=True, separator=" ") if node.tag == "a" else ""
        if not text.strip():
            img = node.css_first("img[alt]") if node.tag == "a" else None
            text = attrs.get("aria-label") or attrs.get("title") or (img.attributes.get("alt") if img else "") or ""
        links.append(Link(target, clean_text(text), how, "head" if node.tag == "link" else _region(node)))
    for script in tree.css('script[type="application/ld+json"]')[:MAX_SCRIPTS]:
        for same in _same_as(script.text()):
            target = common.absolute(base, same)
            if target:
                links.append(Link(target, "", "same-as", "head"))
    text = common.visible_text(tree, 20_000)
    for target, mention in _mentions(text):
        links.append(Link(target, clean_text(mention), "mention", None))
    return PageLinks(url, title, tuple(links))


def _region(node) -> str:
    """Where on the page a link sits: the nearest header, footer, nav or aside (by tag, class or id)."""
    current = node.parent
    for _ in range(15):
        if current is None or current.tag in ("body", "html", "-undef"):
            break
        if current.tag in _REGIONS:
            return _REGIONS[current.tag]
        if current.tag == "main" or current.tag == "article":
            return "main"
        names = f"{current.attributes.get('class') or ''} {current.attributes.get('id') or ''}".lower()
        for word, region in _REGION_WORDS:
            if word in names:
                return region
        current = current.parent
    return "main"


def _same_as(text: str | None) -> list[str]:
    """The sameAs URLs of a JSON-LD block (any depth, @graph included); broken JSON gives none."""
    if not text:
        return []
    text = text.strip()[:200_000]
    if text.startswith("<!--"):
        text = text.removeprefix("<!--").removesuffix("-->")
    try:
        data = json.loads(text)
    except ValueError:
        try:  # what theme and plugin authors write and browsers' JSON rejects: comments, trailing commas
            data = json.loads(_lenient(text))
        except ValueError:
            return []
    found: list[str] = []
    stack, seen = [data], 0
    while stack and seen < 2000:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("sameAs", "https://schema.org/sameAs", "http://schema.org/sameAs"):
                    values = value if isinstance(value, list) else [value]
                    found.extend(v if isinstance(v, str) else v.get("@id", "") for v in values
                                 if isinstance(v, (str, dict)))
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item[:500])
    return [f for f in found if isinstance(f, str) and f][:100]


def _lenient(text: str) -> str:
    """JSON text without // and /* */ comments and trailing commas (outside string literals)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            i = text.find("*/", i + 2)
            i = n if i < 0 else i + 2
        elif c == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "]}":
                i += 1  # a trailing comma
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _mention_patterns() -> list[tuple[re.Pattern, str]]:
    """For each social platform: "Instagram: @handle" and the like, and the platform's profile URL form."""
    out = []
    for p in platforms.all_platforms():
        if p.kind != "social" or not p.hosts:
            continue
        words = "|".join(re.escape(w) for w in {p.name, p.label.lower(), *p.aliases})
        pattern = re.compile(rf"\b(?:{words})\b[^@\n|]{{0,40}}?@([a-z0-9][a-z0-9._]{{1,29}})", re.IGNORECASE)
        out.append((pattern, f"https://{p.hosts[0]}/{{}}/"))
    return out


def _mentions(text: str) -> list[tuple[str, str]]:
    out = []
    for pattern, form in _mention_patterns():
        for m in pattern.finditer(text):
            handle = m.group(1).rstrip(".")
            out.append((form.format(handle), m.group(0)))
    return out[:50]


# --------------------------------------------------------------------------- which links name an account


@dataclass(frozen=True)
class _HostRule:
    platform: str
    prefix: bool  # the account is the first path segment (a blog platform served under paths)


class Hosts:
    """Which links name an account: the platforms' own hosts (platforms.profile_url), and the hosts
    on which the registry keeps several accounts of one platform under different paths (a mirror,
    a municipal multisite, the demo's loopback hosts)."""

    def __init__(self, accounts: Iterable[Account], link_in_bio: Sequence[str] = ()):
        self.link_in_bio = tuple(link_in_bio)
        by_host: dict[str, list[tuple[str, Url]]] = defaultdict(list)
        for a in accounts:
            parts = split(a.url)
            if parts is None or platforms.registry.detect(a.url) is not None:
                continue
            by_host[_netloc(parts)].append((a.platform, parts))
        self.rules: dict[str, _HostRule] = {}
        for netloc, items in by_host.items():
            names = {p for p, _ in items}
            firsts = {u.segments()[0] if u.segments() else "" for _, u in items}
            if len(items) < 3 or len(names) != 1 or len(firsts) != len(items) or "" in firsts:
                continue
            platform = platforms.get(names.pop())
            if platform is None or not platform.hosts:
                continue  # only platforms that have hosts of their own: never "blog" or "other"
            as_is = sum(profile_of(platform, u) is not None for _, u in items)
            self.rules[netloc] = _HostRule(platform.name, prefix=as_is * 2 < len(items))

    def account_of(self, url: str) -> tuple[str, str] | None:
        """(platform, canonical profile URL) of the account `url` shows; None for anything else."""
        parts = split(url)
        if parts is None or parts.scheme not in ("http", "https"):
            return None
        rule = self.rules.get(_netloc(parts))
        if rule is not None:
            platform = platforms.get(rule.platform)
            if platform is None:
                return None
            segments = parts.segments()
            if not rule.prefix:
                found = profile_of(platform, parts)
                return (platform.name, found.text()) if found is not None else None
            if not segments or profile_of(platform, replace(parts, path="/" + "/".join(segments[1:]))) is None:
                return None
            return platform.name, replace(parts, path=f"/{segments[0]}/", query=()).text()
        found = platforms.profile_url(url)
        if found is None:
            return None
        return platforms.detect(found), found

    def is_link_in_bio(self, url: str) -> bool:
        host = platforms.registry.host_of(url)
        netloc = _netloc(split(url)) if split(url) else host
        return any(host == h or host.endswith("." + h) or netloc == h for h in self.link_in_bio)

    def is_platform(self, url: str) -> bool:
        """Whether the URL is on a platform's host (an account, a post or one of its own pages)."""
        parts = split(url)
        return parts is not None and (platforms.registry.detect(url) is not None or _netloc(parts) in self.rules)


def _netloc(parts: Url) -> str:
    return parts.host if parts.port is None else f"{parts.host}:{parts.port}"


def _blog_of(link: Link, page_url: str, hosts: Hosts) -> tuple[str, str] | None:
    """A link to a blog on its own host, from a seed or link-in-bio page ("Besök vår blogg")."""
    if link.how != "link" or not _BLOG_WORDS.search(link.text) or hosts.is_platform(link.url):
        return None
    parts, page = split(link.url), split(page_url)
    if parts is None or page is None or parts.host == page.host or len(parts.segments()) > 1:
        return None
    canonical = platforms.canonical_url(replace(parts, query=()).text())
    return platforms.detect(canonical, default="blog"), canonical


# --------------------------------------------------------------------------- units and areas


def fold(text: str) -> str:
    """Lower case, no accents, letters and digits separated by single spaces ("ForskolanSolrosen"
    and "förskolan_solrosen" both give "forskolan solrosen")."""
    text = re.sub(r"(?<=[a-zåäö])(?=[A-ZÅÄÖ])", " ", text)  # CamelCase page names
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _tokens(text: str, generic: frozenset[str]) -> frozenset[str]:
    out = set()
    for word in fold(text).split():
        if word in generic or word.isdigit() or len(word) < 3:
            continue
        out.add(word[:-1] if len(word) > 4 and word.endswith("s") else word)  # "Tallbackens" is Tallbacken
    return frozenset(out)


class Units:
    """The registry's units and areas, matched against names and page titles."""

    def __init__(self, accounts: Iterable[Account], municipality: str = ""):
        said = " ".join(w for p in platforms.all_platforms() for w in (p.name, p.label, *p.aliases))
        self.generic = _GENERIC | frozenset(fold(municipality).split()) | frozenset(fold(said).split())
        self.accounts = {a.id: a for a in accounts}
        self.units: dict[frozenset[str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for a in self.accounts.values():
            key = _tokens(a.unit, self.generic)
            if key:
                self.units[key][a.unit].add(a.area)

    def match(self, *texts: str) -> list[tuple[str, frozenset[str]]]:
        """Units all of whose distinctive words appear in the texts, most specific first:
        [(unit, its areas)]."""
        words: set[str] = set()
        for text in texts:
            words |= _tokens(text, self.generic)
        found = [(key, names) for key, names in self.units.items() if key <= words]
        found.sort(key=lambda kn: -len(kn[0]))
        if not found:
            return []
        best = len(found[0][0])
        return [(unit, frozenset(areas)) for key, names in found if len(key) == best for unit, areas in names.items()]


# --------------------------------------------------------------------------- judging a candidate


@dataclass(frozen=True)
class Evidence:
    """One sighting of a candidate: the link, the page it was on, what kind of page that was."""

    page_url: str
    link: Link
    source: str  # account | seed | link-in-bio
    source_account: str | None = None  # the registered account whose page (or link-in-bio page) it was
    page_title: str = ""
    sitewide: bool = False  # the same link is on most pages of its kind (the site's own account)


@dataclass
class Finding:
    """Every sighting of one account (by its canonical profile URL)."""

    url: str
    platform: str
    evidence: list[Evidence] = field(default_factory=list)


@dataclass(frozen=True)
class Facts:
    """What checking a candidate's profile told. `name` and `text` are read to judge, never stored."""

    exists: bool | None
    checked: str  # stored: "profile page: exists", "Graph API: professional account", ...
    professional: bool | None = None
    name: str = ""
    text: str = ""
    platform: str | None = None  # a more precise platform (a self-hosted blog that is WordPress)


NOT_CHECKED = Facts(None, "not checked")


@dataclass(frozen=True)
class Judgement:
    state: str  # proposed | excluded
    score: float
    reasons: tuple[str, ...]
    unit: str | None
    area: str | None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


_BASE = {"account": 0.45, "seed": 0.45, "link-in-bio": 0.4}


def judge(finding: Finding, facts: Facts, units: Units, discovery: Discovery) -> Judgement:
    """Score one candidate from its evidence and its profile check, and decide proposed or excluded.

    Points: where it was found (a registered account's page or a seed page 0.45, a link-in-bio
    page 0.4, a bare "@handle" mention 0.15), the page declaring it its own (rel="me", sameAs:
    +0.2), an inviting link text ("Följ oss på Instagram": +0.1), more than one page (+0.1), the
    profile exists (+0.15) and is professional (+0.05), its name names the guessed unit (+0.15).
    A name pointing at another unit than the page it was found on costs 0.2. Vetoes (excluded,
    whatever the score): a parents' association, another municipality, a profile that does not
    exist, a link the site carries on every page.
    """
    reasons: list[str] = []
    evidence = finding.evidence
    kept = [e for e in evidence if not e.sitewide] or []
    links = [e.link for e in evidence]
    texts = [link.text for link in links] + [facts.name, facts.text]
    handle = fold(urlsplit(finding.url).path + " " + (urlsplit(finding.url).hostname or ""))
    vetoes = []
    if not kept:
        vetoes.append("linked on every page of its site (the site's own account, not a preschool's)")
    if any(_PARENTS.search(t) for t in [*texts, handle] if t):
        vetoes.append("a parents' association or similar group, not the preschool's own account")
    other = _other_municipality(texts, discovery.municipality)
    if other:
        vetoes.append(f"names another municipality ({other})")
    if facts.exists is False:
        vetoes.append(f"the profile does not exist ({facts.checked})")

    score = 0.0
    real = [e for e in kept if e.link.how != "mention"]
    if real:
        best = max(real, key=lambda e: _BASE.get(e.source, 0.3))
        score += _BASE.get(best.source, 0.3)
        reasons.append({"account": f"linked from registered account {best.source_account}'s page",
                        "seed": "linked from a seed page", "link-in-bio": "listed on a link-in-bio page"}
                       .get(best.source, "linked"))
    elif kept:
        score += 0.15
        reasons.append("named on a page (\"@handle\"), not linked")
    if any(e.link.how in ("rel-me", "same-as") for e in kept):
        score += 0.2
        reasons.append("the page declares it its own (rel=me / sameAs)")
    if any(_INVITING.search(e.link.text) for e in kept):
        score += 0.1
        reasons.append("inviting link text")
    pages = {e.page_url for e in kept}
    if len(pages) > 1:
        score += 0.1
        reasons.append(f"found on {len(pages)} pages")
    if facts.exists:
        score += 0.15
        reasons.append(facts.checked)
        if facts.professional:
            score += 0.05

    unit, area, conflict = _guess(finding, facts, units, kept)
    if unit and facts.name and any(u == unit for u, _ in units.match(facts.name)):
        score += 0.15
        reasons.append("its name names the unit")
    if conflict:
        score -= 0.2
        reasons.append(conflict)
    if not unit:
        reasons.append("unit not recognised: give --unit and --area on accept")
    score = round(max(0.0, min(1.0, score)), 2)
    if vetoes:
        return Judgement("excluded", score, tuple(vetoes + reasons), unit, area)
    if score < discovery.min_score:
        return Judgement("excluded", score, (f"score {score:.2f} below min_score {discovery.min_score:.2f}", *reasons),
                         unit, area)
    return Judgement("proposed", score, tuple(reasons), unit, area)


def _other_municipality(texts: Iterable[str], municipality: str) -> str | None:
    """The name of a municipality other than ours that the texts name ("Lunds kommun"), or None."""
    if not municipality:
        return None
    ours = {fold(municipality), fold(municipality).rstrip("s")}
    for text in texts:
        for m in _MUNICIPALITY.finditer(text or ""):
            name = fold(m.group(1))
            if name not in ours and name.rstrip("s") not in ours:
                return m.group(1).rstrip("s") if m.group(1).endswith("s") and len(m.group(1)) > 4 else m.group(1)
    return None


def _guess(finding: Finding, facts: Facts, units: Units, evidence: list[Evidence]
           ) -> tuple[str | None, str | None, str | None]:
    """(unit, area, conflict): from the pages it was found on and from its own name."""
    votes: Counter = Counter()
    areas: dict[str, set[str]] = defaultdict(set)
    page_units: set[str] = set()
    for e in evidence:
        account = units.accounts.get(e.source_account or "")
        if account is not None:
            votes[account.unit] += 2
            areas[account.unit].add(account.area)
            page_units.add(account.unit)
        elif e.source == "seed":
            for unit, unit_areas in units.match(e.page_title):
                votes[unit] += 2
                areas[unit] |= unit_areas
                page_units.add(unit)
    named = units.match(facts.name, *(e.link.text for e in evidence),
                        fold(urlsplit(finding.url).path))
    for unit, unit_areas in named:
        votes[unit] += 3 if facts.name else 1  # the account's own name says more than where it was linked
        areas[unit] |= unit_areas
    if not votes:
        return None, None, None
    (unit, _), *rest = votes.most_common()
    if rest and rest[0][1] == votes[unit]:
        return None, None, "the pages and the name point at different units"
    conflict = None
    if named and page_units and unit not in page_units:
        conflict = f"its name speaks of {unit}, but it was found on another unit's page"
    unit_areas = areas[unit]
    return unit, (next(iter(unit_areas)) if len(unit_areas) == 1 else None), conflict


# --------------------------------------------------------------------------- the run (I/O)


ProfileCheck = Callable[[str, str], Awaitable["Facts | str | None"]]
"""An official API's account check, asked before the public profile page: `check(platform, url)` ->
Facts (the API decided), a str (why it could not: the public page decides and the note is kept in
`checked`), or None (not a platform the API reads)."""

GRAPH_PROFESSIONAL = "Graph API: professional account"


def graph_check(client, now: datetime) -> ProfileCheck:
    """Instagram candidates through the Graph API's Business Discovery (`MetaClient.instagram_user`).

    A professional account is decided by the API (exists, professional, its bio read to judge, never
    stored). "Not found" decides nothing: a personal account, a renamed one and a missing one look
    alike to Business Discovery, so the public profile page decides, and so it does when the API is
    unavailable (token, throttling) or not configured; the note says why in the candidate's `checked`.
    """
    from crawler.platforms import instagram

    async def check(platform: str, url: str) -> Facts | str | None:
        if platform != "instagram":
            return None
        handle = instagram.handle_of(url)
        if not handle:
            return None
        read = await client.instagram_user(handle, now)
        if read.result == "read" and read.observation is not None:
            bio = " ".join(clean_text(t.text, 500) for t in read.observation.texts if t.kind == "bio")
            return Facts(True, GRAPH_PROFESSIONAL, professional=True, text=bio)
        if read.result == "not_found":
            return "Graph API: not found through Business Discovery (personal, renamed and missing accounts look alike)"
        return f"Graph API {read.result.replace('_', ' ')}: {clean_text(read.note, 200)}"

    return check


@dataclass
class RunReport:
    """What one discovery run did."""

    pages: int = 0  # pages read (account pages, seed pages, link-in-bio pages)
    failed: Counter = field(default_factory=Counter)  # pages that could not be read, by error
    links: int = 0
    candidates: int = 0
    proposed: list[int] = field(default_factory=list)  # candidate ids proposed now (new or still)
    excluded: int = 0
    new: int = 0
    reopened: int = 0
    registered: int = 0  # earlier candidates that are in the registry now

    def summary(self) -> str:
        failed = sum(self.failed.values())
        return (f"read {self.pages} pages ({failed} could not be read), {self.links} links; "
                f"{self.candidates} accounts not in the registry ({self.new} new, {self.reopened} reopened on "
                f"new evidence): {len(self.proposed)} proposed, {self.excluded} excluded")


async def run(registry: sources.Registry, store: Store, fetch: Fetch, now: datetime, *,
              check: ProfileCheck | None = None, concurrency: int | None = None) -> RunReport:
    """One discovery run: read the pages, find the accounts the registry lacks, judge, store.

    `fetch` is the Fetcher's (robots, per-host limits); `check` an official API's account check
    (Instagram's Business Discovery, `graph_check`) used before the public profile page where it
    answers. Each candidate's `checked` says which route judged it ("Graph API: professional
    account", "profile page: exists (Graph API: ...)").
    """
    settings = registry.settings
    discovery = settings.discovery
    hosts = Hosts(registry.accounts, discovery.link_in_bio_hosts)
    units = Units(registry.accounts, discovery.municipality)
    report = RunReport()
    limit = asyncio.Semaphore(concurrency or settings.concurrency)

    async def read(url: str) -> PageLinks | None:
        async with limit:
            fetched = await fetch(url)
        if fetched.error or fetched.status != 200 or not fetched.body:
            report.failed[fetched.error or f"http {fetched.status}"] += 1
            return None
        if common.sniff(fetched.body) != "html":
            report.failed["not html"] += 1
            return None
        report.pages += 1
        return await asyncio.to_thread(extract, fetched.body, fetched.final_url or url, dict(fetched.headers))

    seeds = list(discovery.pages) + await _sitemap_pages(discovery, fetch, report)
    seeds = list(dict.fromkeys(seeds))[: discovery.max_pages]
    sources_of: list[tuple[str, str | None]] = ([("account", a.id) for a in registry.accounts]
                                                + [("seed", None)] * len(seeds))
    urls = [a.url for a in registry.accounts] + seeds
    read_pages = await asyncio.gather(*(read(u) for u in urls))
    evidence: list[Evidence] = []
    bio: dict[str, tuple[str | None, Evidence]] = {}
    for (source, account_id), page in zip(sources_of, read_pages, strict=True):
        if page is None:
            continue
        for link in page.links:
            report.links += 1
            item = Evidence(page.url, link, source, account_id, page.title)
            if hosts.is_link_in_bio(link.url):
                bio.setdefault(link.url, (account_id, item))
            evidence.append(item)
    bio_urls = list(bio)[:MAX_BIO_PAGES]
    for url, page in zip(bio_urls, await asyncio.gather(*(read(u) for u in bio_urls)), strict=True):
        if page is None:
            continue
        account_id, via = bio[url]
        for link in page.links:
            report.links += 1
            evidence.append(Evidence(page.url, link, "link-in-bio", account_id, via.page_title))

    registered = {sources.normalize_url(a.url) for a in registry.accounts}
    findings = _findings(evidence, hosts, registered, len([p for p in read_pages if p is not None]))
    report.candidates = len(findings)

    async def facts_of(finding: Finding) -> Facts:
        async with limit:
            note = None
            if check is not None:
                found = await check(finding.platform, finding.url)
                if isinstance(found, Facts):
                    return found
                note = found
            declared = platforms.get(finding.platform)
            if declared is not None and declared.mobile:  # Instagram shows a desktop no profile at all
                fetched = await fetch(finding.url, mobile=True)  # type: ignore[call-arg]
            else:
                fetched = await fetch(finding.url)
        facts = profile_facts(fetched, finding.platform, now, settings)
        return replace(facts, checked=f"{facts.checked} ({note})") if note else facts

    checked = await asyncio.gather(*(facts_of(f) for f in findings))
    sightings = []
    for finding, facts in zip(findings, checked, strict=True):
        verdict = judge(finding, facts, units, discovery)
        sightings.append(Sighting(
            url=finding.url, platform=facts.platform or finding.platform, state=verdict.state, score=verdict.score,
            reason=verdict.reason, unit=verdict.unit, area=verdict.area, checked=facts.checked,
            evidence=tuple(SeenLink(e.page_url, e.link.url, e.link.text, e.link.how, e.link.region, e.source,
                                    e.source_account) for e in finding.evidence)))
    saved = store.save_sightings(sightings, now)
    report.new, report.reopened = len(saved.new), len(saved.reopened)
    report.registered = store.mark_registered(
        [c.id for c in store.candidates() if sources.normalize_url(c.url) in registered], now)
    known = {c.url: c for c in store.candidates()}
    for s in sightings:
        record = known[s.url]
        if record.state == "proposed":
            report.proposed.append(record.id)
        elif record.state == "excluded":
            report.excluded += 1
    return report


def _findings(evidence: list[Evidence], hosts: Hosts, registered: set[str], pages: int) -> list[Finding]:
    """Group the links that name accounts not in the registry by account; mark site-wide links."""
    by_url: dict[str, Finding] = {}
    named: list[tuple[Evidence, str, str]] = []
    for e in evidence:
        found = hosts.account_of(e.link.url)
        if found is None and e.source in ("seed", "link-in-bio"):
            found = _blog_of(e.link, e.page_url, hosts)
        if found is None or found[0] is None:
            continue
        platform, url = found
        if sources.normalize_url(url) in registered:
            continue
        named.append((e, platform, url))
    # A link on most pages of one kind is the site's chrome (the city's own account in every footer).
    spread: dict[tuple[str, str], set[str]] = defaultdict(set)
    totals: dict[str, set[str]] = defaultdict(set)
    for e in evidence:
        totals[e.source].add(e.page_url)
    for e, _, url in named:
        spread[(e.source, url)].add(e.page_url)
    for e, platform, url in named:
        total = len(totals[e.source])
        carried = len(spread[(e.source, url)])
        sitewide = carried >= 3 and carried * 2 >= total
        finding = by_url.setdefault(url, Finding(url, platform))
        if not any(x.page_url == e.page_url and x.link == e.link for x in finding.evidence):
            finding.evidence.append(replace(e, sitewide=sitewide))
    return sorted(by_url.values(), key=lambda f: f.url)


async def _sitemap_pages(discovery: Discovery, fetch: Fetch, report: RunReport) -> list[str]:
    """The seed pages listed by the configured sitemaps (and sitemap index files, one level)."""
    out: list[str] = []
    queue = list(discovery.sitemaps)
    done = 0
    while queue and done < MAX_SITEMAP_FILES and len(out) < discovery.max_pages:
        url = queue.pop(0)
        done += 1
        fetched = await fetch(url)
        if fetched.error or fetched.status != 200 or not fetched.body:
            report.failed[fetched.error or f"http {fetched.status}"] += 1
            continue
        index, locs = sitemap_urls(fetched.body)
        if index:
            queue.extend(locs[:MAX_SITEMAP_FILES])
            continue
        out.extend(u for u in locs if discovery.sitemap_filter in u)
    return out


def sitemap_urls(body: bytes) -> tuple[bool, list[str]]:
    """(is a sitemap index, the <loc> URLs) of a sitemap (linear scan; no XML entities expanded)."""
    text = common.decode(body[: 50 * 1024 * 1024])
    locs = [html.unescape(m.group(1)) for m in _LOC.finditer(text)][:MAX_SITEMAP_URLS]
    return bool(_SITEMAP_INDEX.search(text[:4096])), [u for u in locs if u.startswith(("http://", "https://"))]


def profile_facts(fetched: Fetched, platform: str, now: datetime, settings: Settings) -> Facts:
    """What a candidate's public profile page says: exists or not, its name and bio (not stored)."""
    if fetched.error:
        return Facts(None, f"profile page: {fetched.error}")
    observation = platforms.adapter(platform).parse(fetched, now, settings, platform)
    if observation.login_wall:
        return Facts(None, "profile page: login wall")
    if observation.exists is False:
        return Facts(False, "profile page: not found")
    if observation.exists is None:
        return Facts(None, f"profile page: {observation.reason}")
    name = text = ""
    better = None
    body = fetched.body or b""
    if common.sniff(body) == "html":
        try:
            tree = common.parse_html(body, dict(fetched.headers))
        except common.TooDeep:
            tree = None
        if tree is not None:
            name = clean_text(common.meta(tree, "og:title") or common.node_text(tree.css_first("title"), 300), 300)
            generator = (common.meta(tree, "generator") or "").lower()
            if platform == "blog" and generator.startswith("wordpress"):
                better = "wordpress"
    text = " ".join(clean_text(t.text, 500) for t in observation.texts)
    return Facts(True, "profile page: exists", name=name, text=text, platform=better)


# --------------------------------------------------------------------------- a person decides


ACCEPTABLE = ("proposed",)
FORCEABLE = ("proposed", "excluded", "dismissed")


def accept(store: Store, registry_path: str | Path, candidate_id: int, by: str, now: datetime, *,
           unit: str | None = None, area: str | None = None, account_id: str | None = None,
           platform: str | None = None, comment: str | None = None, force: bool = False) -> Account:
    """Write a candidate into sources.yaml as a registry entry, and record the decision and the person.

    The entry goes through the registry's own validation (sources.entry_from_fields, then
    append_accounts re-validates the whole file and writes it atomically), like a CSV import. An
    excluded or dismissed candidate needs `force`. The next crawl (its sync) visits the account.
    """
    by = _person(by)
    detail = store.candidate(candidate_id)
    c = detail.candidate
    if c.state in ("accepted", "registered"):
        raise CrawlerError(f"candidate {c.id} is already in the registry"
                           + (f" as {c.account_id!r}" if c.account_id else "") + ".")
    if c.state not in (FORCEABLE if force else ACCEPTABLE):
        raise CrawlerError(f"candidate {c.id} is {c.state} ({c.reason}).\n\nAdd --force to accept it all the same.")
    path = str(registry_path)
    registry = sources.load(path)
    key = sources.normalize_url(c.url)
    for a in registry.accounts:
        if sources.normalize_url(a.url) == key:
            store.mark_registered([c.id], now)
            raise CrawlerError(f"{c.url} is already in {path} as {a.id!r}; the candidate is marked registered.")
    unit = " ".join((unit or c.unit or "").split())
    area = " ".join((area or c.area or "").split())
    if not unit or not area:
        missing = " and ".join(n for n, v in (("--unit", unit), ("--area", area)) if not v)
        raise CrawlerError(f"candidate {c.id}'s {'unit' if not unit else 'area'} is not known; give {missing}.")
    platform = platform or c.platform
    taken = {a.id for a in registry.accounts}
    ident = account_id or f"{sources.slug(unit)}-{platform}"
    if not account_id and ident in taken:
        ident = f"{ident}-{c.id}"
    if ident in taken:
        raise CrawlerError(f"id {ident!r} is already used in {path}; give another with --id.")
    found_on = detail.evidence[0].page_url if detail.evidence else ""
    fields = {"id": (ident, 0), "unit": (unit, 0), "area": (area, 0), "platform": (platform, 0),
              "url": (c.url, 0), "added": (to_local(now).date().isoformat(), 0),
              "notes": (clean_text(f"found by crawler discover (candidate {c.id}) on {found_on}", 500), 0)}
    problems: list[Problem] = []
    account = sources.entry_from_fields(fields, 0, f"candidate {c.id}", problems)
    if account is None:
        raise RegistryError(problems, heading=f"candidate {c.id} cannot be written into {path}",
                            advice="Give the fields with --unit, --area, --id or --platform.")
    sources.append_accounts(path, [account])
    if not store.decide_candidate(c.id, FORCEABLE if force else ACCEPTABLE, "accepted", by, now, comment, ident):
        raise CrawlerError(f"candidate {c.id} was decided by someone else meanwhile; {ident!r} was written into "
                           f"{path} all the same: check it.")
    return account


def dismiss(store: Store, candidate_id: int, by: str, now: datetime, *, comment: str | None = None) -> None:
    """Dismiss a candidate: never proposed again unless new evidence (a page never seen) appears."""
    by = _person(by)
    c = store.candidate(candidate_id).candidate
    if c.state in ("accepted", "registered"):
        raise CrawlerError(f"candidate {c.id} is in the registry; remove it from sources.yaml instead.")
    if c.state == "dismissed":
        raise CrawlerError(f"candidate {c.id} is already dismissed (by {c.decided_by}).")
    if not store.decide_candidate(c.id, ("proposed", "excluded"), "dismissed", by, now, comment):
        raise CrawlerError(f"candidate {c.id} was decided by someone else meanwhile.")


def _person(by: str | None) -> str:
    name = clean_text(by, 100)
    if not name:
        raise CrawlerError("a decision needs the name of the person making it (--by).")
    return name



# --------------------------------------------------------------------------- the command's entry points


def discover_once(registry: sources.Registry, store: Store, *, now: datetime | None = None,
                  check: ProfileCheck | None = None) -> RunReport:
    """`crawler discover`: one run through a Fetcher of the registry's settings (refused, like a
    crawl, while the contact is the placeholder). With `settings: meta:` configured, Instagram
    candidates are checked through the Graph API first (`graph_check`)."""
    from crawler.clock import utcnow
    from crawler.fetch import Fetcher

    at = now or utcnow()

    async def go() -> RunReport:
        async with Fetcher(registry.settings) as fetcher:
            return await with_graph(registry, store, fetcher.fetch, at, check=check)

    return asyncio.run(go())


async def with_graph(registry: sources.Registry, store: Store, fetch: Fetch, now: datetime, *,
                     check: ProfileCheck | None = None, meta=None) -> RunReport:
    """`run` with the Graph API as the Instagram check when settings.meta is configured (a client of
    its own unless `meta` is given). A problem with the API (an invalid token, throttling, missing
    permissions) is recorded in api_status as a crawl records it; a run that went well leaves the
    crawl's record alone (the crawl's reads are what the status page speaks of)."""
    from crawler.meta import MetaClient

    settings = registry.settings
    if check is not None or (meta is None and not settings.meta.configured):
        return await run(registry, store, fetch, now, check=check)
    client = meta or MetaClient(settings)
    try:
        report = await run(registry, store, fetch, now, check=graph_check(client, now))
    finally:
        if meta is None:
            await client.aclose()
    status = client.status()
    if client.used and status.state != "ok":  # a problem found here is ops' to see; "ok" is the crawl's to say
        store.record_api_status(status.api, status.state, status.detail, now, calls=status.calls,
                                usage_percent=status.usage_percent)
    return report


def to_dict(c) -> dict:
    """A candidate record as JSON-ready data."""
    return {"id": c.id, "url": c.url, "platform": c.platform, "state": c.state, "score": c.score,
            "unit": c.unit, "area": c.area, "reason": c.reason, "checked": c.checked,
            "first_seen_at": c.first_seen_at.isoformat(), "last_seen_at": c.last_seen_at.isoformat(),
            "decided_by": c.decided_by, "account_id": c.account_id, "evidence": c.evidence_count}


def format_list(items: Sequence) -> str:
    """Candidates as a table for a terminal (every crawled string cleaned of control characters)."""
    if not items:
        return "no candidates"
    lines = [f"{'id':>4}  {'score':5}  {'state':9}  {'platform':9}  {'unit':28}  {'area':24}  url"]
    for c in items:
        lines.append(f"{c.id:>4}  {c.score:5.2f}  {c.state:9}  {clean_text(c.platform, 9):9}  "
                     f"{clean_text(c.unit or '?', 28):28}  {clean_text(c.area or '?', 24):24}  {clean_text(c.url, 300)}")
    return "\n".join(lines)


def format_detail(detail) -> str:
    """One candidate with its evidence and its decisions, for a terminal."""
    c = detail.candidate
    lines = [f"Candidate {c.id}: {clean_text(c.url, 500)}",
             f"  platform {c.platform}, state {c.state}, score {c.score:.2f}",
             f"  unit: {clean_text(c.unit or 'not recognised', 200)}; area: {clean_text(c.area or 'not known', 200)}",
             f"  profile check: {clean_text(c.checked or 'not checked', 200)}",
             f"  why: {clean_text(c.reason, 1000)}",
             f"  first seen {c.first_seen_at:%Y-%m-%d}, last seen {c.last_seen_at:%Y-%m-%d}",
             "", f"Evidence ({len(detail.evidence)}):"]
    for e in detail.evidence:
        via = f" (page of {e.source_account})" if e.source_account else ""
        lines.append(f"  - on {clean_text(e.page_url, 500)}{via}, {e.source}, {e.how} in {e.region or 'the text'}:")
        lines.append(f"    \"{clean_text(e.link_text) or '(no text)'}\" -> {clean_text(e.link_url, 500)}")
    if detail.decisions:
        lines += ["", "Decisions:"]
        for d in detail.decisions:
            extra = f" as {d.account_id}" if d.account_id else ""
            note = f": {clean_text(d.comment, 300)}" if d.comment else ""
            lines.append(f"  {d.at:%Y-%m-%d %H:%M} {d.decision}{extra} by {clean_text(d.by, 100)}{note}")
    if c.state == "proposed":
        lines += ["", f"Accept: crawler discover accept {c.id} --by \"Your Name\"   "
                  f"Dismiss: crawler discover dismiss {c.id} --by \"Your Name\""]
    return "\n".join(lines)
