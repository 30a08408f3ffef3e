"""Reasons are data (issue 19.1): the classifier's kind + values, stored once, written per language."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from crawler import classify as C
from crawler import reasons
from crawler.models import Fetched, Observation, Post, PriorState, Reason, Verdict
from crawler.settings import Settings
from crawler.store import MIGRATIONS, Store, Visit, _statements

from .conftest import sql_rows

NOW = datetime(2023, 3, 1, 10, 0, tzinfo=UTC)
S = Settings()


def ok(last: datetime | None = None, *, platform: str = "wordpress", count: int | None = None,
       posts: tuple[Post, ...] = (), title: str | None = None) -> Observation:
    return Observation(platform, True, "ok", last_post_at=last, post_count=count, posts=posts, site_title=title)


def every_reason() -> dict[str, Verdict]:
    """One verdict of each path through the classifier."""
    gone = PriorState(status="gone", last_post_at=NOW - timedelta(days=40), last_post_url="https://x/p1",
                      unit="Förskolan Solrosen", gone_streak=2, gone_streak_since=NOW - timedelta(days=9))
    active = PriorState(status="active", last_post_at=NOW - timedelta(days=5))
    counted = PriorState(status="active", post_count=57, post_count_at=NOW - timedelta(days=7),
                         post_count_since=NOW - timedelta(days=100))
    out = {
        "last_post": C.classify(PriorState(), ok(NOW - timedelta(days=3)), "ok", NOW, S),
        "future": C.classify(PriorState(), Observation("blog", True, "ok", posts=(
            Post("a", NOW - timedelta(days=1)), Post("b", NOW + timedelta(days=30)))), "ok", NOW, S),
        "rose": C.classify(counted, ok(platform="instagram", count=58), "ok", NOW, S),
        "zero": C.classify(PriorState(), ok(platform="instagram", count=0), "ok", NOW, S),
        "unchanged": C.classify(counted, ok(platform="instagram", count=57), "ok", NOW, S),
        "no_date": C.classify(PriorState(), ok(platform="instagram", count=12), "ok", NOW, S),
        "undated": C.classify(PriorState(), ok(platform="instagram"), "ok", NOW, S),
        "no_dated_posts": C.classify(PriorState(), ok(), "ok", NOW, S),
        "http": C.classify(active, Observation("wordpress", False, "http 404"), "gone", NOW, S),
        "page": C.classify(active, Observation("blogger", False, "blogger: blog not found or removed"), "gone",
                           NOW, S),
        "back": C.classify(gone, ok(NOW - timedelta(days=1), posts=(Post("https://x/p1", NOW - timedelta(days=40)),)),
                           "ok", NOW, S),
        "back_name": C.classify(gone, ok(NOW - timedelta(days=1), title="Solrosens blogg"), "ok", NOW, S),
        "something_else": C.classify(gone, ok(NOW - timedelta(days=1), title="It works"), "ok", NOW, S),
        "not_modified_gone": C.classify(gone, None, "not_modified", NOW, S),
        "gone_kept": C.classify(gone, None, "error", NOW, S),
    }
    for outcome in ("login_wall", "blocked_by_robots", "robots_unreachable", "error"):
        out[outcome] = C.classify(active, None, outcome, NOW, S)
        out[f"{outcome}_first"] = C.classify(PriorState(), None, outcome, NOW, S)
    return out


def test_the_classifier_says_why_as_a_kind_and_values():
    v = every_reason()
    assert v["last_post"].why == Reason("last_post", {"date": "2023-02-26", "days": 3, "estimated": False})
    assert v["http"].why == Reason("not_found", {"status": 404, "checks": 1, "since": "2023-03-01",
                                                 "pending": "active"})
    assert v["page"].why.get("page") == "blogger" and v["page"].why.get("detail") == "blogger: blog not found or removed"
    assert v["robots_unreachable_first"].why == Reason("no_answer", {"what": "robots_unreachable", "checks": 1})
    assert v["robots_unreachable"].why.get("kept") == "active"
    assert v["back"].why.get("back") == "last_post_listed"
    assert v["back_name"].why.values["name"] == "Solrosen"
    assert v["future"].why.get("future_ignored") == 1
    assert v["rose"].why == Reason("post_count_rose", {"before": 57, "after": 58, "since": "2023-02-22",
                                                       "until": "2023-03-01"})
    assert {x.why.kind for x in v.values()} <= set(reasons.KINDS) - {"text"}


def test_english_is_what_the_reasons_always_said():
    v = every_reason()
    assert v["last_post"].reason == "last post 2023-02-26 (3 days ago)"
    assert v["http"].reason == "http 404 on 1 check since 2023-03-01; active until confirmed"
    assert v["page"].reason == "blogger: blog not found or removed on 1 check since 2023-03-01; active until confirmed"
    assert v["robots_unreachable"].reason == "robots.txt unreachable (site error) on 1 check; active kept"
    assert v["gone_kept"].reason == "fetch error on 1 check; gone kept"
    assert v["unchanged"].reason == "post count 57 unchanged since 2022-11-21 (100 days)"


@pytest.mark.parametrize("case", sorted(every_reason()))
def test_every_reason_reads_in_swedish(case):
    """Swedish from the catalog: no English message left, the values in their places."""
    verdict = every_reason()[case]
    sv, en = reasons.render(verdict.why, "sv"), reasons.render(verdict.why, "en")
    assert sv and sv != en
    english = {"last", "post", "posts", "ago", "check", "checks", "since", "kept", "until", "confirmed", "login",
               "wall", "disallows", "unreachable", "error", "fetch", "exists", "dated", "count", "rose", "between",
               "serves", "something", "else", "back", "after", "gone", "ignored", "future", "not", "found",
               "blog", "removed", "the", "site", "names"}
    words = {w.strip("();:,.").lower() for w in sv.split()}
    assert not words & english, sv
    for value in verdict.why.values.values():
        if isinstance(value, int) and not isinstance(value, bool) and value > 1:
            assert str(value) in sv


def test_swedish_reasons_as_a_board_member_reads_them():
    v = every_reason()
    assert reasons.render(v["last_post"].why, "sv") == "senaste inlägg 2023-02-26 (för 3 dagar sedan)"
    assert reasons.render(v["http"].why, "sv") == ("sidan fanns inte (felkod 404) vid 1 kontroll sedan 2023-03-01; "
                                                   "räknas som aktivt tills borttagningen är bekräftad")
    assert reasons.render(v["page"].why, "sv").startswith("Blogger har visat att kontot inte finns vid 1 kontroll")
    assert reasons.render(v["login_wall_first"].why, "sv") == "kräver inloggning vid 1 kontroll i rad"
    assert reasons.render(v["rose"].why, "sv") == ("antalet inlägg ökade från 57 till 58 mellan 2023-02-22 och "
                                                   "2023-03-01")


def test_a_reason_of_a_kind_this_version_does_not_know_is_shown_with_its_data():
    assert reasons.render(Reason("api_quota", {"left": 0}), "sv") == "skäl api_quota: {'left': 0}"
    assert reasons.render(None, "sv") == ""
    assert reasons.render(Reason.text("last post 2020-01-01"), "sv") == "last post 2020-01-01"  # old rows as written


def _visit(store: Store, verdict: Verdict, at: datetime) -> None:
    url = "https://a.example.se/"
    fetched = Fetched(url=url, final_url=url, status=404, started_at=at)
    store.record_visit(Visit("a", None, at, "gone", [fetched], Observation("wordpress", False, "http 404"), verdict))


def test_a_reason_is_stored_once_as_kind_and_values(tmp_path):
    from crawler.models import Account

    verdict = every_reason()["http"]
    with Store.open(tmp_path / "inv.sqlite") as store:
        store.sync([Account("a", "Förskolan A", "Norr", "wordpress", "https://a.example.se/")], NOW)
        _visit(store, verdict, NOW)
        row = sql_rows(store, "SELECT reason, reason_kind, reason_values FROM status_changes")[0]
        assert row["reason"] is None and row["reason_kind"] == "not_found"
        assert row["reason_values"] == '{"checks": 1, "pending": "active", "since": "2023-03-01", "status": 404}'
        acc = sql_rows(store, "SELECT status_reason, status_reason_kind FROM accounts")[0]
        assert acc["status_reason"] is None and acc["status_reason_kind"] == "not_found"
        assert store.account("a").why == verdict.why
        assert store.status_changes()[0].why == verdict.why
        assert store.statuses_at(NOW).pop().why == verdict.why
        assert store.account("a").status_reason == verdict.reason  # the English text, for readers that want it


def test_reasons_written_as_text_before_version_6_stay_readable(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    for script in MIGRATIONS[:5]:
        for statement in _statements(script):
            con.execute(statement)
    con.execute("PRAGMA user_version = 5")
    con.execute("INSERT INTO accounts (id, unit, area, platform, url, registered_at, status, status_since, "
                "status_reason) VALUES ('a', 'A', 'Norr', 'wordpress', 'https://a/', '2023-01-01T00:00:00+00:00', "
                "'gone', '2023-02-01T00:00:00+00:00', 'http 404 on 2 checks since 2023-01-30')")
    con.execute("INSERT INTO status_changes (account_id, at, old, new, reason) VALUES "
                "('a', '2023-02-01T00:00:00+00:00', 'active', 'gone', 'http 404 on 2 checks since 2023-01-30')")
    con.commit()
    con.close()
    old = Reason.text("http 404 on 2 checks since 2023-01-30")
    with Store.open(path, readonly=True) as store:  # not migrated yet: read as version 5
        assert store.account("a").why == old and store.status_changes()[0].why == old
    with Store.open(path) as store:  # migrated: the old rows keep their text
        assert store.schema_version() == len(MIGRATIONS)
        assert store.statuses_at(NOW)[0].why == old
        assert store.account("a").status_reason == "http 404 on 2 checks since 2023-01-30"
        history = sql_rows(store, "SELECT reason, reason_kind FROM account_history")
        assert history == [{"reason": "http 404 on 2 checks since 2023-01-30", "reason_kind": None}]
