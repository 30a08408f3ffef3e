"""`crawler web` through an HTTP client: every role boundary, CSRF, the login throttle, sessions,
the review decision, the analysts' pages and downloads, /healthz and /metrics. On a real inventory
filled by the demo's crawler (a real SQLite file); the browser tests are in test_web_browser.py."""

from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from crawler.demo.runner import run_demo
from crawler.models import PublicText
from crawler.notices import detect
from crawler.settings import Settings
from crawler.store import Store
from crawler.web import auth, users
from crawler.web import sessions as S
from crawler.web.app import ROUTES, Config, config_for, create_app

from .conftest import sql_rows

PASSWORD = "ett långt lösenord"
LOCAL = ("127.0.0.1", 50000)
HOSTILE = 'Vi flyttar till Tempus Hemma! <script>alert("x")</script> \u202egnp.exe'


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    monkeypatch.setattr(auth, "HASH_PARAMS", {"time_cost": 1, "memory_cost": 8, "parallelism": 1})


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """The demo's inventory (40 accounts, weekly cycles), with users and a hostile pending notice."""
    result = run_demo(tmp_path_factory.mktemp("webdemo"), accounts=40, seed=2, slow_seconds=0)
    db = Path(result.db_path)
    with Store.open(db) as store:
        last = store.snapshots()[-1].taken_at
        account = store.current_inventory()[0]
        (hit,) = detect([PublicText("summary", HOSTILE, "https://x.example/javascript-post", last)])
        store.add_notice(account.id, hit, last)
        with auth_params():
            pw = auth.Passwords()
            for name, role in (("anna", "reviewer"), ("vera", "viewer"), ("boss", "admin"), ("bo", "reviewer")):
                users.add(store, name, role, PASSWORD, by="test", now=last, passwords=pw)
    return db


class auth_params:
    def __enter__(self):
        self.old = dict(auth.HASH_PARAMS)
        auth.HASH_PARAMS.update(time_cost=1, memory_cost=8, parallelism=1)

    def __exit__(self, *exc):
        auth.HASH_PARAMS.clear()
        auth.HASH_PARAMS.update(self.old)


class Clock:
    def __init__(self, at):
        self.at, self.mono = at, 1000.0

    def __call__(self):
        return self.at

    def monotonic(self):
        return self.mono

    def advance(self, seconds):
        self.at += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def env(demo_db, tmp_path):
    """(db, clock, make_client): a fresh copy of the demo inventory, a clock, clients on it."""
    db = tmp_path / "inventory.sqlite"
    shutil.copy(demo_db, db)
    with Store.open(db, readonly=True) as store:
        clock = Clock(store.snapshots()[-1].taken_at + timedelta(hours=2))
    apps = {}

    def make(settings: Settings | None = None, client=LOCAL, base_url="http://testserver", **config) -> TestClient:
        key = (id(settings), tuple(sorted(config)))
        if key not in apps:
            cfg = Config(db_path=str(db), settings=settings or Settings(), key=b"k" * 32, clock=clock,
                         monotonic=clock.monotonic, passwords=auth.Passwords(), **config)
            apps[key] = create_app(cfg)
        return TestClient(apps[key], client=client, base_url=base_url, follow_redirects=False)

    return db, clock, make


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client: TestClient, name: str, password: str = PASSWORD, next_: str = "/"):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"csrf_token": token, "name": name, "password": password, "next": next_})


def signed_in(make, name: str, **kw) -> TestClient:
    client = make(**kw)
    response = login(client, name)
    assert response.status_code == 303, response.text
    return client


def pending_ids(db) -> list[int]:
    with Store.open(db, readonly=True) as store:
        return [n.id for n in store.notices("pending")]


# ------------------------------------------------------------------------------ the one permission check


def _paths():
    out = []
    for route in ROUTES:
        if isinstance(route, Mount):
            continue
        path = (route.path.replace("{notice_id:int}", "1").replace("{account_id}", "x").replace("{name}", "anna")
                .replace("{lang}", "en").replace("{fmt}", "csv").replace("{candidate_id:int}", "1"))
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, path, route))
    return out


