"""The HTTP client: the one module that touches the network.

It owns politeness (a User-Agent with a contact, robots.txt, per-host concurrency and spacing, an
overall limit), conditional GET, retries of transient failures (Retry-After honoured up to a cap),
bounds on time, size and redirects, and the address guard that keeps the crawler off internal
networks. Every visit ends as a `crawler.models.Fetched`; network failures are values, never
exceptions. Nothing here logs or keeps a response body beyond returning it to the caller.

    async with Fetcher(settings) as fetcher:
        fetched = await fetcher.fetch(url, etag=previous_etag)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, CookiePolicy
from types import TracebackType
from typing import Any

import httpcore
import httpx
from protego import Protego
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

from crawler.errors import SettingsError
from crawler.models import Fetched
from crawler.settings import Settings, contact_problem

# Headers the later stages (parsers, store, the next conditional GET) may read. Everything else is
# dropped so that nothing unexpected (cookies, tracking ids) travels further.
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "content-encoding",
    "etag",
    "last-modified",
    "retry-after",
    "location",
    "date",
    "cache-control",
    "link",
    "x-robots-tag",
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = frozenset({"connect_error", "timeout"})
ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309 2.5: parse at least this much; we parse exactly this much
ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 2.3.1.2
BACKOFF_MAX = 30.0
ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,application/json;q=0.8,*/*;q=0.5"
)


class _NoCookies(CookiePolicy):
    """A cookie policy that accepts and returns nothing."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        return False


class BlockedAddress(Exception):
    """A connection was refused by the address guard (the peer is not a public address)."""


