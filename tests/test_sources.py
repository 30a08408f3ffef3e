"""The registry loader: valid files, every bad-input case with its line and field, CSV import."""

from __future__ import annotations

import os
import time
from datetime import date

import pytest

from crawler import sources
from crawler.errors import RegistryError
from crawler.models import Account

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


# --------------------------------------------------------------------------- 0.2: every problem, nesting, secrets


def test_an_entry_missing_a_field_still_has_its_other_problems_listed(write_registry):
    text = registry("  - id: Bad Id\n    unit: U\n    url: ftp://x.se/\n    feed: nope\n    added: soon\n")
    found = problems_of(write_registry, text)
    assert any("2: id: 'Bad Id': use lower-case" in p for p in found), found
    assert any("2: area: missing required field" in p for p in found), found
    assert any("2: platform: missing required field" in p for p in found), found
    assert any("4: url: only http and https" in p for p in found), found
    assert any("5: feed: only http and https URLs can be crawled (scheme is none)" in p for p in found), found
    assert any("6: added: 'soon' is not a date" in p for p in found), found
    assert len(found) == 6, found


@pytest.mark.parametrize("text", [
    "accounts: " + "[" * 5000 + "]" * 5000 + "\n",
    "accounts:\n  - id: a\n    notes: " + "{a: " * 5000 + "}" * 5000 + "\n",
    "settings:\n" + "".join(" " * (2 * i) + f"k{i}:\n" for i in range(1, 400)) + "accounts: []\n",
    "accounts:\n" + "".join(" " * i + "-\n" for i in range(1, 400)),
])
def test_deep_nesting_is_a_registry_error_with_its_line(write_registry, text):
    start = time.monotonic()
    with pytest.raises(RegistryError, match=r"nested more than 16 levels deep") as info:
        sources.load(write_registry(text), environ={})
    assert info.value.problems[0].line is not None
    assert time.monotonic() - start < 2


def test_deep_nesting_through_the_cli_exits_2_without_a_traceback(write_registry):
    from click.testing import CliRunner

    from crawler.cli import cli

    path = write_registry("accounts: " + "[" * 100000 + "]" * 100000 + "\n")
    result = CliRunner().invoke(cli, ["sources", "check", str(path)])
    assert result.exit_code == 2 and "nested more than 16 levels deep" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, RecursionError)


@pytest.mark.parametrize("text, expected", [
    ("accounts: []\n---\naccounts: []\n", "2: not valid YAML: the registry is one document"),
    (registry(entry(extra="    notes: &n x\n"), entry("b", url="https://b.example.se/", extra="    notes: *n\n")),
     "13: YAML aliases"),
    ("accounts:\n  - ? [a, b]\n    : x\n", "account: keys must be plain names"),
    ("? [a]\n: 1\naccounts: []\n", "top level: keys must be plain names"),
    ("~\n", "the top level must be a mapping"),
    ("# only a comment\n", "the file is empty"),
    ("accounts:\n  - id: a\n    unit: !!null x\n    area: A\n    platform: blog\n    url: https://a.se/\n",
     "3: unit: must not be empty"),
])
def test_more_shapes_of_bad_yaml(write_registry, text, expected):
    found = problems_of(write_registry, text)
    assert any(expected in p for p in found), found


@pytest.mark.parametrize("field, url", [
    ("url", "https://anna:hemligt@solrosen.example.se/"),
    ("url", "https://anna@solrosen.example.se/"),
    ("url", "https://:hemligt@solrosen.example.se/"),
    ("feed", "https://anna:hemligt@solrosen.example.se/feed/"),
])
def test_credentials_in_urls_are_refused_and_never_echoed(write_registry, field, url):
    extra = f"    feed: {url}\n" if field == "feed" else ""
    text = registry(entry(url=url if field == "url" else "https://a.example.se/", extra=extra))
    found = problems_of(write_registry, text)
    (problem,) = [p for p in found if f": {field}: " in p]
    assert "user name or password" in problem and "never belong in sources.yaml" in problem
    assert "Write the public address without it" in problem
    assert "hemligt" not in problem and "anna" not in problem


