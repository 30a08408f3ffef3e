"""GDPR by design: after real crawl cycles, the inventory holds dates, counts, hashes and URLs of
the newest post and of flagged notices only; never a post title or body."""

from __future__ import annotations

import sqlite3

import pytest

from crawler.demo.pages import SUMMARIES, TITLES
from crawler.demo.runner import run_demo


@pytest.mark.timeout(120)
def test_inventory_keeps_no_titles_bodies_or_plain_post_urls(tmp_path):
    result = run_demo(tmp_path / "demo", accounts=60, seed=3, cycles=6)
    conn = sqlite3.connect(result.db_path)
    evidence_columns = {("accounts", "last_post_url"), ("notices", "post_url"), ("notices", "snippet"),
                        ("notices", "matched")}
    texts: list[tuple[str, str, str]] = []
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        for column in columns:
            if (table, column) in evidence_columns:
                continue
            for (value,) in conn.execute(f"SELECT {column} FROM {table} WHERE typeof({column}) = 'text'"):
                texts.append((table, column, value))
    assert texts, "the inventory should not be empty"
    blob = "\n".join(v for _, _, v in texts)
    for phrase in (*TITLES, *SUMMARIES):
        assert phrase not in blob, f"a post title or summary was stored: {phrase!r}"

    # post URLs carry names (slugs): the posts table keeps only their hash
    post_columns = {r[1] for r in conn.execute("PRAGMA table_info(posts)")}
    assert post_columns == {"account_id", "url_sha256", "published_at", "first_seen_at"}
    # checks record URLs that were requested (account pages and feeds), never post URLs
    newest = {u for (u,) in conn.execute("SELECT last_post_url FROM accounts WHERE last_post_url IS NOT NULL")}
    assert newest, "the newest post's URL is kept as evidence"
    requested = {u for (u,) in conn.execute("SELECT url FROM checks")}
    assert not newest & requested
    # notice snippets are short
    for (snippet,) in conn.execute("SELECT snippet FROM notices"):
        assert len(snippet) <= 220
