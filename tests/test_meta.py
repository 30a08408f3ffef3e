"""Meta's Graph API: the pure reading of its answers, the token's sources, and the client against the
demo's loopback Graph API (real HTTP, Meta's documented shapes, errors, paging and usage headers)."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from crawler.demo.graph import DEMO_IG_USER_ID, DemoGraph
from crawler.demo.server import DemoWeb
from crawler.demo.world import World, cycle_time
from crawler.errors import SettingsError
from crawler.meta import graph
from crawler.meta.client import NOTE_IG_NOT_FOUND, MetaClient, slowdown
from crawler.meta.token import Token, load
from crawler.models import Account
from crawler.settings import MetaSettings, Settings

NOW = datetime(2023, 3, 2, 2, 0, tzinfo=UTC)
TOKEN = "EAAtestTOKEN0123456789abcdef"


def body(obj) -> bytes:
    return json.dumps(obj).encode()


# --------------------------------------------------------------------------- errors and usage


@pytest.mark.parametrize(("code", "subcode", "kind"), [
    (190, 463, "token"), (190, None, "token"), (102, None, "token"),
    (4, None, "throttled"), (17, None, "throttled"), (32, None, "throttled"), (613, None, "throttled"),
    (80002, None, "throttled"),
    (110, 2207013, "not_found"), (100, 33, "not_found"),
    (10, None, "permission"), (200, None, "permission"), (299, None, "permission"),
    (1, None, "transient"), (2, None, "transient"),
    (100, None, "other"),
])
def test_each_documented_error_code_means_one_thing(code, subcode, kind):
    err = {"message": "x", "type": "OAuthException", "code": code, "fbtrace_id": "A1"}
    if subcode is not None:
        err["error_subcode"] = subcode
    found = graph.error_of(400, body({"error": err}))
    assert found.kind == kind and found.code == code and found.subcode == subcode


def test_answers_without_an_error_object_are_named_too():
    assert graph.error_of(200, body({"data": []})) is None
    assert graph.error_of(200, b"<html>not json</html>").message == "the answer is not a JSON object"
    assert graph.error_of(502, b"bad gateway").kind == "transient"
    assert graph.error_of(200, b"[1, 2]").kind == "other"
    # Meta's message reaches a status line: control and bidi characters never do
    err = graph.error_of(400, body({"error": {"message": "evil\x1b[31m\u202etext", "code": 100}}))
    assert "\x1b" not in err.message and "\u202e" not in err.message


def test_usage_is_the_highest_share_any_header_reports():
    headers = {
        "x-app-usage": json.dumps({"call_count": 28, "total_time": 25, "total_cputime": 9}),
        "x-business-use-case-usage": json.dumps({"17841400000000000": [
            {"type": "instagram", "call_count": 96, "total_cputime": 12, "total_time": 30,
             "estimated_time_to_regain_access": 0}]}),
    }
    assert graph.usage_of(headers) == graph.Usage(96.0, 0.0)
    over = {"x-business-use-case-usage": json.dumps({"1": [{"type": "pages", "call_count": 104,
                                                             "estimated_time_to_regain_access": 19}]})}
    assert graph.usage_of(over) == graph.Usage(104.0, 19 * 60.0)  # minutes, as Meta sends them
    assert graph.usage_of({}) == graph.Usage()  # no header: no information, never "0 %"
    assert graph.usage_of({"x-app-usage": "{not json"}) == graph.Usage()
    assert graph.usage_of({"x-app-usage": json.dumps({"call_count": 1e9})}).percent == 1000.0  # clamped
    assert graph.usage_of({"x-app-usage": " " * 9000}) == graph.Usage()  # oversized: ignored


def test_calls_slow_down_above_the_threshold_and_wait_a_minute_near_the_limit():
    assert slowdown(None, 1.0, 75) == slowdown(50, 1.0, 75) == 1.0
    assert slowdown(75, 1.0, 75) == 1.0
    assert 1.0 < slowdown(87.5, 1.0, 75) < slowdown(99, 1.0, 75) <= 60.0
    assert slowdown(100, 0.0, 75) == 60.0  # a zero interval still waits near the limit


# --------------------------------------------------------------------------- requests and readings


def test_requests_carry_no_token_and_refuse_what_would_change_the_query():
    request = graph.business_discovery("17841405309211844", "bluebottle")
    url = request.url("https://graph.facebook.com", "v26.0")
    assert url.startswith("https://graph.facebook.com/v26.0/17841405309211844?fields=business_discovery.username(")
    assert "access_token" not in url and "bluebottle){username,media_count" in url
    for bad in ("blue){followers_count}", "a b", "x" * 31, "", "björn"):
        with pytest.raises(ValueError):
            graph.business_discovery("17841405309211844", bad)
    with pytest.raises(ValueError):
        graph.page_posts("123/../me")
    assert graph.page_posts("1100").token == "1100"  # a Page call names the Page whose token it needs


def test_business_discovery_gives_the_exact_newest_post_and_the_media_count():
    answer = body({"business_discovery": {
        "username": "humlan", "media_count": 58, "biography": "Förskolan Humlan. Vi flyttar till Tempus Hemma!",
        "media": {"data": [{"timestamp": "2023-02-14T09:12:33+0000", "permalink": "https://www.instagram.com/p/Cx1/",
                            "caption": "Vinterlek", "id": "1"}],
                  "paging": {"cursors": {"after": "QVFI"}}},
        "id": "17841401441775531"}, "id": "17841405309211844"})
    obs = graph.read_business_discovery(answer, NOW, Settings(), source_url="u")
    assert obs.exists is True and obs.route == "api" and obs.post_count == 58
    assert obs.last_post_at == datetime(2023, 2, 14, 9, 12, 33, tzinfo=UTC)
    assert obs.posts[0].url == "https://www.instagram.com/p/Cx1/"
    assert [t.kind for t in obs.texts] == ["bio", "summary"]  # for the notice detector, in memory only


def test_business_discovery_edge_cases_are_noted_not_guessed():
    empty = graph.read_business_discovery(body({"business_discovery": {"media_count": 0, "id": "1"}}), NOW,
                                          Settings(), source_url="u")
    assert empty.exists is True and empty.post_count == 0 and empty.last_post_at is None
    hidden = graph.read_business_discovery(body({"business_discovery": {"media_count": 4, "media": {"data": []}}}),
                                           NOW, Settings(), source_url="u")
    assert hidden.last_post_at is None and "no media returned" in " ".join(hidden.notes)
    future = graph.read_business_discovery(body({"business_discovery": {"media_count": 1, "media": {"data": [
        {"timestamp": "2031-01-01T00:00:00+0000"}]}}}), NOW, Settings(), source_url="u")
    assert future.last_post_at is None  # a date years ahead is dropped, as from any feed
    assert graph.read_business_discovery(body({"id": "1"}), NOW, Settings(), source_url="u").exists is None


def test_page_posts_with_none_published_is_a_page_without_posts():
    posts = graph.read_page_posts(body({"data": [{"created_time": "2023-02-20T08:00:00+0000",
                                                  "permalink_url": "https://www.facebook.com/x/posts/1",
                                                  "message": "Hej", "id": "1_1"}],
                                        "paging": {"cursors": {"after": "A"}, "next": "https://graph/next"}}),
                                  NOW, Settings(), source_url="u")
    assert posts.last_post_at == datetime(2023, 2, 20, 8, 0, tzinfo=UTC) and posts.post_count is None
    none = graph.read_page_posts(body({"data": []}), NOW, Settings(), source_url="u")
    assert none.exists is True and none.post_count == 0 and none.route == "api"
    more = graph.read_page_posts(body({"data": [], "paging": {"next": "https://graph/next"}}), NOW, Settings(),
                                 source_url="u")
    assert more.post_count is None  # an empty page with a `next` link says nothing about the count


def test_the_page_list_gives_names_and_the_next_cursor_never_the_next_url():
    from crawler.platforms import facebook

    pages, after = graph.read_managed_pages(body({
        "data": [{"id": "1100", "username": "Humlan", "link": "https://www.facebook.com/Humlan.Forskola/",
                  "access_token": "EAAPsecret"},
                 {"id": "not-an-id"}, {"id": "1200", "link": "https://www.facebook.com/profile.php?id=1200"}],
        "paging": {"cursors": {"before": "B", "after": "QVFIUk"},
                   "next": "https://graph.facebook.com/v26.0/me/accounts?access_token=EAAsecret&after=QVFIUk"}}),
        facebook.page_name)
    assert [p.id for p in pages] == ["1100", "1200"] and after == "QVFIUk"
    assert pages[0].names == {"id:1100", "humlan", "humlan.forskola"} and pages[1].names == {"id:1200"}
    assert "EAAPsecret" not in repr(pages) and pages[0].token == "EAAPsecret"
    last, none = graph.read_managed_pages(body({"data": [], "paging": {"cursors": {"after": "X"}}}), facebook.page_name)
    assert none is None  # no `next`: the last page, whatever the cursors say


# --------------------------------------------------------------------------- settings and the token


def test_settings_meta_refuses_a_token_and_names_every_slip():
    with pytest.raises(SettingsError) as info:
        Settings(meta={"token": "EAAsecret123"})
    assert "never goes into sources.yaml" in str(info.value) and "EAAsecret123" not in str(info.value)
    for bad, expected in [
        ({"api_version": "26"}, "is not a Graph API version"),
        ({"token_env": "A", "token_file": "/x"}, "name one token source"),
        ({"tokn_env": "A"}, "did you mean 'token_env'"),
        ({"instagram_user_id": "me"}, "numeric id"),
        ({"base_url": "https://graph.facebook.com/v26.0/"}, "no path"),
        ({"slowdown_percent": 120}, "between 1 and 100"),
        ({"token_env": "NOT A NAME"}, "not an environment variable name"),
        ("graph", "must be a mapping"),
    ]:
        with pytest.raises(SettingsError, match=expected):
            Settings(meta=bad)
    meta = Settings(meta={"instagram_user_id": 17841400000000000, "token_env": "X"}).meta
    assert meta.instagram_user_id == "17841400000000000" and meta.configured  # YAML's number, kept as text
    assert not Settings().meta.configured


def test_settings_meta_from_the_file_and_the_environment(tmp_path):
    from crawler import sources

    path = tmp_path / "sources.yaml"
    path.write_text("settings:\n  meta:\n    token_file: /etc/crawler/meta-token\n    instagram_user_id: '178'\n"
                    "accounts: []\n", encoding="utf-8")
    assert sources.load(path, environ={}).settings.meta.token_file == "/etc/crawler/meta-token"
    env = {"CRAWLER_META": json.dumps({"token_env": "META_TOKEN"})}
    assert sources.load(path, environ=env).settings.meta.token_env == "META_TOKEN"
    path.write_text("settings:\n  meta:\n    access_token: EAAsecret\naccounts: []\n", encoding="utf-8")
    with pytest.raises(Exception) as info:
        sources.load(path, environ={})
    assert "sources.yaml:3: settings.meta: access_token: a token never goes" in str(info.value)
    assert "EAAsecret" not in str(info.value)


def test_the_token_comes_from_the_environment_or_a_file_only_the_crawler_reads(tmp_path):
    assert load(MetaSettings(token_env="META_T"), {"META_T": f" {TOKEN}\n"})[0] == Token(TOKEN)
    assert "is not set" in load(MetaSettings(token_env="META_T"), {})[1]
    assert "does not hold an access token" in load(MetaSettings(token_env="META_T"), {"META_T": "two words"})[1]
    path = tmp_path / "meta-token"
    assert "does not exist" in load(MetaSettings(token_file=str(path)))[1]
    path.write_text(TOKEN + "\n")
    for mode in (0o644, 0o640, 0o604):
        os.chmod(path, mode)
        token, problem = load(MetaSettings(token_file=str(path)))
        assert token is None and "may be read by other users" in problem and f"chmod 600 {path}" in problem
        assert TOKEN not in problem
    for mode in (0o600, 0o400):
        os.chmod(path, mode)
        assert load(MetaSettings(token_file=str(path))) == (Token(TOKEN), None)
    assert repr(Token(TOKEN)) == str(Token(TOKEN)) == "Token(***)" and TOKEN not in f"{Token(TOKEN)!r}"
    assert "is not a regular file" in load(MetaSettings(token_file=str(tmp_path)))[1]


# --------------------------------------------------------------------------- the client on the loopback Graph API


@pytest.fixture(scope="module")
def world() -> World:
    return World(319, seed=1)


@pytest.fixture()
def web(world):
    graph_api = DemoGraph(world, TOKEN)
    with DemoWeb(world, cycle_time(13), faults=False, slow_seconds=0, graph=graph_api) as running:
        yield running


def meta_settings(web, **meta) -> Settings:
    values = {"base_url": web.base_url("graph"), "instagram_user_id": DEMO_IG_USER_ID, "token_env": "TEST_META",
              "call_interval": 0.0, **meta}
    return Settings(contact="ops@example.se", allow_private_addresses=True, retries=1, meta=values)


def account(web, acc) -> Account:
    return Account(acc.id, acc.unit, acc.area, acc.platform, web.url_for(acc))


class SimTime:
    """A monotonic clock and a sleep that advances it (pacing without waiting)."""

    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def read_all(settings, accounts, *, environ=None, time=None, now=None, **options):
    time = time or SimTime()

    async def go():
        async with MetaClient(settings, environ={"TEST_META": TOKEN} if environ is None else environ,
                              clock=time.clock, sleep=time.sleep, **options) as meta:
            reads = [await meta.read(a, now or cycle_time(13)) for a in accounts]
            return reads, meta.status()

    return asyncio.run(go())


def pick(world, kind, **flags):
    return [a for a in world.accounts() if a.kind == kind and all(getattr(a, k) == v for k, v in flags.items())]


def test_a_professional_account_gets_its_exact_newest_post_through_business_discovery(world, web):
    acc = next(a for a in pick(world, "instagram", professional=True, deleted_at=None) if world.posts(a.index, cycle_time(13)))
    (read,), status = read_all(meta_settings(web), [account(web, acc)])
    newest = world.posts(acc.index, cycle_time(13), limit=1)[0].published_at
    assert read.result == "read" and read.observation.last_post_at.timestamp() == int(newest)
    assert read.observation.post_count == world.post_count(acc.index, cycle_time(13))
    assert status.state == "ok" and status.calls == 1 and status.usage_percent is not None
    assert TOKEN not in read.fetched.url and "access_token" not in read.fetched.url
    path, fields = web.server.graph.calls[-1]
    assert path == f"/v26.0/{DEMO_IG_USER_ID}" and f"business_discovery.username({acc.slug})" in fields


def test_a_personal_account_and_a_missing_one_look_alike_and_neither_is_gone(world, web):
    personal = pick(world, "instagram", professional=False, deleted_at=None)[0]
    missing = Account("x", "U", "A", "instagram", f"{web.base_url('instagram')}/nobody_here_1/")
    reads, status = read_all(meta_settings(web), [account(web, personal), missing])
    assert [r.result for r in reads] == ["not_found", "not_found"]
    assert all(r.note == NOTE_IG_NOT_FOUND and r.observation is None for r in reads)
    assert status.state == "ok"  # an account the API does not know is no incident


def test_an_expired_token_stops_every_call_of_the_cycle_at_once(world, web):
    web.server.graph.expires_at = cycle_time(13) - timedelta(hours=1)
    accounts = [account(web, a) for a in pick(world, "instagram", professional=True)[:5]]
    seen = []
    reads, status = read_all(meta_settings(web), accounts, on_status=seen.append)
    assert len(web.server.graph.calls) == 1  # one refusal, then no more calls
    assert reads[0].result == "unavailable" and "190/463" in reads[0].note and "expired" in reads[0].note
    assert all(r.result == "unavailable" and r.fetched is None for r in reads[1:])
    assert status.state == "token_invalid" and "renew it" in status.detail and TOKEN not in status.detail
    assert [s.state for s in seen] == ["token_invalid"]  # told once, at once


def test_a_token_that_cannot_be_used_makes_no_call(world, web, tmp_path):
    path = tmp_path / "meta-token"
    path.write_text(TOKEN)
    os.chmod(path, 0o644)
    settings = meta_settings(web, token_env=None, token_file=str(path))
    reads, status = read_all(settings, [account(web, pick(world, "instagram", professional=True)[0])])
    assert reads[0].result == "unavailable" and "may be read by other users" in reads[0].note
    assert status.state == "token_unusable" and web.server.graph.calls == []


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_a_throttling_error_stops_calls_for_meta_s_time_to_regain_access(world, web, code):
    web.server.graph.throttle_code = code
    web.server.graph.throttle_from = 2  # the second call is refused
    accounts = [account(web, a) for a in pick(world, "instagram", professional=True, deleted_at=None)[:4]]
    reads, status = read_all(meta_settings(web), accounts)
    assert [r.result for r in reads] == ["read", "unavailable", "unavailable", "unavailable"]
    assert f"Graph API error {code}" in reads[1].note and reads[1].fetched.error == "rate_limited"
    assert all(r.fetched is None and "rate limit reached" in r.note for r in reads[2:])
    assert len(web.server.graph.calls) == 2 and status.state == "throttled"


def test_usage_over_100_percent_stops_calls_and_usage_above_the_threshold_spaces_them(world, web):
    graph_api = web.server.graph
    graph_api.calls_per_hour = 10  # each call is 10 % of the limit
    accounts = [account(web, a) for a in pick(world, "instagram", professional=True, deleted_at=None)[:12]]
    time = SimTime()
    reads, status = read_all(meta_settings(web, slowdown_percent=50), accounts, time=time)
    # the 10th answer reports 100 % with Meta's regain time (an hour): beyond the wait cap
    # (retry_after_cap), so the rest of the cycle goes without the API, and without calls
    assert [r.result for r in reads[:10]] == ["read"] * 10
    assert all(r.result == "unavailable" and "no calls for 60 min" in r.note for r in reads[10:])
    assert len(graph_api.calls) == 10 and status.state == "throttled" and status.usage_percent == 100
    # from 50 % on, the calls were spaced out further and further (simulated sleeps)
    assert len(time.slept) == 5 and time.slept == sorted(time.slept) and time.slept[-1] > 40


def test_a_short_regain_time_is_waited_for(world, web):
    graph_api = web.server.graph
    graph_api.calls_per_hour = 2
    accounts = [account(web, a) for a in pick(world, "instagram", professional=True, deleted_at=None)[:3]]
    time = SimTime()
    settings = meta_settings(web).replace(retry_after_cap=7200.0)
    reads, _ = read_all(settings, accounts, time=time)
    assert [r.result for r in reads] == ["read", "read", "unavailable"]  # the 3rd call is throttled (code 4)
    assert max(time.slept) >= 60  # ...after waiting Meta's regain time, not hammering


def test_managed_pages_are_listed_page_by_page_without_following_next(world, web):
    managed = pick(world, "facebook", managed=True, deleted_at=None)
    unmanaged = pick(world, "facebook", managed=False, deleted_at=None)[0]
    accounts = [account(web, a) for a in (*managed[:3], unmanaged)]

    async def go():
        async with MetaClient(meta_settings(web), environ={"TEST_META": TOKEN}) as meta:
            meta.page_size = 5
            return [await meta.read(a, cycle_time(13)) for a in accounts]

    reads = asyncio.run(go())
    assert [r.result for r in reads] == ["read", "read", "read", "unmanaged"]
    listed = [c for c in web.server.graph.calls if c[0].endswith("/me/accounts")]
    total = len(web.server.graph.managed_pages(cycle_time(13)))
    assert len(listed) == -(-total // 5)  # every page of the list, once a cycle
    newest = world.posts(managed[0].index, cycle_time(13), limit=1)[0].published_at
    assert reads[0].observation.last_post_at.timestamp() == int(newest)
    assert "Page Public Content Access" in reads[3].note and reads[3].fetched is None


def test_a_missing_permission_stops_only_the_reader_that_needs_it(world, web):
    web.server.graph.permissions = frozenset({"pages_show_list", "pages_read_engagement"})
    ig = [account(web, a) for a in pick(world, "instagram", professional=True)[:2]]
    fb = account(web, pick(world, "facebook", managed=True, deleted_at=None)[0])
    reads, status = read_all(meta_settings(web), [*ig, fb])
    assert reads[0].result == "unavailable" and "Graph API error 10" in reads[0].note
    assert reads[1].result == "unavailable" and reads[1].fetched is None  # not asked again
    assert reads[2].result == "read"  # Facebook Pages need no Instagram permission
    assert status.state == "permission"


def test_discovery_can_ask_whether_a_username_is_a_professional_account(world, web):
    professional = pick(world, "instagram", professional=True, deleted_at=None)[0]
    personal = pick(world, "instagram", professional=False, deleted_at=None)[0]

    async def go():
        async with MetaClient(meta_settings(web), environ={"TEST_META": TOKEN}) as meta:
            return [await meta.instagram_user(name, cycle_time(13)) for name in (professional.slug, personal.slug, "a)b")]

    found, unknown, bad = asyncio.run(go())
    assert found.result == "read" and found.observation.exists is True
    assert unknown.result == "not_found" and bad.result == "not_found"
    assert len(web.server.graph.calls) == 2  # a name that is no username is never sent
    off = asyncio.run(MetaClient(Settings()).instagram_user(professional.slug, cycle_time(13)))
    assert off.result == "not_configured"
