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
from crawler.fetch.body import read_body
from crawler.fetch.fetcher import _once
from crawler.fetch.guard import Resolver, system_resolver
from crawler.fetch.retries import Attempt, RetryPolicy, retry_after_seconds
from crawler.fetch.transport import REQUEST_ERRORS, classify_error, guarded_transport, short
from crawler.models import Fetched
from crawler.settings import Settings, require_contact

MAX_BODY = 1024 * 1024  # a Graph answer for our requests is a few KiB
# Headers the Graph client reads: the usage headers it throttles from, and Retry-After.
GRAPH_HEADERS = ("content-type", "retry-after", "x-app-usage", "x-business-use-case-usage", "x-page-usage",
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
        attempt = Attempt()
        body_started = False
        t0 = self._clock()
        try:
            async with asyncio.timeout(self.settings.deadline):
                headers = [*self._headers, ("Authorization", f"Bearer {token}")]
                request = httpx.Request("GET", url, headers=headers, extensions=self._extensions)
                response = await self._transport.handle_async_request(request)
                response.request = request
                try:
                    attempt.status = response.status_code
                    attempt.headers = _kept(response.headers.raw)
                    if response.status_code in (429, 503):
                        attempt.retry_after = retry_after_seconds(attempt.headers.get("retry-after"), self._wall())
                    body_started = True
                    consumed = response.is_stream_consumed
                    chunks = _once(response.content) if consumed else aiter(response.stream)  # type: ignore[arg-type]
                    encoding = "" if consumed else response.headers.get("content-encoding", "")
                    body = await read_body(chunks, encoding, MAX_BODY)
                    attempt.body, attempt.error, attempt.message = body.data, body.error, body.message
                finally:
                    await response.aclose()
        except TimeoutError:
            attempt.error = "deadline_exceeded"
            attempt.message = f"no complete answer within {self.settings.deadline:g} s"
            attempt.body = None
        except REQUEST_ERRORS as exc:
            attempt.error, attempt.message = classify_error(exc, body_started)
            attempt.body = None
        attempt.seconds = self._clock() - t0
        return attempt