def test_every_view_goes_through_the_one_permission_check():
    for route in ROUTES:
        if isinstance(route, Route):
            assert hasattr(route.endpoint, "action"), f"{route.path} does not use views.needs/public"
    public = sorted({r.path for r in ROUTES if isinstance(r, Route) and r.endpoint.action is None})
    assert public == ["/healthz", "/lang/{lang}", "/login", "/logout", "/metrics"]


def test_anonymous_people_see_only_the_login_page_and_healthz(env):
    db, _, make = env
    client = make()
    with Store.open(db, readonly=True) as store:
        units = {a.unit for a in store.current_inventory()}
    for method, path, route in _paths():
        if route.endpoint.action is None:
            continue
        response = client.request(method, path)
        if method == "GET":
            assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
        else:
            assert response.status_code in (401, 403), (method, path)
        assert not any(unit in response.text for unit in units), path
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/nowhere").status_code == 404


@pytest.mark.parametrize("role_user, allowed_paths, refused", [
    ("vera", ["/", "/review", "/review/1", "/inventory", "/report", "/status", "/reviewers", "/reviewers/anna",
              "/candidates", "/candidates/1"], ["/users"]),
    ("anna", ["/", "/review", "/review/1", "/inventory", "/report", "/status", "/candidates", "/candidates/1"],
     ["/users"]),
    ("boss", ["/", "/review/1", "/users", "/inventory.csv", "/report.csv"], []),
])
def test_pages_by_role(env, role_user, allowed_paths, refused):
    _, _, make = env
    client = signed_in(make, role_user)
    for path in allowed_paths:
        assert client.get(path).status_code == 200, path
    for path in refused:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Inte tillåtet" in response.text


def test_a_viewer_cannot_review_and_a_reviewer_cannot_manage_users(env):
    db, _, make = env
    notice = pending_ids(db)[0]
    viewer = signed_in(make, "vera")
    page = viewer.get(f"/review/{notice}").text
    assert 'id="decision"' not in page  # no form to decide with
    refused = viewer.post(f"/review/{notice}", data={"csrf_token": csrf_of(page), "decision": "confirm", "seen": "0"})
    assert refused.status_code == 403
    assert notice in pending_ids(db)

    reviewer = signed_in(make, "anna")
    token = csrf_of(reviewer.get("/").text)
    assert reviewer.post("/users", data={"csrf_token": token, "name": "mallory", "role": "admin",
                                         "password": PASSWORD, "password2": PASSWORD}).status_code == 403
    assert reviewer.post("/users/vera", data={"csrf_token": token, "action": "role", "role": "admin"}).status_code == 403
    with Store.open(db, readonly=True) as store:
        assert store.user("mallory") is None and store.user("vera").role == "viewer"


# ------------------------------------------------------------------------------ CSRF


def test_every_form_post_needs_its_csrf_token(env):
    db, _, make = env
    admin = signed_in(make, "boss")
    good = csrf_of(admin.get("/").text)
    other = signed_in(make, "anna")
    foreign = csrf_of(other.get("/").text)  # a valid token, of another session
    notice = pending_ids(db)[0]
    posts = {
        f"/review/{notice}": {"decision": "confirm", "seen": "0"},
        "/users": {"name": "mallory", "role": "admin", "password": PASSWORD, "password2": PASSWORD},
        "/users/vera": {"action": "disable"},
        "/candidates/1": {"decision": "dismiss", "seen": "0", "comment": "forged"},
        "/logout": {},
    }
    assert {p for m, p, _ in _paths() if m == "POST"} - {"/login"} == {"/review/1", "/users", "/users/anna", "/logout",
                                                                       "/candidates/1"}
    for path, data in posts.items():
        for token in (None, "", "forged", foreign):
            sent = dict(data) if token is None else {**data, "csrf_token": token}
            response = admin.post(path, data=sent)
            assert response.status_code == 403, (path, token)
    with Store.open(db, readonly=True) as store:
        assert store.user("mallory") is None and not store.user("vera").disabled
        assert store.notice(notice).state == "pending"
        assert not store.candidate(1).decisions
    assert admin.get("/users").status_code == 200  # still signed in: /logout refused too
    assert admin.post("/users/vera", data={"action": "disable", "csrf_token": good}).status_code == 303


