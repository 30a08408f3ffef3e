"""The sequential baseline the benchmark compares the crawler with (issue 9).

What a first, straightforward script would do: one request at a time with a plain `httpx.Client`
(keep-alive, redirects followed by httpx), `feedparser` on every body (an HTML page too: when it
yields no entries, the first `<link rel="alternate">` feed is fetched and parsed), and one INSERT
per row in autocommit mode with SQLite's default rollback journal. No robots.txt, no retries, no
politeness: it is the floor of effort, not a polite crawler. GDPR: like the crawler it keeps only
dates, counts and hashes, never a body or a title.

Run on its own (the benchmark runs it in a child process to measure its CPU and memory):

    python scripts/baseline.py --accounts accounts.json --db /tmp/base.sqlite --seconds 60
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import json
import re
import resource
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import feedparser
import httpx

# A naive feed discovery: the first alternate link of an RSS/Atom type.
_ALTERNATE = re.compile(
    rb"<link[^>]+rel=[\"']alternate[\"'][^>]*type=[\"']application/(?:rss|atom)\+xml[\"'][^>]*href=[\"']([^\"']+)",
    re.IGNORECASE,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY, account_id TEXT, url TEXT, http_status INTEGER, bytes INTEGER,
    last_post_at TEXT, posts_seen INTEGER, error TEXT
);
CREATE TABLE IF NOT EXISTS posts (
    account_id TEXT, url_sha256 TEXT, published_at TEXT, PRIMARY KEY (account_id, url_sha256)
);
"""


def _entry_time(entry: Any) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(calendar.timegm(parsed)))


def _get(client: httpx.Client, url: str) -> tuple[int | None, bytes, str | None]:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        return None, b"", type(exc).__name__
    return response.status_code, response.content, None


def crawl(accounts: list[dict[str, Any]], db_path: str, *, seconds: float | None = None,
          user_agent: str = "baseline/0 (+bench@localhost.invalid)") -> dict[str, Any]:
    """Visit `accounts` one after another until done or `seconds` have passed; return figures."""
    conn = sqlite3.connect(db_path, isolation_level=None)  # autocommit: every INSERT commits
    conn.executescript(SCHEMA)
    started = time.perf_counter()
    done = requests = errors = rows = 0
    with httpx.Client(headers={"User-Agent": user_agent}, follow_redirects=True, timeout=10.0,
                      trust_env=False) as client:
        for account in accounts:
            if seconds is not None and time.perf_counter() - started > seconds:
                break
            url = account.get("feed") or account["url"]
            status, body, error = _get(client, url)
            requests += 1
            feed = feedparser.parse(body)
            if not feed.entries and status == 200:
                match = _ALTERNATE.search(body)
                if match:
                    url = str(httpx.URL(url).join(match.group(1).decode("ascii", "replace")))
                    status, body, error = _get(client, url)
                    requests += 1
                    feed = feedparser.parse(body)
            dates = [d for d in (_entry_time(e) for e in feed.entries) if d]
            errors += error is not None
            conn.execute(
                "INSERT INTO checks (account_id, url, http_status, bytes, last_post_at, posts_seen, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (account["id"], url, status, len(body), max(dates) if dates else None, len(feed.entries), error),
            )
            rows += 1
            for entry in feed.entries:
                key = hashlib.sha256((entry.get("link") or entry.get("id") or "").encode()).hexdigest()
                conn.execute("INSERT OR IGNORE INTO posts VALUES (?, ?, ?)", (account["id"], key, _entry_time(entry)))
                rows += 1
            done += 1
    wall = time.perf_counter() - started
    conn.close()
    return {"done": done, "requests": requests, "errors": errors, "rows": rows, "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", required=True, help="JSON list of accounts (id, url, feed)")
    parser.add_argument("--db", required=True)
    parser.add_argument("--limit", type=int, default=10_000, help="first N accounts (default 10,000)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (a time box)")
    parser.add_argument("--out", default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    accounts = json.loads(Path(args.accounts).read_text(encoding="utf-8"))[: args.limit]
    before = resource.getrusage(resource.RUSAGE_SELF)
    figures = crawl(accounts, args.db, seconds=args.seconds)
    after = resource.getrusage(resource.RUSAGE_SELF)
    figures["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures["peak_rss_mb"] = after.ru_maxrss / 1024  # KiB on Linux
    figures["sample_of"] = len(accounts)
    figures["db_bytes"] = Path(args.db).stat().st_size
    text = json.dumps(figures)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
