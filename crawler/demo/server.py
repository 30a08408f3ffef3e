"""The demo web server: the world served over HTTP/1.1 on several loopback hosts, at a settable clock.

Each demo host (wordpress.com, self-hosted WordPress, blogspot, two hosts of other blogs,
Instagram, Facebook, and the new address of a moved blog) listens on its own loopback address
(127.0.0.2, 127.0.0.3, ...), so a crawler's per-host politeness sees them as different hosts.
Written directly on asyncio streams: keep-alive, Content-Length bodies, ETag / If-None-Match and
Last-Modified / If-Modified-Since (304), HEAD. Rendered responses are cached per (page, account
state), so a second visit at the same clock costs a dictionary lookup.

Faults (on by default, `faults=False` turns them off): "flaky" accounts answer 503 to the first
request of a URL in about one week of three, "slow" accounts answer after `slow_seconds`.

In-process:   with DemoWeb(world) as web: web.set_clock(dt); web.url_for(account)
As a process: python -m crawler.demo.server --accounts 10000 --seed 1 --clock 2023-03-01T02:00:00Z
              prints {"control": ..., "hosts": {...}} as one JSON line; POST /__clock on the control
              address (127.0.0.1) with an ISO datetime as the body sets the clock; GET /__stats.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

from crawler.demo.graph import DemoGraph
from crawler.demo.pages import (
    INSTAGRAM_DESKTOP_WALL,
    Page,
    find_account,
    http_date,
    instagram_needs_mobile,
    render,
    state_key,
)
from crawler.demo.world import HOSTS, WEEK, DemoAccount, World, cycle_time

_MAX_HEAD = 64 * 1024
_CACHE_BYTES = 64 * 1024 * 1024  # rendered bodies kept; cleared whole when full (cheap to refill)


@dataclass
class HostStats:
    """Request counters of one demo host (for politeness tests and benchmarks)."""

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    connections: int = 0
    statuses: Counter = field(default_factory=Counter)
    user_agent: str | None = None
    last_start: float | None = None  # monotonic time of the latest request
    min_gap: float | None = None  # shortest spacing between two request starts (per-host delay)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "max_in_flight": self.max_in_flight,
            "connections": self.connections,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "user_agent": self.user_agent,
            "min_gap_ms": None if self.min_gap is None else round(self.min_gap * 1000, 1),
        }


def parse_clock(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text ("2023-03-01T02:00:00Z"); naive text is refused."""
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        raise ValueError("the clock needs a time zone, e.g. 2023-03-01T02:00:00Z")
    return dt.astimezone(UTC)


