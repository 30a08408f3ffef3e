"""Meta's Graph API as data: the requests the crawler makes, and what their answers mean. Pure.

    business_discovery(ig_user_id, username)  GET /<own IG user id>?fields=business_discovery...
    page_posts(page_id)                       GET /<page id>/published_posts?fields=...&limit=1
    managed_pages(after)                      GET /me/accounts?fields=id,username,link,access_token
    error_of(status, body) -> GraphError      the `error` object: code, subcode, what it means
    usage_of(headers) -> Usage                X-App-Usage, X-Business-Use-Case-Usage, X-Page-Usage
    read_business_discovery(...) / read_page_posts(...) -> Observation   (route "api")
    read_managed_pages(body) -> (pages, after cursor or None)

The shapes are Meta's documented ones (docs/META.md cites the pages): an error is
`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`; a list is
`{"data": [...], "paging": {"cursors": {"before", "after"}, "next"}}`; usage headers hold JSON
percentages of the rate limit. Nothing here holds or sees a token: requests name which token they
need ("user", or a Page id), the client attaches it as an Authorization header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from crawler import sanitize
from crawler.dates import parse_machine
from crawler.models import Observation, PublicText
from crawler.platforms import common
from crawler.settings import Settings

# Instagram usernames: letters, digits, "." and "_", at most 30. Anything else is never put into a
# field expansion (a ")" or "{" would change what is asked).
USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")
PAGE_ID = re.compile(r"^\d{1,30}$")
MAX_BODY = 1024 * 1024  # Graph answers for these requests are a few KiB
MAX_HEADER = 8192  # a usage header is a small JSON object
MAX_PAGES_LISTED = 5000  # managed Pages read per cycle (50 requests of 100)

# What each error code means (Meta's "Handling Errors" and "Rate Limits" pages; docs/META.md).
TOKEN_CODES = frozenset({190, 102})  # expired, revoked or invalid token; the session is gone
THROTTLE_CODES = frozenset({4, 17, 32, 613, 341} | set(range(80000, 80015)))  # app, user, page, custom, BUC
PERMISSION_CODES = frozenset({3, 10} | set(range(200, 300)))
TRANSIENT_CODES = frozenset({1, 2})
# Business Discovery answers code 110 / subcode 2207013 ("Invalid user id") alike for a username
# that does not exist and for a personal (not professional) account; code 100 / subcode 33 is
# "object does not exist, cannot be loaded due to missing permissions". Neither says "removed".
NOT_FOUND_CODES = frozenset({110, 803})  # invalid user id; "some of the aliases you requested do not exist"
NOT_FOUND_PAIRS = frozenset({(100, 33)})

BUSINESS_DISCOVERY_FIELDS = "username,media_count,biography,media.limit(1){timestamp,permalink,caption}"
PAGE_POST_FIELDS = "created_time,permalink_url,message"
PAGE_FIELDS = "id,username,link,access_token"


@dataclass(frozen=True)
class GraphRequest:
    """One Graph API call: a path under the version, its query, and which token it needs."""

    kind: str  # "business_discovery" | "page_posts" | "pages"
    path: str  # "/17841405309211844" (no version, no query)
    params: tuple[tuple[str, str], ...]
    token: str = "user"  # "user" (the configured token) or the Page id whose Page token applies

    def url(self, base_url: str, version: str) -> str:
        """The request URL. It never carries a token, so it may be logged and stored on a check."""
        query = urlencode(self.params, safe="(){},.")
        return f"{base_url.rstrip('/')}/{version}{self.path}" + (f"?{query}" if query else "")


def business_discovery(ig_user_id: str, username: str) -> GraphRequest:
    """Business Discovery of `username`, asked through the administration's own account."""
    if not USERNAME.match(username) or not PAGE_ID.match(ig_user_id):
        raise ValueError("not an Instagram username or user id")
    fields = f"business_discovery.username({username}){{{BUSINESS_DISCOVERY_FIELDS}}}"
    return GraphRequest("business_discovery", f"/{ig_user_id}", (("fields", fields),))


def page_posts(page_id: str) -> GraphRequest:
    """The newest published post of a Page (created_time, permalink_url, message)."""
    if not PAGE_ID.match(page_id):
        raise ValueError("not a Page id")
    return GraphRequest("page_posts", f"/{page_id}/published_posts",
                        (("fields", PAGE_POST_FIELDS), ("limit", "1")), token=page_id)


