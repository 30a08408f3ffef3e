"""Routes (issue 15): which way each account is read, one decision in crawler/routes.py; and the
crawler as ops run it (the real CLI in a subprocess) against the demo's loopback Graph API: exact
dates, personal accounts, an expired token, and no token in any file, log line or table."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler import routes, sources
from crawler.demo.graph import DEMO_IG_USER_ID, DemoGraph
from crawler.demo.server import DemoWeb
from crawler.demo.world import World, cycle_time, demo_settings
from crawler.errors import RegistryError
from crawler.meta.client import NOTE_PERSONAL, MetaClient
from crawler.models import Account, Fetched
from crawler.settings import Settings

TOKEN = "EAAleakcheck" + "7f3a9c" * 6
ROOT = Path(__file__).resolve().parent.parent
IG = Account("ig", "U", "A", "instagram", "https://www.instagram.com/humlan/")
FB = Account("fb", "U", "A", "facebook", "https://www.facebook.com/humlan/")
BLOG = Account("b", "U", "A", "blog", "https://humlan.example.se/")
ON = Settings(meta={"token_env": "T", "instagram_user_id": "178"})


# --------------------------------------------------------------------------- the decision


def test_the_route_follows_the_pin_the_platform_and_the_settings():
    assert routes.plan(BLOG, ON) == routes.Plan("public", "")
    api = routes.plan(IG, ON)
    assert api.route == "api" and api.fallback and not api.pinned and "Business Discovery" in api.reason
    assert routes.plan(FB, ON).route == "api" and "Pages the administration manages" in routes.plan(FB, ON).reason
    pinned_public = routes.plan(_with(IG, route="public"), ON)
    assert pinned_public == routes.Plan("public", "pinned to the public page (route: public)", pinned=True)
    pinned_api = routes.plan(_with(IG, route="api"), ON)
    assert pinned_api.route == "api" and pinned_api.pinned and not pinned_api.fallback
    off = routes.plan(IG, Settings())
    assert off.route == "public" and "not configured" in off.reason
    no_user = routes.plan(IG, Settings(meta={"token_env": "T"}))
    assert no_user.route == "public" and "instagram_user_id" in no_user.reason
    assert routes.plan(FB, Settings(meta={"token_env": "T"})).route == "api"  # Pages need no Instagram id
    assert "but" in routes.plan(_with(IG, route="api"), Settings()).reason


def _with(account: Account, **changes) -> Account:
    from dataclasses import replace

    return replace(account, **changes)


def test_sources_yaml_accepts_a_route_per_account_and_refuses_what_cannot_be(write_registry):
    path = write_registry("""
        accounts:
          - {id: a, unit: U, area: A, platform: instagram, url: "https://www.instagram.com/a/", route: public}
          - {id: b, unit: U, area: A, platform: facebook, url: "https://www.facebook.com/b/", route: api}
          - {id: c, unit: U, area: A, platform: instagram, url: "https://www.instagram.com/c/", route: auto}
        """)
    got = {a.id: a.route for a in sources.load(path, environ={}).accounts}
    assert got == {"a": "public", "b": "api", "c": None}
    bad = write_registry("""
        accounts:
          - {id: a, unit: U, area: A, platform: instagram, url: "https://www.instagram.com/a/", route: graph}
          - {id: b, unit: U, area: A, platform: blog, url: "https://b.example.se/", route: api}
        """, "bad.yaml")
    with pytest.raises(RegistryError) as info:
        sources.load(bad, environ={})
    text = str(info.value)
    assert "bad.yaml:2: route: unknown route 'graph' (account 'a'); one of auto, api, public" in text
    assert "bad.yaml:3: route: Blog accounts have no API route (account 'b'); only Instagram, Facebook" in text


def test_sources_check_says_which_route_each_account_takes(write_registry):
    from click.testing import CliRunner

    from crawler.cli import cli

    path = write_registry("""
        settings:
          meta: {token_env: TEST_NO_SUCH_TOKEN, instagram_user_id: "17841400000000000"}
        accounts:
          - {id: a, unit: U, area: A, platform: instagram, url: "https://www.instagram.com/a/"}
          - {id: b, unit: U, area: A, platform: instagram, url: "https://www.instagram.com/b/", route: public}
          - {id: c, unit: U, area: A, platform: blog, url: "https://c.example.se/"}
        """)
    result = CliRunner().invoke(cli, ["sources", "check", str(path), "--routes"], env={"TEST_NO_SUCH_TOKEN": None})
    assert result.exit_code == 0, result.output
    assert "1 api    Business Discovery through the administration's Instagram account" in result.output
    assert "1 public pinned to the public page (route: public)" in result.output
    assert "  a                                instagram  api" in result.output
    assert "warning: settings.meta: the environment variable TEST_NO_SUCH_TOKEN" in result.output


# --------------------------------------------------------------------------- a visit along its route


@pytest.fixture(scope="module")
def world() -> World:
    return World(40, seed=1)


@pytest.fixture()
def web(world):
    with DemoWeb(world, cycle_time(13), faults=False, slow_seconds=0, graph=DemoGraph(world, TOKEN)) as running:
        yield running


def registry_settings(web) -> dict:
    return demo_settings() | {"meta": {"base_url": web.base_url("graph"), "instagram_user_id": DEMO_IG_USER_ID,
                                       "token_env": "CRAWLER_META_TOKEN", "call_interval": 0.0}}


def test_an_api_not_found_is_confirmed_on_the_public_page_and_never_gone_by_itself(world, web):
    from crawler.fetch import Fetcher

    settings = Settings(**registry_settings(web))
    personal = next(a for a in world.accounts() if a.kind == "instagram" and not a.professional
                    and not a.login_wall and a.deleted_at is None)
    account = Account(personal.id, personal.unit, personal.area, "instagram", web.url_for(personal))
    pinned = _with(account, route="api")

    async def visit(acc):
        async with Fetcher(settings) as fetcher, MetaClient(settings, environ={"CRAWLER_META_TOKEN": TOKEN}) as meta:
            async def fetch(url: str) -> Fetched:
                return await fetcher.fetch(url, mobile=True)
            return await routes.observe(acc, fetch, meta, cycle_time(13), settings)

    auto = asyncio.run(visit(account))
    assert auto.route == "public" and auto.note == NOTE_PERSONAL  # the profile exists, but is not professional
    assert auto.observation.exists is True and auto.observation.post_count is not None
    assert auto.fetches[0].status == 400 and auto.fetches[-1].url == web.url_for(personal)
    only_api = asyncio.run(visit(pinned))
    assert only_api.route == "api" and only_api.observation.exists is None  # unknown, never gone
    assert len(only_api.fetches) == 1 and "not found through Business Discovery" in only_api.note


# --------------------------------------------------------------------------- as ops run it


def run(*args: str, env: dict | None = None, cwd: Path) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRAWLER_")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "crawler", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_no_token_appears_in_any_file_log_line_or_table_after_a_crawl(world, web, tmp_path):
    reg = tmp_path / "sources.yaml"
    reg.write_text(world.sources_yaml(web, registry_settings(web)), encoding="utf-8")
    db = tmp_path / "inventory.sqlite"
    env = {"CRAWLER_META_TOKEN": TOKEN}
    common = ["--sources", str(reg), "--db", str(db)]
    outputs = [
        run(*common, "--log-level", "debug", "crawl", env=env, cwd=tmp_path),
        run(*common, "--log-level", "debug", "--log-format", "json", "crawl", env=env, cwd=tmp_path),
        run(*common, "status", env=env, cwd=tmp_path),
        run(*common, "status", "--json", env=env, cwd=tmp_path),
        run(*common, "export", "--format", "json", env=env, cwd=tmp_path),
        run(*common, "export", "--format", "csv", env=env, cwd=tmp_path),
        run(*common, "sources", "check", "--routes", env=env, cwd=tmp_path),
    ]
    assert outputs[0].returncode == 0, outputs[0].stderr[-2000:]
    graph_api = web.server.graph
    secrets = [TOKEN, *(graph_api.page_token(a.page_id) for a in graph_api.managed_pages(cycle_time(13)))]
    assert len(secrets) > 1 and any(c[0].endswith("/me/accounts") for c in graph_api.calls)  # Page tokens were handed out
    for out in outputs:
        for secret in secrets:
            assert secret not in out.stdout and secret not in out.stderr, out.args
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "inventory.sqlite" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, path
    status = json.loads(outputs[3].stdout)
    assert status["apis"][0]["state"] == "ok" and status["routes"]["by_route"]["api"] > 0


@pytest.mark.slow
def test_an_expired_token_is_one_clear_status_line_and_the_accounts_fall_back(world, web, tmp_path):
    from datetime import timedelta

    reg = tmp_path / "sources.yaml"
    reg.write_text(world.sources_yaml(web, registry_settings(web)), encoding="utf-8")
    db = tmp_path / "inventory.sqlite"
    web.server.graph.expires_at = cycle_time(13) - timedelta(days=1)
    common = ["--sources", str(reg), "--db", str(db)]
    crawl = run(*common, "crawl", env={"CRAWLER_META_TOKEN": TOKEN}, cwd=tmp_path)
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    assert len(web.server.graph.calls) == 1  # the refusal stopped the API for the cycle
    assert "meta.token_invalid" in crawl.stderr and TOKEN not in crawl.stderr
    status = run(*common, "status", cwd=tmp_path)
    assert status.returncode == 2  # degraded: ops must renew the token
    assert "Health:    DEGRADED - the Graph API (Meta) is unusable since" in status.stdout
    line = next(x for x in status.stdout.splitlines() if x.startswith("Graph API:"))
    assert line.startswith("Graph API: TOKEN INVALID since") and "190/463" in line and "renew it" in line
    from crawler.store import Store

    with Store.open(db, readonly=True) as store:
        checks = store.run_checks(store.recent_runs(1)[0].id)
        by_route = {r.route for r in store.route_counts()}
    assert not any(c.error in ("api_error", "api_unavailable") for c in checks)  # no cycle full of errors
    assert by_route == {"public"}  # every Instagram and Facebook account was read from its public page


def test_instagram_is_read_with_a_mobile_user_agent_that_still_names_the_crawler(world, web):
    from crawler.fetch import Fetcher
    from crawler.platforms import instagram

    acc = next(a for a in world.accounts() if a.kind == "instagram" and not a.login_wall and a.deleted_at is None)
    settings = Settings(**demo_settings())

    async def get(mobile: bool):
        async with Fetcher(settings) as fetcher:
            return await fetcher.fetch(web.url_for(acc), mobile=mobile)

    desktop = instagram.parse(asyncio.run(get(False)), cycle_time(13), settings)
    assert desktop.exists is None and desktop.login_wall  # the bare "Instagram" page: never gone
    phone = asyncio.run(get(True))
    agent = web.stats()["instagram"]["user_agent"]
    assert "iPhone" in agent and "Mobile" in agent and settings.user_agent in agent  # contact included
    obs = instagram.parse(phone, cycle_time(13), settings)
    assert obs.exists is True and obs.post_count == world.post_count(acc.index, cycle_time(13))


def test_an_account_the_api_read_before_and_not_now_is_said_to_have_changed(web):
    from datetime import timedelta

    from crawler.fetch import Fetcher

    world = World(319, seed=1)
    page = next(a for a in world.accounts() if a.kind == "facebook" and a.managed and a.deleted_at)
    with DemoWeb(world, page.deleted_at - timedelta(days=1), faults=False, slow_seconds=0,
                 graph=DemoGraph(world, TOKEN)) as running:
        settings = Settings(**registry_settings(running))
        account = Account(page.id, page.unit, page.area, "facebook", running.url_for(page))

        async def visit(before, note=None):
            async with Fetcher(settings) as fetcher, MetaClient(settings, environ={"CRAWLER_META_TOKEN": TOKEN}) as meta:
                return await routes.observe(account, fetcher.fetch, meta, running.clock, settings,
                                            previous_route=before, previous_note=note)

        first = asyncio.run(visit(None))
        assert first.route == "api" and first.observation.exists is True
        running.set_clock(page.deleted_at + timedelta(days=1))
        later = asyncio.run(visit("api"))
        again = asyncio.run(visit("public", later.note))  # the visit after: still "no longer", not "never"
        fresh = asyncio.run(visit(None))  # an account the API never read: only "not among"
    assert later.route == "public" and later.observation.exists is False  # the public page: a gone candidate
    assert later.note == again.note == f"{routes.NOTE_LOST_PAGE}; the public page says it is not there"
    assert fresh.note.startswith("Facebook Page not among those the administration manages")
