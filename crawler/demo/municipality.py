"""The municipality's side of the simulated web: its preschool pages, accounts the registry lacks, and
look-alikes that discovery must not propose.

Pure and deterministic from the world. What it adds to the web:

* the municipality's site (host `kommun`, standing in for malmo.se): one page per preschool (unit and
  area) linking the preschool's accounts, a sitemap of them (plus pages that are not about a
  preschool), and a site footer linking the city's own Instagram and Facebook on every page;
* a few **missing accounts**: an Instagram or Facebook of a preschool that has a registered blog,
  served like any profile but left out of the demo's sources.yaml. Discovery finds them on the
  preschool's municipality page, in its blog's footer (rel="me") or on a link-in-bio page (host
  `linkinbio`) its blog links;
* **look-alikes**, also served as real profiles: a parents' association's Facebook page linked from
  a preschool page, a preschool of the same name in another municipality (Lund) linked from a blog's
  footer, a link to one of the city's posts (not a profile), an Instagram post, and the city's own
  accounts in every page's footer.

`Municipality(world).truth()` says which URLs a discoverer should propose and which it must not.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from html import escape
from xml.sax.saxutils import escape as xml_escape

from crawler.demo.world import DemoAccount, World, _slugify

MUNICIPALITY = "Malmö"
_BLOG_KINDS = ("wp_self", "wp_com", "blogger", "blog")
_SCAN = 5000  # accounts looked at for the missing ones (a 100,000-account world stays cheap)


@dataclass(frozen=True)
class Missing:
    """An account of a registered preschool that the demo's registry lacks."""

    unit: str
    area: str
    platform: str  # instagram | facebook
    host: str
    slug: str
    blog: DemoAccount  # the preschool's registered blog
    found_on: str  # "page" (its municipality page), "footer" (its blog, rel=me), "bio" (a link-in-bio page)

    @property
    def professional(self) -> bool:
        """A professional Instagram account (the Graph API's Business Discovery knows it); the one found
        on a link-in-bio page is a personal account, which only its public page shows."""
        return self.platform == "instagram" and self.found_on != "bio"

    @property
    def bio(self) -> str:
        return f"Förskola i {MUNICIPALITY}, {self.area}."


@dataclass(frozen=True)
class LookAlike:
    """A profile or post a discoverer meets and must not propose."""

    kind: str  # parents | other-municipality | post | city
    host: str
    path: str
    name: str  # what its profile page calls it
    bio: str = ""

    @property
    def professional(self) -> bool:
        """Profiles, not posts, on Instagram: all professional (Business Discovery answers for them)."""
        return self.host == "instagram" and self.kind != "post"


@dataclass(frozen=True)
class Truth:
    """What discovery should find on the demo web (paths on their hosts)."""

    missing: tuple[Missing, ...]
    look_alikes: tuple[LookAlike, ...]


