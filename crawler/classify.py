"""Status rules and their hysteresis: what one visit means for an account's status.

Pure: no clock, no I/O. `outcome()` names what a visit was; `classify()` folds one visit into the
account's prior state and returns a Verdict with the new status, the reason as data (a Reason: its
kind and the evidence as values, written in Swedish or English by crawler.reasons), and the counters
the store keeps for the next visit.

The rules (settings in brackets):

- active: the account exists and its newest post is within [active_days] of the check.
- dormant: it exists and its newest post is older than that, or it has no post at all.
- gone: "not there" (404/410 or the platform's "not available" page) on [gone_after] consecutive
  checks whose first and last lie at least [gone_min_hours] apart. Any other visit breaks the
  streak. Until then the account keeps its status; a never-classified account is `unknown`.
- unknown: the visit told nothing (login wall, robots.txt disallow or unreachable, fetch error, or a
  page where existence cannot be read) on [unknown_after] consecutive checks. Fewer failures keep the prior
  status. Decision: a never-classified account whose first visit tells nothing is `unknown` at
  once, since there is no earlier status to keep and `unknown` is the honest name for that.
- An account that is back after `gone` (or `unknown`) is classified afresh; the change is
  recorded (Verdict.changed), and after `gone` the reason says "back after gone: ...".
- Back after gone needs evidence that the address serves the same account (issue 13, defect 1):
  its last known post is listed again, or the site's title names the unit (a distinctive word of
  the registry's unit name). A deleted site's address often later serves the web server's default
  page, a parked domain or another site, with 200 and even with posts dated after the gone date;
  without that evidence the account stays gone with the reason "now serves something else" and
  its old last-post date is kept, never the other site's. A gone account that then fails to
  answer (DNS, errors) stays gone: a failure tells nothing about being back.
- `not_modified` (HTTP 304) re-reads the stored observation: the prior last-post date and count
  are evaluated against `now` as a fresh reading of the same content would be (an account turns
  dormant by the passage of time without posting; after an outage it is active or dormant again,
  never left unknown). `obs` may be the visit's "not modified" observation: only its platform is used.
- Dates more than [future_skew_hours] ahead of `now` are ignored (and the reason says so). A
  newly read date older than the known last post does not move the last post back (an emptied or
  truncated feed is an odd visit, not evidence of inactivity); a read date replaces an estimate.

Post counts (Instagram's og:description and the like), used only when no post date was read:

- The count rose between two checks: a post was made in that interval. last_post_at is set to the
  later check's time, an upper bound, with Verdict.last_post_estimated=True and a reason such as
  "post count rose 57→58 between 2023-03-01 and 2023-03-08".
- The count stayed the same for more than [active_days] since it was first read: dormant.
  "First read" is PriorState.post_count_since; when the store does not know it, post_count_at (the
  last read) stands in, which is a shorter, safe span (it can only delay `dormant`, never invent it).
- Before that, with no date at all, we do not guess: the prior active/dormant status is kept, and
  an account without one is `unknown` ("post count 57, no post date yet").
- A count of 0 is "no post at all": dormant.
- A page of an opaque platform (`Platform.opaque`: Instagram, Facebook) that shows neither a date
  nor a count tells only that the account exists: prior active/dormant kept, otherwise unknown.
  A blog or feed with no dated post is dormant ("no dated posts"), and so is an account read
  through an official API (`Observation.route == "api"`: Meta's Graph API lists the posts there
  are, with exact dates, like a feed).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from crawler import platforms
from crawler.clock import to_local
from crawler.models import Fetched, Observation, PriorState, Reason, Verdict
from crawler.settings import Settings

# What a visit that told nothing was (the `what` of a "no_answer" reason, crawler.reasons).
_FAILURES = {
    "login_wall": "login_wall",
    "blocked_by_robots": "robots",
    "robots_unreachable": "robots_unreachable",
    "api_error": "api_error",
    "error": "error",
}

_GONE_STATUSES = (404, 410)


def outcome(fetched: Fetched | None, obs: Observation | None) -> str:
    """What a visit was, one of models.OUTCOMES, from the last fetch and the adapter's reading."""
    if fetched is not None:
        if fetched.error in ("blocked_by_robots", "robots_unreachable"):
            return fetched.error
        if fetched.error is not None:
            return "error"
        if fetched.not_modified:
            return "not_modified"
    if obs is None:
        if fetched is not None and fetched.status in _GONE_STATUSES:
            return "gone"
        return "error"
    if obs.exists is False:
        return "gone"
    if obs.login_wall:
        return "login_wall"
    if obs.exists is None:
        return "error"
    return "ok"