def test_the_login_form_needs_its_csrf_token_too(env):
    _, _, make = env
    client = make()
    response = client.post("/login", data={"name": "anna", "password": PASSWORD})
    assert response.status_code == 403
    assert S.SESSION_COOKIE not in response.cookies


# ------------------------------------------------------------------------------ login, throttle, sessions


def test_login_sets_a_signed_httponly_samesite_cookie_and_logout_ends_the_session(env):
    db, _, make = env
    client = make()
    response = login(client, "anna", next_="/inventory")
    assert response.status_code == 303 and response.headers["location"] == "/inventory"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    value = response.cookies[S.SESSION_COOKIE]
    with Store.open(db, readonly=True) as store:
        rows = sql_rows(store, "SELECT token_sha256 FROM sessions")
    token = value.split(".")[0]
    assert [r["token_sha256"] for r in rows] == [S.token_hash(token)]  # only the hash is stored
    assert client.get("/inventory").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
    stale = make()
    stale.cookies.set(S.SESSION_COOKIE, value)
    assert stale.get("/inventory").status_code == 303  # the old cookie no longer signs anyone in


def test_wrong_passwords_unknown_names_and_disabled_users_are_refused_alike(env):
    db, clock, make = env
    client = make()
    for name, password in (("anna", "fel lösenord!!"), ("nobody", PASSWORD)):
        response = login(client, name, password)
        assert response.status_code == 401 and "Fel användarnamn eller lösenord" in response.text
    with Store.open(db) as store:
        users.disable(store, "bo", by="boss", now=clock())
    assert login(client, "bo").status_code == 401


def test_forged_or_expired_cookies_sign_nobody_in(env):
    db, clock, make = env
    client = signed_in(make, "anna")
    value = client.cookies[S.SESSION_COOKIE]
    forged = make()
    forged.cookies.set(S.SESSION_COOKIE, value.split(".")[0] + ".AAAA")
    assert forged.get("/").status_code == 303
    clock.advance(13 * 3600)  # web_session_hours is 12: idle too long
    assert client.get("/").status_code == 303


def test_a_session_lasts_while_it_is_used(env):
    _, clock, make = env
    client = signed_in(make, "anna")
    for _ in range(4):
        clock.advance(5 * 3600)
        assert client.get("/").status_code == 200  # each use moves the expiry on


def test_disabling_a_user_ends_their_sessions_at_once(env):
    db, clock, make = env
    client = signed_in(make, "bo")
    with Store.open(db) as store:
        users.disable(store, "bo", by="boss", now=clock())
    assert client.get("/").status_code == 303


def test_login_throttle_per_user_name(env):
    _, clock, make = env
    client = make()
    for _ in range(5):
        assert login(client, "anna", "fel lösenord!!").status_code == 401
    refused = login(client, "anna")  # even the right password, while throttled
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 900
    assert "För många misslyckade försök" in refused.text
    elsewhere = make(client=("10.9.9.9", 1234))
    assert login(elsewhere, "anna").status_code == 429  # the name is throttled from any address
    assert login(elsewhere, "vera").status_code == 303  # other names are not
    clock.advance(899)
    assert login(client, "anna").status_code == 429
    clock.advance(1)
    assert login(client, "anna").status_code == 303


def test_login_throttle_per_address(env):
    _, clock, make = env
    client = make(client=("10.0.0.7", 4000))
    for i in range(20):
        assert login(client, f"guess{i}", "fel lösenord!!").status_code == 401
    assert login(client, "anna").status_code == 429
    assert login(make(client=("10.0.0.8", 4000)), "anna").status_code == 303


def test_cookies_are_secure_behind_https_and_proxies_are_believed_only_when_trusted(env):
    _, _, make = env
    direct = make(base_url="https://testserver")
    assert "Secure" in login(direct, "anna").headers["set-cookie"]
    proxied = Settings(web_trusted_proxies="127.0.0.1")
    behind = make(settings=proxied)
    behind.headers["X-Forwarded-Proto"] = "https"
    behind.headers["X-Forwarded-For"] = "10.1.1.1"
    assert "Secure" in login(behind, "anna").headers["set-cookie"]
    untrusted = make(settings=proxied, client=("10.2.2.2", 80))
    untrusted.headers["X-Forwarded-Proto"] = "https"
    assert "Secure" not in login(untrusted, "anna").headers["set-cookie"]


