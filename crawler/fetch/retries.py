"""Retries of transient failures: which attempts are retried, how long to wait, how a final
failure is named. Retry-After is honoured up to a cap; beyond it the host is deferred instead.

The policy is tenacity's (exponential backoff with jitter, a stop after `retries` attempts),
with the sleep injected so that tests run on a simulated clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

from crawler.clock import utcnow

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = frozenset({"connect_error", "timeout"})
BACKOFF_MAX = 30.0


@dataclass(slots=True)
class Attempt:
    """What one request produced (internal; `Fetcher.fetch` turns the last one into a Fetched)."""

    status: int | None = None
    headers: Any = None  # the response headers (an httpx.Headers), None when no response came
    body: bytes | None = None
    error: str | None = None
    message: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0  # duration of the request (connect to end of body)
    sent: bool = True  # False when politeness answered without a request (a deferred host)


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
    now = now or utcnow()
    return max(0.0, (when - now).total_seconds())


class RetryPolicy:
    """Bounded retries with backoff and jitter; Retry-After up to `retry_after_cap` wins."""

    def __init__(
        self,
        retries: int,
        retry_after_cap: float,
        *,
        backoff_base: float = 0.5,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_retry: Callable[[], None] = lambda: None,
    ):
        self.retry_after_cap = retry_after_cap
        self._on_retry = on_retry
        self._backoff = wait_exponential_jitter(multiplier=backoff_base, max=BACKOFF_MAX, jitter=backoff_base)
        self._retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, retries)),
            wait=self._wait,
            retry=retry_if_result(self.should_retry),
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
            before_sleep=lambda state: self._on_retry(),
            sleep=sleep,
        )

    def should_retry(self, attempt: Attempt) -> bool:
        if attempt.error is not None:
            return attempt.error in TRANSIENT_ERRORS
        if attempt.status not in TRANSIENT_STATUSES:
            return False
        return attempt.retry_after is None or attempt.retry_after <= self.retry_after_cap

    def _wait(self, state: RetryCallState) -> float:
        attempt: Attempt = state.outcome.result()  # type: ignore[union-attr]
        if attempt.retry_after is not None:
            return attempt.retry_after
        return self._backoff(state)

    async def run(self, once: Callable[[], Awaitable[Attempt]]) -> Attempt:
        """Call `once` until it succeeds, fails for good, or the attempts are spent; the last result."""
        # Nearly every request succeeds at once: tenacity's machinery (~7 % of a request's CPU on
        # loopback) only runs when a retry is due. It then replays this first result, so waits,
        # counts and stop rules are exactly those of a run that went through tenacity from the start.
        attempt = await once()
        if not self.should_retry(attempt):
            return attempt
        replay = [attempt]

        async def replay_then_once() -> Attempt:
            return replay.pop() if replay else await once()

        # A copy per run: tenacity keeps per-iteration state on the object, shared by concurrent runs.
        return await self._retrying.copy()(replay_then_once)

    def name_failure(self, attempt: Attempt) -> float | None:
        """Name the error of a final response that is a failure (after any retries).

        Returns the seconds to defer the host for when it asked for a pause beyond the cap.
        """
        if attempt.error is not None or attempt.status is None:
            return None
        status = attempt.status
        cap = self.retry_after_cap
        if status in (429, 503) and attempt.retry_after is not None and attempt.retry_after > cap:
            # Beyond the cap we do not wait: the URL (and its host) is deferred to the next cycle.
            attempt.error = "rate_limited"
            attempt.message = f"Retry-After of {attempt.retry_after:.0f} s is above the cap of {cap:.0f} s"
            return attempt.retry_after
        if status == 429:
            attempt.error = "rate_limited"
            attempt.message = "HTTP 429 after retries"
        elif status == 408:
            attempt.error = "timeout"
            attempt.message = "HTTP 408 after retries"
        elif status >= 500:
            attempt.error = "server_error"
            attempt.message = f"HTTP {status}"
        return None