def classify(prior: PriorState, obs: Observation | None, outcome: str, now: datetime,
             settings: Settings) -> Verdict:
    """The status after one visit with `outcome`, given the account's prior state."""
    if outcome == "gone" or (outcome == "ok" and obs is not None and obs.exists is False):
        return _gone(prior, obs, now, settings)
    if outcome == "not_modified":
        if prior.status == "gone":
            return _something_else(prior, None, settings.timezone)  # the crawl asks a gone account without validators
        # nothing new was read: the stored reading again, at `now` (the platform tells what "no date" means)
        unchanged = None if obs is None else replace(obs, last_post_at=None, posts=(), post_count=None)
        return _evaluate(prior, unchanged, now, settings)
    if outcome == "ok" and obs is not None and obs.exists:
        return _evaluate(prior, obs, now, settings)
    what = _FAILURES.get(outcome, "error")
    if outcome == "ok":
        what = "unreadable"  # an "ok" without a usable observation tells nothing
    return _failure(prior, what, settings)


# ---------------------------------------------------------------------------------------- helpers


def _day(dt: datetime, zone: str | None = None) -> str:
    """The calendar day a person means: in the inventory's time zone (a post at 00:20 Swedish
    time on the 14th is on the 14th, though its UTC day is the 13th)."""
    return to_local(dt, zone).date().isoformat()


def _verdict(prior: PriorState, status: str, why: Reason, **fields) -> Verdict:
    return Verdict(status=status, why=why, changed=status != prior.status, **fields)


def _failure(prior: PriorState, what: str, settings: Settings) -> Verdict:
    failures = prior.consecutive_failures + 1
    counters = dict(
        last_post_at=prior.last_post_at,
        last_post_estimated=prior.last_post_estimated,
        consecutive_failures=failures,
        post_count_since=prior.post_count_since,
    )  # gone_streak falls back to 0: a visit that tells nothing breaks a run of "not there"
    why = Reason("no_answer", {"what": what, "checks": failures})
    if prior.status == "gone":  # a removed site that stops answering is not less removed
        return _verdict(prior, "gone", why.with_values(kept="gone"), **counters, gone_streak=prior.gone_streak,
                        gone_streak_since=prior.gone_streak_since)
    if prior.status is None or prior.status == "unknown" or failures >= settings.unknown_after:
        return _verdict(prior, "unknown", why, **counters)
    return _verdict(prior, prior.status, why.with_values(kept=prior.status), **counters)


def _gone(prior: PriorState, obs: Observation | None, now: datetime, settings: Settings) -> Verdict:
    streak = prior.gone_streak + 1
    since = prior.gone_streak_since if prior.gone_streak and prior.gone_streak_since else now
    why = Reason("not_found", {**_not_there(obs), "checks": streak, "since": _day(since, settings.timezone)})
    counters = dict(
        last_post_at=prior.last_post_at,
        last_post_estimated=prior.last_post_estimated,
        consecutive_failures=0,
        gone_streak=streak,
        gone_streak_since=since,
        post_count_since=prior.post_count_since,
    )
    span_ok = now - since >= timedelta(hours=settings.gone_min_hours)
    if prior.status == "gone" or (streak >= settings.gone_after and span_ok):
        return _verdict(prior, "gone", why, **counters)
    kept = prior.status or "unknown"
    return _verdict(prior, kept, why.with_values(pending=kept), **counters)


_HTTP = re.compile(r"^http (\d{3})$")


def _not_there(obs: Observation | None) -> dict:
    """How a visit said "not there": an HTTP status (404, 410), or the platform's own "not available"
    page; `detail` keeps the adapter's words as evidence ("blogger: blog not found or removed")."""
    detail = (obs.reason.strip() if obs is not None and obs.reason else "")
    if len(detail) > 60:
        detail = detail[:57] + "..."
    m = _HTTP.match(detail)
    if m:
        return {"status": int(m.group(1))}
    return {"page": obs.platform if obs is not None and detail else None, "detail": detail or None}


def _newest_date(obs: Observation, now: datetime, settings: Settings) -> tuple[datetime | None, int]:
    """The newest usable post date of an observation, and how many future dates were dropped."""
    limit = now + timedelta(hours=settings.future_skew_hours)
    dates = [d for d in (obs.last_post_at, *(p.published_at for p in obs.posts)) if d is not None]
    usable = [d for d in dates if d <= limit]
    return (max(usable) if usable else None), len(set(dates)) - len(set(usable))


# Words of a unit's name that do not tell one unit from another.
_GENERIC_NAME_WORDS = frozenset({
    "förskolan", "förskola", "förskolor", "forskolan", "forskola", "avdelning", "avdelningen", "skola", "skolan",
    "malmö", "malmo", "stad", "staden", "område", "omrade", "enhet", "enheten", "familjedaghem", "pedagogisk",
    "omsorg", "barn", "blogg", "bloggen", "preschool", "school", "kommun",
})
_WORD = re.compile(r"\w{4,}")


