"""Body limits: read a response body with caps on the bytes received and on what they decompress to.

httpx decompresses without a size limit, so the body is read raw and decoded here with
`zlib.decompressobj(...).decompress(data, max_length)`, counting as it goes: memory stays near the
cap whatever the server sends. Only gzip and deflate are accepted (brotli cannot be bounded this
way), and `Accept-Encoding` says so.

The raw (compressed) bytes are capped too: a stream that decompresses to nothing (empty deflate
blocks, data after the end of a gzip member) would otherwise be read for as long as the server
sends it. Deflate never grows data by more than a few bytes per 16 KiB block, so a compressed body
larger than `raw_cap(max_bytes)` cannot be an honest body within `max_bytes`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from crawler.fetch.transport import short


class _TooLarge(Exception):
    pass


class Inflater:
    """Incremental gzip/deflate decoding that never produces more than it is allowed to."""

    __slots__ = ("_z", "_raw_fallback")

    def __init__(self, encoding: str):
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._raw_fallback = False
        else:  # deflate: zlib-wrapped per the RFC, raw in practice from some servers
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
            self._raw_fallback = True

    def feed(self, data: bytes, room: int, out: list[bytes]) -> int:
        """Decode `data` into `out`; return the bytes produced; raise _TooLarge past `room`."""
        produced = 0
        while data:
            try:
                piece = self._z.decompress(data, room - produced + 1)
            except zlib.error:
                if not self._raw_fallback:
                    raise
                self._raw_fallback = False
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._raw_fallback = False
            produced += len(piece)
            out.append(piece)  # kept even past the cap: robots.txt keeps its first bytes
            if produced > room:
                raise _TooLarge
            data = self._z.unconsumed_tail
            if self._z.eof:
                break
        return produced


@dataclass(slots=True)
class Body:
    """What reading one body gave: the bytes (None on error), or the error kind and message."""

    data: bytes | None = None
    error: str | None = None
    message: str | None = None
    raw: int = 0  # bytes received (compressed, as sent)
    size: int = 0  # bytes after decompression that were kept


def raw_cap(max_bytes: int) -> int:
    """The most raw bytes read for a body of at most `max_bytes` decoded (deflate's worst case, with room)."""
    return max_bytes + max_bytes // 100 + 1024


def decoder_for(encoding: str) -> Inflater | None | str:
    """An Inflater for gzip/deflate, None for an identity body, or the error message."""
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        return Inflater(encoding)
    if encoding in ("", "identity"):
        return None
    return f"unsupported Content-Encoding {encoding[:40]!r}"


async def read_body(
    chunks_in: AsyncIterator[bytes], encoding: str, max_bytes: int, *, cut_ok: bool = False
) -> Body:
    """Read raw `chunks_in` (as sent, Content-Encoding `encoding`) within `max_bytes` decoded.

    Past either cap (decoded bytes, or raw bytes beyond `raw_cap`) the body is an error
    (`too_large`), unless `cut_ok` (robots.txt: what fits is kept and the rest ignored, RFC 9309
    2.5). A broken or unknown encoding is `decode_error`.
    """
    inflater = decoder_for(encoding)
    if isinstance(inflater, str):
        return Body(error="decode_error", message=inflater)
    chunks: list[bytes] = []
    size = 0
    raw = 0
    max_raw = raw_cap(max_bytes)
    try:
        async for chunk in chunks_in:
            raw += len(chunk)
            if raw > max_raw and inflater is not None:
                if cut_ok:
                    raise _TooLarge
                chunks.clear()
                return Body(
                    error="too_large", raw=raw,
                    message=f"more than {max_raw} bytes received (compressed) for a body of at most {max_bytes}",
                )
            if inflater is None:
                size += len(chunk)
                chunks.append(chunk)
                if size > max_bytes:
                    raise _TooLarge
            else:
                size += inflater.feed(chunk, max_bytes - size, chunks)
    except _TooLarge:
        if cut_ok:
            data = b"".join(chunks)[:max_bytes]
            return Body(data=data, raw=raw, size=len(data))
        chunks.clear()
        return Body(error="too_large", message=f"body larger than {max_bytes} bytes (after decompression)", raw=raw)
    except zlib.error as exc:
        return Body(error="decode_error", message=f"broken {encoding.strip().lower()} body: {short(exc)}", raw=raw)
    return Body(data=b"".join(chunks), raw=raw, size=size)