def test_the_proxy_sso_header_is_believed_only_from_a_trusted_proxy(env):
    _, _, make = env
    sso = Settings(web_trusted_proxies="10.0.0.1", web_sso_header="X-Remote-User")
    proxy = make(settings=sso, client=("10.0.0.1", 443))
    proxy.headers["X-Remote-User"] = "Anna"
    page = proxy.get("/review")
    assert page.status_code == 200 and "Inloggad som anna" in page.text
    proxy.headers["X-Remote-User"] = "nobody"
    assert proxy.get("/review").status_code == 303  # an unknown name is nobody
    spoof = make(settings=sso, client=("10.0.0.66", 443))
    spoof.headers["X-Remote-User"] = "boss"
    assert spoof.get("/users").status_code == 303


def test_next_after_login_stays_on_this_site(env):
    _, _, make = env
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert login(make(), "anna", next_=target).headers["location"] == "/"


# ------------------------------------------------------------------------------ reviewing


def test_a_decision_is_recorded_with_the_signed_in_user_and_submit_and_next_goes_on(env):
    db, _, make = env
    first, second = pending_ids(db)[:2]
    client = signed_in(make, "anna")
    page = client.get(f"/review/{first}").text
    response = client.post(f"/review/{first}", data={
        "csrf_token": csrf_of(page), "decision": "confirm", "kind": "closing", "comment": "Läst på bloggen",
        "seen": "0", "go": "next", "reviewer": "Someone Else", "by": "boss"})
    assert response.status_code == 303 and response.headers["location"] == f"/review/{second}?saved={first}"
    with Store.open(db, readonly=True) as store:
        notice = store.notice(first)
        trail = store.notice_reviews(first)
    assert (notice.state, notice.decided_kind, notice.reviewer, notice.comment) == (
        "confirmed", "closing", "anna", "Läst på bloggen")
    assert [(t.reviewer, t.new_state, t.kind) for t in trail] == [("anna", "confirmed", "closing")]
    shown = client.get(f"/review/{second}?saved={first}").text
    assert f"Beslutet om meddelande nr {first} är sparat" in shown


def test_a_decision_made_meanwhile_by_someone_else_is_not_overwritten(env):
    db, _, make = env
    notice = pending_ids(db)[0]
    anna, bo = signed_in(make, "anna"), signed_in(make, "bo")
    anna_page, bo_page = anna.get(f"/review/{notice}").text, bo.get(f"/review/{notice}").text
    assert anna.post(f"/review/{notice}", data={"csrf_token": csrf_of(anna_page), "decision": "reject",
                                                "seen": "0"}).status_code == 303
    late = bo.post(f"/review/{notice}", data={"csrf_token": csrf_of(bo_page), "decision": "confirm", "seen": "0"})
    assert late.status_code == 409 and "Någon annan fattade beslut" in late.text
    again = bo.get(f"/review/{notice}").text  # now bo sees anna's decision and may change it (recorded too)
    assert bo.post(f"/review/{notice}", data={"csrf_token": csrf_of(again), "decision": "confirm",
                                              "seen": "1"}).status_code == 303
    with Store.open(db, readonly=True) as store:
        assert [(t.reviewer, t.new_state) for t in store.notice_reviews(notice)] == [
            ("anna", "rejected"), ("bo", "confirmed")]


def test_bad_decisions_are_refused_with_a_message(env):
    db, _, make = env
    notice = pending_ids(db)[0]
    client = signed_in(make, "anna")
    token = csrf_of(client.get(f"/review/{notice}").text)
    for data, words in (({"seen": "0"}, "Välj bekräfta eller avvisa"),
                        ({"decision": "confirm", "kind": "teleport", "seen": "0"}, "Välj en av typerna"),
                        ({"decision": "confirm", "comment": "x" * 1001, "seen": "0"}, "för lång")):
        response = client.post(f"/review/{notice}", data={"csrf_token": token, **data})
        assert response.status_code == 400 and words in response.text
    assert notice in pending_ids(db)


