"""The schema step that takes credentials out of the URLs an older inventory stored (issue 17.12).

0.1 accepted `https://user:pass@host/` and `?access_token=` in the registry and copied them into the
inventory; since 0.2 the registry refuses them, and migration 9 -> 10 scrubs what is already stored,
in the audit trail too, without loosening the trail's triggers afterwards.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.sources import SECRET_PARAMS
from crawler.store import MIGRATIONS, SCHEMA_VERSION, Store, _statements
from crawler.store.schema import SCRUB_VERSION

from .conftest import execute, sql_rows

AT = "2023-02-01T00:00:00+00:00"

# (stored, after the step): every stored column below gets one of these
CREDENTIALS = [
    ("https://anna:s3cret-1@solen.example.se/", "https://solen.example.se/"),
    ("https://s3cret-2@solen.example.se/feed/", "https://solen.example.se/feed/"),
    ("https://solen.example.se/feed/?access_token=s3cret-3&lang=sv", "https://solen.example.se/feed/?access_token=REDACTED&lang=sv"),
    ("https://solen.example.se/?p=7&Token=s3cret-4#comments", "https://solen.example.se/?p=7&Token=REDACTED#comments"),
    ("http://bo:s3cret-5@solen.example.se:8080/a?sig=s3cret-6&key=s3cret-7", "http://solen.example.se:8080/a?sig=REDACTED&key=REDACTED"),
    ("https://a@b:s3cret-8@solen.example.se?password=s3cret-9", "https://solen.example.se?password=REDACTED"),
]
# URLs with nothing to remove, some that only look like it: never written by the step
CLEAN = [
    "https://maanen.example.se/",
    "https://maanen.example.se/?email=info@maanen.example.se&tokens=1&keys=2",  # '@' in the query, not a user
    "https://maanen.example.se/kontakt/@maanen",                                # '@' in the path
    "https://maanen.example.se/#/login?token=",                                 # the fragment's, and empty
    "https://maanen.example.se/?key=&monkey=x&&",                               # an empty value hides nothing
]


def inventory(path: Path, version: int) -> sqlite3.Connection:
    """An inventory at schema `version`, as the crawler of that version left it, open in sqlite3."""
    con = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:version]:
        for statement in _statements(script):
            con.execute(statement)
    con.execute(f"PRAGMA user_version = {version}")
    return con


def fill_as_0_1_did(con: sqlite3.Connection, urls: list[str]) -> None:
    """One account per URL, that URL in every URL column 0.1 wrote: the account's addresses, its
    checks, a notice a reviewer decided, and the registry trail's "added" entry."""
    for i, url in enumerate(urls):
        ident = f"konto-{i}"
        con.execute("INSERT INTO accounts (id, unit, area, platform, url, feed_url, source_url, discovered_feed_url, "
                    "last_post_url, registered_at) VALUES (?, 'Förskolan Solen', 'Norr', 'blog', ?, ?, ?, ?, ?, ?)",
                    (ident, url, url, url, url, url, AT))
        con.execute("INSERT INTO registry_changes (account_id, at, change, detail) VALUES (?, ?, 'added', ?)",
                    (ident, AT, url))
        con.execute("INSERT INTO registry_changes (account_id, at, change, detail) VALUES (?, ?, 'updated', "
                    "'feed_url, url')", (ident, AT))
        con.execute("INSERT INTO checks (account_id, started_at, url, final_url, outcome) VALUES (?, ?, ?, ?, 'ok')",
                    (ident, AT, url, url))
        con.execute("INSERT INTO status_changes (account_id, at, old, new, reason) VALUES (?, ?, NULL, 'active', "
                    "'a post within 90 days')", (ident, AT))
        # 0.1 wrote the decision on the row and appended the trail
        notice = con.execute(
            "INSERT INTO notices (account_id, key_sha256, post_url, detected_at, score, kind, matched, snippet, state, "
            "reviewer, reviewed_at) VALUES (?, ?, ?, ?, 0.9, 'move', '[]', 'Vi flyttar', 'confirmed', 'Anna', ?)",
            (ident, f"key-{i}", url, AT, AT)).lastrowid
        con.execute("INSERT INTO notice_reviews (notice_id, at, reviewer, old_state, new_state) "
                    "VALUES (?, ?, 'Anna', 'pending', 'confirmed')", (notice, AT))


