"""`crawler browse`: the inventory read-only in Datasette, with the analysts' canned queries.

    metadata(db_path) -> dict            Datasette metadata: descriptions and canned queries
    command(db_path, metadata_path, ...) the datasette command line (this interpreter, 127.0.0.1;
                                         `-i` when the inventory can only be read as immutable)
    serve(db_path, port, on_start)       writes the metadata, runs Datasette until it ends, Ctrl-C or
                                         SIGTERM (passed on, so Datasette never outlives us); exit code

Datasette is an optional extra (`pip install 'crawler[browse]'`); the canned queries' SQL lives
in crawler/store/analysts.py.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler import platforms
from crawler.errors import CrawlerError
from crawler.store.analysts import canned_queries

INSTALL_HINT = "Datasette is not installed.\n\nInstall the optional extra: pip install 'crawler[browse]'"


def metadata(db_path: str | Path) -> dict[str, Any]:
    """Datasette metadata for the inventory: title, descriptions of the views, the canned queries."""
    name = Path(db_path).stem
    blogs = [p.name for p in platforms.all_platforms() if p.kind == "blog"]
    return {
        "title": "Preschool social-media inventory",
        "description": "Read-only view of the crawler's inventory. Start with the canned queries below, or "
                       "the views current_inventory, status_over_time, pending_review and account_history.",
        "databases": {
            name: {
                "tables": {
                    "current_inventory": {"description": "One row per registered account, its status now."},
                    "status_over_time": {"description": "One row per full crawl cycle: counts by status."},
                    "pending_review": {"description": "Flagged notices waiting for a reviewer."},
                    "account_history": {"description": "Every status change of every account, with reason."},
                    # the web app's people: not for browsing (a table's page is refused; SQL can still
                    # read it, which is why the hashes are argon2id and sessions keep only token hashes)
                    **{table: {"hidden": True, "allow": False} for table in ("users", "sessions", "user_changes")},
                },
                "queries": canned_queries(blogs),
            }
        },
    }


def command(db_path: str | Path, metadata_path: str | Path, host: str = "127.0.0.1", port: int = 8001,
            *, immutable: bool = False) -> list[str]:
    """The datasette command line (run with the current interpreter). `immutable` (`-i`) where the
    store itself had to read the inventory as immutable: a folder this user may not write, where
    SQLite cannot open a WAL inventory even read-only (`Store.immutable`)."""
    database = ["-i", str(db_path)] if immutable else [str(db_path)]
    return [sys.executable, "-m", "datasette", "serve", *database, "--metadata", str(metadata_path),
            "--host", host, "--port", str(port), "--setting", "sql_time_limit_ms", "5000"]


def serve(db_path: str | Path, port: int = 8001, on_start: Callable[[str], None] | None = None, *,
          immutable: bool = False) -> int:
    """Run Datasette on 127.0.0.1:`port` over the inventory until it ends; its exit code (0 after
    Ctrl-C or SIGTERM). The caller has checked that the inventory opens."""
    if importlib.util.find_spec("datasette") is None:
        raise CrawlerError(INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="crawler-browse-") as tmp:
        meta_path = Path(tmp) / "metadata.json"
        meta_path.write_text(json.dumps(metadata(db_path), ensure_ascii=False, indent=2), encoding="utf-8")
        if on_start is not None:
            on_start(f"http://127.0.0.1:{port}/")
        proc = subprocess.Popen(command(db_path, meta_path, port=port, immutable=immutable))
        # SIGTERM to us must not leave Datasette running on its own
        previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            code = 0
        finally:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            signal.signal(signal.SIGTERM, previous)
    return code if code >= 0 else 0