def test_the_queue_lists_pending_first_oldest_first_and_escapes_what_was_crawled(env):
    db, _, make = env
    client = signed_in(make, "vera")
    page = client.get("/review").text
    ids = [int(i) for i in re.findall(r'href="/review/(\d+)"', page)]
    with Store.open(db, readonly=True) as store:
        pending = sorted(store.notices("pending"), key=lambda n: (n.detected_at, n.id))
    assert ids == [n.id for n in pending]
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    hostile = next(n for n in pending if "script" in n.snippet)
    detail = client.get(f"/review/{hostile.id}").text
    assert "<script>alert" not in detail and "\u202e" not in detail  # bidi override stripped at detection


def test_the_trails_of_a_notice_and_of_a_reviewer(env):
    db, _, make = env
    notice = pending_ids(db)[0]
    client = signed_in(make, "anna")
    token = csrf_of(client.get(f"/review/{notice}").text)
    client.post(f"/review/{notice}", data={"csrf_token": token, "decision": "reject", "comment": "inte en flytt",
                                           "seen": "0"})
    assert "inte en flytt" in client.get(f"/review/{notice}").text
    assert "anna" in client.get("/reviewers").text
    page = client.get("/reviewers/anna").text
    assert f'href="/review/{notice}"' in page and "inte en flytt" in page


# ------------------------------------------------------------------------------ analysts


def test_inventory_filters_sorts_counts_and_pages(env):
    db, _, make = env
    client = signed_in(make, "vera")
    with Store.open(db, readonly=True) as store:
        everything = store.inventory(limit=0)
        platform = next(iter(everything.by_platform))
        expected = store.inventory(platforms=[platform], sort="last_post_at", descending=True, limit=50)
    page = client.get(f"/inventory?platform={platform}&sort=last_post_at&desc=1").text
    ids = re.findall(r'href="/accounts/([^"]+)"', page)
    assert ids == [a.id for a in expected.rows]
    assert f"{expected.total} konto" in page
    assert 'aria-sort="descending"' in page
    assert client.get("/inventory?sort=;drop table").status_code == 200  # an unknown sort is ignored
    with Store.open(db, readonly=True) as store:
        routes = store.inventory(limit=0).by_route
        route = next(iter(routes))
        by_route = store.inventory(routes=[route], limit=50)
    assert sum(routes.values()) == everything.total
    page = client.get(f"/inventory?route={route}").text
    assert re.findall(r'href="/accounts/([^"]+)"', page) == [a.id for a in by_route.rows]