def _url_key(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/").lower()


def same_account(prior: PriorState, obs: Observation | None) -> dict | None:
    """What shows that a reading after gone is the account's own ({"back": "last_post_listed"}: its
    last known post is listed again; {"back": "site_names", "name": "Solrosen"}), or None when
    nothing does."""
    if obs is None:
        return None
    if prior.last_post_url:
        known = _url_key(prior.last_post_url)
        if any(p.url and _url_key(p.url) == known for p in obs.posts):
            return {"back": "last_post_listed"}
    title = (obs.site_title or "").lower()
    for word in _WORD.findall((prior.unit or "").lower()):
        if word not in _GENERIC_NAME_WORDS and word in title:
            return {"back": "site_names", "name": word.capitalize()}
    return None


def _something_else(prior: PriorState, obs: Observation | None, zone: str | None = None) -> Verdict:
    """A gone account whose address answers without evidence of being the account: still gone."""
    if obs is None:
        why = Reason("something_else", {"not_modified": True})
    else:
        dates = [d for d in (obs.last_post_at, *(p.published_at for p in obs.posts)) if d is not None]
        why = Reason("something_else", {"newest": _day(max(dates), zone) if dates else None})
    return _verdict(prior, "gone", why, last_post_at=prior.last_post_at,
                    last_post_estimated=prior.last_post_estimated, consecutive_failures=0,
                    gone_streak=prior.gone_streak, gone_streak_since=prior.gone_streak_since,
                    post_count_since=prior.post_count_since)


def _evaluate(prior: PriorState, obs: Observation | None, now: datetime, settings: Settings) -> Verdict:
    """A successful visit (obs None: 304, nothing new read): decide from dates, then counts."""
    back_because = None
    if prior.status == "gone":
        back_because = same_account(prior, obs)
        if back_because is None:
            return _something_else(prior, obs, settings.timezone)
    notes: dict = {}
    last = prior.last_post_at
    estimated = prior.last_post_estimated
    count = prior.post_count
    count_since = prior.post_count_since
    count_rise: Reason | None = None

    if obs is not None:
        read, dropped = _newest_date(obs, now, settings)
        if dropped:
            notes["future_ignored"] = dropped
        if read is not None and (last is None or estimated or read > last):
            last, estimated = read, False
        if obs.post_count is not None:
            before = prior.post_count
            if before is None or obs.post_count != before:
                count_since = now
            if before is not None and obs.post_count > before and read is None:
                since = prior.post_count_at or prior.post_count_since
                zone = settings.timezone
                count_rise = Reason("post_count_rose", {"before": before, "after": obs.post_count,
                                                        "since": _day(since, zone) if since else None,
                                                        "until": _day(now, zone)})
                if last is None or last < now:
                    last, estimated = now, True
            count = obs.post_count
        elif count is not None and count_since is None:
            count_since = prior.post_count_at

    counters = dict(
        last_post_at=last,
        last_post_estimated=estimated,
        consecutive_failures=0,
        gone_streak=0,
        gone_streak_since=None,
        post_count_since=count_since,
    )
    def done(status: str, why: Reason) -> Verdict:
        if prior.status == "gone" and status != "gone":
            why = why.with_values(**back_because)
        if notes:
            why = why.with_values(**notes)
        return _verdict(prior, status, why, **counters)

    if last is not None:
        age = now - last
        status = "active" if age <= timedelta(days=settings.active_days) else "dormant"
        if count_rise:
            return done(status, count_rise)
        days = max(age.days, 0)
        return done(status, Reason("last_post", {"date": _day(last, settings.timezone), "days": days,
                                                 "estimated": estimated}))

    if count == 0:
        return done("dormant", Reason("post_count_zero"))
    if count is not None:
        since = count_since or prior.post_count_at
        if since is not None and now - since > timedelta(days=settings.active_days):
            days = (now - since).days
            return done("dormant", Reason("post_count_unchanged", {"count": count, "since": _day(since, settings.timezone),
                                                                   "days": days}))
        keep = prior.status if prior.status in ("active", "dormant") else "unknown"
        return done(keep, Reason("post_count_no_date", {"count": count}))

    platform = obs.platform if obs is not None else None
    # An opaque platform's page may legitimately show no posts to a crawler (login walls,
    # scripts): there "no date seen" is absence of evidence, not evidence of an empty account.
    # An official API's reading is not opaque: it lists the posts there are, like a feed.
    if obs is None or (platforms.is_opaque(platform) and obs.route != "api"):
        keep = prior.status if prior.status in ("active", "dormant") else "unknown"
        return done(keep, Reason("exists_undated"))
    return done("dormant", Reason("no_dated_posts"))