def is_forbidden_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for addresses the crawler must never connect to: anything that is not global."""
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1 is loopback too
        ip = ip.ipv4_mapped
    return not ip.is_global


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date); None if unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None  # NaN fails ==
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


@dataclass(slots=True)
class _Attempt:
    """What one request produced (internal; `fetch` turns the last one into a Fetched)."""

    status: int | None = None
    headers: httpx.Headers | None = None
    body: bytes | None = None
    error: str | None = None
    message: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0  # duration of the request (connect to end of body)
    sent: bool = True  # False when politeness answered without a request (a deferred host)


class _Host:
    """Politeness bookkeeping of one host: concurrency, spacing of request starts, deferral."""

    __slots__ = ("sem", "delay", "next_at", "deferred_until")

    def __init__(self, concurrency: int, delay: float):
        self.sem = asyncio.Semaphore(concurrency)
        self.delay = delay
        self.next_at = 0.0  # monotonic time before which no request to this host may start
        self.deferred_until = 0.0  # the host asked for a pause longer than we wait for


class _Robots:
    """The rules of one origin: a Protego parser, or all-allowed / all-disallowed.

    `error` is set when robots.txt could not be reached at all (DNS, refused, guard): every URL
    of the origin then ends with that error rather than a misleading blocked_by_robots.
    """

    __slots__ = ("parser", "allow_all", "reason", "error")

    def __init__(
        self, parser: Protego | None = None, allow_all: bool = False, reason: str = "", error: str | None = None
    ):
        self.parser = parser
        self.allow_all = allow_all
        self.reason = reason
        self.error = error


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, refuses non-public addresses, then connects to the checked one.

    Checking at connect time (not before the request) closes the gap where DNS answers
    differently between a check and the connect; connecting to the very address checked closes
    the rest.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend):
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port, timeout)
        for ip in addresses:
            if is_forbidden_address(ip):
                raise BlockedAddress(f"{host} resolves to the non-public address {ip}")
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are never used by the crawler")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int, timeout: float | None) -> list[Any]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
    out: list[Any] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip not in out:
            out.append(ip)
    return out


def _transport(limits: httpx.Limits, ssl_context: ssl.SSLContext, guard: bool) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits, trust_env=False, retries=0)
    if guard:
        pool = transport._pool
        # httpx 0.28 has no public hook for the network backend; the pool hands this attribute to
        # every connection it creates. httpx is pinned below 0.29 and tests/test_fetch.py checks
        # the guard against a real loopback server, so a change here fails loudly, not silently.
        if not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpcore changed: cannot install the address guard")
        pool._network_backend = _GuardedBackend(pool._network_backend)
    return transport


class _OriginPool:
    __slots__ = ("transport", "active")

    def __init__(self, transport: httpx.AsyncHTTPTransport):
        self.transport = transport
        self.active = 0  # responses handed out and not yet closed


class _Release(httpx.AsyncByteStream):
    """A response body that tells its pool when it is closed (so an idle pool can be evicted)."""

    __slots__ = ("_stream", "_pool")

    def __init__(self, stream: httpx.AsyncByteStream, pool: _OriginPool):
        self._stream = stream
        self._pool: _OriginPool | None = pool

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.active -= 1
            self._pool = None
        await self._stream.aclose()


class _PoolPerOrigin(httpx.AsyncBaseTransport):
    """One small connection pool per origin instead of one big pool for the crawl.

    httpcore walks its whole pool (quadratically in its idle connections) at every request and
    every response close: with 32 connections that was half of the fetcher's CPU. A pool per
    origin holds at most per_host_concurrency connections. Pools idle beyond `max_pools` are
    closed, least recently used first, so that a crawl over thousands of hosts keeps few sockets.
    """

    def __init__(self, make: Callable[[], httpx.AsyncHTTPTransport], max_pools: int):
        self._make = make
        self._max_pools = max_pools
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], _OriginPool] = OrderedDict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _OriginPool(self._make())
            if len(self._pools) > self._max_pools:
                await self._evict()
        else:
            self._pools.move_to_end(key)
        pool.active += 1
        try:
            response = await pool.transport.handle_async_request(request)
        except BaseException:
            pool.active -= 1
            raise
        response.stream = _Release(response.stream, pool)  # type: ignore[arg-type]
        return response

    async def _evict(self) -> None:
        # Victims are chosen and unlinked without awaiting, so no request can pick one up meanwhile.
        excess = len(self._pools) - self._max_pools
        victims = []
        for key, pool in self._pools.items():
            if len(victims) >= excess:
                break
            if pool.active == 0:
                victims.append(key)
        closing = [self._pools.pop(key) for key in victims]
        for pool in closing:
            await pool.transport.aclose()

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            await pool.transport.aclose()


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, kind):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def _short(exc: BaseException) -> str:
    # httpx and zlib messages name the failure, never the payload; still keep them short.
    text = str(exc) or type(exc).__name__
    return text[:200]


def _classify(exc: BaseException, body_started: bool) -> tuple[str, str]:
    """Map an exception from httpx/httpcore/the guard to (error kind, short message)."""
    if _caused_by(exc, BlockedAddress):
        return "blocked_address", _short(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"{type(exc).__name__}: {_short(exc)}"
    if body_started and isinstance(exc, (httpx.TransportError, OSError)):
        return "truncated", f"connection ended before the body was complete ({_short(exc)})"
    if isinstance(exc, httpx.ConnectError):
        if _caused_by(exc, socket.gaierror) or "resolve" in str(exc):
            return "dns_error", _short(exc)
        return "connect_error", _short(exc)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "blocked_scheme", _short(exc)
    if isinstance(exc, httpx.RemoteProtocolError) and "without sending" in str(exc):
        # A kept-alive connection closed by the server as we reused it: transient.
        return "connect_error", _short(exc)
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError, OSError)):
        return "connect_error", _short(exc)
    return "protocol_error", f"{type(exc).__name__}: {_short(exc)}"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class _TooLarge(Exception):
    pass


class _Inflater:
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


class Fetcher:
    """The crawl's HTTP client; share one per crawl cycle (it holds the pools and robots cache).

    `stats` counts, for benchmarks and the run summary: fetches (calls of `fetch`), requests (sent,
    robots.txt and retries included), retries, redirects, raw_bytes (as received), bytes (after
    decompression), robots_fetches, robots_blocked, not_modified, errors. `backoff_base` scales the
    exponential retry backoff (tests pass a tiny one); `transport` replaces the network (the
    connect-time address guard then does not apply, only the check of literal IP hosts).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backoff_base: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        problem = contact_problem(settings)
        if problem:
            raise SettingsError(f"fetch: refusing to crawl: {problem}")
        self.settings = settings
        self.stats: dict[str, int] = {
            "fetches": 0,
            "requests": 0,
            "retries": 0,
            "redirects": 0,
            "raw_bytes": 0,
            "bytes": 0,
            "robots_fetches": 0,
            "robots_blocked": 0,
            "not_modified": 0,
            "errors": 0,
        }
        self._ua_token = settings.user_agent_name
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[tuple[str, str, int | None], tuple[float, asyncio.Future[_Robots]]] = {}
        self._global = asyncio.Semaphore(max(1, settings.concurrency))
        self._per_host = max(1, settings.per_host_concurrency)
        if transport is None:
            # Requests to one host are limited to per_host_concurrency by our own semaphore, so an
            # origin's pool never needs more connections than that.
            limits = httpx.Limits(
                max_connections=self._per_host, max_keepalive_connections=self._per_host, keepalive_expiry=10.0
            )
            ssl_context = httpx.create_ssl_context(trust_env=False)  # loading CAs costs ~30 ms: once
            guard = not settings.allow_private_addresses
            transport = _PoolPerOrigin(
                lambda: _transport(limits, ssl_context, guard), max_pools=max(32, 2 * settings.concurrency)
            )
        self._transport = transport
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,  # every hop passes the scheme, address and robots checks
            trust_env=False,  # no proxies or .netrc from the environment
            # Cookies are personal data and would make visits differ: keep none, send none.
            cookies=CookieJar(policy=_NoCookies()),
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.deadline,
            ),
            headers={
                "User-Agent": settings.user_agent,
                "Accept": ACCEPT,
                "Accept-Language": "sv,en;q=0.7",
                # No br: we decode ourselves with a size cap, and only zlib lets us bound output.
                "Accept-Encoding": "gzip, deflate",
            },
        )
        self._retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, settings.retries)),
            wait=self._wait,
            retry=retry_if_result(self._should_retry),
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
            before_sleep=self._count_retry,
        )
        self._backoff = wait_exponential_jitter(multiplier=backoff_base, max=BACKOFF_MAX, jitter=backoff_base)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool and forget pending robots.txt loads."""
        for _, future in self._robots.values():
            if not future.done():
                future.cancel()
        await self._client.aclose()

    # -- the public entry point -------------------------------------------------------------

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET `url` politely (conditionally when etag/last_modified are given); never raises.

        `redirects` lists every URL redirected to, in order; `final_url` is the last URL
        considered (the one answered, or the one refused). `elapsed_ms` is time spent in requests
        (politeness waits and retry backoff excluded); `attempts` counts requests for this URL, 0
        when it was refused before any (robots.txt, scheme, address).
        """
        self.stats["fetches"] += 1
        started_at = datetime.now(timezone.utc)
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        redirects: list[str] = []
        attempts = 0
        network = 0.0  # seconds spent in requests: politeness waits and backoff are not the site's

        def done(final: str, attempt: _Attempt) -> Fetched:
            if attempt.error:
                self.stats["errors"] += 1
            elif attempt.status == 304:
                self.stats["not_modified"] += 1
            if attempt.headers is not None:
                kept = {name: attempt.headers[name] for name in KEPT_HEADERS if name in attempt.headers}
            else:
                kept = {}
            return Fetched(
                url=url,
                final_url=final,
                status=attempt.status,
                headers=kept,
                body=attempt.body,
                elapsed_ms=int(network * 1000),
                redirects=tuple(redirects),
                error=attempt.error,
                error_message=attempt.message,
                started_at=started_at,
                attempts=attempts,
            )

        try:
            current = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            return done(url, _Attempt(error="protocol_error", message=f"invalid URL: {_short(exc)}"))

        while True:
            refused = self._refuse_target(current)
            if refused:
                return done(str(current), refused)
            robots = await self._robots_verdict(current)
            if robots is not None:
                return done(str(current), robots)
            attempt, tries, seconds = await self._with_retries(current, headers, self.settings.max_body_bytes, False)
            attempts += tries
            network += seconds
            location = attempt.headers.get("location") if attempt.headers is not None else None
            if attempt.error is None and attempt.status in REDIRECT_STATUSES and location:
                if len(redirects) >= self.settings.max_redirects:
                    attempt.error = "too_many_redirects"
                    attempt.message = f"more than {self.settings.max_redirects} redirects"
                    attempt.body = None
                    return done(str(current), attempt)
                try:
                    current = current.join(location.strip())
                except (httpx.InvalidURL, ValueError) as exc:
                    attempt.error = "protocol_error"
                    attempt.message = f"invalid redirect location: {_short(exc)}"
                    return done(str(current), attempt)
                redirects.append(str(current))
                self.stats["redirects"] += 1
                continue
            return done(str(current), attempt)

    # -- checks before a request ------------------------------------------------------------

    def _refuse_target(self, url: httpx.URL) -> _Attempt | None:
        if url.scheme not in ("http", "https"):
            return _Attempt(error="blocked_scheme", message=f"scheme {url.scheme or '(none)'!r} is not http(s)")
        if not url.host:
            return _Attempt(error="protocol_error", message="URL has no host")
        if not self.settings.allow_private_addresses:
            try:
                ip = ipaddress.ip_address(url.host)
            except ValueError:
                return None  # a name: checked at connect time, against what it resolves to
            if is_forbidden_address(ip):
                return _Attempt(error="blocked_address", message=f"{ip} is not a public address")
        return None

    async def _robots_verdict(self, url: httpx.URL) -> _Attempt | None:
        """None when robots.txt lets us fetch `url`, else the blocked_by_robots result."""
        if not self.settings.respect_robots:
            return None
        key = (url.scheme, url.host, url.port)
        now = time.monotonic()
        entry = self._robots.get(key)
        if entry is None or now - entry[0] > self.settings.robots_cache_hours * 3600:
            # One load per origin: concurrent fetches of the same site await the same future.
            future = asyncio.ensure_future(self._load_robots(url))
            entry = (now, future)
            self._robots[key] = entry
        rules = await asyncio.shield(entry[1])
        if rules.allow_all:
            return None
        if rules.parser is not None and rules.parser.can_fetch(str(url), self._ua_token):
            return None
        if rules.error is not None:
            return _Attempt(error=rules.error, message=rules.reason)
        self.stats["robots_blocked"] += 1
        return _Attempt(error="blocked_by_robots", message=rules.reason or "disallowed by robots.txt")

    async def _load_robots(self, url: httpx.URL) -> _Robots:
        try:
            return await self._read_robots(url)
        except Exception as exc:  # a bug here must not stop the crawl; RFC 9309: unreachable
            return _Robots(reason=f"robots.txt unreadable ({type(exc).__name__}): assuming disallowed")

    async def _read_robots(self, url: httpx.URL) -> _Robots:
        current = url.copy_with(path="/robots.txt", query=None, fragment=None)
        for _ in range(ROBOTS_MAX_REDIRECTS + 1):
            refused = self._refuse_target(current)
            if refused:
                return _Robots(reason=f"robots.txt redirected to a refused URL ({refused.error})")
            self.stats["robots_fetches"] += 1
            attempt, _, _ = await self._with_retries(current, {}, ROBOTS_MAX_BYTES, True)
            status = attempt.status
            location = attempt.headers.get("location") if attempt.headers is not None else None
            if attempt.error is None and status in REDIRECT_STATUSES and location:
                try:
                    current = current.join(location.strip())
                except (httpx.InvalidURL, ValueError):
                    return _Robots(allow_all=True)
                continue
            if attempt.error is None and status is not None and 200 <= status < 300:
                return self._parse_robots(url, attempt.body or b"")
            if attempt.error is None and status != 429 and (status or 0) < 500:
                return _Robots(allow_all=True)  # 4xx (and odd 1xx/3xx): no rules, RFC 9309 2.3.1.3
            if status == 429:
                return _Robots(reason="robots.txt answered HTTP 429: site asks us to slow down", error="rate_limited")
            if (status or 0) >= 500:
                return _Robots(reason=f"robots.txt answered HTTP {status}: assuming disallowed (RFC 9309)")
            # Unreachable (RFC 9309: assume disallowed); every URL of the origin reports why.
            return _Robots(reason=f"robots.txt: {attempt.message}", error=attempt.error)
        return _Robots(allow_all=True)  # too many redirects: unavailable, RFC 9309 2.3.1.2

    def _parse_robots(self, url: httpx.URL, body: bytes) -> _Robots:
        try:
            parser = Protego.parse(body.decode("utf-8", errors="replace"))
        except Exception:  # protego is lenient; a crash on garbage means "no usable rules"
            return _Robots(allow_all=True)
        delay = parser.crawl_delay(self._ua_token)
        if delay:
            host = self._host(url)
            # Honour Crawl-delay, but no more than we would wait for a Retry-After: a site asking
            # for an hour between requests is visited at that cap instead.
            host.delay = max(host.delay, min(float(delay), self.settings.retry_after_cap))
            host.next_at = max(host.next_at, time.monotonic() + host.delay)
        return _Robots(parser=parser, reason="disallowed by robots.txt")

    # -- requests ---------------------------------------------------------------------------

    def _host(self, url: httpx.URL) -> _Host:
        key = url.host if url.port is None else f"{url.host}:{url.port}"
        host = self._hosts.get(key)
        if host is None:
            host = _Host(self._per_host, self.settings.host_delay(url.host))
            self._hosts[key] = host
        return host

    async def _with_retries(
        self, url: httpx.URL, headers: dict[str, str], max_bytes: int, cut_ok: bool
    ) -> tuple[_Attempt, int, float]:
        """The final attempt, the number of requests made and their total duration in seconds."""
        count = 0
        seconds = 0.0

        async def once() -> _Attempt:
            nonlocal count, seconds
            attempt = await self._polite_request(url, headers, max_bytes, cut_ok)
            count += attempt.sent
            seconds += attempt.seconds
            return attempt

        # Nearly every request succeeds at once: tenacity's machinery (~7 % of a request's CPU on
        # loopback) only runs when a retry is due. It then replays this first result, so waits,
        # counts and stop rules are exactly those of a run that went through tenacity from the start.
        attempt = await once()
        if self._should_retry(attempt):
            replay = [attempt]

            async def replay_then_once() -> _Attempt:
                return replay.pop() if replay else await once()

            attempt = await self._retrying(replay_then_once)
        self._finish(url, attempt)
        return attempt, count, seconds

    def _should_retry(self, attempt: _Attempt) -> bool:
        if attempt.error is not None:
            return attempt.error in TRANSIENT_ERRORS
        if attempt.status not in TRANSIENT_STATUSES:
            return False
        return attempt.retry_after is None or attempt.retry_after <= self.settings.retry_after_cap

    def _wait(self, state: RetryCallState) -> float:
        attempt: _Attempt = state.outcome.result()  # type: ignore[union-attr]
        if attempt.retry_after is not None:
            return attempt.retry_after
        return self._backoff(state)

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats["retries"] += 1

    def _finish(self, url: httpx.URL, attempt: _Attempt) -> None:
        """Name the error of a final response that is a failure (after any retries)."""
        if attempt.error is not None or attempt.status is None:
            return
        status = attempt.status
        cap = self.settings.retry_after_cap
        if status in (429, 503) and attempt.retry_after is not None and attempt.retry_after > cap:
            # Beyond the cap we do not wait: the URL (and its host) is deferred to the next cycle.
            self._host(url).deferred_until = time.monotonic() + attempt.retry_after
            attempt.error = "rate_limited"
            attempt.message = f"Retry-After of {attempt.retry_after:.0f} s is above the cap of {cap:.0f} s"
        elif status == 429:
            attempt.error = "rate_limited"
            attempt.message = "HTTP 429 after retries"
        elif status == 408:
            attempt.error = "timeout"
            attempt.message = "HTTP 408 after retries"
        elif status >= 500:
            attempt.error = "server_error"
            attempt.message = f"HTTP {status}"

    async def _polite_request(
        self, url: httpx.URL, headers: dict[str, str], max_bytes: int, cut_ok: bool
    ) -> _Attempt:
        host = self._host(url)
        async with host.sem:
            while True:
                now = time.monotonic()
                if host.deferred_until > now:
                    return _Attempt(
                        error="rate_limited",
                        message=f"host asked for a pause of {host.deferred_until - now:.0f} s more",
                        sent=False,
                    )
                wait = host.next_at - now
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                await self._global.acquire()
                now = time.monotonic()
                if host.next_at > now:  # another request to this host started while we waited
                    self._global.release()
                    continue
                if host.delay > 0:
                    host.next_at = now + host.delay
                break
            try:
                attempt = await self._request(url, headers, max_bytes, cut_ok)
            finally:
                self._global.release()
            if attempt.retry_after is not None and attempt.retry_after <= self.settings.retry_after_cap:
                # The server asked the whole host to slow down, not only this URL.
                host.next_at = max(host.next_at, time.monotonic() + attempt.retry_after)
            return attempt

    async def _request(self, url: httpx.URL, headers: dict[str, str], max_bytes: int, cut_ok: bool) -> _Attempt:
        self.stats["requests"] += 1
        attempt = _Attempt()
        body_started = False
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.deadline):
                # The client builds the request (headers, timeouts); the transport sends it. The
                # client's send only adds what we never use (auth, redirects, cookies, hooks) and
                # cost ~10 % of a request's CPU on loopback.
                request = self._client.build_request("GET", url, headers=headers)
                response = await self._transport.handle_async_request(request)
                response.request = request
                try:
                    attempt.status = response.status_code
                    attempt.headers = response.headers
                    if response.status_code in (429, 503):
                        attempt.retry_after = retry_after_seconds(response.headers.get("retry-after"))
                    body_started = True
                    await self._read_body(response, attempt, max_bytes, cut_ok)
                finally:
                    await response.aclose()
        except TimeoutError:
            attempt.error = "deadline_exceeded"
            attempt.message = f"no complete response within {self.settings.deadline:g} s"
            attempt.body = None
        except (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, OSError, BlockedAddress, UnicodeError) as exc:
            attempt.error, attempt.message = _classify(exc, body_started)
            attempt.body = None
        attempt.seconds = time.perf_counter() - t0
        return attempt

    async def _read_body(self, response: httpx.Response, attempt: _Attempt, max_bytes: int, cut_ok: bool) -> None:
        encoding = response.headers.get("content-encoding", "").strip().lower()
        inflater: _Inflater | None = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            inflater = _Inflater(encoding)
        elif encoding not in ("", "identity"):
            attempt.error = "decode_error"
            attempt.message = f"unsupported Content-Encoding {encoding[:40]!r}"
            return
        chunks: list[bytes] = []
        size = 0
        raw = 0
        if response.is_stream_consumed:
            # Only injected transports (httpx.MockTransport) hand over a response already read and
            # decoded; the cap still applies.
            stream = _once(response.content)
            inflater = None
        else:
            stream = response.aiter_raw()
        try:
            async for chunk in stream:
                raw += len(chunk)
                if inflater is None:
                    size += len(chunk)
                    chunks.append(chunk)
                    if size > max_bytes:
                        raise _TooLarge
                else:
                    size += inflater.feed(chunk, max_bytes - size, chunks)
        except _TooLarge:
            if cut_ok:
                # robots.txt: what fits is parsed, the rest ignored (RFC 9309 2.5).
                attempt.body = b"".join(chunks)[:max_bytes]
                self.stats["bytes"] += len(attempt.body)
                return
            chunks.clear()
            attempt.error = "too_large"
            attempt.message = f"body larger than {max_bytes} bytes (after decompression)"
            return
        except zlib.error as exc:
            attempt.error = "decode_error"
            attempt.message = f"broken {encoding} body: {_short(exc)}"
            return
        finally:
            self.stats["raw_bytes"] += raw
        attempt.body = b"".join(chunks)
        self.stats["bytes"] += size