def managed_pages(after: str | None = None, limit: int = 100) -> GraphRequest:
    """The Pages the token's user (the administration's system user) can act on, one page of them."""
    params: list[tuple[str, str]] = [("fields", PAGE_FIELDS), ("limit", str(limit))]
    if after:
        params.append(("after", after))
    return GraphRequest("pages", "/me/accounts", tuple(params))


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class GraphError:
    """The `error` object of a Graph answer (or what stood in for it), and what it means."""

    code: int | None
    subcode: int | None
    type: str | None
    message: str  # Meta's own words, short and stripped of control characters
    status: int | None = None
    transient: bool = False  # Meta's is_transient, or a 5xx

    @property
    def kind(self) -> str:
        """token | throttled | not_found | permission | transient | other."""
        if self.code in TOKEN_CODES or (self.type == "OAuthException" and self.code is None):
            return "token"
        if self.code in THROTTLE_CODES:
            return "throttled"
        if self.code in NOT_FOUND_CODES or (self.code, self.subcode) in NOT_FOUND_PAIRS:
            return "not_found"
        if self.code in PERMISSION_CODES:
            return "permission"
        if self.code in TRANSIENT_CODES or self.transient:
            return "transient"
        return "other"

    def label(self) -> str:
        """"code 190/463: Error validating access token..." for a check's reason and status lines."""
        code = "?" if self.code is None else str(self.code)
        if self.subcode is not None:
            code += f"/{self.subcode}"
        return f"Graph API error {code}: {self.message}" if self.message else f"Graph API error {code}"


def _short(text: Any, limit: int = 160) -> str:
    if not isinstance(text, str):
        return ""
    return sanitize.text(text)[:limit].strip()


def _json(body: bytes | None) -> Any:
    if not body or len(body) > MAX_BODY:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 12:
        return int(value)
    return None


def error_of(status: int | None, body: bytes | None) -> GraphError | None:
    """The error an answer carries, or None for a success (2xx with a JSON object and no `error`)."""
    data = _json(body)
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return GraphError(_int(err.get("code")), _int(err.get("error_subcode")),
                          err.get("type") if isinstance(err.get("type"), str) else None,
                          _short(err.get("message")), status, err.get("is_transient") is True
                          or (status is not None and status >= 500))
    if status is not None and 200 <= status < 300:
        if isinstance(data, dict):
            return None
        return GraphError(None, None, None, "the answer is not a JSON object", status)
    return GraphError(None, None, None, f"HTTP {status} without a Graph error object", status,
                      transient=status is None or status >= 500 or status == 429)


# --------------------------------------------------------------------------- usage headers


USAGE_HEADERS = ("x-app-usage", "x-business-use-case-usage", "x-page-usage", "x-ad-account-usage")
_USAGE_KEYS = ("call_count", "total_cputime", "total_time", "acc_id_util_pct")


@dataclass(frozen=True)
class Usage:
    """How much of Meta's rate limit is used, from the usage headers of one answer.

    `percent` is the highest share any header reports (call count, CPU time or total time: Meta
    throttles when any reaches 100); `regain_seconds` is BUC's estimated_time_to_regain_access
    (given in minutes), when a header names one. None: the answer carried no usage header.
    """

    percent: float | None = None
    regain_seconds: float | None = None

    def merge(self, other: Usage) -> Usage:
        """The later answer's usage, keeping its gaps filled by nothing (usage is not cumulative)."""
        return other if other.percent is not None or other.regain_seconds is not None else self


def _percentages(obj: Any, out: list[float], regain: list[float], depth: int = 0) -> None:
    if depth > 4:
        return
    if isinstance(obj, dict):
        for key, value in list(obj.items())[:64]:
            if key in _USAGE_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
                out.append(min(max(float(value), 0.0), 1000.0))
            elif key == "estimated_time_to_regain_access" and isinstance(value, (int, float)) \
                    and not isinstance(value, bool):
                regain.append(min(max(float(value), 0.0), 7 * 24 * 60) * 60.0)
            elif isinstance(value, (dict, list)):
                _percentages(value, out, regain, depth + 1)
    elif isinstance(obj, list):
        for item in obj[:64]:
            _percentages(item, out, regain, depth + 1)


def usage_of(headers: Mapping[str, str]) -> Usage:
    """The usage an answer reports (never raises: a malformed header is no information)."""
    found: list[float] = []
    regain: list[float] = []
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw or len(raw) > MAX_HEADER:
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        _percentages(data, found, regain)
    return Usage(max(found) if found else None, max(regain) if regain else None)


# --------------------------------------------------------------------------- readings


def _texts_and_post(item: Mapping[str, Any], when: datetime | None, url_key: str, text_key: str,
                    kind: str) -> tuple[str | None, list[PublicText]]:
    url = item.get(url_key) if isinstance(item.get(url_key), str) else None
    text = item.get(text_key)
    texts = [PublicText(kind, common.plain(text), url, when)] if isinstance(text, str) and text.strip() else []
    return url, texts


