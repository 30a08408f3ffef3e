"""Serve a captured site (tests/fixtures/real/<software>/<site>/) on loopback, as the real software did.

    with ReplayServer(REAL / "wordpress" / "twentytwentythree-solrosen") as site:
        site.url("/feed/")          # http://127.0.0.1:PORT/feed/
        site.state = "outage"       # now every URL answers what WordPress answered with MariaDB down
        site.requests               # [(path, headers), ...] as received, for assertions

The recorded status, headers and body of each captured path are served with the capture's origin
rewritten to this server's (in bodies, also JSON-escaped and percent-encoded, and in Location/Link).
A path that was not captured gets the state's fallback (the site's 404 page). Bodies recorded with
`content-encoding: gzip` are gzipped when the client accepts it, with the ETag as recorded
(mod_deflate's `-gzip` suffix, nginx's weak `W/`), and sent plain with the ETag the server sends
uncompressed otherwise.

Conditional GETs are emulated from the capture's `conditional` rule; tests/test_real_corpus.py
checks the emulation against every probe recorded from the real server:
- `wordpress-apache-deflate` (WordPress behind Debian's Apache, and Apache's own static files):
  If-None-Match is compared with the ETag without mod_deflate's `-gzip`; when both validators are
  sent both must match, either one alone is enough; responses without validators are never 304.
- `nginx`: If-None-Match by weak comparison, If-Modified-Since only on the exact Last-Modified;
  both must match when both are sent.
"""

from __future__ import annotations

import gzip
import json
import threading
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

REAL = Path(__file__).parent / "fixtures" / "real"


def captures() -> list[Path]:
    """Every capture folder, sorted."""
    return sorted(p.parent for p in REAL.glob("*/*/capture.json"))


def load(folder: Path) -> dict:
    return json.loads((folder / "capture.json").read_text(encoding="utf-8"))


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def not_modified(rule: str, etag: str | None, last_modified: str | None, gzipped: bool,
                 if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Whether the real server answers 304 to these request validators (see the module docstring)."""
    if not etag and not last_modified:
        return False
    if not if_none_match and not if_modified_since:
        return False
    if rule == "wordpress-apache-deflate":
        base = etag[:-len('-gzip"')] + '"' if etag and etag.endswith('-gzip"') else etag
        etag_ok = bool(if_none_match) and base is not None and if_none_match.strip() == base
        sent, mine = _timestamp(if_modified_since), _timestamp(last_modified)
        date_ok = bool(if_modified_since) and sent is not None and mine is not None and sent >= mine
        if if_none_match and if_modified_since:
            return etag_ok and date_ok
        return etag_ok or date_ok
    if rule == "nginx":
        if if_modified_since and (not last_modified or if_modified_since.strip() != last_modified):
            return False
        if if_none_match:
            if not etag:
                return False
            wanted = etag.removeprefix("W/")
            tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
            return "*" in tags or wanted in tags
        return True
    raise ValueError(f"unknown conditional rule {rule!r}")


class ReplayServer:
    """A loopback HTTP server answering from one capture folder; use it as a context manager."""

    def __init__(self, folder: Path, state: str = "live"):
        self.folder = Path(folder)
        self.capture = load(self.folder)
        self.state = state
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.origin = ""

    # -- the answers

    def response_for(self, path: str) -> dict:
        state = self.capture["states"][self.state]
        for entry in state["responses"]:
            if entry["path"] == path:
                return entry
        fallback = state.get("fallback")
        return next(e for e in state["responses"] if e["path"] == fallback)

    def _rewrite(self, data: bytes) -> bytes:
        old, new = self.capture["origin"], self.origin
        portless = old.rsplit(":", 1)[0] + "/"  # WordPress's atom:link self drops the port
        for a, b in ((old, new), (old.replace("/", "\\/"), new.replace("/", "\\/")),
                     (quote(old, safe=""), quote(new, safe="")), (quote(old, safe="").lower(), quote(new, safe="")),
                     (portless, new + "/")):
            data = data.replace(a.encode(), b.encode())
        return data

    def url(self, path: str = "/") -> str:
        return self.origin + path

    # -- the server

    def __enter__(self) -> ReplayServer:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                headers = {k.lower(): v for k, v in self.headers.items()}
                replay.requests.append((self.path, headers))
                entry = replay.response_for(self.path)
                recorded = entry["headers"]
                body = replay._rewrite((replay.folder / entry["body"]).read_bytes())
                gzipped = recorded.get("content-encoding") == "gzip" and "gzip" in headers.get("accept-encoding", "")
                etag = recorded.get("etag")
                if etag and not gzipped and recorded.get("content-encoding") == "gzip":
                    etag = etag.replace('-gzip"', '"').removeprefix("W/")
                status = entry["status"]
                if not_modified(replay.capture["conditional"], etag if not gzipped else recorded.get("etag"),
                                recorded.get("last-modified"), gzipped,
                                headers.get("if-none-match"), headers.get("if-modified-since")):
                    status, body = 304, b""
                elif gzipped:
                    body = gzip.compress(body, mtime=0)
                self.send_response(status)
                for name, value in recorded.items():
                    if name == "content-encoding" and (not gzipped or status == 304):
                        continue
                    if name == "etag":
                        value = etag if not gzipped else value
                        if value is None:
                            continue
                    if name in ("location", "link"):
                        value = replay._rewrite(value.encode()).decode()
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
