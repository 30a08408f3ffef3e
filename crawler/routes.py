"""Which way each account is read, decided in one place: an official API, or the public pages.

    ROUTES                          what sources.yaml's `route:` accepts: auto (default), api, public
    plan(account, settings) -> Plan the route a visit takes first, and why (pure; `sources check` shows it)
    summary(accounts, settings)     how many accounts take each route, and why (for `sources check`)
    observe(...) -> Routed          one visit along its route; the route and the reason travel with it

The rule (issue 15): where the Graph API is configured (`settings: meta:`) and the platform has an
API reader (`Platform.api`), the API is asked first. Its reading is exact (dates to the second,
media counts) and is what is recorded. When it cannot tell, an `auto` account is read from its
public page as before, and the reason is kept ("personal Instagram account: not readable through
the API"). An API "not found" is never "gone" by itself: a renamed account, or one switched from
professional to personal, looks the same, so only the public page can confirm a removal; an
account pinned to `route: api` stays unknown instead. `route: public` never asks the API.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from crawler import platforms
from crawler.meta.client import (
    NOTE_IG_NOT_FOUND,
    NOTE_NO_IG_USER,
    NOTE_NOT_CONFIGURED,
    NOTE_PERSONAL,
    NOTE_UNMANAGED,
    ApiRead,
    MetaClient,
)
from crawler.models import Account, Fetched, Observation
from crawler.settings import Settings

ROUTES = ("auto", "api", "public")
NOTE_LOST_IG = ("no longer found through Business Discovery (renamed, switched to a personal account, or "
                "removed: the API cannot tell which)")
NOTE_LOST_PAGE = ("no longer among the Pages the administration manages (taken out of the Business Manager, or "
                  "removed)")
READER_LABELS = {
    "business_discovery": "Business Discovery through the administration's Instagram account",
    "page_posts": "Page posts, for Pages the administration manages",
}


@dataclass(frozen=True)
class Plan:
    """The route a visit takes first (`api` or `public`), why, and what happens when the API cannot tell."""

    route: str
    reason: str  # "" for platforms that have only their public pages (blogs)
    fallback: bool = False  # the public page is read when the API cannot tell (route: auto)
    pinned: bool = False  # sources.yaml names the route


@dataclass(frozen=True)
class Routed:
    """One visit along its route: what was read, every request made, the route recorded and why."""

    observation: Observation
    fetches: list[Fetched]
    route: str  # "api" | "public": whose reading the observation is
    note: str | None  # why the account was (or could not be) read that way


def plan(account: Account, settings: Settings) -> Plan:
    """The route of one account (pure): its pin, its platform's API reader, and the settings."""
    wanted = account.route or "auto"
    found = platforms.get(account.platform)
    reader = found.api if found is not None else None
    if wanted == "public":
        return Plan("public", "pinned to the public page (route: public)" if reader else "", pinned=True)
    if reader is None:
        return Plan("public", "")
    meta = settings.meta
    missing = NOTE_NOT_CONFIGURED if not meta.configured else (
        NOTE_NO_IG_USER if reader == "business_discovery" and not meta.instagram_user_id else None)
    if missing:
        if wanted == "api":
            return Plan("api", f"pinned to the API (route: api), but {missing}", pinned=True)
        return Plan("public", missing)
    label = READER_LABELS.get(reader, reader)
    if wanted == "api":
        return Plan("api", f"{label} (pinned: route: api; nothing else is read)", pinned=True)
    return Plan("api", f"{label}; the public page when the API cannot tell", fallback=True)


def summary(accounts: Iterable[Account], settings: Settings) -> list[tuple[str, str, int]]:
    """(route, reason, accounts) for every distinct plan, most accounts first."""
    counted = Counter((p.route, p.reason) for p in (plan(a, settings) for a in accounts))
    return [(route, reason, n) for (route, reason), n in counted.most_common()]


def check_lines(accounts: Iterable[Account], settings: Settings, *, each: bool = False,
                environ=None) -> list[str]:
    """What `crawler sources check` says about routes: the accounts per route and why, every
    account's route with `each`, and warnings (a token that cannot be used, a pin to an API that is
    not configured). Reads the token source (never printing the token); makes no request."""
    from crawler.meta.token import load

    accounts = list(accounts)
    plans = [(a, plan(a, settings)) for a in accounts]
    if not any(p.reason for _, p in plans):
        return []  # blogs only: nothing to say about routes
    lines = ["Routes:"]
    for route, reason, n in summary(accounts, settings):
        lines.append(f"  {n:>6} {route:<6} {reason or 'their own pages and feeds'}")
    if each:
        lines.append("Route of each account:")
        lines += [f"  {a.id:<32} {a.platform:<10} {p.route:<6} {p.reason or 'pages and feeds'}" for a, p in plans]
    warnings = []
    if settings.meta.configured and any(p.route == "api" for _, p in plans):
        _, problem = load(settings.meta, environ)
        if problem:
            warnings.append(f"warning: settings.meta: {problem}; the API accounts will be read from their "
                            "public pages (or stay unknown when pinned to route: api)")
    pinned = sum(1 for _, p in plans if p.pinned and p.route == "api" and "but" in p.reason)
    if pinned:
        warnings.append(f"warning: {pinned} account{'s are' if pinned != 1 else ' is'} pinned to `route: api`, "
                        "but the API is not configured: they will stay unknown")
    return lines + warnings


