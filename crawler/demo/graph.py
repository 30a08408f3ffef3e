"""Meta's Graph API in the simulated web: the documented requests, answered in the documented shapes.

Served by the demo server on its own loopback host ("graph"), at the world's clock:

    GET /<version>/<own IG user id>?fields=business_discovery.username(<name>){<fields>}
        an Instagram professional account: username, media_count, biography, media{timestamp,
        permalink,caption} (newest first, `limit(n)`, cursor paging); a personal account, a missing or
        a removed one: error 110 / 2207013 "Invalid user id", all alike (as Meta answers)
    GET /<version>/me/accounts?fields=id,username,link,access_token&limit=&after=
        the Pages of the administration's Business Manager, with Page tokens, cursor-paged; the
        `next` link repeats the token in its query, as Meta's does
    GET /<version>/<page id>/published_posts?fields=created_time,permalink_url,message&limit=
        a managed Page's posts, newest first; any other Page: error 100 / 33

Every answer carries the usage headers (X-App-Usage; X-Business-Use-Case-Usage for Instagram and
Page calls) computed from the calls of the last simulated hour against `calls_per_hour`; past
100 % the API answers a throttling error (`throttle_code`: 4, 17, 32 or 613) with Meta's
estimated time to regain access. The token is checked on every call (`Authorization: Bearer`,
`OAuth`, or `access_token=`): unknown is 190 "Invalid OAuth access token", past `expires_at`
(world time) 190 / 463 "Session has expired". Missing permissions answer 10 (Instagram) or 200
(the Page list). Tests set these attributes to provoke each case; `calls` logs what arrived.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from crawler.demo.world import DemoAccount, World

DEMO_IG_USER_ID = "17841400000000000"  # the administration's own professional account
ALL_PERMISSIONS = frozenset({"instagram_basic", "instagram_manage_insights", "pages_read_engagement",
                             "pages_show_list", "business_management"})
_VERSION = re.compile(r"^v\d{1,3}\.\d{1,2}$")
_DISCOVERY = re.compile(r"^business_discovery\.username\(([A-Za-z0-9._]{1,30})\)\{(.*)\}$")
_MEDIA = re.compile(r"^media(?:\.limit\((\d{1,3})\))?(?:\.after\(([A-Za-z0-9=_-]{1,64})\))?\{([a-z_,]*)\}$")
_USER_FIELDS = frozenset({"username", "media_count", "followers_count", "follows_count", "biography", "name",
                          "id", "ig_id", "profile_picture_url", "website"})
_MEDIA_FIELDS = frozenset({"timestamp", "permalink", "caption", "id", "media_type", "like_count", "comments_count"})
_POST_FIELDS = frozenset({"created_time", "permalink_url", "message", "id"})
_PAGE_FIELDS = frozenset({"id", "username", "link", "access_token", "name", "category"})
THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def _split_fields(text: str) -> list[str]:
    """Top-level comma-separated fields (commas inside {...} or (...) belong to their field)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [f.strip() for f in out if f.strip()]