def test_a_token_in_a_query_is_refused(write_registry):
    text = registry(entry(url="https://graph.example.se/x?fields=id&access_token=EAAB123"))
    found = problems_of(write_registry, text)
    assert any("url: the URL carries a token or password in its query" in p for p in found), found
    assert not any("EAAB123" in p for p in found)


def test_the_same_account_under_other_url_forms_is_a_duplicate(write_registry):
    text = registry(entry("a", platform="instagram", url="https://instagram.com/Solrosen"),
                    entry("b", platform="instagram", url="https://www.instagram.com/solrosen/?hl=sv"),
                    entry("c", platform="facebook", url="https://m.facebook.com/solrosen"),
                    entry("d", platform="facebook", url="https://www.facebook.com/solrosen/#posts"),
                    entry("e", url="http://WWW.Blogg.example.se/start/?utm_source=x"),
                    entry("f", url="https://blogg.example.se/start"),
                    entry("g", url="https://blogg.example.se/Start"))  # a path's case counts off the platforms
    found = problems_of(write_registry, text)
    dups = [p for p in found if "duplicate URL" in p]
    assert len(dups) == 3, found
    assert any("same account as 'a'" in p for p in dups) and any("same account as 'c'" in p for p in dups)
    assert any("same account as 'e'" in p for p in dups)


# --------------------------------------------------------------------------- likely typos are warnings


TYPOS = registry(
    *[entry(f"n{i}", url=f"https://n{i}.example.se/").replace("area: A", "area: Område Norr")
      .replace("unit: U", "unit: Förskolan Solrosen") for i in range(3)],
    entry("typo", url="https://typo.example.se/").replace("area: A", "area: Område Nor")
    .replace("unit: U", "unit: Förskolan Solrosen"),
    entry("case", url="https://case.example.se/").replace("area: A", "area: Område Norr")
    .replace("unit: U", "unit: förskolan solrosen"),
    *[entry(f"u{i}", url=f"https://u{i}.example.se/").replace("area: A", "area: Område Norr")
      .replace("unit: U", f"unit: Förskolan Ekbacken {i}") for i in range(1, 3)],
)


def test_near_duplicate_names_are_warnings_that_name_the_likely_typo(write_registry):
    reg = sources.load(write_registry(TYPOS), environ={})
    assert len(reg.accounts) == 7  # warnings, not errors
    warnings = [str(w).split(":", 1)[1] for w in reg.warnings]
    assert warnings == [
        "19: area: 1 account with area 'Område Nor', 6 accounts with 'Område Norr' (first at line 4): "
        "probably a typo of 'Område Norr'; write it the same way everywhere, or ignore this if they differ",
        "23: unit: 1 account with unit 'förskolan solrosen', 4 accounts with 'Förskolan Solrosen' (first at line 3): "
        "probably a typo of 'Förskolan Solrosen'; write it the same way everywhere, or ignore this if they differ",
    ]  # "Förskolan Ekbacken 1" and "... 2" are two units: digits differ


def test_sources_check_prints_warnings_and_exits_0(write_registry):
    from click.testing import CliRunner

    from crawler.cli import cli

    path = write_registry(TYPOS)
    result = CliRunner().invoke(cli, ["sources", "check", str(path)])
    assert result.exit_code == 0
    assert "OK, 7 accounts" in result.output
    assert "warning: " in result.output and "probably a typo of 'Område Norr'" in result.output


@pytest.mark.parametrize("names, expected", [
    ({"Område Norr": 40, "Område Nor": 1}, [("Område Nor", "Område Norr")]),
    ({"Område Norr": 40, "Område Nrro": 1}, []),  # two edits
    ({"Område Norr": 40, "Område Nrorr": 2}, [("Område Nrorr", "Område Norr")]),  # an extra letter
    ({"Område Söder": 3, "Område Södre": 1}, [("Område Södre", "Område Söder")]),  # swapped letters
    ({"Område Söder": 3, "Omrade Soder": 3}, [("Område Söder", "Omrade Soder")]),  # accents only, equal counts
    ({"Solrosen 1": 3, "Solrosen 2": 3, "Solrosen 12": 1}, []),
    ({"Ekbo": 3, "Ekeb": 1}, []),  # too short to judge
    ({"Förskolan A": 3, "Förskolan B": 1}, []),  # a one-letter word is a name, not a typo
    ({"Område Norr": 3, "OmrådeNorr": 1}, [("OmrådeNorr", "Område Norr")]),  # a missing space
    ({"Förskolan Solrosen Norra": 3, "Förskolan Solrossen Norra": 1, "Förskolan Solrosen Södra": 2},
     [("Förskolan Solrossen Norra", "Förskolan Solrosen Norra")]),
    ({"Förskolan Björk": 3, "Förskolan Björn": 1}, [("Förskolan Björn", "Förskolan Björk")]),
])
def test_near_duplicates(names, expected):
    assert sources.near_duplicates(names) == expected