def _public_feed(known_feed: str | None, settings: Settings) -> str | None:
    """The known source of a public reading: never the Graph API URL an API reading was stored from."""
    base = settings.meta.base_url.rstrip("/")
    if known_feed and (known_feed == base or known_feed.startswith(base + "/")):
        return None
    return known_feed


def _fallback_note(read: ApiRead, obs: Observation, reader: str | None, before: str | None = None,
                   before_note: str | None = None) -> str:
    """Why an account that went to the API was read from its public page, in words for status.
    `before` and `before_note` are the route of its previous visit and why: an account the API read
    once and no longer reads has changed (renamed, switched to personal, left the Business Manager,
    or removed), and stays "no longer found" until the API reads it again."""
    lost_before = (before_note or "").startswith((NOTE_LOST_IG, NOTE_LOST_PAGE))
    if (before == "api" or lost_before) and read.result in ("not_found", "unmanaged"):
        lost = (NOTE_LOST_IG if reader == "business_discovery" else NOTE_LOST_PAGE)
        if obs.exists is True:
            return f"{lost}; the public page shows it"
        if obs.exists is False:
            return f"{lost}; the public page says it is not there"
        return f"{lost}; the public page tells nothing ({obs.reason})"
    if read.result == "not_found" and reader == "business_discovery":
        if obs.exists is True:
            return NOTE_PERSONAL  # the username exists publicly, but not as a professional account
        if obs.exists is False:
            return f"{NOTE_IG_NOT_FOUND}; the public page says it is not there"
        return f"{NOTE_IG_NOT_FOUND}; the public page tells nothing ({obs.reason})"
    if read.result == "unmanaged":
        if obs.exists is True:
            return NOTE_UNMANAGED
        if obs.exists is False:
            return f"{NOTE_UNMANAGED}; the public page says it is not there"
        return f"{NOTE_UNMANAGED}; the public page tells nothing ({obs.reason})"
    if read.result == "not_found":
        return f"{read.note}; public page read instead"
    return f"Graph API unavailable ({read.note}): public page read instead"


async def observe(
    account: Account,
    fetch: Callable[[str], Awaitable[Fetched]],
    meta: MetaClient | None,
    now,
    settings: Settings,
    *,
    known_feed: str | None = None,
    parse: Callable[[Fetched], Awaitable[Observation]] | None = None,
    previous_route: str | None = None,
    previous_note: str | None = None,
) -> Routed:
    """Visit one account along its route (see the module doc). Only the I/O callables touch the
    network; `parse` reads a public response (the crawl's worker pool), as for platforms.observe;
    `previous_route` and `previous_note` are the account's last route and why (from the store)."""
    chosen = plan(account, settings)

    async def public(note: str | None, before: list[Fetched]) -> Routed:
        obs, fetches = await platforms.observe(account.platform, account.url, account.feed, fetch, now, settings,
                                               known_feed=_public_feed(known_feed, settings), parse=parse)
        return Routed(obs, before + fetches, "public", note)

    if chosen.route == "public" or meta is None:
        return await public(chosen.reason or None, [])
    read = await meta.read(account, now)
    made = [read.fetched] if read.fetched is not None else []
    if read.result == "read" and read.observation is not None:
        return Routed(read.observation, made, "api", None)
    if not chosen.fallback:
        # Pinned to the API: what it cannot tell stays unknown (never gone), and nothing else is read.
        failed = read.fetched or Fetched(url=account.url, final_url=account.url, error="api_unavailable",
                                         error_message=read.note, attempts=0)
        obs = Observation(account.platform, None, f"Graph API: {read.note}", source_url=failed.url, route="api")
        return Routed(obs, [failed], "api", read.note)
    found = platforms.get(account.platform)
    routed = await public(None, made)
    return Routed(routed.observation, routed.fetches, "public",
                  _fallback_note(read, routed.observation, found.api if found else None, previous_route,
                                 previous_note))
