"""Conditional GET: the validators sent back to a server, in the form real servers accept.

Apache's mod_deflate (the default `DeflateAlterETag AddSuffix` of Debian's Apache 2.4) appends
`-gzip` inside the quotes of the ETag of every response it compresses, but compares
`If-None-Match` with the uncompressed representation's ETag, so the ETag as received never
matches. WordPress behind it is worse off: given both `If-None-Match` and `If-Modified-Since` it
answers 304 only when both match. Sending the ETag without the suffix matches both (for Apache's
static files and for WordPress, which never sees the suffix); a server that did not add one is
not affected, and a wrong guess only costs a full 200, never a wrong 304 (the suffix names the
same content in another coding).
"""

from __future__ import annotations

# Suffixes that compressing front ends append inside an ETag's quotes for the encodings we accept.
_CODING_SUFFIXES = ("-gzip",)


def sendable_etag(etag: str) -> str:
    """The ETag to send in If-None-Match: as stored, less a compression suffix a front end added."""
    etag = etag.strip()
    for suffix in _CODING_SUFFIXES:
        quoted = suffix + '"'
        if etag.endswith(quoted) and len(etag) > len(quoted) + 1:
            return etag[: -len(quoted)] + '"'
    return etag


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The request headers of a conditional GET from the stored validators (none: an empty dict)."""
    headers: dict[str, str] = {}
    if etag and etag.strip():
        headers["If-None-Match"] = sendable_etag(etag)
    if last_modified and last_modified.strip():
        headers["If-Modified-Since"] = last_modified.strip()
    return headers