class DemoServer:
    """The servers of all demo hosts and the control endpoint, inside one asyncio event loop."""

    def __init__(
        self,
        world: World,
        clock: datetime | None = None,
        *,
        faults: bool = True,
        slow_seconds: float = 0.3,
        first_address: int = 2,
        port: int = 0,
        control: bool = True,
        graph: DemoGraph | None = None,
    ):
        self.world = world
        self.graph = graph or DemoGraph(world)
        self.clock = clock or cycle_time(0)
        self.faults = faults
        self.slow_seconds = slow_seconds
        self.first_address = first_address
        self.port = port
        self.control = control
        self.hosts: dict[str, tuple[str, int]] = {}
        self.control_address: tuple[str, int] | None = None
        self.stats: dict[str, HostStats] = {h: HostStats() for h in HOSTS}
        self._servers: list[asyncio.base_events.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._cache: dict[tuple, tuple[Page, str]] = {}
        self._cache_bytes = 0
        self._failed: set[tuple[int, str]] = set()  # flaky URLs already failed at this clock
        self._bases: dict[str, str] = {}

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        for k, host in enumerate(HOSTS):
            address = f"127.0.0.{self.first_address + k}"
            server = await asyncio.start_server(
                lambda r, w, host=host: self._connection(host, r, w), address, self.port, limit=_MAX_HEAD
            )
            self._servers.append(server)
            self.hosts[host] = (address, server.sockets[0].getsockname()[1])
        self._bases = {h: f"http://{a}:{p}" for h, (a, p) in self.hosts.items()}
        self.graph.bases = dict(self._bases)
        if self.control:
            server = await asyncio.start_server(
                lambda r, w: self._connection(None, r, w), "127.0.0.1", 0, limit=_MAX_HEAD
            )
            self._servers.append(server)
            self.control_address = ("127.0.0.1", server.sockets[0].getsockname()[1])

    async def aclose(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()

    def set_clock(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the clock needs an aware datetime (UTC)")
        self.clock = at.astimezone(UTC)
        self._failed = set()

    def reset_stats(self) -> None:
        self.stats = {h: HostStats() for h in HOSTS}

    def base_url(self, host: str) -> str:
        address, port = self.hosts[host]
        return f"http://{address}:{port}"

    # -- HTTP ---------------------------------------------------------------------------------------

    async def _connection(self, host: str | None, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if host is not None:
            self.stats[host].connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    break
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    writer.write(_response(400, b"bad request\n", "text/plain", {}, close=True))
                    break
                method, target, version = parts
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                body = b""
                length = headers.get("content-length", "0")
                if length.isdigit() and int(length):
                    if int(length) > _MAX_HEAD:
                        writer.write(_response(413, b"too large\n", "text/plain", {}, close=True))
                        break
                    body = await reader.readexactly(int(length))
                connection = headers.get("connection", "").lower()
                keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
                if host is None:
                    data = self._control(method, target, body, keep)
                else:
                    data = await self._respond(host, method, target, headers, keep)
                writer.write(data)
                if not keep:
                    break
                await writer.drain()
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _respond(self, host: str, method: str, target: str, headers: dict[str, str], keep: bool) -> bytes:
        stats = self.stats[host]
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        stats.user_agent = headers.get("user-agent")
        now = time.monotonic()
        if stats.last_start is not None:
            gap = now - stats.last_start
            stats.min_gap = gap if stats.min_gap is None else min(stats.min_gap, gap)
        stats.last_start = now
        try:
            at = self.clock
            extra: dict[str, str] = {"Date": http_date(at.timestamp())}
            if method not in ("GET", "HEAD"):
                stats.statuses[405] += 1
                extra["Allow"] = "GET, HEAD"
                return _response(405, b"", "text/plain", extra, close=not keep)
            if host == "graph":
                answer = self.graph.respond(target, headers, at)
                stats.statuses[answer.status] += 1
                return _response(answer.status, answer.encoded(), "application/json; charset=UTF-8",
                                 {**extra, **answer.headers}, close=not keep, head=method == "HEAD")
            if instagram_needs_mobile(host, target, headers.get("user-agent", "")):
                stats.statuses[200] += 1
                return _response(200, INSTAGRAM_DESKTOP_WALL.body, INSTAGRAM_DESKTOP_WALL.content_type, extra,
                                 close=not keep, head=method == "HEAD")
            acc = self._account_for(host, target)
            if acc is not None and acc.slow and self.slow_seconds > 0:
                await asyncio.sleep(self.slow_seconds)
            if acc is not None and self._fails_now(acc, target, at):
                stats.statuses[503] += 1
                body = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
                return _response(503, body, "text/html", extra, close=not keep, head=method == "HEAD")
            page, etag = self._page(host, target, acc, at)
            status = page.status
            if page.location:
                extra["Location"] = page.location
            if page.cacheable and status == 200:
                extra["ETag"] = etag
                if page.last_modified is not None:
                    extra["Last-Modified"] = http_date(page.last_modified)
                if _not_modified(headers, etag, page.last_modified):
                    stats.statuses[304] += 1
                    return _response(304, b"", None, extra, close=not keep)
            stats.statuses[status] += 1
            return _response(status, page.body, page.content_type, extra, close=not keep, head=method == "HEAD")
        finally:
            stats.in_flight -= 1

    def _account_for(self, host: str, target: str) -> DemoAccount | None:
        segments = target.split("?", 1)[0].split("/")
        if len(segments) < 2 or not segments[1]:
            return None
        return find_account(self.world, host, segments[1])

    def _fails_now(self, acc: DemoAccount, target: str, at: datetime) -> bool:
        """Flaky accounts fail the first request of each URL in about one week of three."""
        if not (self.faults and acc.flaky):
            return False
        week = int((at.timestamp() - cycle_time(0).timestamp()) // WEEK)
        if (acc.index * 2_654_435_761 + week) % 3 != 0:
            return False
        key = (acc.index, target)
        if key in self._failed:
            return False
        self._failed.add(key)
        return True

    def _page(self, host: str, target: str, acc: DemoAccount | None, at: datetime) -> tuple[Page, str]:
        if acc is None and not target.startswith("/robots.txt"):
            page = render(self.world, at, self._bases, host, target)
            return page, _etag(page.body)
        key = (host, target, state_key(self.world, acc, at) if acc is not None else None)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        page = render(self.world, at, self._bases, host, target)
        entry = (page, _etag(page.body))
        if self._cache_bytes + len(page.body) > _CACHE_BYTES:
            self._cache.clear()
            self._cache_bytes = 0
        self._cache[key] = entry
        self._cache_bytes += len(page.body)
        return entry

    # -- control ----------------------------------------------------------------------------------

    def _control(self, method: str, target: str, body: bytes, keep: bool) -> bytes:
        path = target.split("?", 1)[0]
        try:
            if path == "/__clock" and method == "POST":
                self.set_clock(parse_clock(body.decode("utf-8")))
            elif path == "/__stats/reset" and method == "POST":
                self.reset_stats()
            elif path not in ("/__clock", "/__stats", "/__hosts") or method != "GET":
                return _response(404, b'{"error": "unknown control path"}', "application/json", {}, close=not keep)
        except ValueError as exc:
            message = json.dumps({"error": str(exc)}).encode()
            return _response(400, message, "application/json", {}, close=not keep)
        return _response(200, json.dumps(self.describe()).encode(), "application/json", {}, close=not keep)

    def describe(self) -> dict[str, Any]:
        """Clock, host map and counters as plain JSON-able data."""
        return {
            "clock": self.clock.isoformat().replace("+00:00", "Z"),
            "control": None if self.control_address is None else "{}:{}".format(*self.control_address),
            "hosts": {h: f"{a}:{p}" for h, (a, p) in self.hosts.items()},
            "stats": {h: s.as_dict() for h, s in self.stats.items()},
        }


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'


def _not_modified(headers: dict[str, str], etag: str, last_modified: float | None) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = headers.get("if-modified-since")
    if ims and last_modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return int(last_modified) <= since.timestamp()
    return False


def _response(
    status: int,
    body: bytes,
    content_type: str | None,
    headers: dict[str, str],
    *,
    close: bool,
    head: bool = False,
) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", "Server: crawler-demo"]
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    if content_type and status != 304:
        lines.append(f"Content-Type: {content_type}")
    if status != 304:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out if head or status == 304 else out + body


class DemoWeb:
    """The demo server running in a background thread: `with DemoWeb(world) as web: ...`."""

    def __init__(self, world: World, clock: datetime | None = None, **options: Any):
        self.world = world
        self.server = DemoServer(world, clock, **options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DemoWeb:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:  # surfaced in start() below
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.server.aclose())
            pending = asyncio.all_tasks(loop)
            for task in pending:  # connection handlers still parked in a read
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="demo-web", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the demo server did not start within 10 s")
        if errors:
            raise errors[0]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._thread = None

    # -- the surface tests and the runner use -------------------------------------------------------

    @property
    def clock(self) -> datetime:
        return self.server.clock

    def set_clock(self, at: datetime) -> None:
        """Serve the world as it is at `at` from now on."""
        self.server.set_clock(at)

    @property
    def hosts(self) -> dict[str, tuple[str, int]]:
        return dict(self.server.hosts)

    @property
    def control_url(self) -> str | None:
        addr = self.server.control_address
        return None if addr is None else f"http://{addr[0]}:{addr[1]}"

    def base_url(self, host: str) -> str:
        return self.server.base_url(host)

    def url_for(self, account: DemoAccount | str | int) -> str:
        """The public address of an account (a moved blog keeps its old, registered address)."""
        acc = account if isinstance(account, DemoAccount) else self.world.account(account)
        return f"{self.server.base_url(acc.host)}/{acc.slug}/"

    def feed_url_for(self, account: DemoAccount | str | int) -> str | None:
        """The feed of a WordPress or Blogger account (None for other platforms)."""
        acc = account if isinstance(account, DemoAccount) else self.world.account(account)
        if acc.kind in ("wp_self", "wp_com"):
            return self.url_for(acc) + "feed/"
        if acc.kind == "blogger":
            return self.url_for(acc) + "feeds/posts/default"
        return None

    def stats(self) -> dict[str, dict[str, Any]]:
        """Counters per host: requests, max_in_flight, connections, statuses, user_agent, min_gap_ms."""
        return self._in_loop(lambda: {h: s.as_dict() for h, s in self.server.stats.items()})

    def reset_stats(self) -> None:
        self._in_loop(self.server.reset_stats)

    def _in_loop(self, fn: Any) -> Any:
        """Run `fn` in the server's thread: the counters change there while requests come in."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return fn()

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(5)

    def sources_yaml(self, settings: dict[str, Any] | None = None) -> str:
        return self.world.sources_yaml(self, settings)


# -- as a separate process --------------------------------------------------------------------------

class _ProcessUrls:
    """url_for / feed_url_for over a running DemoServer (for --sources in process mode)."""

    def __init__(self, server: DemoServer):
        self.server = server

    def url_for(self, acc: DemoAccount) -> str:
        return f"{self.server.base_url(acc.host)}/{acc.slug}/"

    def feed_url_for(self, acc: DemoAccount) -> str | None:
        if acc.kind in ("wp_self", "wp_com"):
            return self.url_for(acc) + "feed/"
        if acc.kind == "blogger":
            return self.url_for(acc) + "feeds/posts/default"
        return None


async def _serve_forever(args: argparse.Namespace) -> None:
    world = World(args.accounts, seed=args.seed)
    server = DemoServer(
        world,
        parse_clock(args.clock),
        faults=not args.no_faults,
        slow_seconds=args.slow,
        first_address=args.first_address,
        port=args.port,
    )
    await server.start()
    if args.sources:
        with open(args.sources, "w", encoding="utf-8") as fh:
            fh.write(world.sources_yaml(_ProcessUrls(server)))
    info = server.describe()
    print(json.dumps({"control": info["control"], "hosts": info["hosts"], "clock": info["clock"]}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.demo.server", description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=319)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clock", default=cycle_time(0).isoformat(), help="ISO datetime with zone")
    parser.add_argument("--no-faults", action="store_true", help="no 503s from flaky accounts")
    parser.add_argument("--slow", type=float, default=0.3, help="delay of slow accounts, seconds")
    parser.add_argument("--first-address", type=int, default=2, help="first host is 127.0.0.N")
    parser.add_argument("--port", type=int, default=0, help="one port for every host (0: any free)")
    parser.add_argument("--sources", help="also write a sources.yaml registry to this path")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve_forever(args))
    except (OSError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
