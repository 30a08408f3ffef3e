"""The guarded transport: aiohttp's connection pool behind httpx's transport API (httpx-aiohttp).

httpx stays the client interface (requests, URLs, the `httpx.AsyncBaseTransport` that tests replace
with `httpx.MockTransport`); the exchange itself runs on aiohttp through httpx-aiohttp's
`AiohttpTransport`, which costs a third of httpx's own transport (httpcore) in client CPU per
request (docs/PERFORMANCE.md, scripts/bench_fetch.py). The session is configured for a crawler: no cookie
jar, no proxies or .netrc from the environment, no redirects, no decompression (the body limits
decode the raw bytes themselves), one pool with per-host limits.

The address guard sits in the pool's public resolver API (`aiohttp.TCPConnector(resolver=...)`):
every name is resolved by `GuardedResolver`, which refuses non-public answers, and aiohttp
connects to exactly the addresses it returned. aiohttp resolves nothing for hosts that look like
IP literals, so `Fetcher` judges those itself before any request (`guard.literal_address`).

`classify_error` maps what the transport can raise to the fetch error kinds of models.FETCH_ERRORS.
"""

from __future__ import annotations

import socket
import ssl

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport

from crawler.fetch.guard import BlockedAddress, Resolver, is_forbidden_address, system_resolver


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver hook: the host's addresses from `resolver`, refused if any is not public.

    `guard=False` keeps the resolver (so that tests can inject names) without the refusal.
    """

    def __init__(self, resolver: Resolver = system_resolver, *, guard: bool = True, timeout: float | None = None):
        self._resolve = resolver
        self._guard = guard
        self._timeout = timeout

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._resolve(host, port, self._timeout)
        if self._guard:
            for ip in addresses:
                if is_forbidden_address(ip):
                    raise BlockedAddress(f"{host} resolves to the non-public address {ip}")
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
        return [
            ResolveResult(
                hostname=host, host=str(ip), port=port,
                family=socket.AF_INET6 if ip.version == 6 else socket.AF_INET, proto=0, flags=0,
            )
            for ip in addresses
        ]

    async def close(self) -> None:
        return None


def guarded_transport(
    *,
    ssl_context: ssl.SSLContext,
    max_connections: int,
    max_per_host: int,
    keepalive_expiry: float,
    guard: bool,
    resolver: Resolver = system_resolver,
    resolve_timeout: float | None = None,
) -> httpx.AsyncBaseTransport:
    """The crawler's transport: one aiohttp pool, names resolved (and judged) by GuardedResolver."""

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(resolver, guard=guard, timeout=resolve_timeout),
            limit=max_connections,
            limit_per_host=max_per_host,
            keepalive_timeout=keepalive_expiry,
            ssl=ssl_context,
            use_dns_cache=False,  # every new connection is judged on a fresh answer
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # cookies are personal data: keep none, send none
            trust_env=False,  # no proxies or .netrc from the environment
            auto_decompress=False,  # body.read_body decodes within the caps
            skip_auto_headers=("User-Agent",),  # ours, set on every request
        )

    return AiohttpTransport(client=session)


def _caused_by(exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, kind):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def short(exc: BaseException) -> str:
    """An exception's message, short (httpx, aiohttp and zlib messages name the failure, never the payload)."""
    text = str(exc) or type(exc).__name__
    return text[:200]


# What a request may raise that is the site's doing (or the guard's), never a crawler bug.
REQUEST_ERRORS = (
    httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, aiohttp.ClientError, OSError, BlockedAddress,
    UnicodeError,
)


def _aiohttp_kind(exc: BaseException, body_started: bool) -> tuple[str, str] | None:
    """The error kind when aiohttp raised (httpx-aiohttp's own mapping is too coarse for us)."""
    if not _caused_by(exc, aiohttp.ClientError):
        return None
    message = short(exc)
    if _caused_by(exc, aiohttp.ServerTimeoutError):
        return "timeout", f"{type(exc).__name__}: {message}"
    if _caused_by(exc, aiohttp.ClientConnectorDNSError):
        return "dns_error", message
    if _caused_by(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return "connect_error", message
    if _caused_by(exc, aiohttp.ClientConnectorError):
        return "connect_error", message
    if _caused_by(exc, aiohttp.ClientPayloadError):
        return ("truncated", f"connection ended before the body was complete ({message})") if body_started \
            else ("protocol_error", message)
    if _caused_by(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        if body_started:
            return "truncated", f"connection ended before the body was complete ({message})"
        return "connect_error", message  # e.g. a kept-alive connection closed by the server as we reused it
    if _caused_by(exc, (aiohttp.NonHttpUrlClientError, aiohttp.InvalidURL)):
        return "blocked_scheme", message
    return "protocol_error", f"{type(exc).__name__}: {message}"  # malformed status line, header floods


def classify_error(exc: BaseException, body_started: bool) -> tuple[str, str]:
    """Map an exception from httpx/aiohttp/the guard to (error kind, short message)."""
    if _caused_by(exc, BlockedAddress):
        return "blocked_address", short(exc)
    kind = _aiohttp_kind(exc, body_started)
    if kind is not None:
        return kind
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
    if isinstance(exc, socket.gaierror):
        return "dns_error", short(exc)
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError, OSError)):
        return "connect_error", short(exc)
    return "protocol_error", f"{type(exc).__name__}: {short(exc)}"