class Municipality:
    """The municipality's pages and the accounts outside the registry, derived from a world."""

    def __init__(self, world: World):
        self.world = world

    # -- the preschools -----------------------------------------------------------------------

    @functools.cached_property
    def preschools(self) -> dict[str, tuple[str, str, tuple[int, ...]]]:
        """slug -> (unit, area, indexes of its registered accounts), one per unit and area."""
        groups: dict[tuple[str, str], list[int]] = {}
        for acc in self.world.accounts():
            groups.setdefault((acc.unit, acc.area), []).append(acc.index)
        out = {}
        for (unit, area), indexes in groups.items():
            area_number = area.split()[1] if len(area.split()) > 1 else "0"
            out[f"{_slugify(unit)}-{area_number}"] = (unit, area, tuple(indexes))
        return out

    @functools.cached_property
    def page_of(self) -> dict[int, str]:
        """account index -> the slug of its preschool's page."""
        return {i: slug for slug, (_, _, indexes) in self.preschools.items() for i in indexes}

    @functools.cached_property
    def truth(self) -> Truth:
        scanned = [self.world.account(i) for i in range(min(self.world.n, _SCAN))]
        names: dict[str, set[str]] = {}
        for acc in scanned:  # units named in one area only, so that the unit guess is one preschool
            names.setdefault(acc.unit, set()).add(acc.area)
        eligible = []
        for acc in scanned:
            if (acc.kind in _BLOG_KINDS and acc.archetype == "steady" and not acc.robots_disallowed
                    and acc.moved_at is None and len(names[acc.unit]) == 1):
                eligible.append(acc)
        count = min(len(eligible), max(3, round(4 * self.world.n / 319)))
        used_units: set[str] = set()
        missing = []
        for acc in eligible:
            if len(missing) == count:
                break
            if acc.unit in used_units:
                continue
            used_units.add(acc.unit)
            k = len(missing)
            base = _slugify(acc.unit)
            if k % 4 == 3:
                platform, host, slug = "facebook", "facebook", "".join(w.capitalize() for w in base.split("-")) + "Malmo"
            else:
                platform, host, slug = "instagram", "instagram", base.replace("-", "_")[:22] + "_mlm"
            found_on = ("footer", "bio", "page", "page")[k % 4]
            missing.append(Missing(acc.unit, acc.area, platform, host, slug, acc, found_on))
        looks: list[LookAlike] = [
            LookAlike("city", "instagram", "/malmostad/", "Malmö stad"),
            LookAlike("city", "facebook", "/MalmoStad/", "Malmö stad"),
            LookAlike("post", "facebook", "/MalmoStad/posts/1234567890/", "Malmö stad"),
            LookAlike("post", "instagram", "/p/CxDemo1abc/", "Malmö stad"),
        ]
        if missing:
            first = missing[0]
            base = _slugify(first.unit)
            looks.append(LookAlike("other-municipality", "instagram", f"/{base.replace('-', '_')[:22]}_lund/",
                                   first.unit, "Kommunal förskola i Lunds kommun. Välkommen!"))
            parents_of = missing[min(2, len(missing) - 1)]
            camel = "".join(w.capitalize() for w in _slugify(parents_of.unit).split("-"))
            looks.append(LookAlike("parents", "facebook", f"/Foraldraforeningen{camel}/",
                                   f"Föräldraföreningen {parents_of.unit}", "Föräldraföreningen för barnens bästa."))
        return Truth(tuple(missing), tuple(looks))

    def missing_on(self, host: str, slug: str) -> Missing | None:
        return next((m for m in self.truth.missing if m.host == host and m.slug == slug), None)

    def look_alike(self, host: str, path: str) -> LookAlike | None:
        return next((x for x in self.truth.look_alikes if x.host == host and x.path == path), None)

    def instagram_profile(self, username: str) -> tuple[str, str] | None:
        """(name, bio) of a professional Instagram account outside the registry (a missing account, the
        Lund look-alike, the city's own), as the Graph API's Business Discovery reads it; else None."""
        name = username.lower()
        for m in self.truth.missing:
            if m.professional and m.slug.lower() == name:
                return m.unit, m.bio
        for x in self.truth.look_alikes:
            if x.professional and x.path.strip("/").lower() == name:
                return x.name, x.bio or f"{x.name}: officiellt konto."
        return None

    def discovery_settings(self, bases: dict[str, str]) -> dict:
        """The `settings: discovery:` of the demo registry."""
        return {"municipality": MUNICIPALITY, "sitemaps": [f"{bases['kommun']}/sitemap.xml"],
                "sitemap_filter": "/forskolor/", "link_in_bio": [bases["linkinbio"].split("//", 1)[1]]}

    # -- what a blog's footer adds ------------------------------------------------------------

    def footer(self, acc: DemoAccount, bases: dict[str, str]) -> str:
        """Extra footer links of a registered blog: its missing account, a friend in Lund, a post."""
        parts = []
        for m in self.truth.missing:
            if m.blog.index != acc.index:
                continue
            if m.found_on == "footer":
                parts.append(f'<a rel="me" href="{bases[m.host]}/{m.slug}/">Följ oss på Instagram</a>')
                lund = next(x for x in self.truth.look_alikes if x.kind == "other-municipality")
                parts.append(f'<a href="{bases[lund.host]}{lund.path}">Vår vänförskola {escape(m.unit)} i Lund</a>')
                parts.append(f'<a href="{bases["instagram"]}/p/CxDemo1abc/">Se Malmö stads inlägg</a>')
            elif m.found_on == "bio":
                parts.append(f'<a href="{bases["linkinbio"]}/{m.slug}">Alla våra länkar</a>')
        return f'<div class="site-footer links">{"".join(parts)}</div>' if parts else ""

    # -- the municipality's site and the link-in-bio pages -------------------------------------

    def render(self, bases: dict[str, str], host: str, path: str) -> tuple[int, str, str] | None:
        """(status, content type, body) for the municipality's and link-in-bio hosts, and for the
        profiles outside the registry on the platforms' hosts; None for everything else."""
        if host == "kommun":
            return self._kommun(bases, path)
        if host == "linkinbio":
            slug = path.strip("/")
            m = next((m for m in self.truth.missing if m.found_on == "bio" and m.slug == slug), None)
            if m is None:
                return None
            links = (f'<a href="{bases[m.host]}/{m.slug}/">Instagram</a>'
                     f'<a href="{bases[m.blog.host]}/{m.blog.slug}/">Vår blogg</a>')
            return 200, "text/html; charset=utf-8", (
                f"<!DOCTYPE html><html><head><title>{escape(m.unit)} | Länkar</title></head><body>"
                f"<h1>{escape(m.unit)}</h1><main class=\"links\">{links}</main></body></html>")
        if host in ("instagram", "facebook"):
            slug = path.strip("/").split("/")[0] if path.strip("/") else ""
            m = self.missing_on(host, slug)
            if m is not None and path == f"/{slug}/":
                return 200, "text/html; charset=utf-8", _profile(host, bases[host], slug, m.unit, m.bio)
            x = self.look_alike(host, path)
            if x is not None and x.kind != "post":
                return 200, "text/html; charset=utf-8", _profile(host, bases[host], path.strip("/"), x.name, x.bio)
            if x is not None:
                return 200, "text/html; charset=utf-8", (
                    "<!DOCTYPE html><html><head><title>Malmö stad | Inlägg</title></head><body>"
                    "<p>Från 1 mars hittar ni information från förskolan i Tempus Hemma.</p></body></html>")
        return None

    def _kommun(self, bases: dict[str, str], path: str) -> tuple[int, str, str] | None:
        base = bases["kommun"]
        if path == "/sitemap.xml":
            locs = [f"{base}/", f"{base}/kontakt/", f"{base}/nyheter/tempus-hemma/"]
            locs += [f"{base}/forskolor/{slug}/" for slug in self.preschools]
            body = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    + "".join(f"<url><loc>{xml_escape(u)}</loc></url>" for u in locs) + "</urlset>")
            return 200, "application/xml", body
        footer = (f'<footer class="site-footer"><p>Malmö stad, 205 80 Malmö</p>'
                  f'<a href="{bases["instagram"]}/malmostad/">Malmö stad på Instagram</a>'
                  f'<a href="{bases["facebook"]}/MalmoStad/">Malmö stad på Facebook</a></footer>')
        if path in ("/", "/kontakt/", "/nyheter/tempus-hemma/"):
            return 200, "text/html; charset=utf-8", (
                f"<!DOCTYPE html><html lang=\"sv\"><head><title>Malmö stad</title></head><body><main>"
                f"<h1>Malmö stad</h1></main>{footer}</body></html>")
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "forskolor" or parts[1] not in self.preschools:
            return None
        unit, area, indexes = self.preschools[parts[1]]
        links = []
        for i in indexes:
            acc = self.world.account(i)
            label = {"instagram": "Följ oss på Instagram", "facebook": "Vi finns på Facebook"}.get(
                acc.platform, "Läs vår blogg")
            links.append(f'<li><a href="{bases[acc.host]}/{acc.slug}/">{label}</a></li>')
        for m in self.truth.missing:
            if m.unit == unit and m.area == area and m.found_on == "page":
                label = "Följ oss på Instagram" if m.platform == "instagram" else "Vi finns på Facebook"
                links.append(f'<li><a href="{bases[m.host]}/{m.slug}/">{label}</a></li>')
        parents = next((x for x in self.truth.look_alikes if x.kind == "parents"), None)
        if parents is not None and parents.name.endswith(unit):
            links.append(f'<li><a href="{bases[parents.host]}{parents.path}">Föräldraföreningen</a></li>')
        if self.truth.missing and self.truth.missing[-1].unit == unit:
            links.append(f'<li><a href="{bases["facebook"]}/MalmoStad/posts/1234567890/">Läs Malmö stads inlägg om '
                         "Tempus Hemma</a></li>")
        body = (f"<!DOCTYPE html><html lang=\"sv\"><head><meta charset=\"utf-8\"><title>{escape(unit)}, {escape(area)}"
                f" – Malmö stad</title></head><body><header><a href=\"{base}/\">Malmö stad</a></header><main>"
                f"<h1>{escape(unit)}</h1><p>Kommunal förskola i {escape(area)}.</p><ul>{''.join(links)}</ul></main>"
                f"{footer}</body></html>")
        return 200, "text/html; charset=utf-8", body


