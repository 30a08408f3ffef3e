"""Discovery on the simulated web (issue 20.4): the municipality's preschool pages, the accounts the
demo registry lacks, the look-alikes; accepting one adds an entry the next crawl visits, dismissing
one is remembered until new evidence appears. The real fetcher, store and registry on loopback."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from crawler import crawl, discover, sources
from crawler.demo import municipality
from crawler.demo.graph import DEMO_IG_USER_ID, DemoGraph
from crawler.demo.pages import render
from crawler.demo.server import DemoWeb
from crawler.demo.world import World, cycle_time, demo_settings
from crawler.fetch import Fetcher

AT = cycle_time(10)


@pytest.fixture(scope="module")
def world():
    return World(80, seed=3)


TOKEN = "EAAdiscovertest0123456789abcdef"


@pytest.fixture
def demo(world, tmp_path, request):
    """The demo web and a registry of it; `@pytest.mark.parametrize("demo", ["api"], indirect=True)`
    configures the loopback Graph API (token in $TEST_DISCOVER_META) in the registry's settings."""
    route = getattr(request, "param", "public")
    graph = DemoGraph(world, TOKEN)
    with DemoWeb(world, AT, faults=False, slow_seconds=0, graph=graph) as web:
        bases = {h: web.base_url(h) for h in web.hosts}
        city = municipality.of(world)
        path = tmp_path / "sources.yaml"
        values = {**demo_settings(), "discovery": city.discovery_settings(bases)}
        if route == "api":
            values["meta"] = {"base_url": web.base_url("graph"), "instagram_user_id": DEMO_IG_USER_ID,
                              "token_env": "TEST_DISCOVER_META", "call_interval": 0.0}
        path.write_text(world.sources_yaml(web, values), encoding="utf-8")
        yield web, city, bases, path


def _discover(path, store, at):
    registry = sources.load(path)

    async def go():
        async with Fetcher(registry.settings) as fetcher:
            return await discover.with_graph(registry, store, fetcher.fetch, at)

    return asyncio.run(go())


def test_the_municipality_serves_preschool_pages_a_sitemap_and_the_accounts_outside_the_registry(world, demo):
    web, city, bases, path = demo
    truth = city.truth
    assert len(truth.missing) == 3 and {m.found_on for m in truth.missing} == {"footer", "bio", "page"}
    assert {x.kind for x in truth.look_alikes} == {"city", "post", "other-municipality", "parents"}
    registered = {a.url for a in sources.load(path).accounts}
    for m in truth.missing:  # served as profiles, but not in the registry
        url = f"{bases[m.host]}/{m.slug}/"
        assert url not in registered
        page = render(world, AT, bases, m.host, f"/{m.slug}/")
        assert page.status == 200 and m.unit.encode() in page.body
    sitemap = render(world, AT, bases, "kommun", "/sitemap.xml").body.decode()
    assert sitemap.count("/forskolor/") == len(city.preschools) and "/kontakt/" in sitemap


def test_discovery_proposes_the_missing_accounts_with_evidence_and_no_look_alike(demo, store):
    web, city, bases, path = demo
    report = _discover(path, store, AT)
    proposed = {c.url: c for c in store.candidates("proposed")}
    missing = {f"{bases[m.host]}/{m.slug}/": m for m in city.truth.missing}
    assert set(proposed) == set(missing)
    for url, m in missing.items():
        c = proposed[url]
        assert (c.unit, c.area, c.platform) == (m.unit, m.area, m.platform)
        evidence = store.candidate(c.id).evidence
        assert evidence and all(e.link_text for e in evidence)
        where = {e.source for e in evidence}
        assert where == {"footer": {"account"}, "bio": {"link-in-bio"}, "page": {"seed"}}[m.found_on] or (
            m.found_on == "footer" and "account" in where)
    looks = {f"{bases[x.host]}{x.path}" for x in city.truth.look_alikes}
    assert not looks & set(proposed)
    excluded = {c.url for c in store.candidates("excluded")}
    assert excluded == {u for u in looks if "/posts/" not in u and "/p/" not in u}  # posts are never candidates
    assert report.pages > len(city.preschools)


