"""The guarded transport: httpcore connection pools (one per origin) behind httpx's transport API.

`GuardedTransport` is an `httpx.AsyncBaseTransport` over an `httpcore.AsyncConnectionPool` whose
network backend is the address guard (`guard.GuardedBackend`), installed through the pool's
public `network_backend` argument. `PoolPerOrigin` keeps one such transport per origin.
`classify_error` maps what the transport can raise to the fetch error kinds of models.FETCH_ERRORS.
"""

from __future__ import annotations

import socket
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from types import TracebackType

import httpcore
import httpx

from crawler.fetch.guard import BlockedAddress, GuardedBackend, Resolver, system_resolver

# httpcore's exceptions and the httpx ones they stand for, most specific first.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _as_httpx(exc: Exception) -> Exception:
    for core, mapped in _EXCEPTIONS:
        if isinstance(exc, core):
            error = mapped(str(exc))
            error.__cause__ = exc
            return error
    return exc


class _CoreStream(httpx.AsyncByteStream):
    """httpcore's response stream as an httpx stream, with httpcore errors mapped."""

    __slots__ = ("_stream",)

    def __init__(self, stream: httpcore.AsyncIterable[bytes]):  # type: ignore[name-defined]
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except httpcore.TimeoutException as exc:  # subclasses first, as in _EXCEPTIONS
            raise _as_httpx(exc) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise _as_httpx(exc) from exc

    async def aclose(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if closer is not None:
            await closer()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one httpcore connection pool with the address guard as its backend."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        max_connections: int,
        keepalive_expiry: float,
        guard: bool,
        resolver: Resolver = system_resolver,
    ):
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=GuardedBackend(httpcore.AnyIOBackend(), resolver, guard=guard),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,  # type: ignore[arg-type]
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
                httpcore.UnsupportedProtocol) as exc:
            raise _as_httpx(exc) from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_CoreStream(response.stream),  # type: ignore[arg-type]
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()


class _OriginPool:
    __slots__ = ("transport", "active")

    def __init__(self, transport: httpx.AsyncBaseTransport):
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


class PoolPerOrigin(httpx.AsyncBaseTransport):
    """One small connection pool per origin instead of one big pool for the crawl.

    httpcore walks its whole pool (quadratically in its idle connections) at every request and
    every response close: with 32 connections that was half of the fetcher's CPU. A pool per
    origin holds at most per_host_concurrency connections. Pools idle beyond `max_pools` are
    closed, least recently used first, so that a crawl over thousands of hosts keeps few sockets.
    """

    def __init__(self, make: Callable[[], httpx.AsyncBaseTransport], max_pools: int):
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


def short(exc: BaseException) -> str:
    """An exception's message, short (httpx and zlib messages name the failure, never the payload)."""
    text = str(exc) or type(exc).__name__
    return text[:200]


# What a request may raise that is the site's doing (or the guard's), never a crawler bug.
REQUEST_ERRORS = (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, OSError, BlockedAddress, UnicodeError)


def classify_error(exc: BaseException, body_started: bool) -> tuple[str, str]:
    """Map an exception from httpx/httpcore/the guard to (error kind, short message)."""
    if _caused_by(exc, BlockedAddress):
        return "blocked_address", short(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"{type(exc).__name__}: {short(exc)}"
    if body_started and isinstance(exc, (httpx.TransportError, OSError)):
        return "truncated", f"connection ended before the body was complete ({short(exc)})"
    if isinstance(exc, httpx.ConnectError):
        if _caused_by(exc, socket.gaierror) or "resolve" in str(exc):
            return "dns_error", short(exc)
        return "connect_error", short(exc)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "blocked_scheme", short(exc)
    if isinstance(exc, httpx.RemoteProtocolError) and "without sending" in str(exc):
        # A kept-alive connection closed by the server as we reused it: transient.
        return "connect_error", short(exc)
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError, OSError)):
        return "connect_error", short(exc)
    return "protocol_error", f"{type(exc).__name__}: {short(exc)}"