STORED = {  # table: its URL columns
    "accounts": ("url", "feed_url", "source_url", "discovered_feed_url", "last_post_url"),
    "checks": ("url", "final_url"),
    "notices": ("post_url",),
}


def columns(store: Store, account: str) -> list[str]:
    """Every stored URL of one account, in a fixed order, and its registry trail's entries."""
    out = []
    for table, names in STORED.items():
        key = "id" if table == "accounts" else "account_id"
        row = sql_rows(store, f"SELECT {', '.join(names)} FROM {table} WHERE {key} = ?", (account,))[0]
        out += [row[n] for n in names]
    out += [r["detail"] for r in sql_rows(store, "SELECT detail FROM registry_changes WHERE account_id = ? "
                                                 "ORDER BY id", (account,))]
    return out


def triggers(con: sqlite3.Connection) -> dict[str, str]:
    return dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())


def test_an_inventory_of_0_1_loses_every_credential_and_keeps_everything_else(tmp_path):
    path = tmp_path / "v3.sqlite"
    con = inventory(path, 3)  # as 0.1 left it
    urls = [stored for stored, _ in CREDENTIALS] + CLEAN
    fill_as_0_1_did(con, urls)
    for statement in (s for script in MIGRATIONS[3:SCRUB_VERSION - 1] for s in _statements(script)):
        con.execute(statement)  # the steps before this one, as `crawler migrate` runs them
    con.execute(f"PRAGMA user_version = {SCRUB_VERSION - 1}")
    before = triggers(con)
    untouched = con.execute("SELECT id, account_id, key_sha256, state, reviewer FROM notices ORDER BY id").fetchall()
    con.close()

    with Store.open(path) as store:
        assert store.schema_version() == SCRUB_VERSION == SCHEMA_VERSION
        for i, (_, scrubbed) in enumerate(CREDENTIALS):
            assert columns(store, f"konto-{i}") == [scrubbed] * 8 + [scrubbed, "feed_url, url"]
        for i, url in enumerate(CLEAN, start=len(CREDENTIALS)):
            assert columns(store, f"konto-{i}") == [url] * 8 + [url, "feed_url, url"]
        dump = "\n".join(store._conn.iterdump())
        assert "s3cret" not in dump and "anna:" not in dump and "bo:" not in dump
        assert store.integrity() == "ok"
        assert execute(store, "PRAGMA foreign_key_check").fetchall() == []
        # the decisions, hashes and the status history are as they were; the step's table is gone
        assert execute(store, "SELECT id, account_id, key_sha256, state, reviewer FROM notices "
                              "ORDER BY id").fetchall() == untouched
        assert sql_rows(store, "SELECT count(*) AS n FROM status_changes")[0]["n"] == len(urls)
        assert execute(store, "SELECT name FROM sqlite_temp_master").fetchall() == []
        assert triggers(store._conn) == before  # dropped for the step, created again word for word

        # and they still refuse
        for sql, why in [
            ("UPDATE registry_changes SET detail = 'x'", "registry_changes is an audit trail: rows are never changed"),
            ("DELETE FROM registry_changes", "registry_changes is an audit trail: rows are never deleted"),
            ("UPDATE status_changes SET reason = 'x'", "status_changes is a history: rows are never changed"),
            ("DELETE FROM status_changes", "status_changes is a history: rows are never deleted"),
            ("UPDATE notices SET post_url = 'https://x.example.se/'", "the evidence of a reviewed notice is never"),
        ]:
            with pytest.raises(sqlite3.IntegrityError, match=why):
                execute(store, sql)


