"""The platform registry: one declaration per platform, one detection, one canonical URL, and a
platform added by a test (one declaration, nothing else) that sources check accepts, a crawl
against a loopback server reads and the board's report counts."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from crawler import classify, platforms, sources
from crawler.cli import cli
from crawler.clock import utcnow
from crawler.models import Fetched, Observation, PriorState
from crawler.platforms import common, read, registry
from crawler.platforms.registry import Platform
from crawler.settings import Settings
from tests.hostile import HostileServer, respond

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------- the built-in list


def test_the_builtin_platforms_in_declaration_order():
    assert platforms.names() == ("wordpress", "blogger", "blog", "instagram", "facebook", "other")
    assert "feed" in platforms.ADAPTERS and "feed" not in platforms.names()  # a reader, not a platform
    assert [p.name for p in platforms.all_platforms() if p.opaque] == ["instagram", "facebook"]
    assert [p.name for p in platforms.all_platforms() if p.kind == "blog"] == ["wordpress", "blogger", "blog"]
    assert platforms.adapter("no-such-platform") is platforms.get("blog")


def test_the_demo_world_serves_registered_platforms():
    from crawler.demo.world import KIND_PLATFORM

    assert set(KIND_PLATFORM.values()) <= set(platforms.names())


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="already registered"):
        platforms.register(replace(platforms.get("blog")))
    with pytest.raises(ValueError, match="host pattern"):
        platforms.register(Platform("x", "X", parse=None, candidates=None, hosts=("https://x.se/",)))
    assert "x" not in platforms.names()


@pytest.mark.parametrize(
    ("word", "name"),
    [("WordPress", "wordpress"), ("wp", "wordpress"), ("blogspot", "blogger"), ("blogg", "blog"), ("IG", "instagram"),
     ("insta", "instagram"), ("fb", "facebook"), ("annat", "other"), ("tiktok", None)],
)
def test_aliases(word, name):
    found = platforms.by_alias(word)
    assert (found.name if found else None) == name


# --------------------------------------------------------------------------- one detection


URLS = [
    ("https://www.instagram.com/forskolan_humlan/", "instagram"),
    ("https://instagr.am/humlan", "instagram"),
    ("https://xinstagr.am/a", None),  # 0.1 read this as Instagram (a suffix match without the dot)
    ("https://instagram.com.evil.example/x", None),
    ("https://m.facebook.com/x", "facebook"),
    ("https://fb.me/x", "facebook"),
    ("https://notfacebook.com/x", None),
    ("https://forskolanlonnen.blogspot.se/", "blogger"),
    ("https://x.blogspot.co.uk/", "blogger"),
    ("https://blogspot.evil.example/", None),
    ("https://www.blogger.com/profile/1", "blogger"),
    ("https://notblogger.com/", None),  # 0.1: "endswith blogger.com"
    ("https://solrosen.wordpress.com/", "wordpress"),
    ("https://wordpress.com/", None),  # the company's site, not a blog on it
    ("https://INSTAGRAM.COM./x", "instagram"),
    ("https://forskolan.malmo.se/", None),
    ("http://127.0.0.5:8080/forskolan_humlan/", None),
]


@pytest.mark.parametrize(("url", "platform"), URLS)
def test_one_detection_for_sources_and_adapters(url, platform):
    assert sources.platform_from_url(url) == platform
    assert platforms.detect(url) == (platform or "blog")
    assert platforms.detect(url, default=None) == platform


# --------------------------------------------------------------------------- canonical URLs


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("instagram.com/x", "https://www.instagram.com/x/"),
        ("https://www.instagram.com/x/?hl=sv", "https://www.instagram.com/x/"),
        ("instagr.am/X", "https://www.instagram.com/x/"),
        ("http://m.instagram.com/Forskolan.Humlan/reels/?igsh=abc", "https://www.instagram.com/forskolan.humlan/"),
        ("https://www.instagram.com/p/CqXyZ12/", "https://www.instagram.com/p/CqXyZ12/"),  # post codes keep case
        ("https://about.instagram.com/blog", "https://about.instagram.com/blog"),  # not a profile host
        ("https://sv-se.facebook.com/ForskolanEkorren/about/", "https://www.facebook.com/forskolanekorren/"),
        ("https://fb.me/forskolanekorren", "https://www.facebook.com/forskolanekorren/"),
        ("https://m.facebook.com/profile.php?id=1000123&ref=bookmarks", "https://www.facebook.com/profile.php?id=1000123"),
        ("https://www.facebook.com/Ekorren/posts/12345?__tn__=x", "https://www.facebook.com/ekorren/posts/12345/"),
        ("http://lonnen.blogspot.se/2023/03/vi-malar.html?m=1", "https://lonnen.blogspot.com/2023/03/vi-malar.html"),
        ("http://Solrosen.WordPress.com", "https://solrosen.wordpress.com/"),
        ("https://solrosen.wordpress.com/?feed=rss2", "https://solrosen.wordpress.com/?feed=rss2"),
        ("HTTPS://Forskolan.Example.se:443/Blogg?utm_source=nyhetsbrev&page=2#kommentarer",
         "https://forskolan.example.se/Blogg?page=2"),
        ("http://user:secret@forskolan.example.se:8080/", "http://forskolan.example.se:8080/"),
        ("  https://forskolan.example.se  ", "https://forskolan.example.se/"),
    ],
)
def test_canonical_url(written, canonical):
    assert platforms.canonical_url(written) == canonical
    assert platforms.canonical_url(canonical) == canonical  # idempotent


def test_a_url_without_a_host_is_left_alone():
    assert platforms.canonical_url("https://") == "https://"


def test_spellings_of_one_account_are_one_account_in_the_registry(write_registry):
    path = write_registry("""
        accounts:
          - {id: a, unit: U, area: A, platform: instagram, url: "https://www.instagram.com/humlan/"}
          - {id: b, unit: U, area: A, platform: instagram, url: "https://instagr.am/Humlan?hl=sv"}
        """)
    with pytest.raises(sources.RegistryError, match="duplicate URL: same account as 'a'"):
        sources.load(path)


# --------------------------------------------------------------------------- politeness defaults


def test_a_platform_politeness_default_applies_to_its_hosts_unless_configured():
    assert Settings().host_delay("www.instagram.com") == 10.0
    assert Settings().host_delay("m.facebook.com") == 10.0
    assert Settings().host_delay("forskolan.example.se") == 1.0
    assert Settings(per_host_delay=30).host_delay("www.instagram.com") == 30.0  # never faster than asked
    assert Settings(host_delays={"instagram.com": 5}).host_delay("www.instagram.com") == 5.0  # explicit wins


def test_opaque_comes_from_the_registry():
    exists = Observation("facebook", True, "facebook: page")
    assert classify.classify(PriorState(), exists, "ok", utcnow(), Settings()).status == "unknown"
    assert classify.classify(PriorState(), replace(exists, platform="blog"), "ok", utcnow(), Settings()).status == "dormant"


# --------------------------------------------------------------------------- a platform added by a test


def _testgram_page(fetched: Fetched, now: datetime, settings: Settings, platform: str) -> Observation:
    """A made-up social site: a profile page whose posts carry <time datetime>."""
    if fetched.status in common.GONE_STATUSES:
        return common.gone_by_status(fetched, platform)
    tree = common.parse_html(fetched.body or b"", dict(fetched.headers))
    if tree.css_first("main.profile") is None:
        return Observation(platform, None, "testgram: no profile", source_url=fetched.url)
    from crawler.dates import parse_machine

    dated = [(None, parse_machine(n.attributes.get("datetime"))) for n in tree.css("time[datetime]")]
    return common.assemble(platform, "testgram: profile", dated, now, settings, source_url=fetched.url)


@common.guarded
def _testgram_parse(fetched: Fetched, now: datetime, settings: Settings, platform: str = "testgram") -> Observation:
    return read.read(fetched, now, settings, platform, _testgram_page)


def _testgram(host: str) -> Platform:
    # What a new platform module would declare (crawler/platforms/testgram.py plus one line in BUILTIN).
    return Platform(
        name="testgram", label="Testgram", parse=_testgram_parse, candidates=lambda url, feed: [url],
        kind="social", hosts=(host,), aliases=("tg",), opaque=True, exclusive=True, host_delay=0.0,
    )


def _registry_text(server: HostileServer, accounts: str) -> str:
    settings = ("settings:\n  contact: it-support@example.se\n  allow_private_addresses: true\n"
                "  per_host_delay: 0\n  retries: 1\naccounts:\n")
    return settings + textwrap.indent(textwrap.dedent(accounts).strip() + "\n", "  ").replace("BASE", server.base)


def test_a_registered_platform_is_checked_crawled_and_reported(tmp_path):
    posted = (utcnow() - timedelta(days=3)).isoformat(timespec="seconds")
    with HostileServer() as server:
        server.route("/humlan/", respond(f'<main class="profile"><time datetime="{posted}">3 d</time></main>'.encode()))
        server.route("/ekorren/", respond(b'<main class="profile"><p>No posts shown</p></main>'))
        runner = CliRunner()
        good = tmp_path / "sources.yaml"
        good.write_text(_registry_text(server, """
            - {id: humlan-tg, unit: Humlan, area: Norr, platform: testgram, url: "BASE/humlan/"}
            - {id: ekorren-tg, unit: Ekorren, area: Norr, platform: testgram, url: "BASE/ekorren/"}
            """), encoding="utf-8")
        wrong = tmp_path / "wrong.yaml"
        wrong.write_text(_registry_text(server, """
            - {id: humlan, unit: Humlan, area: Norr, platform: blog, url: "BASE/humlan/"}
            """), encoding="utf-8")

        refused = runner.invoke(cli, ["sources", "check", str(good)])
        assert refused.exit_code == 2 and "unknown platform 'testgram'" in refused.output

        with registry.registered(_testgram(server.host)):
            assert platforms.detect(server.url("/humlan/")) == "testgram"
            checked = runner.invoke(cli, ["sources", "check", str(good)])
            assert checked.exit_code == 0, checked.output
            assert "2 accounts (2 testgram)" in checked.output
            misfiled = runner.invoke(cli, ["sources", "check", str(wrong)])
            assert misfiled.exit_code == 2
            assert "the URL is on Testgram but platform is 'blog'" in misfiled.output

            base = ["--sources", str(good), "--db", str(tmp_path / "inv.sqlite")]
            dry = runner.invoke(cli, [*base, "crawl", "--dry-run", "--platform", "testgram"], env={})
            assert dry.exit_code == 0 and "humlan-tg" in dry.output, dry.output
            crawled = runner.invoke(cli, [*base, "crawl"], env={})
            assert crawled.exit_code == 0, crawled.output
            assert server.hits("/humlan/") == 1 and server.hits("/ekorren/") == 1

            exported = runner.invoke(cli, [*base, "export", "--format", "json"])
            rows = {r["id"]: r for r in json.loads(exported.output)}
            assert rows["humlan-tg"]["platform"] == "testgram" and rows["humlan-tg"]["status"] == "active"
            # Opaque: a profile showing no post is no evidence of an empty account.
            assert rows["ekorren-tg"]["status"] == "unknown"

            report = runner.invoke(cli, [*base, "report", "--format", "csv", "--lang", "en"])
            assert report.exit_code == 0, report.output
            table = list(csv.reader(io.StringIO(report.output.lstrip("\ufeff"))))
            assert any("testgram" in row for row in table), table
        assert "testgram" not in platforms.names()


def test_no_module_outside_the_registry_lists_platforms():
    """Platform lists come from the registry: no tuple, list, set or dict of platform names elsewhere."""
    import ast
    from pathlib import Path

    package = Path(platforms.__file__).parent.parent
    known = set(platforms.names())
    offenders = []
    for path in package.rglob("*.py"):
        rel = path.relative_to(package)
        if rel.parts[0] in ("platforms", "demo"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            items = [*node.keys, *node.values] if isinstance(node, ast.Dict) else getattr(node, "elts", None)
            if not isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)) or items is None:
                continue
            named = {n.value for n in items if isinstance(n, ast.Constant) and n.value in known}
            if len(named) >= 2:
                offenders.append(f"{rel}:{node.lineno}: {sorted(named)}")
    assert not offenders, offenders
