"""robots.txt per RFC 9309: one load per origin and cycle, cached, parsed with Protego.

2xx: the rules (the first 500 KiB, RFC 9309 2.5; Crawl-delay honoured up to a cap); 4xx: no rules;
429: the site asks us to slow down (`rate_limited`); 5xx: robots.txt is unreachable, a temporary
full disallow (RFC 9309 2.3.1.4): nothing else on the origin is requested in this cycle, and each
URL ends as `robots_unreachable` carrying robots.txt's status: an outage (every WordPress
database outage answers 500 or 503 there), not the site's wish, so never `blocked_by_robots`.
A network failure (DNS, refused, timeout, the address guard) is the same disallow, and each URL
carries that network error, since the whole host is what could not be reached.
Redirects are followed up to five hops, each passing the same checks as any other URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from protego import Protego

from crawler.fetch.retries import Attempt

ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309 2.5: parse at least this much; we parse exactly this much
ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 2.3.1.2
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

Get = Callable[[httpx.URL, int], Awaitable[Attempt]]  # url, max bytes -> the final attempt
Refuse = Callable[[httpx.URL], "Attempt | None"]  # why a URL may not be requested, or None


class Rules:
    """The rules of one origin: a Protego parser, or all-allowed / all-disallowed.

    `error` is set when robots.txt could not be read (`robots_unreachable` with `status` for a
    5xx, the network error kind otherwise): every URL of the origin then ends with that error
    rather than a misleading blocked_by_robots.
    """

    __slots__ = ("parser", "allow_all", "reason", "error", "crawl_delay", "status")

    def __init__(
        self,
        parser: Protego | None = None,
        allow_all: bool = False,
        reason: str = "",
        error: str | None = None,
        crawl_delay: float | None = None,
        status: int | None = None,
    ):
        self.parser = parser
        self.allow_all = allow_all
        self.reason = reason
        self.error = error
        self.crawl_delay = crawl_delay
        self.status = status  # robots.txt's HTTP status when it answered with an error


class RobotsCache:
    """robots.txt rules per origin, loaded once (concurrent fetches await the same load)."""

    def __init__(
        self,
        get: Get,
        refuse: Refuse,
        user_agent_token: str,
        *,
        cache_seconds: float,
        clock: Callable[[], float],
        on_rules: Callable[[httpx.URL, Rules], None] = lambda url, rules: None,
    ):
        self._get = get
        self._refuse = refuse
        self._token = user_agent_token
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._on_rules = on_rules
        self._origins: dict[tuple[str, str, int | None], tuple[float, asyncio.Future[Rules]]] = {}
        self.fetches = 0
        self.blocked = 0

    async def verdict(self, url: httpx.URL) -> Attempt | None:
        """None when robots.txt lets us fetch `url`, else the result that says why not."""
        key = (url.scheme, url.host, url.port)
        now = self._clock()
        entry = self._origins.get(key)
        if entry is None or now - entry[0] > self._cache_seconds:
            entry = (now, asyncio.ensure_future(self._load(url)))
            self._origins[key] = entry
        rules = await asyncio.shield(entry[1])
        if rules.allow_all:
            return None
        if rules.parser is not None and rules.parser.can_fetch(str(url), self._token):
            return None
        if rules.error is not None:
            return Attempt(error=rules.error, message=rules.reason, status=rules.status, sent=False)
        self.blocked += 1
        return Attempt(error="blocked_by_robots", message=rules.reason or "disallowed by robots.txt")

    def close(self) -> None:
        """Forget pending loads (at the end of a cycle)."""
        for _, future in self._origins.values():
            if not future.done():
                future.cancel()

    async def _load(self, url: httpx.URL) -> Rules:
        try:
            rules = await self._read(url)
        except Exception as exc:  # a bug here must not stop the crawl; RFC 9309: unreachable
            return Rules(reason=f"robots.txt unreadable ({type(exc).__name__}): assuming disallowed",
                         error="robots_unreachable")
        self._on_rules(url, rules)
        return rules

    async def _read(self, url: httpx.URL) -> Rules:
        current = url.copy_with(path="/robots.txt", query=None, fragment=None)
        for _ in range(ROBOTS_MAX_REDIRECTS + 1):
            refused = self._refuse(current)
            if refused:
                return Rules(reason=f"robots.txt redirected to a refused URL ({refused.error}: {refused.message})",
                             error="robots_unreachable")
            self.fetches += 1
            attempt = await self._get(current, ROBOTS_MAX_BYTES)
            status = attempt.status
            location = attempt.headers.get("location") if attempt.headers is not None else None
            if attempt.error is None and status in REDIRECT_STATUSES and location:
                try:
                    current = current.join(location.strip())
                except (httpx.InvalidURL, ValueError):
                    return Rules(allow_all=True)
                continue
            if status is not None and status >= 500:
                # Also when the 503 asked for a pause beyond our cap (the retries named it rate_limited).
                return Rules(
                    reason=f"robots.txt answered HTTP {status} ({current}): the site is failing, so nothing "
                    "else is requested from it in this cycle (RFC 9309)",
                    error="robots_unreachable", status=status,
                )
            if attempt.error is None and status is not None and 200 <= status < 300:
                return self._parse(attempt.body or b"")
            if attempt.error is None and status != 429:
                return Rules(allow_all=True)  # 4xx (and odd 1xx/3xx): no rules, RFC 9309 2.3.1.3
            if status == 429:
                return Rules(reason="robots.txt answered HTTP 429: site asks us to slow down", error="rate_limited",
                             status=429)
            # Unreachable (RFC 9309: assume disallowed); every URL of the origin reports why.
            return Rules(reason=f"robots.txt: {attempt.message}", error=attempt.error)
        return Rules(allow_all=True)  # too many redirects: unavailable, RFC 9309 2.3.1.2

    def _parse(self, body: bytes) -> Rules:
        try:
            parser = Protego.parse(body.decode("utf-8", errors="replace"))
        except Exception:  # protego is lenient; a crash on garbage means "no usable rules"
            return Rules(allow_all=True)
        delay = parser.crawl_delay(self._token)
        return Rules(parser=parser, reason="disallowed by robots.txt", crawl_delay=float(delay) if delay else None)