def test_near_duplicate_units_are_looked_for_within_their_area():
    counts = {"Förskolan Björk": 2, "Förskolan Björn": 1}
    assert sources.near_duplicates(counts, {"Förskolan Björk": "Norr", "Förskolan Björn": "Söder"}) == []
    assert sources.near_duplicates(counts, {"Förskolan Björk": "Norr", "Förskolan Björn": "Norr"}) != []


# --------------------------------------------------------------------------- re-read only when changed


def test_registry_file_is_parsed_again_only_when_its_bytes_change(write_registry):
    path = write_registry(GOOD)
    watched = sources.RegistryFile(path, environ={})
    first = watched.current()
    assert watched.loads == 1 and watched.current() is first and watched.loads == 1
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")  # rewritten, same bytes
    assert watched.current() is first and watched.loads == 1
    path.write_text(path.read_text(encoding="utf-8").replace("Område Norr", "Område Söder"), encoding="utf-8")
    second = watched.current()  # same size, maybe the same mtime tick: the hash tells
    assert second is not first and second.accounts[1].area == "Område Söder" and watched.loads == 2
    path.write_text(GOOD.replace("platform: instagram", "platform: tiktok"), encoding="utf-8")
    with pytest.raises(RegistryError, match="tiktok"):
        watched.current()
    assert watched.last_valid is second and watched.problem is not None
    with pytest.raises(RegistryError, match="tiktok"):
        watched.current()  # still broken, not parsed again
    assert watched.loads == 3
    path.write_text(GOOD, encoding="utf-8")
    assert watched.current().accounts[1].area == "Område Norr" and watched.problem is None


def test_registry_file_trusts_an_old_files_stat_without_reading_it(write_registry):
    path = write_registry(GOOD)
    os.utime(path, (1_600_000_000, 1_600_000_000))  # long ago: past the racy window
    watched = sources.RegistryFile(path, environ={})
    first = watched.current()
    reads = []
    real = sources.read_bytes
    try:
        sources.read_bytes = lambda *a, **k: reads.append(a) or real(*a, **k)
        assert watched.current() is first
    finally:
        sources.read_bytes = real
    assert reads == []


# --------------------------------------------------------------------------- CSV import, as a new user tries it


def run_cli(*args: str):
    from click.testing import CliRunner

    from crawler.cli import cli

    return CliRunner().invoke(cli, list(args))