def _profile(host: str, base: str, handle: str, name: str, bio: str) -> str:
    """A public profile page as the demo's Instagram or Facebook serve one."""
    name_html, handle_html = escape(name), escape(handle)
    if host == "instagram":
        title = f"{name_html} (@{handle_html}) • Instagram photos and videos"
        desc = f"120 Followers, 40 Following, 57 Posts - See Instagram photos and videos from {name_html} (@{handle_html})"
        bio_json = escape(bio).replace('"', "'")
        return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
                f"<meta property=\"og:title\" content=\"{title}\"><meta property=\"og:description\" content=\"{desc}\">"
                f"<meta property=\"og:url\" content=\"{base}/{handle_html}/\"></head><body>"
                f"<script type=\"application/json\">{{\"biography\": \"{bio_json}\"}}</script></body></html>")
    return (f"<!DOCTYPE html><html lang=\"sv\"><head><meta charset=\"utf-8\"><title>{name_html} | Facebook</title>"
            f"<meta property=\"og:title\" content=\"{name_html}\"><meta property=\"og:type\" content=\"website\">"
            f"<meta property=\"og:description\" content=\"{name_html}. 80 gillar. {escape(bio)}\">"
            f"<meta property=\"og:url\" content=\"{base}/{handle_html}/\"></head><body></body></html>")


def of(world: World) -> Municipality:
    """The municipality of a world (made once per world)."""
    found = world.__dict__.get("_municipality")
    if found is None:
        found = world.__dict__["_municipality"] = Municipality(world)
    return found
