"""A loopback HTTP server that misbehaves on demand, for the network tests.

Raw sockets and one thread per connection, so that a handler controls every byte (a trickled
body, a reset in the middle of a body, HTTP/1.0 without a length). The server records what
arrived (`requests`, `connections`, `max_in_flight`) so tests can assert what the client did.

    with HostileServer() as server:
        server.route("/slow", trickle(interval=0.3))
        server.route("/feed", respond(b"<rss/>", content_type="application/rss+xml"))
        url = server.url("/slow")
        ...
        assert server.hits("/feed") == 1

A handler is `handler(request, conn) -> bool` (True keeps the connection alive); the factories
below build the usual ones. Unrouted paths answer 404, /robots.txt included. Everything is
bounded: idle connections time out, endless handlers stop when the client goes away or the server
stops, and `stop()` joins its threads with a timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate

import pytest

HTTP_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    target: str  # path and query, as sent
    version: str
    headers: dict[str, str]  # lower-case names
    arrived: float  # the server's clock (time.monotonic() by default) when the request head was complete
    client: tuple[str, int]

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class Conn:
    """The server side of one connection, handed to handlers."""

    sock: socket.socket
    stopping: threading.Event
    extra: dict = field(default_factory=dict)

    def send(self, data: bytes) -> bool:
        """Send all of `data`; False when the client has gone (handlers then stop)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def head(self, status: int, headers: dict[str, str] | None = None, version: str = "HTTP/1.1") -> bool:
        lines = [f"{version} {status} {HTTP_REASONS.get(status, 'Status')}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def wait(self, seconds: float) -> bool:
        """Sleep unless the server stops first; False when it stops."""
        return not self.stopping.wait(seconds)


Handler = Callable[[Request, Conn], bool]


class HostileServer:
    """An HTTP/1.1 server on 127.0.0.x with a random port and a handler per path."""

    def __init__(
        self, host: str = "127.0.0.1", idle_timeout: float = 2.0, clock: Callable[[], float] = time.monotonic
    ):
        self.host = host
        self.clock = clock  # stamps Request.arrived (tests of politeness pass the fetcher's simulated clock)
        self.idle_timeout = idle_timeout
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self.connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> HostileServer:
        self._listener = socket.create_server((self.host, 0), backlog=128)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        thread = threading.Thread(target=self._accept_loop, name="hostile-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=2.0)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration and inspection ---------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def route(self, path: str, handler: Handler) -> None:
        """Answer requests for `path` (exact target first, then the path without query)."""
        self.routes[path] = handler

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path or r.target == path)

    def arrivals(self, path: str) -> list[float]:
        with self._lock:
            return [r.arrived for r in self.requests if r.path == path or r.target == path]

    # -- serving ------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._socks.add(sock)
            thread = threading.Thread(target=self._serve, args=(sock, addr), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, sock: socket.socket, addr: tuple[str, int]) -> None:
        sock.settimeout(self.idle_timeout)
        # Without it, a head and a body sent apart wait ~40 ms for a delayed ACK (Nagle).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        try:
            while not self._stopping.is_set():
                while b"\r\n\r\n" not in buffer:
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buffer += data
                    if len(buffer) > 65536:
                        return
                raw, buffer = buffer.split(b"\r\n\r\n", 1)
                request = _parse(raw, addr, self.clock())
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                handler = self.routes.get(request.target) or self.routes.get(request.path) or not_found()
                try:
                    keep = handler(request, Conn(sock, self._stopping))
                finally:
                    with self._lock:
                        self.in_flight -= 1
                if not keep or request.version == "HTTP/1.0" or request.headers.get("connection") == "close":
                    return
        finally:
            with self._lock:
                self._socks.discard(sock)
            with contextlib.suppress(OSError):
                sock.close()


def _parse(raw: bytes, addr: tuple[str, int], arrived: float) -> Request | None:
    try:
        lines = raw.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, target, version, headers, arrived, addr)


# -- handler factories ------------------------------------------------------------------------


def respond(
    body: bytes = b"",
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    content_type: str = "text/html; charset=utf-8",
    http10: bool = False,
) -> Handler:
    """A fixed response. `http10`: HTTP/1.0 without Content-Length, body, then close."""

    def handler(request: Request, conn: Conn) -> bool:
        head = {"Content-Type": content_type, **(headers or {})}
        if http10:
            conn.head(status, head, version="HTTP/1.0")
            conn.send(body)
            return False
        head["Content-Length"] = str(len(body))
        conn.head(status, head)
        return conn.send(body)

    return handler


def not_found() -> Handler:
    return respond(b"<h1>not here</h1>", 404)


def redirect(location: str, status: int = 302) -> Handler:
    return respond(b"", status, {"Location": location})