def test_csv_without_an_area_column_is_an_error_unless_area_is_given(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("Förskola;Länk\nSolrosen;https://solrosen.example.se/\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="no column for area; the header is 'Förskola', 'Länk'.*--area"):
        sources.import_csv(path)
    result = sources.import_csv(path, area="Område Norr")
    assert [(a.unit, a.area) for a in result.accounts] == [("Solrosen", "Område Norr")]
    cli = run_cli("sources", "import", str(path))
    assert cli.exit_code == 2 and "no column for area" in cli.output and "okänt" not in cli.output


def test_a_row_with_an_empty_area_is_skipped_not_given_a_made_up_area(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("Förskola;Område;Länk\nSolrosen;;https://solrosen.example.se/\n", encoding="utf-8")
    result = sources.import_csv(path)
    assert result.accounts == []
    assert [(p.line, p.field, p.message) for p in result.skipped] == [(2, "area", "no area (område)")]


MESSY = (
    "\n"  # a blank line before the header
    "Förskola ; Område ;Plattform;Länk;Kommentar \n"
    "Solrosen;Område Norr;Blogg;https://solrosen.example.se/;\n"
    "\n"
    "Tallbacken;Område Norr;Instagram;https://www.instagram.com/tallbacken/;aktiv;;\n"  # empty trailing cells
    "Ekbacken;Område Söder;Blogg;https://ekbacken.example.se/;ny; extra\n"  # a ';' inside a value
    "  Lärkan  ;  Område  Söder ;Facebook;  www.facebook.com/larkan  ;\n"  # stray spaces, no scheme
    "Humlan;Område Söder;Blogg;https://anna:hemligt@humlan.example.se/;\n"  # a password
    "Tallbacken igen;Område Norr;;https://instagram.com/Tallbacken?hl=sv;\n"  # the same account again
    "Myran;Område Söder;Instagram;https://myran.example.se/;\n"  # says Instagram, is not
    ";;;;\n"
)


def test_messy_csv_every_skipped_row_has_its_number_and_reason(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text(MESSY, encoding="utf-8")
    result = sources.import_csv(path)
    assert [(a.id, a.unit, a.area, a.platform, a.url) for a in result.accounts] == [
        ("solrosen-blog", "Solrosen", "Område Norr", "blog", "https://solrosen.example.se/"),
        ("tallbacken-instagram", "Tallbacken", "Område Norr", "instagram", "https://www.instagram.com/tallbacken/"),
        ("larkan-facebook", "Lärkan", "Område Söder", "facebook", "https://www.facebook.com/larkan"),
    ]
    skipped = {p.line: str(p) for p in result.skipped}
    assert sorted(skipped) == [6, 8, 9, 10]
    assert "row 6: the row has 6 cells but the header has 5: is there a ';' inside a value?" in skipped[6]
    assert "row 8: url: the URL carries a user name or password" in skipped[8] and "hemligt" not in skipped[8]
    assert "row 9: url: the same account as row 5 ('tallbacken-instagram')" in skipped[9]
    assert "row 10: platform: the platform column says 'Instagram' but the URL is not on Instagram" in skipped[10]
    assert result.rows == 7


def test_one_malformed_row_does_not_change_the_delimiter(tmp_path):
    path = tmp_path / "k.csv"
    rows = ["Förskola;Område;Länk"] + [f"F{i};Område Norr;https://f{i}.example.se/" for i in range(3)]
    rows.insert(2, 'Trasig, med "citat, och, komman";Område, Norr,,,;https://x.example.se/,a,b;c,d')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = sources.import_csv(path)
    assert [a.unit for a in result.accounts] == ["F0", "F1", "F2"]
    assert [p.line for p in result.skipped] == [3]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_csv_encodings_excel_writes(tmp_path, encoding):
    path = tmp_path / "k.csv"
    delimiter = "\t" if encoding == "utf-16" else ";"  # Excel's "Unicode text" is tab separated
    text = delimiter.join(["Förskola", "Område", "Länk"]) + "\r\n" + \
        delimiter.join(["Äppelträdet", "Område Söder", "https://appel.example.se/"]) + "\r\n"
    path.write_bytes(text.encode(encoding))
    (account,) = sources.import_csv(path).accounts
    assert (account.unit, account.area, account.id) == ("Äppelträdet", "Område Söder", "appeltradet-blog")


def test_csv_rows_already_registered_in_another_form_are_known_not_skipped(tmp_path, write_registry):
    reg = write_registry(registry(entry("a", platform="instagram", url="https://www.instagram.com/solrosen/")))
    path = tmp_path / "k.csv"
    path.write_text("Förskola,Område,Länk\nSolrosen,Norr,instagram.com/Solrosen?hl=sv\n", encoding="utf-8")
    result = run_cli("sources", "import", str(path), "--append-to", str(reg))
    assert result.exit_code == 0, result.output
    assert "new accounts: 0, already registered: 1, skipped rows: 0 of 1" in result.output


def test_cli_import_refuses_to_write_when_rows_are_skipped_and_lists_them_all(tmp_path, write_registry):
    reg = write_registry(registry(entry("a")))
    before = reg.read_text(encoding="utf-8")
    path = tmp_path / "konton.csv"
    path.write_text(MESSY, encoding="utf-8")
    result = run_cli("sources", "import", str(path), "--append-to", str(reg))
    assert result.exit_code == 2
    assert "Error: 4 of 7 rows of" in result.output and "so nothing was written" in result.output
    for row in (6, 8, 9, 10):
        assert f"konton.csv row {row}: " in result.output
    assert reg.read_text(encoding="utf-8") == before
    result = run_cli("sources", "import", str(path), "--append-to", str(reg), "--allow-skipped")
    assert result.exit_code == 0, result.output
    assert "new accounts: 3, already registered: 0, skipped rows: 4 of 7" in result.output
    assert [a.id for a in sources.load(reg, environ={}).accounts] == [
        "a", "solrosen-blog", "tallbacken-instagram", "larkan-facebook"]
    printed = run_cli("sources", "import", str(path))  # without --append-to: prints nothing either
    assert printed.exit_code == 2 and "nothing was printed" in printed.output and "- id:" not in printed.output


def test_cli_import_warns_of_likely_typos_among_the_new_rows(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("Förskola;Område;Länk\n" + "".join(f"F{i};Område Norr;https://f{i}.example.se/\n" for i in range(3))
                    + "F9;Område Nor;https://f9.example.se/\n", encoding="utf-8")
    result = run_cli("sources", "import", str(path))
    assert result.exit_code == 0
    assert "warning: " in result.output and "k.csv row 5: area: 1 account with area 'Område Nor'" in result.output


def test_csv_cells_with_control_characters_are_skipped(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("Förskola;Område;Länk\nSol\x1b[2Jrosen;Norr;https://s.example.se/\n", encoding="utf-8")
    result = sources.import_csv(path)
    assert result.accounts == [] and "control" in result.skipped[0].message


def test_csv_that_is_not_text_is_a_clear_error(tmp_path):
    path = tmp_path / "k.csv"
    path.write_bytes(b"PK\x03\x04\x00\x00binary xlsx")
    with pytest.raises(RegistryError, match="CSV UTF-8"):
        sources.import_csv(path)


@pytest.mark.parametrize("url", [
    "https://solrosen.wordpress.com/", "https://Solrosen.WordPress.com/2023/", "http://x.blogspot.se/", "https://x.blogspot.com/p/om.html",
    "https://www.instagram.com/Solrosen/", "https://instagr.am/solrosen", "https://m.facebook.com/Solrosen/about",
    "https://sv-se.facebook.com/x", "https://www.facebook.com/profile.php?id=123", "https://www.blogg.example.se/Start/",
    "https://blogg.example.se", "https://blogg.example.se:443/a?utm_source=x&b=1#frag", "https://www.instagram.com/x/?hl=sv",
])
def test_the_fast_url_key_is_normalize_url(url):
    problem, parts, host = sources._split(url)
    assert problem is None
    platform = sources.platforms.registry.detect_host(parts.hostname)
    assert sources._url_key(url, parts, host, platform) == sources.normalize_url(url)


def test_the_registry_benchmark_runs(tmp_path, capsys):
    import importlib.util
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "registry_bench.py"
    spec = importlib.util.spec_from_file_location("registry_bench", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--accounts", "60", "--runs", "1", "--json", str(tmp_path / "r.json")]) == 0
    figures = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    (run,) = figures["runs"]["60"]
    assert run["accounts"] == 60 and run["peak_mb"] > 0 and run["wall_s"] > 0
    assert "| 60 |" in capsys.readouterr().out
    generated = tmp_path / "g.yaml"
    bench.write_registry(generated, 300)
    reg = sources.load(generated, environ={})
    assert len(reg.accounts) == 300 and reg.warnings == ()


def test_append_accounts_follows_the_lists_indentation_and_ends_before_a_later_key(tmp_path):
    """PyYAML writes list items unindented and sorts `settings:` after `accounts:`: an entry appended
    there must join the list, not the settings (discovery's accept and the import both append)."""
    import yaml

    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"accounts": [{"id": "a", "unit": "U", "area": "A", "platform": "blog",
                                                  "url": "https://a.example/"}], "settings": {"active_days": 30}}))
    sources.append_accounts(path, [Account("b", "U2", "A", "blog", "https://b.example/")])
    registry = sources.load(path)
    assert [a.id for a in registry.accounts] == ["a", "b"]
    assert registry.settings.active_days == 30
