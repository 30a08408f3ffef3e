"""The registry loader: valid files, every bad-input case with its line and field, CSV import."""

from __future__ import annotations

import time
from datetime import date

import pytest

from crawler import sources
from crawler.errors import RegistryError

GOOD = """
settings:
  contact: ops@example.se
  active_days: 120
  host_delays:
    instagram.com: 5
accounts:
  - id: solrosen-blogg
    unit: Förskolan Solrosen
    area: Område Centrum
    platform: wordpress
    url: https://solrosen.wordpress.com/
    feed: https://solrosen.wordpress.com/feed/
    added: 2021-08-15
  - id: "012"
    unit: no
    area: Område Norr
    platform: instagram
    url: https://www.instagram.com/tallbacken/
"""


def problems_of(write_registry, text: str) -> list[str]:
    path = write_registry(text)
    with pytest.raises(RegistryError) as info:
        sources.load(path, environ={})
    return [str(p).split(":", 1)[1] for p in info.value.problems]  # drop the directory part


def test_valid_registry_loads_with_settings(write_registry):
    reg = sources.load(write_registry(GOOD), environ={})
    assert [a.id for a in reg.accounts] == ["solrosen-blogg", "012"]
    first = reg.accounts[0]
    assert first.feed == "https://solrosen.wordpress.com/feed/"
    assert first.added == date(2021, 8, 15)
    # YAML 1.1 would read `no` as False and 012 as 10; the registry keeps the text as written
    assert reg.accounts[1].unit == "no"
    assert reg.settings.active_days == 120
    assert reg.settings.host_delay("www.instagram.com") == 5.0
    assert reg.settings.host_delay("example.se") == 1.0


def test_environment_overrides_registry_settings(write_registry):
    reg = sources.load(write_registry(GOOD), environ={"CRAWLER_ACTIVE_DAYS": "60", "CRAWLER_DB": "/tmp/x.db"})
    assert reg.settings.active_days == 60
    assert reg.settings.db == "/tmp/x.db"


def test_bad_environment_value_is_named(write_registry):
    with pytest.raises(RegistryError, match="CRAWLER_ACTIVE_DAYS"):
        sources.load(write_registry(GOOD), environ={"CRAWLER_ACTIVE_DAYS": "many"})


ENTRY = """
  - id: {id}
    unit: U
    area: A
    platform: {platform}
    url: {url}
"""


def registry(*entries: str, settings: str = "") -> str:
    return settings + "accounts:\n" + "".join(entries)


def entry(id="a", platform="blog", url="https://a.example.se/", extra="") -> str:
    return ENTRY.format(id=id, platform=platform, url=url).lstrip("\n") + extra


@pytest.mark.parametrize(
    "text, expected",
    [
        (registry(entry("a"), entry("a", url="https://b.example.se/")), "7: id: duplicate id 'a' (first at line 2)"),
        (registry(entry("a"), entry("b", url="https://A.example.se")), "11: url: duplicate URL: same account as 'a'"),
        (registry(entry(platform="tiktok")), "5: platform: unknown platform 'tiktok'"),
        (registry(entry(platform="blogg")), "did you mean 'blog'?"),
        (registry(entry(url="not a url")), "6: url: must be a URL without spaces"),
        (registry(entry(url="https://")), "6: url: malformed URL: no host name"),
        (registry(entry(url="https://x.se:99999/")), "6: url: malformed URL"),
        (registry(entry(url="ftp://files.example.se/")), "6: url: only http and https URLs can be crawled (scheme is ftp)"),
        (registry(entry(url="file:///etc/passwd")), "scheme is file"),
        (registry(entry(url="javascript:alert(1)")), "scheme is javascript"),
        (registry(entry(url="https://www.instagram.com/solrosen/")), "5: platform: the URL is on Instagram but platform is 'blog'"),
        (registry(entry(platform="instagram", url="https://www.facebook.com/x/")), "the URL is on Facebook"),
        (registry(entry(extra="    pltform: blog\n")), "7: pltform: unknown key (did you mean 'platform'?)"),
        (registry(entry(extra="    unit: V\n")), "7: unit: duplicate key (first at line 3)"),
        (registry(entry(extra="    added: last year\n")), "7: added: 'last year' is not a date"),
        (registry(entry(extra="    feed: [a, b]\n")), "7: feed: must be a single value"),
        (registry(entry(extra="    feed: gopher://x.se/\n")), "7: feed: only http and https"),
        (registry("  - id: a\n    unit: U\n"), "2: area: missing required field (account 'a')"),
        (registry("  - id: a\n    unit: ''\n    area: A\n    platform: blog\n    url: https://x.se/\n"), "3: unit: must not be empty"),
        (registry(entry(id="Solrosen Blogg")), "2: id: 'Solrosen Blogg': use lower-case"),
        (registry("  - just a string\n"), "2: each account must be a mapping"),
        ("accounts: {a: 1}\n", "1: accounts: must be a list"),
        ("acounts: []\n", "1: acounts: unknown top-level key (did you mean 'accounts'?)"),
        ("settings: {}\n", "accounts: missing"),
        (registry(entry(), settings="settings:\n  active_days: soon\n"), "2: settings.active_days: must be a whole number"),
        (registry(entry(), settings="settings:\n  respect_robots: 1\n"), "2: settings.respect_robots: must be true or false"),
        (registry(entry(), settings="settings:\n  activ_days: 3\n"), "settings.activ_days: unknown setting (did you mean 'active_days'?)"),
        (registry(entry(), settings="settings:\n  host_delays: 5\n"), "settings.host_delays: must be a mapping"),
        (registry(entry(), settings="settings:\n  per_host_delay: -1\n"), "must not be negative"),
        ("accounts:\n  - id: a\n   unit: broken indentation\n", "not valid YAML"),
        ("- just\n- a list\n", "1: the top level must be a mapping"),
        ("", "the file is empty"),
    ],
)
def test_each_bad_input_names_line_and_field(write_registry, text, expected):
    found = problems_of(write_registry, text)
    assert any(expected in p for p in found), found