def _cursor(n: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{n}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return max(0, int(text.removeprefix("offset:")))
    except (ValueError, UnicodeDecodeError):
        return -1


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def error(status: int, code: int, message: str, *, subcode: int | None = None, type_: str = "OAuthException",
          transient: bool = False, **extra: Any) -> Answer:
    """A Graph API error answer in Meta's documented shape."""
    body: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        body["error_subcode"] = subcode
    body["is_transient"] = transient
    body.update(extra)
    body["fbtrace_id"] = "A" + hashlib.blake2b(message.encode(), digest_size=8).hexdigest()
    return Answer(status, {"error": body})


class DemoGraph:
    """The Graph API's state in the demo: who may call, how much, and what it answers."""

    def __init__(self, world: World, token: str | None = None, *, calls_per_hour: int = 600):
        self.world = world
        self.token = token  # the system user's token; None: every call is refused (190)
        self.expires_at: datetime | None = None  # world time from which the token is expired (190/463)
        self.permissions: frozenset[str] = ALL_PERMISSIONS
        self.calls_per_hour = calls_per_hour
        self.throttle_code = 4  # which throttling error past 100 %
        self.throttle_from: int | None = None  # tests: throttle from this call on, whatever the usage
        self.own_id = DEMO_IG_USER_ID
        self.bases: dict[str, str] = {}  # demo host -> base URL (for links), set by the server
        self.calls: list[tuple[str, str]] = []  # (path, fields) of every call, for tests
        self._recent: deque[float] = deque()  # world times of the calls of the last hour
        self._by_slug: dict[str, DemoAccount] | None = None

    # -- lookups ---------------------------------------------------------------------------------

    def _slugs(self) -> dict[str, DemoAccount]:
        if self._by_slug is None:
            self._by_slug = {a.slug.lower(): a for a in self.world.accounts() if a.kind in ("instagram", "facebook")}
        return self._by_slug

    def page_token(self, page_id: str) -> str:
        """The Page token of a managed Page (derived from the system user's token)."""
        seed = f"{self.token}:{page_id}".encode()
        return "EAAP" + hashlib.blake2b(seed, digest_size=16).hexdigest()

    def managed_pages(self, at: datetime) -> list[DemoAccount]:
        return [a for a in self._slugs().values() if a.kind == "facebook" and a.managed and self.world.exists(a.index, at)]

    # -- the request --------------------------------------------------------------------------------

    def respond(self, target: str, headers: dict[str, str], at: datetime) -> Answer:
        """The answer to GET `target` at world time `at` (headers: lower-case names)."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        segments = [s for s in parts.path.split("/") if s]
        self.calls.append((parts.path, query.get("fields", "")))
        presented = self._presented(headers, query)
        answer = self._answer(segments, query, presented, at)
        answer.headers.update(self._usage_headers(segments, at))
        return answer

    def _presented(self, headers: dict[str, str], query: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip()
        return query.get("access_token")

    def _usage(self, at: datetime) -> float:
        now = at.timestamp()
        while self._recent and self._recent[0] <= now - 3600:
            self._recent.popleft()
        return 100.0 * len(self._recent) / max(1, self.calls_per_hour)

    def _usage_headers(self, segments: list[str], at: datetime) -> dict[str, str]:
        share = min(999, round(self._usage(at)))
        app = {"call_count": share, "total_cputime": share // 2, "total_time": share // 2}
        out = {"X-App-Usage": json.dumps(app)}
        regain = 0 if share < 100 else max(1, round((self._recent[0] + 3600 - at.timestamp()) / 60)) \
            if self._recent else 0
        owner, kind = (self.own_id, "instagram") if segments[1:2] == [self.own_id] else (
            (segments[1], "pages") if len(segments) >= 3 and segments[2] == "published_posts" else (None, None))
        if owner is not None:
            out["X-Business-Use-Case-Usage"] = json.dumps({owner: [{
                "type": kind, "call_count": share, "total_cputime": share // 2, "total_time": share // 2,
                "estimated_time_to_regain_access": regain}]})
        return out

    def _answer(self, segments: list[str], query: dict[str, str], presented: str | None, at: datetime) -> Answer:
        if len(segments) < 2 or not _VERSION.match(segments[0]):
            return error(400, 2500, "Unknown path components: /" + "/".join(segments[:1]))
        page = self._page_by_token(presented, at)
        if presented is None:
            return error(400, 2500, "An active access token must be used to query information about the current user.")
        if presented != self.token and page is None:
            return error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        if self.expires_at is not None and at >= self.expires_at:
            return error(400, 190, f"Error validating access token: Session has expired on "
                         f"{self.expires_at:%A, %d-%b-%y %H:%M:%S} UTC.", subcode=463)
        usage = self._usage(at)
        self._recent.append(at.timestamp())
        if usage >= 100 or (self.throttle_from is not None and len(self.calls) >= self.throttle_from):
            code = self.throttle_code
            return error(400 if code != 4 else 403, code, THROTTLE_MESSAGES.get(code, f"(#{code}) throttled"),
                         transient=True)
        rest = segments[1:]
        if rest == [self.own_id]:
            return self._business_discovery(query, presented, at)
        if rest == ["me", "accounts"]:
            return self._accounts(query, presented, at)
        if len(rest) == 2 and rest[1] == "published_posts":
            return self._published_posts(rest[0], query, presented, page, at)
        if len(rest) == 1 and rest[0].isdigit():
            return error(400, 100, f"Unsupported get request. Object with ID '{rest[0]}' does not exist, cannot be "
                         "loaded due to missing permissions, or does not support this operation.", subcode=33,
                         type_="GraphMethodException")
        return error(400, 2500, "Unknown path components: /" + "/".join(rest))

    def _page_by_token(self, presented: str | None, at: datetime) -> DemoAccount | None:
        if not presented or not presented.startswith("EAAP") or self.token is None:
            return None
        for acc in self.managed_pages(at):
            if self.page_token(acc.page_id) == presented:
                return acc
        return None

    # -- Business Discovery ----------------------------------------------------------------------

    def _business_discovery(self, query: dict[str, str], presented: str, at: datetime) -> Answer:
        if presented != self.token:
            return error(400, 190, "Invalid OAuth access token - a Page token cannot query an IG User")
        if not {"instagram_basic", "pages_read_engagement"} <= self.permissions:
            return error(403, 10, "(#10) Application does not have permission for this action")
        m = _DISCOVERY.match(query.get("fields", ""))
        if not m:
            return error(400, 100, "(#100) Tried accessing nonexisting field on node type (User)")
        username, wanted = m.group(1).lower(), _split_fields(m.group(2))
        acc = self._slugs().get(username)
        if acc is None:
            outside = self._outside(username, wanted)
            if outside is not None:
                return outside
        if acc is None or acc.kind != "instagram" or not acc.professional or not self.world.exists(acc.index, at):
            return error(400, 110, "Invalid user id", subcode=2207013, error_user_title="Cannot find User",
                         error_user_msg=f"The user with username: {username} cannot be found.")
        found: dict[str, Any] = {}
        for name in wanted:
            media = _MEDIA.match(name)
            if media:
                limit = min(int(media.group(1) or 25), 100)
                found["media"] = self._media(acc, at, limit, media.group(2), media.group(3).split(","))
                continue
            if name not in _USER_FIELDS:
                return error(400, 100, f"(#100) Tried accessing nonexisting field ({name}) on node type (User)")
            found[name] = self._user_field(acc, name, at)
        found["id"] = acc.page_id
        return Answer(200, {"business_discovery": found, "id": self.own_id})

    def _outside(self, username: str, wanted: list[str]) -> Answer | None:
        """Business Discovery of a professional account the registry lacks (the municipality's missing
        accounts and look-alikes, which `crawler discover` checks): its name, bio and 57 posts, none listed."""
        from crawler.demo.municipality import of

        found = of(self.world).instagram_profile(username)
        if found is None:
            return None
        name, bio = found
        values = {"username": username, "name": name, "biography": bio, "media_count": 57,
                  "followers_count": 120, "follows_count": 40}
        out: dict[str, Any] = {}
        for field_name in wanted:
            if _MEDIA.match(field_name):
                out["media"] = {"data": []}
            elif field_name in _USER_FIELDS:
                out[field_name] = values.get(field_name)
            else:
                return error(400, 100, f"(#100) Tried accessing nonexisting field ({field_name}) on node type (User)")
        out["id"] = str(17841490000000000 + sum(username.encode()))
        return Answer(200, {"business_discovery": out, "id": self.own_id})

    def _user_field(self, acc: DemoAccount, name: str, at: datetime) -> Any:
        if name == "username":
            return acc.slug
        if name == "media_count":
            return self.world.post_count(acc.index, at)
        if name == "followers_count":
            return acc.followers
        if name == "follows_count":
            return acc.following
        if name == "biography":
            return f"{acc.unit} i Malmö. Här delar vi vardagen på förskolan."
        if name == "name":
            return acc.unit
        if name in ("id", "ig_id"):
            return acc.page_id
        return None

    def _media(self, acc: DemoAccount, at: datetime, limit: int, after: str | None, fields: list[str]) -> dict:
        from crawler.demo.pages import post_summary

        start = _offset(after)
        posts = self.world.posts(acc.index, at, limit=start + limit + 1)[start:]
        data = []
        for post in posts[:limit]:
            item: dict[str, Any] = {}
            for name in fields:
                if name == "timestamp":
                    item[name] = _iso(post.published_at)
                elif name == "permalink":
                    item[name] = f"{self.bases.get('instagram', '')}/p/D{acc.index:04d}{post.number:05d}/"
                elif name == "caption":
                    item[name] = post_summary(self.world, acc, post)
                elif name == "media_type":
                    item[name] = "IMAGE"
                elif name in ("like_count", "comments_count"):
                    item[name] = (acc.index + post.number) % 23
            item["id"] = f"{acc.page_id}{post.number:06d}"
            data.append(item)
        out: dict[str, Any] = {"data": data}
        if data:
            out["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(data))}}
        return out

    # -- Pages ---------------------------------------------------------------------------------------

    def _accounts(self, query: dict[str, str], presented: str, at: datetime) -> Answer:
        if presented != self.token:
            return error(400, 190, "Invalid OAuth access token")
        if "pages_show_list" not in self.permissions:
            return error(403, 200, "(#200) Requires pages_show_list permission to manage the object")
        fields = _split_fields(query.get("fields", "id")) or ["id"]
        unknown = [f for f in fields if f not in _PAGE_FIELDS]
        if unknown:
            return error(400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (Page)")
        try:
            limit = max(1, min(100, int(query.get("limit", "25"))))
        except ValueError:
            return error(400, 100, "(#100) Param limit must be a number")
        start = _offset(query.get("after"))
        if start < 0:
            return error(400, 100, "(#100) Invalid cursor")
        pages = sorted(self.managed_pages(at), key=lambda a: a.index)
        chunk = pages[start:start + limit]
        data = []
        for acc in chunk:
            item: dict[str, Any] = {}
            for name in fields:
                item[name] = {"id": acc.page_id, "username": acc.slug, "name": acc.unit, "category": "Förskola",
                              "link": f"{self.bases.get('facebook', '')}/{acc.slug}/",
                              "access_token": self.page_token(acc.page_id)}[name]
            data.append(item)
        body: dict[str, Any] = {"data": data}
        if chunk:
            body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(chunk))}}
            if start + len(chunk) < len(pages):
                # Meta's `next` repeats the access token: a client that stores or follows it leaks the token
                params = {"access_token": presented, "fields": ",".join(fields), "limit": str(limit),
                          "after": _cursor(start + len(chunk))}
                body["paging"]["next"] = f"{self.bases.get('graph', '')}/v26.0/me/accounts?{urlencode(params)}"
        return Answer(200, body)

    def _published_posts(self, page_id: str, query: dict[str, str], presented: str, page: DemoAccount | None,
                         at: datetime) -> Answer:
        from crawler.demo.pages import post_summary

        acc = next((a for a in self.managed_pages(at) if a.page_id == page_id), None)
        if acc is None or (page is not None and page is not acc):
            return error(400, 100, f"Unsupported get request. Object with ID '{page_id}' does not exist, cannot be "
                         "loaded due to missing permissions, or does not support this operation.", subcode=33,
                         type_="GraphMethodException")
        if "pages_read_engagement" not in self.permissions:
            return error(403, 10, "(#10) This endpoint requires the 'pages_read_engagement' permission")
        fields = _split_fields(query.get("fields", "created_time,message,id")) or ["id"]
        unknown = [f for f in fields if f not in _POST_FIELDS]
        if unknown:
            return error(400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (PagePost)")
        try:
            limit = max(1, min(100, int(query.get("limit", "25"))))
        except ValueError:
            return error(400, 100, "(#100) Param limit must be a number")
        start = max(0, _offset(query.get("after")))
        posts = self.world.posts(acc.index, at, limit=start + limit + 1)[start:]
        data = []
        for post in posts[:limit]:
            item: dict[str, Any] = {}
            for name in fields:
                if name == "created_time":
                    item[name] = _iso(post.published_at)
                elif name == "permalink_url":
                    item[name] = f"{self.bases.get('facebook', '')}/{acc.slug}/posts/{acc.index}{post.number:05d}"
                elif name == "message":
                    item[name] = post_summary(self.world, acc, post)
            item["id"] = f"{acc.page_id}_{post.number}"
            data.append(item)
        body: dict[str, Any] = {"data": data}
        if data:
            body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(data))}}
            if len(posts) > limit:
                params = {"access_token": presented, "fields": ",".join(fields), "limit": str(limit),
                          "after": _cursor(start + len(data))}
                body["paging"]["next"] = f"{self.bases.get('graph', '')}/v26.0/{page_id}/published_posts?{urlencode(params)}"
        return Answer(200, body)