def read_business_discovery(body: bytes | None, now: datetime, settings: Settings, *, source_url: str,
                            platform: str = "instagram") -> Observation:
    """What a Business Discovery answer says: the account exists, its newest post's exact
    timestamp and permalink, its media count; its bio and newest caption for the notice detector."""
    data = _json(body)
    found = data.get("business_discovery") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        return Observation(platform, None, "instagram: Business Discovery answered without the account",
                           source_url=source_url, route="api")
    count = _int(found.get("media_count"))
    notes: list[str] = []
    texts: list[PublicText] = []
    bio = found.get("biography")
    if isinstance(bio, str) and bio.strip():
        texts.append(PublicText("bio", common.plain(bio)))
    media = found.get("media")
    items = media.get("data") if isinstance(media, dict) else None
    dated: list[tuple[str | None, datetime | None]] = []
    for item in (items if isinstance(items, list) else [])[:25]:
        if not isinstance(item, dict):
            continue
        when = parse_machine(item.get("timestamp")) if isinstance(item.get("timestamp"), str) else None
        url, post_texts = _texts_and_post(item, when, "permalink", "caption", "summary")
        dated.append((url, when))
        texts.extend(post_texts)
    if count is None:
        notes.append("no media count in the answer")
    elif count > 0 and not dated:
        notes.append("media count above 0 but no media returned")
    obs = common.assemble(platform, "instagram: Business Discovery (Graph API)", dated, now, settings,
                          texts=texts[: common.MAX_TEXTS], notes=notes, post_count=count, source_url=source_url)
    return replace(obs, route="api")


def read_page_posts(body: bytes | None, now: datetime, settings: Settings, *, source_url: str,
                    platform: str = "facebook") -> Observation:
    """What a Page's published_posts answer says: the Page exists, its newest post's exact time.
    An empty list without a `next` link is a Page without published posts."""
    data = _json(body)
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return Observation(platform, None, "facebook: published_posts answered without a data list",
                           source_url=source_url, route="api")
    dated: list[tuple[str | None, datetime | None]] = []
    texts: list[PublicText] = []
    for item in items[:25]:
        if not isinstance(item, dict):
            continue
        when = parse_machine(item.get("created_time")) if isinstance(item.get("created_time"), str) else None
        url, post_texts = _texts_and_post(item, when, "permalink_url", "message", "summary")
        dated.append((url, when))
        texts.extend(post_texts)
    paging = data.get("paging") if isinstance(data, dict) else None
    more = isinstance(paging, dict) and bool(paging.get("next"))
    notes = [] if dated or more else ["the Page has no published posts"]
    obs = common.assemble(platform, "facebook: Page posts (Graph API)", dated, now, settings,
                          texts=texts[: common.MAX_TEXTS], notes=notes, source_url=source_url,
                          post_count=0 if not dated and not more else None)
    return replace(obs, route="api")


@dataclass(frozen=True)
class ManagedPage:
    """A Page the administration manages: its id, the names it goes by, its Page token (memory only)."""

    id: str
    names: frozenset[str]  # lower-case Page usernames and link names ("id:<n>" for profile.php links)
    token: str | None = None

    def __repr__(self) -> str:  # never print a token
        return f"ManagedPage(id={self.id!r}, names={sorted(self.names)!r})"


def read_managed_pages(body: bytes | None, name_of: Any) -> tuple[list[ManagedPage], str | None]:
    """The Pages of one /me/accounts answer and the cursor of the next page (None: the last page).

    `name_of(url)` is the Facebook adapter's page name for a link. The `next` URL itself is never
    followed: it repeats the token in its query, and a hostile answer could point it elsewhere; the
    `after` cursor is sent to the configured base URL instead.
    """
    data = _json(body)
    items = data.get("data") if isinstance(data, dict) else None
    pages: list[ManagedPage] = []
    for item in (items if isinstance(items, list) else [])[:500]:
        if not isinstance(item, dict):
            continue
        ident = item.get("id")
        if not isinstance(ident, str) or not PAGE_ID.match(ident):
            continue
        names = {f"id:{ident}"}
        username = item.get("username")
        if isinstance(username, str) and username.strip():
            names.add(username.strip().lower())
        link = item.get("link")
        if isinstance(link, str) and (name := name_of(link)):
            names.add(name)
        token = item.get("access_token") if isinstance(item.get("access_token"), str) else None
        pages.append(ManagedPage(ident, frozenset(names), token or None))
    paging = data.get("paging") if isinstance(data, dict) else None
    after = None
    if isinstance(paging, dict) and paging.get("next"):
        cursors = paging.get("cursors")
        cursor = cursors.get("after") if isinstance(cursors, dict) else None
        if isinstance(cursor, str) and 0 < len(cursor) <= 512:
            after = cursor
    return pages, after
