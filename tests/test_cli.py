"""The CLI edge: user errors become one clear message and an exit code, never a traceback."""

from __future__ import annotations

from click.testing import CliRunner

from crawler import __version__
from crawler.cli import cli
from crawler.store import Store

GOOD = """
settings:
  contact: ops@example.se
accounts:
  - id: a
    unit: Förskolan A
    area: Norr
    platform: blog
    url: https://a.example.se/
"""


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_sources_check_ok_and_bad(write_registry):
    good = write_registry(GOOD, "good.yaml")
    result = run("sources", "check", str(good))
    assert result.exit_code == 0 and "OK, 1 accounts (1 blog)" in result.output
    bad = write_registry(GOOD.replace("platform: blog", "pltform: blog"), "bad.yaml")
    result = run("sources", "check", str(bad))
    assert result.exit_code == 2
    assert "bad.yaml:7: pltform: unknown key (did you mean 'platform'?)" in result.output
    assert "bad.yaml:4: platform: missing required field (account 'a')" in result.output
    assert "Traceback" not in result.output


def test_missing_registry_is_a_clear_error(tmp_path):
    result = run("sources", "check", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "nope.yaml: cannot read" in result.output


def test_sources_sync_creates_inventory_and_deregisters(write_registry, tmp_path):
    reg = write_registry(GOOD)
    db = tmp_path / "inv.sqlite"
    result = run("--sources", str(reg), "--db", str(db), "sources", "sync")
    assert result.exit_code == 0 and "added 1" in result.output
    reg.write_text(GOOD.split("accounts:")[0] + "accounts: []\n", encoding="utf-8")
    result = run("--sources", str(reg), "--db", str(db), "sources", "sync")
    assert "deregistered 1" in result.output
    with Store.open(db) as store:
        assert store.account("a").deregistered_at is not None


def test_sources_import_appends_to_registry(write_registry, tmp_path):
    reg = write_registry(GOOD)
    csv_path = tmp_path / "konton.csv"
    csv_path.write_text("Förskola;Område;Länk\nB-skolan;Söder;https://www.instagram.com/bskolan/\n;;x\n",
                        encoding="utf-8")
    before = reg.read_text(encoding="utf-8")
    result = run("sources", "import", str(csv_path), "--append-to", str(reg))
    assert result.exit_code == 2  # a row cannot be used: nothing is written
    assert "konton.csv row 3: url: malformed URL: host 'x' has no domain" in result.output
    assert "--allow-skipped" in result.output and reg.read_text(encoding="utf-8") == before
    result = run("sources", "import", str(csv_path), "--append-to", str(reg), "--allow-skipped")
    assert result.exit_code == 0, result.output
    assert "skipped " in result.output and "konton.csv row 3: url" in result.output
    assert "new accounts: 1, already registered: 0, skipped rows: 1 of 2" in result.output
    assert "b-skolan-instagram" in reg.read_text(encoding="utf-8")
    assert run("sources", "check", str(reg)).exit_code == 0


def test_the_cli_is_thin():
    """cli.py parses options, calls one function and prints: no processes, signals, event loops,
    network or SQL of its own (those live in browse, service, crawl, fetch and store)."""
    import ast
    from pathlib import Path

    import crawler.cli

    tree = ast.parse(Path(crawler.cli.__file__).read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not names & {"subprocess", "signal", "tempfile", "asyncio", "sqlite3", "crawler.fetch"}, names
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.AsyncFunctionDef, ast.While))]