def test_every_problem_is_listed_at_once(write_registry):
    text = registry(entry("a", platform="tiktok"), entry("a", url="ftp://x.se/", extra="    pltform: x\n"))
    found = problems_of(write_registry, text)
    assert len(found) == 4, found  # tiktok, duplicate id, ftp, pltform


def test_alias_bomb_is_refused_quickly(write_registry):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    lines.append("accounts: []")
    path = write_registry("\n".join(lines) + "\n")
    start = time.monotonic()
    with pytest.raises(RegistryError, match="aliases"):
        sources.load(path, environ={})
    assert time.monotonic() - start < 2


def test_huge_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:
        f.write(b"accounts:\n")
        f.seek(50 * 1024 * 1024)
        f.write(b"\n")
    start = time.monotonic()
    with pytest.raises(RegistryError, match="file is 50.0 MiB; the limit is 32 MiB"):
        sources.load(path, environ={})
    assert time.monotonic() - start < 2


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("accounts:\n  - id: a\n    unit: F\xf6rskola\n".encode("latin-1"))
    with pytest.raises(RegistryError, match=r":3: not UTF-8"):
        sources.load(path, environ={})


def test_shipped_registry_is_valid():
    reg = sources.load("sources.yaml", environ={})
    assert reg.accounts and all(a.id.startswith("example-") for a in reg.accounts)


def test_platform_from_url():
    assert sources.platform_from_url("https://www.instagram.com/x/") == "instagram"
    assert sources.platform_from_url("https://m.facebook.com/x") == "facebook"
    assert sources.platform_from_url("https://x.blogspot.com/") == "blogger"
    assert sources.platform_from_url("https://x.blogspot.se/") == "blogger"
    assert sources.platform_from_url("https://x.wordpress.com/") == "wordpress"
    assert sources.platform_from_url("https://forskolan.malmo.se/") is None


# --------------------------------------------------------------------------- CSV import

CSV = (
    "Förskola;Område;Plattform;Länk;Kommentar\n"
    "Förskolan Solrosen;Område Centrum;Blogg;solrosen.wordpress.com;\n"
    "Förskolan Solrosen;Område Centrum;Instagram;https://www.instagram.com/solrosen/;aktiv\n"
    "Tallbacken;Område Norr;;https://tallbacken.blogspot.com/;\n"
    ";Område Norr;Blogg;https://utan-namn.example.se/;\n"
    "Ekbacken;Område Väster;Blogg;;\n"
    "Ekbacken;Område Väster;Myspace;https://myspace.example.se/ekbacken;\n"
    "Dubblett;Område Väster;Blogg;https://SOLROSEN.wordpress.com/;\n"
)


def test_csv_import_maps_swedish_headers_and_derives_ids(tmp_path):
    path = tmp_path / "konton.csv"
    path.write_text(CSV, encoding="utf-8-sig")
    result = sources.import_csv(path)
    got = [(a.id, a.platform, a.url) for a in result.accounts]
    assert got == [
        ("forskolan-solrosen-wordpress", "wordpress", "https://solrosen.wordpress.com"),
        ("forskolan-solrosen-instagram", "instagram", "https://www.instagram.com/solrosen/"),
        ("tallbacken-blogger", "blogger", "https://tallbacken.blogspot.com/"),
    ]
    assert result.accounts[1].notes == "aktiv"
    skipped = {(p.line, p.field) for p in result.skipped}
    assert skipped == {(5, "unit"), (6, "url"), (7, "platform"), (8, "url")}


def test_csv_import_is_stable_and_skips_registered_urls(tmp_path):
    path = tmp_path / "konton.csv"
    path.write_text(CSV, encoding="utf-8")
    first = sources.import_csv(path)
    again = sources.import_csv(path)
    assert [a.id for a in first.accounts] == [a.id for a in again.accounts]
    incremental = sources.import_csv(path, existing=first.accounts)
    assert incremental.accounts == []


def test_csv_import_reads_excel_cp1252(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("Förskola,Område,Länk\nÄppelträdet,Söder,https://appel.example.se/\n".encode("cp1252"))
    result = sources.import_csv(path)
    assert result.accounts[0].unit == "Äppelträdet"
    assert result.accounts[0].id == "appeltradet-blog"


def test_csv_without_url_column_is_an_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Namn,Typ\nA,Blogg\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="no column for url"):
        sources.import_csv(path)


def test_append_accounts_keeps_file_valid_and_comments(write_registry, tmp_path):
    path = write_registry("# my comment\n" + registry(entry("a")))
    csv_path = tmp_path / "k.csv"
    csv_path.write_text("Förskola,Område,Länk\nNo,012,https://b.example.se/\n", encoding="utf-8")
    result = sources.import_csv(csv_path, existing=sources.load(path, environ={}).accounts)
    sources.append_accounts(path, result.accounts)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# my comment")
    reg = sources.load(path, environ={})
    assert [(a.id, a.unit, a.area) for a in reg.accounts] == [("a", "U", "A"), ("no-blog", "No", "012")]
