"""The per-host scheduler: politeness across one crawl, on an injectable clock.

Per host (host and port): at most `per_host` requests at once, request *starts* spaced by the
host's delay (settings, raised by robots.txt's Crawl-delay or a Retry-After), and a deferral when
the host asked for a longer pause than we wait for. Over all hosts: at most `concurrency`
requests in flight. `clock` (monotonic seconds) and `sleep` are injected so that tests of spacing
and Retry-After run on a simulated clock, independent of the machine's speed.

    scheduler = HostScheduler(16, 1, settings.host_delay)
    async with scheduler.turn(host, port):      # raises HostDeferred when the host asked for a pause
        ...                                     # one request
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


class HostDeferred(Exception):
    """The host asked for a pause longer than we wait: no request to it this cycle."""

    def __init__(self, remaining: float):
        super().__init__(f"host asked for a pause of {remaining:.0f} s more")
        self.remaining = remaining


class _Host:
    """Politeness bookkeeping of one host: concurrency, spacing of request starts, deferral."""

    __slots__ = ("sem", "delay", "next_at", "deferred_until")

    def __init__(self, concurrency: int, delay: float):
        self.sem = asyncio.Semaphore(concurrency)
        self.delay = delay
        self.next_at = float("-inf")  # clock time before which no request to this host may start
        self.deferred_until = float("-inf")  # the host asked for a pause longer than we wait for


class HostScheduler:
    """Admits requests host by host: concurrency, spacing, deferral, and an overall limit."""

    def __init__(
        self,
        concurrency: int,
        per_host: int,
        delay_for: Callable[[str], float],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ):
        self._global = asyncio.Semaphore(max(1, concurrency))
        self._per_host = max(1, per_host)
        self._delay_for = delay_for
        self.clock = clock
        self.sleep = sleep
        self._hosts: dict[str, _Host] = {}

    def _host(self, host: str, port: int | None) -> _Host:
        key = host if port is None else f"{host}:{port}"
        entry = self._hosts.get(key)
        if entry is None:
            entry = self._hosts[key] = _Host(self._per_host, self._delay_for(host))
        return entry

    @asynccontextmanager
    async def turn(self, host: str, port: int | None) -> AsyncIterator[None]:
        """Wait until a request to `host` may start, and hold its slot while it runs."""
        entry = self._host(host, port)
        async with entry.sem:
            while True:
                now = self.clock()
                if entry.deferred_until > now:
                    raise HostDeferred(entry.deferred_until - now)
                wait = entry.next_at - now
                if wait > 0:
                    await self.sleep(wait)
                    continue
                await self._global.acquire()
                now = self.clock()
                if entry.next_at > now:  # another request to this host started while we waited
                    self._global.release()
                    continue
                if entry.delay > 0:
                    entry.next_at = now + entry.delay
                break
            try:
                yield
            finally:
                self._global.release()

    def pause(self, host: str, port: int | None, seconds: float) -> None:
        """The host asked (Retry-After) that no request start within `seconds` from now."""
        entry = self._host(host, port)
        entry.next_at = max(entry.next_at, self.clock() + seconds)

    def defer(self, host: str, port: int | None, seconds: float) -> None:
        """The host asked for a pause longer than we wait: refuse it for `seconds`."""
        self._host(host, port).deferred_until = self.clock() + seconds

    def pauses(self, longer_than: float = 0.0) -> dict[str, float]:
        """Hosts that asked for a pause (Retry-After, deferral) still running for more than
        `longer_than` seconds, by host name (port dropped): seconds remaining. For the service,
        which carries a pause across its passes."""
        now = self.clock()
        out: dict[str, float] = {}
        for key, entry in self._hosts.items():
            remaining = max(entry.deferred_until, entry.next_at) - now
            if remaining > longer_than:
                host = key.rsplit(":", 1)[0] if key.count(":") == 1 else key
                out[host] = max(out.get(host, 0.0), remaining)
        return out

    def raise_delay(self, host: str, port: int | None, delay: float) -> None:
        """Space this host's requests by at least `delay` from now on (robots.txt Crawl-delay)."""
        entry = self._host(host, port)
        entry.delay = max(entry.delay, delay)
        entry.next_at = max(entry.next_at, self.clock() + entry.delay)
