"""Shared fixtures. Network tests use loopback servers started by the tests themselves."""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler.store import Store

NOW = datetime(2023, 3, 1, 2, 0, tzinfo=timezone.utc)


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
