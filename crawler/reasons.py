"""Why an account has its status, written out: a Reason (kind + values) in Swedish or English.

crawler/classify.py decides and says why as data (`models.Reason`); the store keeps the kind and
the values once (status_changes.reason_kind, reason_values); this module writes them through the
message catalogs (crawler/locale), so the same reason reads "last post 2023-03-10 (34 days ago)"
in English and "senaste inlägg 2023-03-10 (för 34 dagar sedan)" in Swedish.

The kinds and their values (days are "YYYY-MM-DD" in the inventory's local time zone):

    last_post             date, days (its age at the check), estimated (an upper bound from a post count)
    post_count_rose       before, after, since (the previous reading's day, or None), until
    post_count_zero       -
    post_count_unchanged  count, since, days
    post_count_no_date    count
    exists_undated        -   (an opaque platform's page: it exists, nothing dated or counted)
    no_dated_posts        -
    not_found             status (404, 410) or page (the platform whose "not available" page it was)
                          with detail (the adapter's words), checks, since; pending: the status kept
                          until the removal is confirmed
    no_answer             what (login_wall | robots | robots_unreachable | api_error | error |
                          unreadable), checks; kept: the status kept meanwhile
    something_else        newest (the newest post date there) or not_modified: a gone account's address
                          now answers without a sign of the account
    text                  text: a reason that is only text (inventories before schema version 6)

Values any kind may carry: back ("last_post_listed" | "site_names", with name): the account is
back after gone, and why we believe it is the same account; future_ignored: post dates in the
future that were left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crawler.locale import translations
from crawler.models import Reason

KINDS = ("last_post", "post_count_rose", "post_count_zero", "post_count_unchanged", "post_count_no_date",
         "exists_undated", "no_dated_posts", "not_found", "no_answer", "something_else", "text")


def render(reason: Reason | None, lang: str = "en") -> str:
    """The reason as a sentence fragment in `lang` ("" for no reason)."""
    if reason is None:
        return ""
    tr = translations(lang)
    _, ngettext = tr.gettext, tr.ngettext
    writer = _WRITERS.get(reason.kind)
    if writer is None:  # a kind this version does not know (a newer crawler wrote it): say so, with the data
        return _("reason {kind}: {values}").format(kind=reason.kind, values=dict(reason.values))
    text = writer(reason.values, _, ngettext)
    back = reason.get("back")
    if back == "last_post_listed":
        text = _("back after gone (its last known post is listed again): {reason}").format(reason=text)
    elif back == "site_names":
        text = _("back after gone (the site names {name}): {reason}").format(name=reason.get("name"), reason=text)
    future = reason.get("future_ignored")
    if future:
        text = ngettext("{reason} (ignored {n} future date)", "{reason} (ignored {n} future dates)", future).format(
            reason=text, n=future)
    return text


def _platform_label(name: str) -> str:
    from crawler import platforms

    platform = platforms.get(name)
    return platform.label if platform is not None else name  # a platform no longer registered: its name


def _checks(n: int, ngettext: Callable) -> str:
    return ngettext("{n} check", "{n} checks", n).format(n=n)


def _last_post(v: dict[str, Any], _: Callable, ngettext: Callable) -> str:
    days = v.get("days") or 0
    if v.get("estimated"):
        return ngettext("last post {date} ({n} day ago, estimated from the post count)",
                  "last post {date} ({n} days ago, estimated from the post count)", days).format(date=v["date"], n=days)
    return ngettext("last post {date} ({n} day ago)", "last post {date} ({n} days ago)", days).format(date=v["date"], n=days)


def _count_rose(v: dict[str, Any], _: Callable, ngettext: Callable) -> str:
    if v.get("since"):
        return _("post count rose {before}→{after} between {since} and {until}").format(**v)
    return _("post count rose {before}→{after} by {until}").format(**v)


def _count_unchanged(v: dict[str, Any], _: Callable, ngettext: Callable) -> str:
    return ngettext("post count {count} unchanged since {since} ({n} day)",
              "post count {count} unchanged since {since} ({n} days)", v["days"]).format(
        count=v["count"], since=v["since"], n=v["days"])


def _not_found(v: dict[str, Any], _: Callable, ngettext: Callable) -> str:
    checks = _checks(v.get("checks") or 1, ngettext)
    if v.get("status"):
        text = _("http {status} on {checks} since {since}").format(status=v["status"], checks=checks, since=v["since"])
    elif v.get("page"):
        # English keeps the adapter's own words ("blogger: blog not found or removed").
        # TRANSLATORS: {platform} is also given (the platform's name, "Blogger"): use it instead of {detail}.
        text = _("{detail} on {checks} since {since}").format(
            detail=v.get("detail") or v["page"], platform=_platform_label(v["page"]), checks=checks, since=v["since"])
    else:
        text = _("not found on {checks} since {since}").format(checks=checks, since=v["since"])
    pending = v.get("pending")
    if pending:
        text += _PENDING.get(pending, lambda _: "")(_)
    return text


# The status kept meanwhile, per status (in Swedish the adjective agrees with "kontot").
_PENDING: dict[str, Callable[[Callable], str]] = {
    "active": lambda _: _("; active until confirmed"),
    "dormant": lambda _: _("; dormant until confirmed"),
    "unknown": lambda _: _("; unknown until confirmed"),
}
_KEPT: dict[str, Callable[[Callable], str]] = {
    "active": lambda _: _("; active kept"),
    "dormant": lambda _: _("; dormant kept"),
    "gone": lambda _: _("; gone kept"),
    "unknown": lambda _: _("; unknown kept"),
}
_FAILURE: dict[str, Callable[[Callable], str]] = {
    "login_wall": lambda _: _("login wall"),
    "robots": lambda _: _("robots.txt disallows"),
    "robots_unreachable": lambda _: _("robots.txt unreachable (site error)"),
    "api_error": lambda _: _("API error"),
    "error": lambda _: _("fetch error"),
    "unreadable": lambda _: _("existence not readable"),
}


def _no_answer(v: dict[str, Any], _: Callable, ngettext: Callable) -> str:
    what = _FAILURE.get(v.get("what") or "error", _FAILURE["error"])(_)
    text = _("{what} on {checks}").format(what=what, checks=_checks(v.get("checks") or 1, ngettext))
    kept = v.get("kept")
    if kept:
        text += _KEPT.get(kept, lambda _: "")(_)
    return text


def _something_else(v: dict[str, Any], _: Callable, ngettext: Callable) -> str:
    if v.get("not_modified"):
        what = _("not modified since the last reading")
    elif v.get("newest"):
        what = _("newest post there {date}").format(date=v["newest"])
    else:
        what = _("no dated posts")
    return _("now serves something else ({what}; no post or name of the account); gone kept").format(what=what)


_WRITERS: dict[str, Callable[[dict[str, Any], Callable, Callable], str]] = {
    "last_post": _last_post,
    "post_count_rose": _count_rose,
    "post_count_zero": lambda v, _, ngettext: _("post count 0: no posts"),
    "post_count_unchanged": _count_unchanged,
    "post_count_no_date": lambda v, _, ngettext: _("post count {count}, no post date yet").format(count=v["count"]),
    "exists_undated": lambda v, _, ngettext: _("exists; no post date or count readable"),
    "no_dated_posts": lambda v, _, ngettext: _("exists; no dated posts"),
    "not_found": _not_found,
    "no_answer": _no_answer,
    "something_else": _something_else,
    "text": lambda v, _, ngettext: str(v.get("text") or ""),
}