def test_inventory_downloads_csv_for_swedish_excel_and_xlsx(env):
    db, _, make = env
    client = signed_in(make, "vera")
    response = client.get("/inventory.csv?status=active")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    with Store.open(db, readonly=True) as store:
        active = store.inventory(statuses=["active"], limit=1000).rows
    assert sorted(r["id"] for r in rows) == sorted(a.id for a in active) and rows
    # the reasons in the page's language (Swedish first), their kind as data
    assert any(r["reason_kind"] == "last_post" and r["reason"].startswith("senaste inlägg") for r in rows)
    assert not any(r["reason"].startswith("last post") for r in rows)
    xlsx = client.get("/inventory.xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    with Store.open(db, readonly=True) as store:
        registered = store.current_inventory()
    assert sheet.max_row == len(registered) + 1
    assert [c.value for c in sheet[1]][:3] == ["id", "unit", "area"]
    assert sorted(row[0].value for row in sheet.iter_rows(min_row=2)) == sorted(a.id for a in registered)


def test_account_page_shows_history_chart_checks_evidence_and_notices(env):
    db, _, make = env
    with Store.open(db, readonly=True) as store:
        account = next(a for a in store.current_inventory() if len(store.account_detail(a.id).status_history) > 1)
        detail = store.account_detail(account.id)
    client = signed_in(make, "vera")
    page = client.get(f"/accounts/{account.id}").text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="timeline"' in page and 'role="img"' in page
    assert account.unit in page and "Senaste kontrollerna" in page
    assert page.count("<tr>") >= len(detail.status_history)
    assert client.get("/accounts/no-such-account").status_code == 404


def test_report_page_is_the_report_template_for_any_two_dates_and_downloads(env):
    db, _, make = env
    client = signed_in(make, "vera")
    page = client.get("/report?baseline=2023-03-01&as_of=2023-04-15")
    assert page.status_code == 200
    from crawler import report as report_mod

    with Store.open(db, readonly=True) as store:
        built = report_mod.build_report(store, "2023-03-01", "2023-04-15", settings=Settings())
    standalone = report_mod.render(built, "html", "sv")
    title = re.search(r"<h1>(.*?)</h1>", standalone).group(1)
    assert f"<h1>{title}</h1>" in page.text and 'class="part-' in page.text
    assert "Huvudmeny" in page.text  # inside the web's frame
    bad = client.get("/report?baseline=2023-05-01&as_of=2023-03-01")
    assert bad.status_code == 400
    csv_report = client.get("/report.csv?baseline=2023-03-01&as_of=2023-04-15")
    assert csv_report.status_code == 200 and ";" in csv_report.text.splitlines()[0]
    assert client.get("/report.xlsx?baseline=2023-03-01").content[:2] == b"PK"
    assert client.get("/report.exe").status_code == 404


# ------------------------------------------------------------------------------ ops


def test_healthz_follows_crawler_status(env):
    from crawler import status as status_mod

    db, clock, make = env  # the clock stands an hour after the demo's last (simulated) cycle
    client = make()
    healthy = client.get("/healthz")
    assert status_mod.gather(str(db), Settings(), clock())["health"]["state"] == "ok"
    assert healthy.status_code == 200 and healthy.json()["status"] == "ok"
    clock.advance(40 * 86400)  # weeks without a visit: every account overdue
    expected = status_mod.gather(str(db), Settings(), clock())["health"]
    stale = client.get("/healthz")
    assert expected["state"] == "stale"
    assert stale.status_code == 503 and stale.json()["status"] == "stale"
    assert stale.json()["reason"] == expected["reason"]


def test_metrics_in_prometheus_text_format_limited_to_localhost_or_a_token(env):
    db, _, make = env
    text = make().get("/metrics").text
    for name in ("crawler_cycles_total", "crawler_last_cycle_duration_seconds", 'crawler_accounts{platform="',
                 "crawler_fetch_outcomes{", "crawler_pending_reviews", "crawler_last_good_cycle_age_seconds",
                 'crawler_health{state="ok"} 1.0'):
        assert name in text, name
    with Store.open(db, readonly=True) as store:
        assert f"crawler_pending_reviews {float(store.pending_summary().count)}" in text
    assert make(client=("10.3.3.3", 1)).get("/metrics").status_code == 403
    token_settings = Settings(web_metrics="token")
    remote = make(settings=token_settings, client=("10.3.3.3", 1), metrics_token="s3cret-token-value")
    assert remote.get("/metrics").status_code == 401
    assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert remote.get("/metrics", headers={"Authorization": "Bearer s3cret-token-value"}).status_code == 200


def test_a_token_rule_without_a_token_is_an_error_at_start(tmp_path):
    from crawler.errors import CrawlerError

    with pytest.raises(CrawlerError, match="CRAWLER_WEB_METRICS_TOKEN"):
        config_for(str(tmp_path / "x.sqlite"), Settings(web_metrics="token"), environ={})
    config = config_for(str(tmp_path / "x.sqlite"), Settings(), environ={})
    key_file = tmp_path / "x.sqlite.web-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert config_for(str(tmp_path / "x.sqlite"), Settings(), environ={}).key == config.key


def test_status_page_shows_cycles_failing_accounts_reviews_and_registry_problems(env, tmp_path):
    _, _, make = env
    broken = tmp_path / "sources.yaml"
    broken.write_text("accounts:\n  - id: a\n    unit: A\n", encoding="utf-8")
    from crawler import sources
    from crawler.errors import RegistryError

    with pytest.raises(RegistryError) as broken_registry:
        sources.load(str(broken))
    count = len(broken_registry.value.problems)
    client = signed_in(make, "vera", sources_path=str(broken))
    page = client.get("/status").text
    assert "Frisk" in page and "Senaste fullständiga genomsökningen" in page
    assert f"har {count} problem" in page
    assert str(broken_registry.value.problems[0]).split(":")[-1].strip() in page.replace("&#39;", "'")
    assert "väntar på granskning" in page


# ------------------------------------------------------------------------------ admins, language, headers


def test_an_admin_adds_changes_and_disables_users_and_the_trail_names_them(env):
    db, _, make = env
    admin = signed_in(make, "boss")
    token = csrf_of(admin.get("/users").text)
    short = admin.post("/users", data={"csrf_token": token, "name": "nils", "role": "viewer",
                                       "password": "kort", "password2": "kort"})
    assert short.status_code == 400 and "minst 10 tecken" in short.text
    assert admin.post("/users", data={"csrf_token": token, "name": "Nils", "role": "reviewer", "password": PASSWORD,
                                      "password2": PASSWORD}).status_code == 303
    assert admin.post("/users/nils", data={"csrf_token": token, "action": "role", "role": "viewer"}).status_code == 303
    assert admin.post("/users/nils", data={"csrf_token": token, "action": "disable"}).status_code == 303
    me = admin.post("/users/boss", data={"csrf_token": token, "action": "disable"})
    assert me.status_code == 400 and "stänga av dig själv" in me.text
    with Store.open(db, readonly=True) as store:
        assert [(c.change, c.by) for c in store.user_changes("nils")] == [
            ("added", "boss"), ("role", "boss"), ("disabled", "boss")]
    assert login(make(), "nils").status_code == 401


def test_swedish_by_default_english_selectable(env):
    _, _, make = env
    client = signed_in(make, "vera")
    page = client.get("/inventory").text
    assert '<html lang="sv">' in page and "Inventering" in page
    switched = client.get("/lang/en?next=/inventory")
    assert switched.status_code == 303 and switched.headers["location"] == "/inventory"
    english = client.get("/inventory").text
    assert '<html lang="en">' in english and "Inventory" in english and "Inventering" not in english


def test_security_headers_and_no_caching_of_pages(env):
    _, _, make = env
    client = signed_in(make, "vera")
    response = client.get("/inventory")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"


# ------------------------------------------------------------------------------ discovery's candidates


@pytest.fixture
def registry(env, demo_db, tmp_path) -> Path:
    """A copy of the demo's sources.yaml (the registry the demo's inventory was crawled from)."""
    path = tmp_path / "sources.yaml"
    shutil.copy(demo_db.parent / "sources.yaml", path)
    return path


def candidates_in(db, state=None):
    with Store.open(db, readonly=True) as store:
        return store.candidates(state)


def decide_candidate(client, cid, **data):
    page = client.get(f"/candidates/{cid}").text
    seen = re.search(r'name="seen" value="(\d+)"', page)
    return client.post(f"/candidates/{cid}", data={"csrf_token": csrf_of(page), "seen": seen.group(1) if seen else "0",
                                                   **data})


def test_the_candidates_queue_lists_proposed_first_newest_first_with_evidence(env, registry):
    db, _, make = env
    proposed = candidates_in(db, "proposed")
    assert len(proposed) == 3  # the demo's accounts missing from its registry
    viewer = signed_in(make, "vera", sources_path=str(registry))
    page = viewer.get("/candidates").text
    assert "Nya konton" in page and 'aria-current="page">Nya konton' in page  # the menu, in Swedish
    listed = [int(i) for i in re.findall(r'href="/candidates/(\d+)"', page)]
    assert sorted(listed) == sorted(c.id for c in proposed)
    excluded = viewer.get("/candidates?state=excluded").text
    assert all(f'href="/candidates/{c.id}"' in excluded for c in candidates_in(db, "excluded"))
    lund = next(c for c in candidates_in(db, "excluded") if "lund" in c.url)
    page = viewer.get(f"/candidates/{lund.id}").text
    assert "Varningar för förväxling" in page and "nämner en annan kommun (Lund)" in page
    first = proposed[0]
    with Store.open(db, readonly=True) as store:
        evidence = store.candidate(first.id).evidence
    page = viewer.get(f"/candidates/{first.id}").text
    for e in evidence:
        assert e.page_url in page and (e.link_text or "–") in page
    assert "Graph API: ett professionellt konto" in page or "profilsidan: finns" in page  # which route judged it
    assert 'id="candidate-decision"' not in page  # a viewer sees, never decides
    assert "får se de nya kontona men inte besluta" in page


def test_a_viewer_cannot_decide_a_candidate(env, registry):
    db, _, make = env
    cid = candidates_in(db, "proposed")[0].id
    viewer = signed_in(make, "vera", sources_path=str(registry))
    before = registry.read_bytes()
    response = decide_candidate(viewer, cid, decision="accept")
    assert response.status_code == 403
    response = decide_candidate(viewer, cid, decision="dismiss", comment="no")
    assert response.status_code == 403
    assert registry.read_bytes() == before and candidates_in(db, "proposed")[0].state == "proposed"


def test_a_reviewer_accepts_a_candidate_into_the_registry_as_the_signed_in_user(env, registry):
    from crawler import sources

    db, _, make = env
    c = next(c for c in candidates_in(db, "proposed") if c.unit and c.area)
    watcher = sources.RegistryFile(registry, sources.load(registry))  # as a running `crawler serve` sees the file
    before = len(watcher.current().accounts)
    reviewer = signed_in(make, "anna", sources_path=str(registry))
    response = decide_candidate(reviewer, c.id, decision="accept", unit=c.unit, area=c.area, by="mallory",
                                comment="checked the profile")
    assert response.status_code == 303 and response.headers["location"] == f"/candidates/{c.id}?saved=accepted"
    detail = reviewer.get(response.headers["location"]).text
    with Store.open(db, readonly=True) as store:
        record = store.candidate(c.id)
        account = store.account(record.candidate.account_id)  # synced into the inventory at once
    assert record.candidate.state == "accepted" and record.candidate.decided_by == "anna"  # never a typed name
    assert record.decisions[-1].comment == "checked the profile"
    assert (account.url, account.unit, account.area) == (c.url, c.unit, c.area)
    assert f"/accounts/{account.id}" in detail and "Godkänt" in detail
    registry_now = watcher.current()  # the service's reload sees the new, valid registry
    assert len(registry_now.accounts) == before + 1 and account.id in {a.id for a in registry_now.accounts}
    assert reviewer.get(f"/accounts/{account.id}").status_code == 200
    again = decide_candidate(reviewer, c.id, decision="accept", unit=c.unit, area=c.area)
    assert again.status_code in (400, 409) and len(sources.load(registry).accounts) == before + 1


def test_a_reviewer_dismisses_with_a_comment_and_bad_decisions_change_nothing(env, registry):
    db, _, make = env
    first, second, *_ = candidates_in(db, "proposed")
    reviewer = signed_in(make, "bo", sources_path=str(registry))
    before = registry.read_bytes()
    assert decide_candidate(reviewer, first.id).status_code == 400  # neither accept nor dismiss
    refused = decide_candidate(reviewer, first.id, decision="accept", unit="", area="")
    assert refused.status_code == 400 and "Ange enheten och området" in refused.text
    stale = reviewer.post(f"/candidates/{first.id}", data={"csrf_token": csrf_of(reviewer.get("/").text),
                                                            "seen": "5", "decision": "dismiss"})
    assert stale.status_code == 409  # someone decided since the page was shown
    assert registry.read_bytes() == before and candidates_in(db, "proposed")[0].state == "proposed"
    response = decide_candidate(reviewer, second.id, decision="dismiss", comment="föräldrarnas <b>sida</b>")
    assert response.status_code == 303
    with Store.open(db, readonly=True) as store:
        record = store.candidate(second.id)
    assert record.candidate.state == "dismissed" and record.decisions[-1].by == "bo"
    page = reviewer.get(f"/candidates/{second.id}").text
    assert "föräldrarnas &lt;b&gt;sida&lt;/b&gt;" in page and "<b>sida</b>" not in page
    assert registry.read_bytes() == before  # dismissing never touches sources.yaml
    excluded = candidates_in(db, "excluded")[0]
    assert decide_candidate(reviewer, excluded.id, decision="accept", unit="X", area="Y").status_code == 400
    assert candidates_in(db, "excluded")[0].state == "excluded"
