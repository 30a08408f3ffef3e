"""Shared fixtures. Network tests use loopback servers started by the tests themselves."""

from __future__ import annotations

import os
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler.store import Store

NOW = datetime(2023, 3, 1, 2, 0, tzinfo=timezone.utc)


def pytest_sessionfinish(session, exitstatus):
    """Nothing may skip in CI (CI=true, as .ci/run is run): a skipped test there fails the run, so
    an end-to-end test cannot go quiet because a tool (Chromium, Datasette) is missing."""
    if not os.environ.get("CI") or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        reporter.ensure_newline()
        for report in skipped:
            reporter.write_line(f"SKIPPED IN CI: {report.nodeid}: {report.longrepr[-1] if report.longrepr else ''}")
        session.exitstatus = 1


@pytest.fixture
def write_registry(tmp_path: Path):
    """Write registry text (dedented) to a file and return its path."""

    def write(text: str, name: str = "sources.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def store(tmp_path: Path):
    """A fresh inventory in a real SQLite file."""
    with Store.open(tmp_path / "inventory.sqlite") as s:
        yield s


def sql_rows(store: Store, sql: str, params=()) -> list[dict]:
    """Raw SQL over a store's own connection, for asserting what it wrote (tests only: the crawler's
    readers use the store's named reads)."""
    return store._query(sql, params)


def execute(store: Store, sql: str, params=()):
    """Raw SQL on a store's own connection (per-connection pragmas, forged edits), tests only."""
    return store._conn.execute(sql, params)
