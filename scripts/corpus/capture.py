"""Record what a server answers, per URL, into a capture folder with its manifest (capture.json).

A capture folder holds one site: `capture.json` (the software, the origin the pages were served
under, the expected answers, and per state the list of responses with the relevant headers and
the file holding each decoded body) and one body file per response. tests/replay.py serves it back.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

# Response headers that matter to a crawler; Date, Content-Length and connection headers are not kept.
KEEP = ("content-type", "content-encoding", "etag", "last-modified", "location", "link", "x-wp-total",
        "x-wp-totalpages", "cache-control", "expires", "vary", "retry-after", "x-robots-tag", "server",
        "x-redirect-by", "allow")
USER_AGENT = "crawler-corpus/0.2 (+loopback capture of real blog software)"
_EXT = (("json", ".json"), ("xml", ".xml"), ("rss", ".xml"), ("atom", ".xml"), ("html", ".html"), ("text/plain", ".txt"))


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def expect(exists: bool | None, posts=(), *, post_count: int | None = None, feed_url: str | None = None,
           needs_history: bool = False, note: str | None = None) -> dict:
    """The expected answer for one URL: exists, and the newest of the posts it shows."""
    out: dict = {"exists": exists}
    newest = max(posts, key=lambda p: p.at) if posts else None
    out["newest_day"] = newest.day.isoformat() if newest else None
    out["newest_at"] = iso(newest.at) if newest else None
    out["newest_title"] = newest.title if newest else None
    if post_count is not None:
        out["post_count"] = post_count
    if feed_url:
        out["feed_url"] = feed_url
    if needs_history:
        out["needs_history"] = True  # only the account's history can tell (the page alone looks alive)
    if note:
        out["note"] = note
    return out


class Recorder:
    """Requests against `connect` (a loopback address) with the Host of `origin`; records the answers."""

    def __init__(self, folder: Path, origin: str, connect: str, meta: dict):
        self.folder = folder
        self.origin = origin.rstrip("/")
        self.connect = connect.rstrip("/")
        self.meta = meta
        self.states: dict[str, dict] = {}
        self.probes: list[dict] = []
        self.client = httpx.Client(timeout=60, follow_redirects=False, headers={"User-Agent": USER_AGENT})
        if folder.exists():
            for old in sorted(folder.rglob("*"), reverse=True):
                old.unlink() if old.is_file() else old.rmdir()
        folder.mkdir(parents=True, exist_ok=True)

    def _request(self, path: str, headers: dict | None = None) -> httpx.Response:
        host = urlsplit(self.origin).netloc
        sent = {"Host": host, "Accept-Encoding": "gzip", **(headers or {})}
        return self.client.get(self.connect + path, headers=sent)

    def get(self, state: str, name: str, path: str, page_type: str, expected: dict | None,
            *, fallback: bool = False, check_title: bool = True) -> httpx.Response:
        """GET `path` in `state`, save it as `name`, and check the expected newest title is on it."""
        response = self._request(path)
        ctype = response.headers.get("content-type", "")
        ext = next((e for key, e in _EXT if key in ctype.lower()), ".bin")
        rel = f"{state}/{name}{ext}"
        (self.folder / state).mkdir(exist_ok=True)
        body = response.content
        (self.folder / rel).write_bytes(body)
        entry = {
            "path": path, "type": page_type, "status": response.status_code,
            "headers": {k: response.headers[k] for k in KEEP if k in response.headers}, "body": rel,
        }
        if expected is not None:
            entry["expected"] = expected
            title = expected.get("newest_title")
            if check_title and title and not _shows(body, ctype, title):
                raise RuntimeError(f"{self.origin}{path}: the expected newest post {title!r} is not on the page")
        site = self.states.setdefault(state, {"responses": []})
        site["responses"].append(entry)
        if fallback:
            site["fallback"] = path
        return response

    def probe(self, state: str, path: str, headers: dict, label: str) -> int:
        """One conditional request: what the server answers to these validators (recorded, not saved)."""
        response = self._request(path, headers)
        self.probes.append({"state": state, "path": path, "label": label, "request": headers,
                            "status": response.status_code,
                            "headers": {k: response.headers[k] for k in ("etag", "last-modified", "content-encoding")
                                        if k in response.headers}})
        return response.status_code

    def probe_validators(self, state: str, path: str) -> None:
        """The conditional-GET behaviour of `path`: each validator alone, both, and both without -gzip."""
        first = self._request(path)
        etag = first.headers.get("etag")
        modified = first.headers.get("last-modified")
        if etag:
            self.probe(state, path, {"If-None-Match": etag}, "etag as served")
        if modified:
            self.probe(state, path, {"If-Modified-Since": modified}, "last-modified as served")
        if etag and modified:
            self.probe(state, path, {"If-None-Match": etag, "If-Modified-Since": modified}, "both as served")
        if etag and "-gzip" in etag:
            bare = etag.replace("-gzip", "")
            self.probe(state, path, {"If-None-Match": bare}, "etag without -gzip")
            if modified:
                self.probe(state, path, {"If-None-Match": bare, "If-Modified-Since": modified}, "both, etag without -gzip")
        if etag:
            self.probe(state, path, {"If-None-Match": '"no-such-etag"'}, "other etag")
        if not etag and not modified:
            self.probe(state, path, {"If-Modified-Since": "Sat, 15 Apr 2023 10:00:00 GMT"}, "no validators served")
        if modified:
            self.probe(state, path, {"If-Modified-Since": "Sat, 01 Jan 2022 00:00:00 GMT"}, "older date")

    def write(self, truth: dict, notes: list[str]) -> Path:
        manifest = {**self.meta, "origin": self.origin, "truth": truth, "notes": notes,
                    "states": self.states, "probes": self.probes}
        path = self.folder / "capture.json"
        path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
        self.client.close()
        return path


def _shows(body: bytes, ctype: str, title: str) -> bool:
    text = body.decode("utf-8", "replace")
    if "json" in ctype:
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), ensure_ascii=False)
    text = html.unescape(html.unescape(text))
    squashed = re.sub(r"\s+", " ", text)
    return title in squashed or title.replace("ä", "&auml;") in squashed
