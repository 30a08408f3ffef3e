"""The fetcher: the only network code of the crawler, in small parts composed by `Fetcher`.

    guard      which addresses are public (names judged at connect time, literals before any request)
    transport  aiohttp's pool under httpx's transport API (httpx-aiohttp), the guard in its resolver
    body       reading a body within the caps (decompressed and raw bytes)
    hosts      the per-host scheduler: concurrency, spacing, Retry-After pauses (injected clock)
    retries    which failures are retried, backoff, Retry-After, naming a final failure
    robots     robots.txt per RFC 9309, cached per origin
    conditional  the validators sent back (If-None-Match without a front end's -gzip suffix)
    fetcher    `Fetcher`: the redirect walk, conditional GET, the deadline; returns `Fetched`

It owns politeness (a User-Agent with a contact, robots.txt, per-host concurrency and spacing, an
overall limit), conditional GET, retries of transient failures (Retry-After honoured up to a cap),
bounds on time, size and redirects, and the address guard that keeps the crawler off internal
networks. Every visit ends as a `crawler.models.Fetched`; network failures are values, never
exceptions.

    async with Fetcher(settings) as fetcher:
        fetched = await fetcher.fetch(url, etag=previous_etag)
"""

from crawler.fetch.fetcher import Fetcher
from crawler.fetch.guard import BlockedAddress, is_forbidden_address
from crawler.fetch.retries import retry_after_seconds

__all__ = ["BlockedAddress", "Fetcher", "is_forbidden_address", "retry_after_seconds"]
