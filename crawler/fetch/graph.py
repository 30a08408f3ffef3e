"""`GraphTransport`: the HTTP exchange with Meta's Graph API, guarded and bounded like every request.

The Graph API is not crawled: there is no robots.txt to read and no redirect to walk, but the rest of
the fetcher's discipline holds. The address guard (the configured base URL must be public unless the
demo or a test allows loopback), a total deadline per call, a cap on the body, bounded retries of
transient failures with backoff (Retry-After honoured up to the cap), our User-Agent with its
contact. The token travels in the `Authorization: Bearer` header, never in the URL, so the URL
stored on a check and any message naming it carry no secret; the token is never logged.

    async with GraphTransport(settings) as graph:
        fetched = await graph.get(url, token)       # a models.Fetched, never raises

Pacing between calls (the usage headers, codes 4/17/32/613) is the caller's (crawler/meta/client.py):
this module only reports what came back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from types import TracebackType

import httpx

from crawler.clock import utcnow
from crawler.fetch import guard
from crawler.fetch.fetcher import exchange
from crawler.fetch.guard import Resolver, system_resolver
from crawler.fetch.retries import Attempt, RetryPolicy
from crawler.fetch.transport import guarded_transport, short
from crawler.models import Fetched
from crawler.settings import Settings, require_contact

MAX_BODY = 1024 * 1024  # a Graph answer for our requests is a few KiB
# Headers the Graph client reads: the usage headers it throttles from, Retry-After, and the body's
# Content-Encoding (for the shared exchange to decode it).
GRAPH_HEADERS = ("content-type", "content-encoding", "retry-after", "x-app-usage", "x-business-use-case-usage", "x-page-usage",
                 "x-ad-account-usage", "www-authenticate")


_WANTED = frozenset(name.encode() for name in GRAPH_HEADERS)


def _kept(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The GRAPH_HEADERS of an answer, lower-case names (nothing else travels further)."""
    kept: dict[str, str] = {}
    for name, value in raw:
        name = name.lower()
        if name in _WANTED:
            key, text = name.decode(), value.decode("latin-1").strip()
            kept[key] = f"{kept[key]}, {text}" if key in kept else text
    return kept


class GraphTransport:
    """The Graph API's HTTP client for one crawl cycle (it holds a connection pool)."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = system_resolver,
        backoff_base: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        wall: Callable[[], datetime] = utcnow,
    ):
        require_contact(settings)
        self.settings = settings
        self.requests = 0
        self._clock = clock
        self._wall = wall
        self._retry = RetryPolicy(settings.retries, settings.retry_after_cap, backoff_base=backoff_base, sleep=sleep)
        if transport is None:
            transport = guarded_transport(
                ssl_context=httpx.create_ssl_context(trust_env=False),
                max_connections=2, max_per_host=2, keepalive_expiry=30.0,
                guard=not settings.allow_private_addresses, resolver=resolver,
                resolve_timeout=settings.connect_timeout,
            )
        self._transport = transport
        self._headers = [
            ("User-Agent", settings.user_agent),
            ("Accept", "application/json"),
            ("Accept-Encoding", "gzip, deflate"),
        ]
        self._extensions = {"timeout": httpx.Timeout(connect=settings.connect_timeout, read=settings.read_timeout,
                                                     write=settings.read_timeout, pool=settings.deadline).as_dict()}

    async def __aenter__(self) -> GraphTransport:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def get(self, url: str, token: str) -> Fetched:
        """GET `url` (which carries no token) with `token` as a Bearer credential; never raises."""
        started_at = self._wall()
        t0 = self._clock()
        sent = 0
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            return Fetched(url=url, final_url=url, error="protocol_error", error_message=f"invalid URL: {short(exc)}",
                           started_at=started_at, attempts=0)
        refused = self._refuse(target)
        if refused:
            return Fetched(url=url, final_url=url, error="blocked_address", error_message=refused,
                           started_at=started_at, attempts=0)

        async def once() -> Attempt:
            nonlocal sent
            sent += 1
            return await self._request(target, token)

        attempt = await self._retry.run(once)
        self._retry.name_failure(attempt)
        return Fetched(url=url, final_url=url, status=attempt.status, headers=attempt.headers or {},
                       body=attempt.body, elapsed_ms=int((self._clock() - t0) * 1000), error=attempt.error,
                       error_message=attempt.message, started_at=started_at, attempts=sent)

    def _refuse(self, url: httpx.URL) -> str | None:
        if url.scheme not in ("http", "https") or not url.host:
            return "the Graph API base URL must be http(s) with a host"
        if self.settings.allow_private_addresses:
            return None
        try:
            ip = guard.literal_address(url.host)
        except ValueError as exc:
            return str(exc)
        if ip is not None and guard.is_forbidden_address(ip):
            return f"{url.host} is not a public address"
        return None

    async def _request(self, url: httpx.URL, token: str) -> Attempt:
        self.requests += 1
        headers = [*self._headers, ("Authorization", f"Bearer {token}")]
        attempt, _ = await exchange(self._transport, url, headers, self._extensions, deadline=self.settings.deadline,
                                    max_bytes=MAX_BODY, keep=_kept, wall=self._wall, clock=self._clock)
        return attempt