def sequence(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler; the last one answers every later request."""
    lock = threading.Lock()
    counter = itertools.count()

    def handler(request: Request, conn: Conn) -> bool:
        with lock:
            index = next(counter)
        return handlers[min(index, len(handlers) - 1)](request, conn)

    return handler


def slow(seconds: float, then: Handler) -> Handler:
    """Think for `seconds` before answering (to see overlapping requests)."""

    def handler(request: Request, conn: Conn) -> bool:
        if not conn.wait(seconds):
            return False
        return then(request, conn)

    return handler


def trickle(interval: float = 0.3, count: int = 1000, piece: bytes = b"x") -> Handler:
    """Headers at once, then one `piece` every `interval` seconds (never trips a read timeout)."""

    def handler(request: Request, conn: Conn) -> bool:
        conn.head(200, {"Content-Type": "text/html", "Content-Length": str(count * len(piece))})
        return all(conn.wait(interval) and conn.send(piece) for _ in range(count))

    return handler


def endless_chunked(chunk: int = 64 * 1024, limit: int = 1 << 30) -> Handler:
    """A chunked body that goes on until the client leaves (or `limit` bytes, as a safety net)."""
    data = b"%x\r\n" % chunk + b"a" * chunk + b"\r\n"

    def handler(request: Request, conn: Conn) -> bool:
        conn.head(200, {"Content-Type": "text/html", "Transfer-Encoding": "chunked"})
        sent = 0
        while sent < limit and not conn.stopping.is_set():
            if not conn.send(data):
                return False
            sent += chunk
        return False

    return handler


def gzip_bomb(megabytes: int = 512) -> Handler:
    """`megabytes` MiB of zeros, gzipped (about 1 KiB per MiB), with a correct Content-Length.

    Deflate output after a full flush does not depend on earlier data, so one compressed MiB is
    repeated instead of compressing 512 MiB for every test run.
    """
    zeros = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    last = comp.compress(zeros) + comp.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    length = len(header) + len(block) * (megabytes - 1) + len(last) + 8

    def trailer() -> bytes:
        crc = 0
        for _ in range(megabytes):
            crc = zlib.crc32(zeros, crc)
        return struct.pack("<II", crc, (megabytes << 20) & 0xFFFFFFFF)

    def handler(request: Request, conn: Conn) -> bool:
        conn.head(200, {"Content-Type": "text/html", "Content-Encoding": "gzip", "Content-Length": str(length)})
        if not conn.send(header):
            return False
        for _ in range(megabytes - 1):
            if conn.stopping.is_set() or not conn.send(block):
                return False
        return conn.send(last) and conn.send(trailer())

    return handler


def raw_bytes(data: bytes) -> Handler:
    """Send `data` as the whole response (malformed status lines, broken chunking), then close."""

    def handler(request: Request, conn: Conn) -> bool:
        conn.send(data)
        return False

    return handler


def header_flood(count: int = 100_000, line: bytes = b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n") -> Handler:
    """A status line, then `count` header lines (or one huge one: pass count=1 and a long line)."""

    def handler(request: Request, conn: Conn) -> bool:
        if not conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"):
            return False
        sent = 0
        while sent < count and not conn.stopping.is_set():
            n = min(1000, count - sent)
            if not conn.send(line * n):
                return False
            sent += n
        conn.send(b"Content-Length: 2\r\n\r\nok")
        return False

    return handler


def slow_headers(interval: float = 0.1, count: int = 1000) -> Handler:
    """A status line, then one header byte every `interval` seconds (slowloris against a client)."""

    def handler(request: Request, conn: Conn) -> bool:
        if not conn.send(b"HTTP/1.1 200 OK\r\nX-Slow: "):
            return False
        return all(conn.wait(interval) and conn.send(b"a") for _ in range(count))

    return handler


def gzip_nothing(megabytes: int = 1024) -> Handler:
    """A gzip body that decompresses to nothing: a header, then empty deflate blocks, `megabytes` MiB
    of them (announced with a Content-Length), sent as fast as the client reads."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    empty = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_SYNC_FLUSH)  # 00 00 ff ff
    block = empty * (1 << 18)  # 1 MiB of empty stored blocks

    def handler(request: Request, conn: Conn) -> bool:
        length = len(header) + len(block) * megabytes
        conn.head(200, {"Content-Type": "text/html", "Content-Encoding": "gzip", "Content-Length": str(length)})
        if not conn.send(header):
            return False
        for _ in range(megabytes):
            if conn.stopping.is_set() or not conn.send(block):
                return False
        return False

    return handler


def reset_mid_body(announced: int = 10_000, sent: int = 1_000, rst: bool = True) -> Handler:
    """Announce `announced` bytes, send `sent`, then drop the connection (RST when `rst`)."""

    def handler(request: Request, conn: Conn) -> bool:
        conn.head(200, {"Content-Type": "text/html", "Content-Length": str(announced)})
        conn.send(b"y" * sent)
        if rst:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    return handler


def conditional(
    body: bytes, *, etag: str | None = None, last_modified: str | None = None, content_type: str = "text/html"
) -> Handler:
    """200 with validators, or 304 when the request's If-None-Match / If-Modified-Since match."""

    def handler(request: Request, conn: Conn) -> bool:
        validators = {}
        if etag:
            validators["ETag"] = etag
        if last_modified:
            validators["Last-Modified"] = last_modified
        inm = request.headers.get("if-none-match")
        ims = request.headers.get("if-modified-since")
        if (etag and inm == etag) or (last_modified and not inm and ims == last_modified):
            conn.head(304, validators)
            return True
        return respond(body, 200, validators, content_type=content_type)(request, conn)

    return handler


WORDPRESS_DB_ERROR = (
    b'<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml">\n<head>\n'
    b'<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />\n'
    b"\t<title>Databasfel</title>\n\n</head>\n<body>\n"
    b"\t<h1>Det gick inte att uppr\xc3\xa4tta en databasanslutning</h1>\n</body>\n</html>\n"
)


def wordpress_db_outage(status: int = 500, retry_after: str | None = None) -> Handler:
    """Any URL of a WordPress site behind Debian's Apache (mod_php, mod_deflate) while its database
    is down, robots.txt included (WordPress serves a virtual robots.txt through PHP).

    WordPress's dead_db() answers 500 with nocache_headers() and a short HTML page (the headers
    are those the corpus recorded from WordPress 6.1 on Debian's Apache with MariaDB stopped,
    tests/fixtures/real/wordpress/*/capture.json); a common db-error.php drop-in answers 503 with
    a Retry-After instead. mod_deflate gzips text/html for a client that accepts it and streams it
    chunked, without Content-Length.
    """

    def handler(request: Request, conn: Conn) -> bool:
        head = {
            "Date": formatdate(usegmt=True),
            "Server": "Apache/2.4.71 (Debian)",
            "Expires": "Wed, 11 Jan 1984 05:00:00 GMT",
            "Cache-Control": "no-cache, must-revalidate, max-age=0",
            "Vary": "Accept-Encoding",
        }
        if retry_after is not None:
            head["Retry-After"] = retry_after
        body = WORDPRESS_DB_ERROR
        if "gzip" in request.headers.get("accept-encoding", ""):
            head["Content-Encoding"] = "gzip"
            comp = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            body = comp.compress(body) + comp.flush()
        head["Transfer-Encoding"] = "chunked"
        head["Content-Type"] = "text/html; charset=UTF-8"
        conn.head(status, head)
        return conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

    return handler


def wordpress_behind_mod_deflate(body: bytes, last_modified: str,
                                 content_type: str = "application/rss+xml; charset=UTF-8") -> Handler:
    """A WordPress feed served through Debian's Apache 2.4 with mod_deflate (its defaults).

    WordPress (WP::send_headers) sends `ETag: "<md5 of Last-Modified>"` and Last-Modified, and
    answers 304 when, given both If-None-Match and If-Modified-Since, *both* match (the ETag
    compared as a whole string), or given one, that one matches. mod_deflate then gzips a 200 for
    a client that accepts gzip and, by `DeflateAlterETag AddSuffix`, turns its ETag into
    `"<md5>-gzip"`; a 304 keeps WordPress's ETag. WordPress never sees the suffix. This is what the
    corpus recorded from WordPress 6.1 on Debian's Apache (tests/fixtures/real/wordpress, the
    "probes": the ETag as served gets a 200, with or without If-Modified-Since; without `-gzip`,
    alone or with If-Modified-Since, a 304).
    """
    import hashlib
    from email.utils import parsedate_to_datetime

    wp_etag = f'"{hashlib.md5(last_modified.encode()).hexdigest()}"'
    wp_modified = parsedate_to_datetime(last_modified).timestamp()

    def handler(request: Request, conn: Conn) -> bool:
        client_etag = request.headers.get("if-none-match", "")
        client_last_modified = request.headers.get("if-modified-since", "").strip()
        try:
            client_modified = parsedate_to_datetime(client_last_modified).timestamp() if client_last_modified else 0
        except (TypeError, ValueError):
            client_modified = 0
        if client_last_modified and client_etag:
            not_modified = client_modified >= wp_modified and client_etag == wp_etag
        else:
            not_modified = client_modified >= wp_modified or client_etag == wp_etag
        gzip_ok = "gzip" in request.headers.get("accept-encoding", "")
        head = {"Server": "Apache/2.4.71 (Debian)", "Last-Modified": last_modified, "ETag": wp_etag,
                "Vary": "Accept-Encoding"}
        if not_modified:  # mod_deflate compresses nothing here, so the ETag keeps WordPress's form
            conn.head(304, head)
            return True
        if gzip_ok:
            head["ETag"] = wp_etag[:-1] + '-gzip"'
        data = body
        if gzip_ok:
            comp = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            data = comp.compress(body) + comp.flush()
            head["Content-Encoding"] = "gzip"
        head.update({"Content-Type": content_type, "Transfer-Encoding": "chunked"})
        conn.head(200, head)
        return conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))

    return handler


def http_date(offset: float = 0.0) -> str:
    """An HTTP-date `offset` seconds from now."""
    return formatdate(time.time() + offset, usegmt=True)


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    """A started HostileServer on 127.0.0.1, stopped after the test."""
    with HostileServer() as server:
        yield server
