"""`Fetcher`: one visit of one URL, composed of the parts of this package.

For each hop of the redirect walk: the scheme and address checks, robots.txt (`robots`), then the
request under the per-host scheduler (`hosts`) and the retry policy (`retries`), sent through the
guarded transport (`transport`, `guard`) with a total deadline and read within the body limits
(`body`). Every visit ends as a `crawler.models.Fetched`; network failures are values, never
exceptions. Nothing here logs or keeps a response body beyond returning it to the caller.
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
from crawler.fetch.body import Body, read_body
from crawler.fetch.conditional import conditional_headers
from crawler.fetch.guard import Resolver, system_resolver
from crawler.fetch.hosts import HostDeferred, HostScheduler
from crawler.fetch.retries import Attempt, RetryPolicy, retry_after_seconds
from crawler.fetch.robots import REDIRECT_STATUSES, RobotsCache, Rules
from crawler.fetch.transport import REQUEST_ERRORS, classify_error, guarded_transport, short
from crawler.models import Fetched
from crawler.settings import Settings, require_contact

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
    "x-wp-total",  # the WordPress REST API's post count (issue 13 defect 7)
)
_KEPT = frozenset(name.encode() for name in KEPT_HEADERS)
ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,application/json;q=0.8,*/*;q=0.5"
)


def _decode(value: bytes) -> str:
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")


def kept_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The KEPT_HEADERS of a response, lower-case names, repeated fields joined with ", " (as httpx does).

    One pass over the raw headers: httpx.Headers lookups normalise every field on every access.
    """
    kept: dict[str, str] = {}
    for name, value in raw:
        name = name.lower()
        if name in _KEPT:
            key = name.decode()
            text = _decode(value).strip()
            kept[key] = f"{kept[key]}, {text}" if key in kept else text
    return kept


async def _once(data: bytes):  # type: ignore[no-untyped-def]
    yield data


async def exchange(transport: httpx.AsyncBaseTransport, url: httpx.URL, headers: list[tuple[str, str]],
                   extensions: dict, *, deadline: float, max_bytes: int, keep: Callable[[list], dict[str, str]],
                   wall: Callable[[], datetime], clock: Callable[[], float],
                   cut_ok: bool = False) -> tuple[Attempt, Body | None]:
    """One GET through `transport` within `deadline`, its body read within the caps, never raising:
    the Attempt (status, the headers `keep` takes, Retry-After, body or error kind) and the Body read
    (None when none was). The one exchange of the crawl's Fetcher and of the Graph API's transport."""
    attempt = Attempt()
    body: Body | None = None
    body_started = False
    t0 = clock()
    try:
        async with asyncio.timeout(deadline):
            request = httpx.Request("GET", url, headers=headers, extensions=extensions)
            response = await transport.handle_async_request(request)
            response.request = request
            try:
                attempt.status = response.status_code
                attempt.headers = keep(response.headers.raw)
                if response.status_code in (429, 503):
                    attempt.retry_after = retry_after_seconds(attempt.headers.get("retry-after"), wall())
                body_started = True
                # Only injected transports (httpx.MockTransport) hand over a response already
                # read and decoded; the caps still apply.
                consumed = response.is_stream_consumed
                chunks = _once(response.content) if consumed else aiter(response.stream)  # type: ignore[arg-type]
                encoding = "" if consumed else attempt.headers.get("content-encoding", "")
                body = await read_body(chunks, encoding, max_bytes, cut_ok=cut_ok)
                attempt.body, attempt.error, attempt.message = body.data, body.error, body.message
            finally:
                await response.aclose()
    except TimeoutError:
        attempt.error = "deadline_exceeded"
        attempt.message = f"no complete response within {deadline:g} s"
        attempt.body = None
    except REQUEST_ERRORS as exc:
        attempt.error, attempt.message = classify_error(exc, body_started)
        attempt.body = None
    attempt.seconds = clock() - t0
    return attempt, body


