"""Discovery (issue 20): reading links, naming accounts, guessing units, judging, the store's rules,
a run on loopback servers through the real Fetcher, and a person's accept and dismiss."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from crawler import crawl, discover, sources
from crawler.discover import Evidence, Facts, Finding, Hosts, Link, Units, extract, judge
from crawler.errors import CrawlerError
from crawler.fetch import Fetcher
from crawler.models import Account
from crawler.settings import Discovery
from crawler.store import SeenLink, Sighting
from tests.conftest import NOW, execute, sql_rows
from tests.hostile import HostileServer, respond

# --------------------------------------------------------------------------- reading a page

BLOG = """<!DOCTYPE html><html><head><title>Förskolan Solrosen</title>
<link rel="me" href="https://www.instagram.com/Solrosen_Mlm/">
<link rel="stylesheet" href="https://www.instagram.com/static/x.css">
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
  {"@type": "Preschool", "name": "Förskolan Solrosen", "sameAs": ["https://facebook.com/SolrosenMalmo", {"@id": "https://x.blogspot.se/"}]}]}
</script>
<script type="application/ld+json">{"sameAs": "https://broken.example/", </script>
</head><body>
<header><nav><a href="/om-oss/">Om oss</a></nav></header>
<main><article><p>Följ oss på Instagram: @solrosen_mlm och läs <a href="https://www.instagram.com/p/Cx1abc/">inlägget</a>.</p></article></main>
<div class="site-footer"><a href="https://www.facebook.com/SolrosenMalmo/"><img alt="Facebook"></a>
<a itemprop="sameAs" href="https://example.se/x">x</a>
<a href="https://www.instagram.com/solrosen_mlm/">Följ\u202e oss\x07 på   Instagram</a></div>
</body></html>"""


def test_extract_reads_anchors_rel_me_json_ld_and_mentions_with_their_place():
    page = extract(BLOG.encode(), "https://solrosen.example/")
    assert page.title == "Förskolan Solrosen"
    found = {(link.url, link.how, link.region, link.text) for link in page.links}
    assert ("https://www.instagram.com/Solrosen_Mlm/", "rel-me", "head", "") in found
    assert ("https://facebook.com/SolrosenMalmo", "same-as", "head", "") in found
    assert ("https://x.blogspot.se/", "same-as", "head", "") in found  # {"@id": ...} in sameAs
    assert ("https://solrosen.example/om-oss/", "link", "nav", "Om oss") in found
    assert ("https://www.facebook.com/SolrosenMalmo/", "link", "footer", "Facebook") in found  # the image's alt
    assert ("https://example.se/x", "same-as", "footer", "x") in found  # microdata itemprop=sameAs
    assert ("https://www.instagram.com/p/Cx1abc/", "link", "main", "inlägget") in found
    # Control and bidi characters never reach a stored link text.
    assert ("https://www.instagram.com/solrosen_mlm/", "link", "footer", "Följ oss på Instagram") in found
    mentions = [link for link in page.links if link.how == "mention"]
    assert [m.url for m in mentions] == ["https://instagram.com/solrosen_mlm/"]
    assert not any("static" in link.url or "broken" in link.url for link in page.links)


def test_json_ld_as_themes_write_it_comments_and_trailing_commas():
    page = b"""<script type="application/ld+json">
    // added by the theme
    {"@type": "Organization", "url": "https://x.example/a//b", /* ok */ "sameAs": ["https://www.instagram.com/x/",],}
    </script><script type="application/ld+json">{"sameAs": "https://a.example/\\"q", }</script>"""
    assert [link.url for link in extract(page, "https://x.example/").links] == [
        "https://www.instagram.com/x/", 'https://a.example/"q']


def test_extract_survives_what_a_site_can_send():
    assert extract(b"", "https://x.example/").links == ()
    assert extract(b"\xff\xfe<a href='javascript:alert(1)'>x</a><a href='mailto:a@b'>m</a>", "https://x.example/").links == ()
    deep = b"<div>" * 200_000
    assert extract(deep, "https://x.example/").links == ()  # too slow to parse: no links, no exception
    page = extract(b"<base href='https://other.example/sub/'><a href='p'>p</a>", "https://x.example/")
    assert page.links[0].url == "https://other.example/sub/p"


# --------------------------------------------------------------------------- which links name an account


def _accounts(*rows):
    return [Account(id=i, unit=u, area=a, platform=p, url=url) for i, u, a, p, url in rows]


REAL = _accounts(("a1", "Förskolan Solrosen", "Område Norr", "wordpress", "https://solrosen.wordpress.com/"))


@pytest.mark.parametrize(("url", "expected"), [
    ("https://instagram.com/Humlan?hl=sv", ("instagram", "https://www.instagram.com/humlan/")),
    ("https://www.instagram.com/humlan/reels/", ("instagram", "https://www.instagram.com/humlan/")),
    ("https://www.instagram.com/p/Cx1abc/", None),  # a post, never the account
    ("https://www.instagram.com/explore/tags/forskola/", None),
    ("https://sv-se.facebook.com/Humlan/about", ("facebook", "https://www.facebook.com/humlan/")),
    ("https://www.facebook.com/Humlan/posts/1234", None),
    ("https://www.facebook.com/sharer.php?u=https://x", None),
    ("https://www.facebook.com/groups/forskolan/", None),
    ("https://www.facebook.com/profile.php?id=100012&ref=x", ("facebook", "https://www.facebook.com/profile.php?id=100012")),
    ("https://humlan.blogspot.se/?m=1", ("blogger", "https://humlan.blogspot.com/")),
    ("https://humlan.blogspot.com/2023/03/inlagg.html", None),
    ("https://www.blogger.com/profile/1", None),
    ("https://example.se/", None),  # no platform claims it
])
def test_account_of_platform_links(url, expected):
    assert Hosts(REAL).account_of(url) == expected


def test_hosts_the_registry_uses_for_a_platform_are_learned():
    mirror = "http://127.0.0.9:8080"
    accounts = _accounts(*[(f"i{n}", f"Förskolan {n}", "Område", "instagram", f"{mirror}/handle_{n}/") for n in range(3)],
                         *[(f"w{n}", f"Förskolan W{n}", "Område", "wordpress", f"http://127.0.0.8:81/blog-{n}/")
                           for n in range(3)],
                         ("o1", "X", "Område", "other", "http://127.0.0.7/a/"),
                         ("o2", "Y", "Område", "other", "http://127.0.0.7/b/"),
                         ("o3", "Z", "Område", "other", "http://127.0.0.7/c/"))
    hosts = Hosts(accounts)
    assert hosts.account_of(f"{mirror}/new_one/") == ("instagram", f"{mirror}/new_one/")
    assert hosts.account_of(f"{mirror}/p/Cx1/") is None
    assert hosts.account_of("http://127.0.0.8:81/blog-9/") == ("wordpress", "http://127.0.0.8:81/blog-9/")
    assert hosts.account_of("http://127.0.0.8:81/blog-9/2023/03/01/post-3/") is None
    assert hosts.account_of("http://127.0.0.7/d/") is None  # "other" accounts never make a host a platform's


# --------------------------------------------------------------------------- units


def test_units_are_matched_by_their_distinctive_words():
    units = Units(_accounts(("a", "Förskolan Solrosen", "Område Norr", "blog", "https://a.example/"),
                            ("b", "Tallbackens förskola", "Område Syd", "blog", "https://b.example/"),
                            ("c", "Förskolan Solrosen, Tallbacken", "Område Syd", "blog", "https://c.example/"),
                            ("d", "Förskolan Solrosen", "Område Väst", "blog", "https://d.example/")), "Malmö")
    assert units.match("forskolan_solrosen") == [("Förskolan Solrosen", frozenset({"Område Norr", "Område Väst"}))]
    assert units.match("TallbackenForskola") == [("Tallbackens förskola", frozenset({"Område Syd"}))]
    assert units.match("Solrosen på Tallbacken") == [("Förskolan Solrosen, Tallbacken", frozenset({"Område Syd"}))]
    assert units.match("Malmö stad", "Förskola") == []


# --------------------------------------------------------------------------- judging

UNITS = Units(_accounts(("sol-blogg", "Förskolan Solrosen", "Område Norr", "wordpress", "https://sol.wordpress.com/"),
                        ("hum-blogg", "Förskolan Humlan", "Område Syd", "wordpress", "https://hum.wordpress.com/")),
              "Malmö")
RULES = Discovery(municipality="Malmö")


def _finding(url="https://www.instagram.com/solrosen_mlm/", text="Följ oss på Instagram", source="account",
             account="sol-blogg", how="link", sitewide=False, page="https://sol.wordpress.com/"):
    return Finding(url, "instagram", [Evidence(page, Link(url, text, how, "footer"), source, account,
                                                sitewide=sitewide)])


def test_a_blog_linking_its_instagram_is_proposed_with_its_unit_and_area():
    facts = Facts(True, "profile page: exists", name="Förskolan Solrosen (@solrosen_mlm) • Instagram")
    verdict = judge(_finding(), facts, UNITS, RULES)
    assert verdict.state == "proposed"
    assert (verdict.unit, verdict.area) == ("Förskolan Solrosen", "Område Norr")
    assert verdict.score == 0.85  # 0.45 found on its page + 0.1 inviting text + 0.15 exists + 0.15 name
    assert "linked from registered account sol-blogg's page" in verdict.reason


@pytest.mark.parametrize(("finding", "facts", "why"), [
    (_finding(url="https://www.facebook.com/ForaldraforeningenSolrosen/", text="Föräldraföreningen"),
     Facts(True, "profile page: exists"), "parents' association"),
    (_finding(url="https://www.instagram.com/solrosen_lund/", text="Förskolan Solrosen (Lund)"),
     Facts(True, "profile page: exists", name="Förskolan Solrosen", text="Kommunal förskola i Lunds kommun"),
     "another municipality (Lund)"),
    (_finding(), Facts(False, "profile page: not found"), "does not exist"),
    (_finding(url="https://www.instagram.com/malmostad/", text="Malmö stad på Instagram", sitewide=True,
              source="seed", account=None), Facts(True, "profile page: exists"), "every page of its site"),
])
def test_look_alikes_are_excluded_whatever_their_score(finding, facts, why):
    verdict = judge(finding, facts, UNITS, RULES)
    assert verdict.state == "excluded"
    assert why in verdict.reason


def test_a_bare_mention_needs_more_than_itself():
    mention = _finding(how="mention", text="Instagram: @solrosen_mlm")
    assert judge(mention, discover.NOT_CHECKED, UNITS, RULES).state == "excluded"
    confirmed = Facts(True, "Graph API: professional account", professional=True, name="Förskolan Solrosen")
    assert judge(mention, confirmed, UNITS, RULES).state == "proposed"


def test_a_name_that_speaks_of_another_unit_costs_points():
    facts = Facts(True, "profile page: exists", name="Förskolan Humlan")
    verdict = judge(_finding(url="https://www.instagram.com/humlan_mlm/"), facts, UNITS, RULES)
    assert verdict.unit == "Förskolan Humlan"
    assert "found on another unit's page" in verdict.reason


# --------------------------------------------------------------------------- the store's rules


def _sighting(url="https://www.instagram.com/x/", state="proposed", page="https://a.example/", score=0.8):
    return Sighting(url, "instagram", state, score, "why", "Förskolan X", "Område", "profile page: exists",
                    (SeenLink(page, url, "Instagram", "link", "footer", "account", "a1"),))


def test_dismissed_stays_dismissed_until_new_evidence(store):
    first = store.save_sightings([_sighting()], NOW)
    (ident,) = first.new
    assert store.decide_candidate(ident, ("proposed",), "dismissed", "Anna", NOW, "not ours")
    again = store.save_sightings([_sighting()], NOW + timedelta(days=7))
    assert again.still_dismissed == (ident,)
    assert store.candidate(ident).candidate.state == "dismissed"
    later = store.save_sightings([_sighting(page="https://b.example/")], NOW + timedelta(days=14))
    assert later.reopened == (ident,)
    detail = store.candidate(ident)
    assert detail.candidate.state == "proposed"
    assert [d.decision for d in detail.decisions] == ["dismissed", "reopened"]
    assert detail.decisions[1].comment == "new evidence: https://b.example/"
    assert [e.page_url for e in detail.evidence] == ["https://a.example/", "https://b.example/"]


def test_decisions_are_an_append_only_trail(store):
    (ident,) = store.save_sightings([_sighting()], NOW).new
    assert store.decide_candidate(ident, ("proposed",), "accepted", "Anna", NOW, None, "x-instagram")
    assert not store.decide_candidate(ident, ("proposed",), "dismissed", "Bo", NOW)  # moved on: nothing written
    with pytest.raises(Exception, match="audit trail"):
        execute(store, "UPDATE candidate_decisions SET by = 'Eve'")
    with pytest.raises(Exception, match="audit trail"):
        execute(store, "DELETE FROM candidate_decisions")
    rows = sql_rows(store, "SELECT by, decision, old_state, account_id FROM candidate_decisions")
    assert rows == [{"by": "Anna", "decision": "accepted", "old_state": "proposed", "account_id": "x-instagram"}]
    # An accepted candidate keeps its state when seen again.
    store.save_sightings([_sighting(page="https://c.example/")], NOW + timedelta(days=1))
    assert store.candidate(ident).candidate.state == "accepted"
    assert store.candidate_counts()["accepted"] == 1


# --------------------------------------------------------------------------- a run on loopback


def _profile(handle: str, name: str, bio: str = "") -> bytes:
    return (f'<html><head><title>{name} (@{handle}) • Instagram</title><meta property="og:title" content="{name} '
            f'(@{handle}) • Instagram"><meta property="og:description" content="10 Followers, 2 Following, 5 Posts - '
            f'See Instagram photos and videos from {name} (@{handle})"></head><body>'
            f'<script>{{"biography": {json.dumps(bio)}}}</script></body></html>').encode()


GONE = (b'<html><head><title>Page not found \xe2\x80\xa2 Instagram</title></head><body><h2>Sorry, this page '
        b"isn't available.</h2></body></html>")


@pytest.fixture
def web():
    """Two loopback hosts: a blog host with three registered blogs, an 'Instagram' with three registered
    profiles, the city's seed page, and the candidates' profiles."""
    with HostileServer("127.0.0.1") as blogs, HostileServer("127.0.0.2") as insta:
        yield blogs, insta


def _registry(path, blogs, insta, seeds):
    rows = [("sol-blogg", "Förskolan Solrosen", "Område Norr", "wordpress", blogs.url("/solrosen/")),
            ("hum-blogg", "Förskolan Humlan", "Område Syd", "wordpress", blogs.url("/humlan/")),
            ("eko-blogg", "Förskolan Ekorren", "Område Syd", "wordpress", blogs.url("/ekorren/"))]
    rows += [(f"ig-{n}", f"Förskolan {n}", "Område Norr", "instagram", insta.url(f"/known_{n}/")) for n in range(3)]
    accounts = [{"id": i, "unit": u, "area": a, "platform": p, "url": url} for i, u, a, p, url in rows]
    settings = {"contact": "test@localhost.invalid", "allow_private_addresses": True, "per_host_delay": 0.0,
                "per_host_concurrency": 4, "retries": 1,
                "discovery": {"municipality": "Malmö", "pages": seeds}}
    import yaml

    path.write_text(yaml.safe_dump({"settings": settings, "accounts": accounts}, allow_unicode=True), encoding="utf-8")
    return sources.load(path)


def _serve(blogs, insta):
    page = "<html><head><title>{t}</title></head><body><main>{m}</main><footer>{f}</footer></body></html>"
    city = '<a href="{}">Malmö stad på Instagram</a>'.format(insta.url("/malmostad/"))
    blogs.route("/solrosen/", respond(page.format(t="Förskolan Solrosen", m="", f=(
        f'<a href="{insta.url("/solrosen_mlm/")}">Följ oss på Instagram</a>'
        f'<a href="{insta.url("/p/Cx1/")}">Se inlägget</a>'
        f'<a href="{insta.url("/solrosen_lund/")}">Vår vänförskola Solrosen i Lund</a>')).encode()))
    blogs.route("/humlan/", respond(page.format(t="Förskolan Humlan", m="", f=(
        f'<a href="{insta.url("/known_1/")}">Instagram</a>')).encode()))
    blogs.route("/ekorren/", respond(b"<html><body>nothing</body></html>"))
    for n in range(3):
        blogs.route(f"/seed/{n}/", respond(page.format(
            t=["Förskolan Humlan", "Förskolan Ekorren", "Förskolan Solrosen"][n],
            m=(f'<a href="{insta.url("/humlan_ig/")}">Humlan på Instagram</a>'
               f'<a href="{insta.url("/foraldraforeningen_humlan/")}">Föräldraföreningen</a>' if n == 0 else ""),
            f=city).encode()))
    insta.route("/solrosen_mlm/", respond(_profile("solrosen_mlm", "Förskolan Solrosen")))
    insta.route("/humlan_ig/", respond(_profile("humlan_ig", "Förskolan Humlan")))
    insta.route("/foraldraforeningen_humlan/", respond(_profile("foraldraforeningen_humlan", "Föräldraföreningen")))
    insta.route("/solrosen_lund/", respond(_profile("solrosen_lund", "Förskolan Solrosen", "Förskola i Lunds kommun")))
    insta.route("/malmostad/", respond(_profile("malmostad", "Malmö stad")))
    for n in range(3):
        insta.route(f"/known_{n}/", respond(_profile(f"known_{n}", f"Förskolan {n}")))
    insta.route("/robots.txt", respond(b"User-agent: *\nDisallow: /private/\n", content_type="text/plain"))


async def _run(registry, store, now=NOW):
    async with Fetcher(registry.settings) as fetcher:
        return await discover.run(registry, store, fetcher.fetch, now)


def test_a_run_proposes_the_missing_accounts_and_none_of_the_look_alikes(web, store, tmp_path):
    blogs, insta = web
    _serve(blogs, insta)
    registry = _registry(tmp_path / "sources.yaml", blogs, insta, [blogs.url(f"/seed/{n}/") for n in range(3)])
    report = asyncio.run(_run(registry, store))
    proposed = {c.url: c for c in store.candidates("proposed")}
    assert set(proposed) == {insta.url("/solrosen_mlm/"), insta.url("/humlan_ig/")}
    sol = proposed[insta.url("/solrosen_mlm/")]
    assert (sol.unit, sol.area, sol.platform) == ("Förskolan Solrosen", "Område Norr", "instagram")
    evidence = store.candidate(sol.id).evidence
    assert [(e.page_url, e.link_text, e.source, e.source_account) for e in evidence] == [
        (blogs.url("/solrosen/"), "Följ oss på Instagram", "account", "sol-blogg")]
    hum = proposed[insta.url("/humlan_ig/")]
    assert (hum.unit, hum.area) == ("Förskolan Humlan", "Område Syd")  # from the seed page's title
    excluded = {c.url: c.reason for c in store.candidates("excluded")}
    assert set(excluded) == {insta.url("/solrosen_lund/"), insta.url("/foraldraforeningen_humlan/"),
                             insta.url("/malmostad/")}
    assert "another municipality (Lund)" in excluded[insta.url("/solrosen_lund/")]
    # Politeness and privacy: the post was never fetched, robots.txt was read, nothing but links stored.
    assert insta.hits("/p/Cx1/") == 0
    assert insta.hits("/robots.txt") == 1
    assert report.summary().startswith("read ")
    columns = {r["name"] for r in sql_rows(store, "SELECT name FROM pragma_table_info('candidate_evidence')")}
    assert columns == {"candidate_id", "page_url", "link_url", "link_text", "how", "region", "source",
                       "source_account", "first_seen_at", "last_seen_at"}


def test_accept_writes_a_valid_entry_the_next_crawl_visits_and_dismiss_is_remembered(web, store, tmp_path):
    blogs, insta = web
    _serve(blogs, insta)
    path = tmp_path / "sources.yaml"
    registry = _registry(path, blogs, insta, [blogs.url(f"/seed/{n}/") for n in range(3)])
    asyncio.run(_run(registry, store))
    by_url = {c.url: c for c in store.candidates("proposed")}
    sol, hum = by_url[insta.url("/solrosen_mlm/")], by_url[insta.url("/humlan_ig/")]

    account = discover.accept(store, path, sol.id, "Anna Andersson", NOW)
    reloaded = sources.load(path)  # still a valid registry, with the new entry
    entry = next(a for a in reloaded.accounts if a.url == sol.url)
    assert entry == account
    assert (entry.id, entry.unit, entry.area, entry.platform) == (
        "forskolan-solrosen-instagram", "Förskolan Solrosen", "Område Norr", "instagram")
    assert str(entry.added) == "2023-03-01"
    detail = store.candidate(sol.id)
    assert (detail.candidate.state, detail.candidate.decided_by, detail.candidate.account_id) == (
        "accepted", "Anna Andersson", entry.id)
    with pytest.raises(CrawlerError, match="already in the registry"):
        discover.accept(store, path, sol.id, "Bo", NOW)

    discover.dismiss(store, hum.id, "Bo Berg", NOW, comment="a project account")
    asyncio.run(_run(reloaded, store, NOW + timedelta(days=7)))  # the same evidence again
    assert store.candidate(hum.id).candidate.state == "dismissed"
    assert {c.url for c in store.candidates("proposed")} == set()

    # The next crawl visits the accepted account.
    before = insta.hits("/solrosen_mlm/")

    async def cycle():
        async with Fetcher(reloaded.settings) as fetcher:
            return await crawl.run_cycle(store, reloaded.accounts, reloaded.settings, clock=lambda: NOW,
                                         fetcher=fetcher)

    asyncio.run(cycle())
    assert insta.hits("/solrosen_mlm/") == before + 1
    assert store.account(entry.id).last_checked_at == NOW


def test_accept_refuses_what_the_registry_would_refuse(web, store, tmp_path):
    blogs, insta = web
    _serve(blogs, insta)
    path = tmp_path / "sources.yaml"
    registry = _registry(path, blogs, insta, [blogs.url(f"/seed/{n}/") for n in range(3)])
    asyncio.run(_run(registry, store))
    lund = next(c for c in store.candidates("excluded") if "lund" in c.url)
    with pytest.raises(CrawlerError, match="--force"):
        discover.accept(store, path, lund.id, "Anna", NOW)
    sol = next(c for c in store.candidates("proposed") if "solrosen" in c.url)
    with pytest.raises(CrawlerError, match="--by"):
        discover.accept(store, path, sol.id, "  \u202e ", NOW)
    text = path.read_text(encoding="utf-8")
    with pytest.raises(Exception, match="id"):
        discover.accept(store, path, sol.id, "Anna", NOW, account_id="Not A Valid Id!")
    assert path.read_text(encoding="utf-8") == text  # nothing written
    assert store.candidate(sol.id).candidate.state == "proposed"


def test_the_commands_run_list_show_accept_and_dismiss(web, tmp_path):
    from click.testing import CliRunner

    from crawler.cli import cli

    blogs, insta = web
    _serve(blogs, insta)
    path = tmp_path / "sources.yaml"
    _registry(path, blogs, insta, [blogs.url(f"/seed/{n}/") for n in range(3)])
    db = str(tmp_path / "inv.sqlite")
    base = ["--sources", str(path), "--db", db, "discover"]
    runner = CliRunner()
    result = runner.invoke(cli, base)
    assert result.exit_code == 0, result.output
    assert "5 accounts not in the registry (5 new, 0 reopened on new evidence): 2 proposed, 3 excluded" in result.output
    listed = runner.invoke(cli, [*base, "list", "--json"])
    rows = json.loads(listed.output)
    assert [r["url"].rsplit("/", 2)[1] for r in rows] == ["solrosen_mlm", "humlan_ig"]
    sol, hum = rows[0]["id"], rows[1]["id"]
    shown = runner.invoke(cli, [*base, "show", str(sol)])
    assert "Följ oss på Instagram" in shown.output and "sol-blogg" in shown.output
    excluded = runner.invoke(cli, [*base, "list", "--state", "excluded"])
    assert "solrosen_lund" in excluded.output
    accepted = runner.invoke(cli, [*base, "accept", str(sol), "--by", "Anna Andersson"])
    assert accepted.exit_code == 0, accepted.output
    assert "added forskolan-solrosen-instagram" in accepted.output
    assert runner.invoke(cli, ["--sources", str(path), "sources", "check"]).exit_code == 0
    dismissed = runner.invoke(cli, [*base, "dismiss", str(hum), "--by", "Bo"])
    assert dismissed.exit_code == 0
    again = runner.invoke(cli, [*base, "dismiss", str(hum), "--by", "Bo"])
    assert again.exit_code == 1 and again.output.startswith("Error: candidate")
    missing = runner.invoke(cli, [*base, "show", "999"])
    assert missing.exit_code == 1 and "no candidate with id 999" in missing.output
    assert runner.invoke(cli, [*base, "list"]).output.strip() == "no candidates"
