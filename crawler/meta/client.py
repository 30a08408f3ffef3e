"""`MetaClient`: one crawl cycle's use of Meta's Graph API, paced by Meta's own usage figures.

    async with MetaClient(settings) as meta:
        read = await meta.read(account, now)     # ApiRead: an Observation, or why the API cannot tell
        await meta.instagram_user(name, now)     # the same for a bare username (crawler discover)
        meta.status()                            # ApiStatus: ok / token_invalid / throttled / ...

Instagram accounts are read by Business Discovery through the administration's own professional
account; Facebook Pages by their `published_posts`, for the Pages the administration manages (listed
once a cycle from /me/accounts, page by page, with their Page tokens kept in memory only).

Pacing: calls go one at a time, `call_interval` apart; when a usage header reports more than
`slowdown_percent` of a limit the wait grows linearly to sixty times that (at least a minute) near
100 %. At 100 %, or on a throttling error (codes 4, 17, 32, 613, BUC 80000-80014), no call is made
until Meta's estimated time to regain access (else Retry-After, else an hour) has passed: waited for
when it is within `retry_after_cap`, otherwise the rest of the cycle goes without the API.

A refused token (codes 190, 102) stops every call for the cycle at once: one ops incident, not a
cycle of errors. Missing permissions (10, 200-299) stop the reader that needs them. Nothing here
says "gone": a username or Page the API does not find is `not_found` for the route to confirm.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import TracebackType

from crawler import log, platforms
from crawler.fetch.graph import GraphTransport
from crawler.meta import graph
from crawler.meta.token import Token, load
from crawler.models import Account, Fetched, Observation
from crawler.platforms import facebook, instagram
from crawler.settings import Settings

DEFAULT_PAUSE = 3600.0  # seconds without calls after a throttling error that names no time
MAX_SLOWDOWN = 60.0  # the wait near 100 % of a limit, in call intervals

NOTE_NOT_CONFIGURED = "Graph API not configured (settings.meta names no token source)"
NOTE_NO_IG_USER = "settings.meta.instagram_user_id is not set: Business Discovery needs the administration's account"
NOTE_IG_NOT_FOUND = ("not found through Business Discovery (a personal account, a renamed one and a removed "
                     "one look alike)")
NOTE_PERSONAL = "personal Instagram account: not readable through the API"
NOTE_UNMANAGED = ("Facebook Page not among those the administration manages (reading it through the API "
                  "needs Meta's Page Public Content Access)")
NOTE_NO_NAME = "the URL names no account the Graph API can look up"
_READER = {"pages": "page_posts"}  # the Page list serves the Page posts reader


@dataclass(frozen=True)
class ApiRead:
    """What the Graph API told about one account.

    result: "read" (an Observation, exact dates), "not_found" (the API does not know the account:
    never "gone" by itself), "unmanaged" (a Page outside the administration's Business Manager),
    "unavailable" (the API could not be asked: token, throttling, permissions, an error) or
    "not_configured".
    """

    result: str
    note: str
    observation: Observation | None = None
    fetched: Fetched | None = None


@dataclass(frozen=True)
class ApiStatus:
    """The Graph API's state after (or during) a cycle, for `crawler status` and ops alerts."""

    api: str  # "meta"
    state: str  # ok | token_invalid | token_unusable | throttled | permission | error
    detail: str  # what happened, in words (Meta's error code and message; never the token)
    calls: int  # Graph API calls made this cycle
    usage_percent: float | None  # the highest usage Meta reported this cycle


def slowdown(usage_percent: float | None, call_interval: float, slowdown_percent: float) -> float:
    """Seconds to leave between two calls at this usage (pure: the pacing rule of the module doc)."""
    if usage_percent is None or usage_percent < slowdown_percent:
        return call_interval
    share = min(1.0, (usage_percent - slowdown_percent) / max(1e-9, 100.0 - slowdown_percent))
    return max(call_interval, 1.0) * (1.0 + (MAX_SLOWDOWN - 1.0) * share)


class MetaClient:
    """The Graph API for one cycle. Never raises from `read`: every failure is an ApiRead."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: GraphTransport | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_status: Callable[[ApiStatus], None] | None = None,
    ):
        self.settings = settings
        self.meta = settings.meta
        self._environ = environ
        self._transport = transport
        self._owns_transport = transport is None
        self._clock = clock
        self._sleep = sleep
        self.on_status = on_status  # told when the state changes (crawl records it at once)
        self._lock = asyncio.Lock()
        self._token: Token | None = None
        self._token_loaded = False
        self._state = "ok"
        self._detail = ""
        self._stopped: str | None = None  # every call refused for the cycle, and why
        self._reader_stopped: dict[str, str] = {}  # "business_discovery" / "page_posts": why
        self._paused_until = float("-inf")
        self._pause_reason = ""
        self._last_call = float("-inf")
        self._usage = graph.Usage()
        self._peak: float | None = None
        self._pages: dict[str, graph.ManagedPage] | None = None
        self._pages_task: asyncio.Task | None = None
        self.calls = 0
        self.used = False  # a read was asked for (the API is part of this cycle)
        self.page_size = 100  # Pages per /me/accounts request (Meta's maximum for the edge)

    @property
    def configured(self) -> bool:
        return self.meta.configured

    async def __aenter__(self) -> MetaClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._transport is not None and self._owns_transport:
            await self._transport.aclose()
        self._transport = None
        self._pages = None  # Page tokens live no longer than the cycle

    # -- what the rest of the crawler asks -------------------------------------------------------

    def status(self) -> ApiStatus:
        detail = self._detail or (f"{self.calls} call{'s' if self.calls != 1 else ''} this cycle")
        return ApiStatus("meta", self._state, detail, self.calls, self._peak)

    def reader_of(self, account: Account) -> str | None:
        """The API reader that can read this account's platform ("business_discovery"...), or None."""
        found = platforms.get(account.platform)
        return found.api if found is not None else None

    async def read(self, account: Account, now: datetime) -> ApiRead:
        """Ask the Graph API about one account (never raises)."""
        self.used = True
        reader = self.reader_of(account)
        if reader is None or not self.meta.configured:
            return ApiRead("not_configured", NOTE_NOT_CONFIGURED)
        if reader == "business_discovery" and not self.meta.instagram_user_id:
            return ApiRead("not_configured", NOTE_NO_IG_USER)
        blocked = self._blocked(reader)
        if blocked:
            return ApiRead("unavailable", blocked)
        if reader == "business_discovery":
            return await self._instagram(account, now)
        return await self._facebook(account, now)

    # -- readers --------------------------------------------------------------------------------

    async def instagram_user(self, username: str, now: datetime) -> ApiRead:
        """Business Discovery of one username (discovery asks whether a username found on a page is a
        professional account): "read" with its Observation, "not_found" (personal, renamed, missing:
        alike), or "unavailable"/"not_configured" with why. Never raises."""
        self.used = True
        if not self.meta.configured:
            return ApiRead("not_configured", NOTE_NOT_CONFIGURED)
        if not self.meta.instagram_user_id:
            return ApiRead("not_configured", NOTE_NO_IG_USER)
        blocked = self._blocked("business_discovery")
        if blocked:
            return ApiRead("unavailable", blocked)
        return await self._instagram(Account("", "", "", "instagram", f"https://www.instagram.com/{username}/"), now)

    async def _instagram(self, account: Account, now: datetime) -> ApiRead:
        handle = instagram.handle_of(account.url)
        if not handle or not graph.USERNAME.match(handle):
            return ApiRead("not_found", NOTE_NO_NAME)
        request = graph.business_discovery(self.meta.instagram_user_id or "", handle)
        fetched, error = await self._call(request)
        return self._reading(request, fetched, error, graph.read_business_discovery, account, now, NOTE_IG_NOT_FOUND)

    async def _facebook(self, account: Account, now: datetime) -> ApiRead:
        name = facebook.page_name(account.url)
        if not name:
            return ApiRead("not_found", NOTE_NO_NAME)
        pages = await self._managed_pages()
        if pages is None:
            return ApiRead("unavailable", self._blocked("page_posts") or "the administration's Pages could not be listed")
        page = pages.get(name)
        if page is None:
            return ApiRead("unmanaged", NOTE_UNMANAGED)
        request = graph.page_posts(page.id)
        fetched, error = await self._call(request, page.token)
        return self._reading(request, fetched, error, graph.read_page_posts, account, now,
                             "the managed Page was not found through the Graph API")

    def _reading(self, request: graph.GraphRequest, fetched: Fetched | None, error: graph.GraphError | None,
                 read: Callable[..., Observation], account: Account, now: datetime, not_found: str) -> ApiRead:
        """What one call's answer says of the account: read by `read`, not found, or unavailable."""
        if fetched is None:
            return ApiRead("unavailable", error.label() if error else self._blocked(request.kind) or "")
        if error is None:
            obs = read(fetched.body, now, self.settings, source_url=fetched.url, platform=account.platform)
            if obs.exists:
                return ApiRead("read", obs.reason, obs, fetched)
            return ApiRead("unavailable", obs.reason, None, replace(fetched, error="api_error",
                                                                    error_message=obs.reason))
        if error.kind == "not_found":
            return ApiRead("not_found", not_found, None, fetched)
        return ApiRead("unavailable", error.label(), None, fetched)

    async def _managed_pages(self) -> dict[str, graph.ManagedPage] | None:
        """The managed Pages by name, listed once a cycle (concurrent readers wait for one listing)."""
        if self._pages is not None:
            return self._pages
        if self._pages_task is None:
            self._pages_task = asyncio.ensure_future(self._list_pages())
        return await asyncio.shield(self._pages_task)

    async def _list_pages(self) -> dict[str, graph.ManagedPage] | None:
        found: dict[str, graph.ManagedPage] = {}
        after: str | None = None
        for _ in range(max(1, graph.MAX_PAGES_LISTED // self.page_size)):
            request = graph.managed_pages(after, self.page_size)
            fetched, error = await self._call(request)
            if fetched is None or error is not None:
                if error is not None and error.kind not in ("token", "throttled"):
                    self._stop_reader("page_posts", "permission" if error.kind == "permission" else "error",
                                      f"the administration's Pages could not be listed: {error.label()}")
                return None
            pages, after = graph.read_managed_pages(fetched.body, facebook.page_name)
            for page in pages:
                for name in page.names:
                    found.setdefault(name, page)
            if after is None:
                break
        self._pages = found
        return found

    # -- calls, pacing and the breakers -----------------------------------------------------------

    def _blocked(self, reader: str) -> str | None:
        reader = _READER.get(reader, reader)
        if self._stopped:
            return self._stopped
        if reader in self._reader_stopped:
            return self._reader_stopped[reader]
        if self._clock() < self._paused_until:
            return self._pause_reason
        return None

    def _token_now(self) -> Token | None:
        if not self._token_loaded:
            self._token_loaded = True
            self._token, problem = load(self.meta, self._environ)
            if problem:
                self._set_state("token_unusable", f"Graph API not used: {problem}", stop=True)
                log.event("meta.token_unusable", level=40, problem=problem)
        return self._token

    def _set_state(self, state: str, detail: str, *, stop: bool = False) -> None:
        self._state, self._detail = state, detail
        if stop:
            self._stopped = detail
        if self.on_status is not None:
            self.on_status(self.status())

    def _stop_reader(self, reader: str, state: str, detail: str) -> None:
        self._reader_stopped[reader] = detail
        self._set_state(state, detail)
        log.event("meta.reader_stopped", level=30, reader=reader, detail=detail)

    async def _call(self, request: graph.GraphRequest, page_token: str | None = None
                    ) -> tuple[Fetched | None, graph.GraphError | None]:
        """One paced call: (the answer, its error) or (None, None) when it was not made (see _blocked).
        A throttling answer whose pause was waited out is asked once more."""
        fetched, error = await self._call_once(request, page_token)
        if error is not None and error.kind == "throttled" and not self._blocked(request.kind):
            fetched, error = await self._call_once(request, page_token)
        return fetched, error

    async def _call_once(self, request: graph.GraphRequest, page_token: str | None
                         ) -> tuple[Fetched | None, graph.GraphError | None]:
        async with self._lock:
            token = self._token_now()
            if token is None or self._blocked(request.kind):
                return None, None
            wait = self._last_call + slowdown(self._usage.percent, self.meta.call_interval,
                                              self.meta.slowdown_percent) - self._clock()
            if wait > 0:
                await self._sleep(wait)
            if self._blocked(request.kind):
                return None, None
            if self._transport is None:
                self._transport = GraphTransport(self.settings)
            url = request.url(self.meta.base_url, self.meta.api_version)
            fetched = await self._transport.get(url, page_token or token.reveal())
            self._last_call = self._clock()
            self.calls += 1
            usage = graph.usage_of(fetched.headers)
            self._usage = self._usage.merge(usage)
            if usage.percent is not None:
                self._peak = usage.percent if self._peak is None else max(self._peak, usage.percent)
            error = graph.error_of(fetched.status, fetched.body) if fetched.error is None or fetched.body else None
            if fetched.error is not None and error is None:
                error = graph.GraphError(None, None, None, fetched.error_message or fetched.error,
                                         fetched.status, transient=True)
            if error is not None and fetched.error is None:
                fetched = replace(fetched, error="rate_limited" if error.kind == "throttled" else "api_error",
                                  error_message=error.label())
            await self._after(request, fetched, error, usage)
            return fetched, error

    async def _after(self, request: graph.GraphRequest, fetched: Fetched, error: graph.GraphError | None,
                     usage: graph.Usage) -> None:
        """Open the breakers an answer calls for; back off when Meta says the limit is reached."""
        if error is not None and error.kind == "token":
            detail = f"the access token was refused ({error.label()}): renew it (docs/META.md)"
            log.event("meta.token_invalid", level=40, code=error.code, subcode=error.subcode)
            self._set_state("token_invalid", detail, stop=True)
            return
        if error is not None and error.kind == "permission":
            self._stop_reader(_READER.get(request.kind, request.kind), "permission", f"permission missing for {request.kind}: {error.label()}")
            return
        throttled = error is not None and error.kind == "throttled"
        if throttled or (usage.percent is not None and usage.percent >= 100):
            retry_after = None
            raw = fetched.headers.get("retry-after")
            if raw and raw.strip().isdigit():
                retry_after = float(raw.strip())
            pause = usage.regain_seconds or retry_after or DEFAULT_PAUSE
            why = error.label() if throttled and error is not None else f"usage at {usage.percent:.0f} % of a limit"
            log.event("meta.throttled", level=30, pause_s=round(pause), reason=why)
            self._state, self._detail = "throttled", f"Graph API rate limit reached ({why})"
            if pause <= self.settings.retry_after_cap:
                self._last_call = self._clock() + pause - self.meta.call_interval  # the next call waits it out
            else:
                self._paused_until = self._clock() + pause
                self._pause_reason = (f"Graph API not called: rate limit reached ({why}); no calls for "
                                      f"{pause / 60:.0f} min")
            if self.on_status is not None:
                self.on_status(self.status())
        elif error is None and self._state == "throttled":
            self._state, self._detail = "ok", ""