class Fetcher:
    """The crawl's HTTP client; share one per crawl cycle (it holds the pools and robots cache).

        async with Fetcher(settings) as fetcher:
            fetched = await fetcher.fetch(url, etag=previous_etag)

    `stats` counts, for benchmarks and the run summary: fetches (calls of `fetch`), requests (sent,
    robots.txt and retries included), retries, redirects, raw_bytes (as received), bytes (after
    decompression), robots_fetches, robots_blocked, not_modified, errors.

    Injectable for tests: `backoff_base` scales the exponential retry backoff; `clock` (monotonic
    seconds) and `sleep` drive politeness and retry waits; `wall` gives the time of day (started_at,
    Retry-After dates); `resolver` answers name lookups at connect time (the guard judges what it
    returns); `transport` replaces the network (the connect-time guard then does not apply, only
    the check of literal IP hosts).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backoff_base: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        wall: Callable[[], datetime] = utcnow,
    ):
        require_contact(settings)  # the one door to the network refuses a placeholder contact
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
        self._wall = wall
        self._clock = clock
        per_host = max(1, settings.per_host_concurrency)
        self._hosts = HostScheduler(settings.concurrency, per_host, settings.host_delay, clock=clock, sleep=sleep)
        self._retry = RetryPolicy(
            settings.retries, settings.retry_after_cap, backoff_base=backoff_base, sleep=sleep,
            on_retry=self._count_retry,
        )
        self._robots = RobotsCache(
            self._robots_get, self._refuse_target, settings.user_agent_name,
            cache_seconds=settings.robots_cache_hours * 3600, clock=clock, on_rules=self._apply_crawl_delay,
        )
        if transport is None:
            transport = guarded_transport(
                ssl_context=httpx.create_ssl_context(trust_env=False),  # loading CAs costs ~30 ms: once
                max_connections=max(1, settings.concurrency),
                # Requests to one host are limited to per_host_concurrency by the scheduler, so a
                # host never needs more connections than that.
                max_per_host=per_host,
                keepalive_expiry=10.0,
                guard=not settings.allow_private_addresses,
                resolver=resolver,
                resolve_timeout=settings.connect_timeout,
            )
        self._transport = transport
        # Requests are built here rather than by httpx.AsyncClient, whose send adds only what we never
        # use (auth, redirects, cookies, hooks) and whose build_request parses every URL again. No
        # cookies are kept or sent (they are personal data and would make visits differ), no proxy
        # or .netrc is read from the environment, and redirects are walked by `fetch`.
        self._mobile_ua = ("User-Agent", settings.mobile_user_agent)
        self._headers = [
            ("User-Agent", settings.user_agent),
            ("Accept", ACCEPT),
            ("Accept-Language", "sv,en;q=0.7"),
            # No br: we decode ourselves with a size cap, and only zlib lets us bound output.
            ("Accept-Encoding", "gzip, deflate"),
        ]
        self._extensions = {
            "timeout": httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.deadline,
            ).as_dict()
        }

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
        """Close the connection pools and forget pending robots.txt loads."""
        self._robots.close()
        await self._transport.aclose()

    # -- the public entry point -------------------------------------------------------------

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    mobile: bool = False) -> Fetched:
        """GET `url` politely (conditionally when etag/last_modified are given); never raises.

        `mobile` sends settings.mobile_user_agent (platforms declared `mobile`, e.g. Instagram,
        whose public pages tell a phone what they hide from a desktop); robots.txt is asked as always.

        `redirects` lists every URL redirected to, in order; `final_url` is the last URL
        considered (the one answered, or the one refused). `elapsed_ms` is time spent in requests
        (politeness waits and retry backoff excluded); `attempts` counts requests for this URL, 0
        when it was refused before any (robots.txt, scheme, address).
        """
        self.stats["fetches"] += 1
        started_at = self._wall()
        headers = conditional_headers(etag, last_modified)
        redirects: list[str] = []
        attempts = 0
        network = 0.0  # seconds spent in requests: politeness waits and backoff are not the site's

        def done(final: str, attempt: Attempt) -> Fetched:
            if attempt.error:
                self.stats["errors"] += 1
            elif attempt.status == 304:
                self.stats["not_modified"] += 1
            kept = attempt.headers if attempt.headers is not None else {}
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
            return done(url, Attempt(error="protocol_error", message=f"invalid URL: {short(exc)}"))

        while True:
            refused = self._refuse_target(current)
            if refused:
                return done(str(current), refused)
            if self.settings.respect_robots:
                robots = await self._robots.verdict(current)
                self.stats["robots_fetches"] = self._robots.fetches
                self.stats["robots_blocked"] = self._robots.blocked
                if robots is not None:
                    return done(str(current), robots)
            attempt, tries, seconds = await self._with_retries(current, headers, self.settings.max_body_bytes, False,
                                                               mobile)
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
                    if current.userinfo:  # a site's password is never sent, logged or stored: public pages only
                        current = current.copy_with(userinfo=b"")
                except (httpx.InvalidURL, ValueError) as exc:
                    attempt.error = "protocol_error"
                    attempt.message = f"invalid redirect location: {short(exc)}"
                    return done(str(current), attempt)
                redirects.append(str(current))
                self.stats["redirects"] += 1
                continue
            return done(str(current), attempt)

    # -- checks before a request ------------------------------------------------------------

    def _refuse_target(self, url: httpx.URL) -> Attempt | None:
        if url.scheme not in ("http", "https"):
            return Attempt(error="blocked_scheme", message=f"scheme {url.scheme or '(none)'!r} is not http(s)")
        if not url.host:
            return Attempt(error="protocol_error", message="URL has no host")
        if not self.settings.allow_private_addresses:
            try:
                ip = guard.literal_address(url.host)
            except ValueError as exc:
                return Attempt(error="blocked_address", message=str(exc))
            if ip is None:
                return None  # a name: checked at connect time, against what it resolves to
            if guard.is_forbidden_address(ip):
                return Attempt(error="blocked_address", message=f"{url.host} is not a public address")
        return None

    async def _robots_get(self, url: httpx.URL, max_bytes: int) -> Attempt:
        attempt, _, _ = await self._with_retries(url, {}, max_bytes, True)
        return attempt

    def _apply_crawl_delay(self, url: httpx.URL, rules: Rules) -> None:
        if rules.crawl_delay:
            # Honour Crawl-delay, but no more than we would wait for a Retry-After: a site asking
            # for an hour between requests is visited at that cap instead.
            self._hosts.raise_delay(url.host, url.port, min(rules.crawl_delay, self.settings.retry_after_cap))

    # -- requests ---------------------------------------------------------------------------

    def host_pauses(self, longer_than: float = 60.0) -> dict[str, float]:
        """Hosts still asking for a pause (Retry-After, a deferral) of more than `longer_than`
        seconds: seconds remaining, by host name. The service carries them into its next passes."""
        return self._hosts.pauses(longer_than)

    def _count_retry(self) -> None:
        self.stats["retries"] += 1

    async def _with_retries(
        self, url: httpx.URL, headers: dict[str, str], max_bytes: int, cut_ok: bool, mobile: bool = False
    ) -> tuple[Attempt, int, float]:
        """The final attempt, the number of requests made and their total duration in seconds."""
        count = 0
        seconds = 0.0

        async def once() -> Attempt:
            nonlocal count, seconds
            attempt = await self._polite_request(url, headers, max_bytes, cut_ok, mobile)
            count += attempt.sent
            seconds += attempt.seconds
            return attempt

        attempt = await self._retry.run(once)
        defer = self._retry.name_failure(attempt)
        if defer is not None:
            self._hosts.defer(url.host, url.port, defer)
        return attempt, count, seconds

    async def _polite_request(
        self, url: httpx.URL, headers: dict[str, str], max_bytes: int, cut_ok: bool, mobile: bool = False
    ) -> Attempt:
        try:
            async with self._hosts.turn(url.host, url.port):
                attempt = await self._request(url, headers, max_bytes, cut_ok, mobile)
                if attempt.retry_after is not None and attempt.retry_after <= self.settings.retry_after_cap:
                    # The server asked the whole host to slow down, not only this URL.
                    self._hosts.pause(url.host, url.port, attempt.retry_after)
                return attempt
        except HostDeferred as exc:
            return Attempt(error="rate_limited", message=str(exc), sent=False)

    async def _request(self, url: httpx.URL, conditional: dict[str, str], max_bytes: int, cut_ok: bool,
                       mobile: bool = False) -> Attempt:
        self.stats["requests"] += 1
        headers = self._headers + list(conditional.items())
        if mobile:
            headers = [self._mobile_ua, *headers[1:]]  # the User-Agent is the first header
        attempt, body = await exchange(self._transport, url, headers, self._extensions, deadline=self.settings.deadline,
                                       max_bytes=max_bytes, keep=kept_headers, wall=self._wall, clock=self._clock,
                                       cut_ok=cut_ok)
        if body is not None:
            self.stats["raw_bytes"] += body.raw
            self.stats["bytes"] += body.size
        return attempt