def test_only_values_that_carry_a_credential_are_written(tmp_path):
    path = tmp_path / "v9.sqlite"
    con = inventory(path, SCRUB_VERSION - 1)
    con.execute("INSERT INTO accounts (id, unit, area, platform, url, registered_at) "
                "VALUES ('a', 'U', 'N', 'blog', ?, ?)", (CREDENTIALS[0][0], AT))
    con.execute("INSERT INTO accounts (id, unit, area, platform, url, registered_at) "
                "VALUES ('b', 'U', 'N', 'blog', ?, ?)", (CLEAN[1], AT))
    con.execute("CREATE TABLE written (id TEXT)")  # which rows the step updates
    con.execute("CREATE TRIGGER written AFTER UPDATE OF url ON accounts BEGIN INSERT INTO written VALUES (NEW.id); END")
    con.close()
    with Store.open(path) as store:
        assert [r["id"] for r in sql_rows(store, "SELECT id FROM written")] == ["a"]
        assert [r["url"] for r in sql_rows(store, "SELECT url FROM accounts ORDER BY id")] == [CREDENTIALS[0][1],
                                                                                                CLEAN[1]]


def reference(url: str) -> str:
    """What the step must do, said with urllib: no userinfo, no secret parameter's value, the rest as written."""
    parts = urlsplit(url)
    query = "&".join(
        f"{p.partition('=')[0]}=REDACTED" if p.partition("=")[2] and p.partition("=")[0].lower() in SECRET_PARAMS else p
        for p in parts.query.split("&")
    )
    return (url[:url.index("://") + 3] + parts.netloc.rpartition("@")[2] + parts.path
            + (f"?{query}" if "?" in url.partition("#")[0] else "") + (f"#{parts.fragment}" if "#" in url else ""))


ODD = [
    "https://@solen.example.se/", "https://u@solen.example.se", "https://u:p@solen.example.se?",
    "https://solen.example.se/?", "https://solen.example.se/?&&token=t&", "https://solen.example.se/?TOKEN=a=b&x",
    "https://solen.example.se/?api_key=1&apikey=2&client_secret=3&auth=4&passwd=5&pwd=6&signature=7&secret=8",
    "https://u%40x:p@solen.example.se/a@b?c=@#d@e", "https://solen.example.se?key=v#", "HTTPS://U:P@SOLEN.EXAMPLE.SE/",
]


@pytest.mark.parametrize("url", [s for s, _ in CREDENTIALS] + CLEAN + ODD)
def test_the_step_agrees_with_urllib(tmp_path, url):
    con = inventory(tmp_path / "v9.sqlite", SCRUB_VERSION - 1)
    con.execute("INSERT INTO accounts (id, unit, area, platform, url, registered_at) VALUES ('a', 'U', 'N', 'blog', ?, ?)",
                (url, AT))
    con.execute("BEGIN")
    for statement in _statements(MIGRATIONS[SCRUB_VERSION - 1]):
        con.execute(statement)
    con.execute("COMMIT")
    assert con.execute("SELECT url FROM accounts").fetchone()[0] == reference(url)
    con.close()


def test_the_step_knows_every_secret_parameter_the_registry_refuses():
    # A released step is never edited: a parameter added to sources.SECRET_PARAMS needs a new step that
    # scrubs it from what is stored (and this test then names both steps' lists).
    step = MIGRATIONS[SCRUB_VERSION - 1]
    listed = set(re.findall(r"'([a-z_]+)'", re.search(r"IN \(([^)]*)\)", step)[1]))
    assert listed == SECRET_PARAMS


def test_crawler_migrate_scrubs_an_inventory_of_0_1(tmp_path):
    db = tmp_path / "inventory.sqlite"
    con = inventory(db, 3)
    fill_as_0_1_did(con, [CREDENTIALS[0][0], CLEAN[0]])
    con.close()
    result = CliRunner().invoke(cli, ["--db", str(db), "migrate"], env={})
    assert result.exit_code == 0, result.output
    assert f"schema version 3 -> {SCHEMA_VERSION}" in result.output
    with Store.open(db, readonly=True) as store:
        assert columns(store, "konto-0") == [CREDENTIALS[0][1]] * 9 + ["feed_url, url"]
        assert columns(store, "konto-1") == [CLEAN[0]] * 9 + ["feed_url, url"]
        assert "s3cret" not in "\n".join(store._conn.iterdump())
        assert store.integrity() == "ok"
    again = CliRunner().invoke(cli, ["--db", str(db), "migrate"], env={})
    assert again.exit_code == 0 and f"schema version {SCHEMA_VERSION} (up to date)" in again.output