def test_accept_adds_an_entry_the_next_crawl_visits_and_dismiss_is_remembered(world, demo, store):
    web, city, bases, path = demo
    _discover(path, store, AT)
    first, second, third = city.truth.missing
    by_url = {c.url: c for c in store.candidates("proposed")}
    chosen = by_url[f"{bases[first.host]}/{first.slug}/"]
    account = discover.accept(store, path, chosen.id, "Anna Andersson", AT)
    registry = sources.load(path)  # the whole registry is still valid
    assert account in registry.accounts and len(registry.accounts) == world.n + 1

    later = AT + timedelta(days=7)
    web.set_clock(later)
    before = web.stats()[first.host]["requests"]

    async def cycle():
        async with Fetcher(registry.settings) as fetcher:
            return await crawl.run_cycle(store, registry.accounts, registry.settings, clock=lambda: later,
                                         fetcher=fetcher)

    asyncio.run(cycle())
    record = store.account(account.id)
    assert record.last_checked_at == later
    assert record.post_count == 57  # read from the profile the demo serves
    (visit,) = store.account_detail(account.id).recent_checks
    assert visit.exists is True and visit.url == account.url
    assert web.stats()[first.host]["requests"] > before

    dismissed = by_url[f"{bases[second.host]}/{second.slug}/"]
    discover.dismiss(store, dismissed.id, "Bo Berg", later, comment="not the preschool's")
    _discover(path, store, later)
    assert store.candidate(dismissed.id).candidate.state == "dismissed"
    assert {c.url for c in store.candidates("proposed")} == {f"{bases[third.host]}/{third.slug}/"}


def _urls(city, bases, things):
    return {f"{bases[m.host]}/{m.slug}/": m for m in things}


@pytest.mark.parametrize("demo", ["api"], indirect=True)
def test_instagram_candidates_are_checked_through_the_graph_api_where_it_is_configured(demo, store, monkeypatch):
    web, city, bases, path = demo
    monkeypatch.setenv("TEST_DISCOVER_META", TOKEN)
    _discover(path, store, AT)
    proposed = {c.url: c for c in store.candidates("proposed")}
    missing = _urls(city, bases, city.truth.missing)
    assert set(proposed) == set(missing)  # the same proposals as through the public pages
    for url, m in missing.items():
        c = proposed[url]
        assert (c.unit, c.area) == (m.unit, m.area)
        if m.professional:  # Business Discovery decided: the route is in the candidate's evidence
            assert c.checked == discover.GRAPH_PROFESSIONAL and discover.GRAPH_PROFESSIONAL in c.reason
        else:  # a personal account is "not found" to the API: its public profile page decided
            assert c.checked.startswith("profile page: exists (Graph API: not found")
    assert any(not m.professional for m in city.truth.missing) and any(m.professional for m in city.truth.missing)
    asked = [f for p, f in web.server.graph.calls if p.endswith(DEMO_IG_USER_ID)]
    for m in city.truth.missing:
        assert any(f"username({m.slug})" in f for f in asked) == (m.platform == "instagram")
    assert not any("CxDemo1abc" in f for f in asked)  # a post is never looked up
    lund = next(x for x in city.truth.look_alikes if x.kind == "other-municipality")
    (record,) = [c for c in store.candidates("excluded") if c.url == f"{bases[lund.host]}{lund.path}"]
    assert record.checked == discover.GRAPH_PROFESSIONAL and "Lund" in record.reason  # the API's bio told
    assert store.api_statuses() == []  # a run that went well leaves the crawl's record of the API alone


@pytest.mark.parametrize("demo", ["api"], indirect=True)
def test_an_unusable_token_falls_back_to_the_public_pages_and_says_so(demo, store, monkeypatch):
    web, city, bases, path = demo
    monkeypatch.setenv("TEST_DISCOVER_META", "EAAsomeoneelsestoken000000000")
    _discover(path, store, AT)
    proposed = {c.url: c for c in store.candidates("proposed")}
    missing = _urls(city, bases, city.truth.missing)
    assert set(proposed) == set(missing)
    for url, m in missing.items():
        checked = proposed[url].checked
        if m.platform == "instagram":
            assert checked.startswith("profile page: exists (Graph API unavailable: ") and "190" in checked
        else:
            assert checked == "profile page: exists"
        assert "EAA" not in checked
    (status,) = store.api_statuses()
    assert status.state == "token_invalid"


def test_without_the_graph_api_the_public_profile_page_decides(demo, store):
    web, city, bases, path = demo
    _discover(path, store, AT)
    assert {c.checked for c in store.candidates("proposed")} == {"profile page: exists"}
    assert web.server.graph.calls == [] and store.api_statuses() == []
