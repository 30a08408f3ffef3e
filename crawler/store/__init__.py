"""The SQLite inventory: the only code that touches SQLite, and the only place with SQL.

    schema.py         forward migrations (PRAGMA user_version), the analysts' views and triggers
    connection.py     opening, migrating, transactions; time and hash conversions
    crawl_writes.py   registry sync, runs, visits, snapshots, maintenance (and the crawl's prior states)
    review_writes.py  a reviewer's decision and its audit row
    candidates.py     discovery: candidate accounts, their evidence, people's decisions (writes and reads)
    service_store.py  the service: due accounts, host pauses, alert incidents, notified reviewers, backup
    users.py          the web app's users, their audit trail and login sessions (writes and reads)
    reads.py          the named reads of every reader: report, status, review queue, web pages
    records.py        what the reads return: frozen dataclasses of plain values
    analysts.py       the canned queries for Datasette and the example query for sqlite3

`Store` is all of them over one connection: `with Store.open(path) as store: ...`. The database
runs in WAL mode so analysts (sqlite3, Datasette, `crawler report`) read while the crawler writes.

Readers never write SQL: they call the named reads (`store.snapshots()`, `store.inventory(...)`,
`store.notices("pending")`...), which return records with times as timezone-aware UTC datetimes.
That read API is what another database (PostgreSQL) would implement. Raw querying is private.
"""

from __future__ import annotations

from crawler.store.candidates import CandidateStore, SaveResult, SeenLink, Sighting
from crawler.store.connection import BUSY_TIMEOUT_MS, iso, parse_iso, read_only_file_system, sha256
from crawler.store.crawl_writes import AccountState, CrawlWrites, SyncResult, Visit
from crawler.store.reads import Reads
from crawler.store.review_writes import ReviewWrites
from crawler.store.schema import MIGRATIONS, MIN_READABLE_VERSION, SCHEMA_VERSION, _statements
from crawler.store.service_store import ServiceStore
from crawler.store.users import UserStore


class Store(CrawlWrites, ReviewWrites, CandidateStore, ServiceStore, UserStore, Reads):
    """The inventory database. Open with `Store.open(path)`; use as a context manager."""


__all__ = [
    "BUSY_TIMEOUT_MS", "MIGRATIONS", "MIN_READABLE_VERSION", "SCHEMA_VERSION", "AccountState", "SaveResult",
    "SeenLink", "Sighting", "Store", "SyncResult", "Visit", "_statements", "iso", "parse_iso",
    "read_only_file_system", "sha256",
]
