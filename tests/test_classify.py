"""Tests for crawler.classify: outcomes, every status rule, and hysteresis over sequences of checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from crawler.classify import classify, outcome
from crawler.models import Fetched, Observation, Post, PriorState, Verdict
from crawler.settings import Settings

S = Settings()
T0 = datetime(2023, 3, 1, 2, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def blog(last: datetime | None = None, *dates: datetime) -> Observation:
    posts = tuple(Post(f"https://b.example/{i}", d) for i, d in enumerate(dates))
    return Observation("wordpress", True, "feed", last_post_at=last, posts=posts)


def insta(count: int | None) -> Observation:
    return Observation("instagram", True, "og:description", post_count=count)


GONE = Observation("blogger", False, "http 404")
WALL = Observation("instagram", None, "login wall", login_wall=True)


def thread(prior: PriorState, verdict: Verdict, now: datetime, obs: Observation | None) -> PriorState:
    """What the store would hand the classifier on the next visit."""
    count = obs.post_count if obs is not None and obs.post_count is not None else prior.post_count
    count_at = now if obs is not None and obs.post_count is not None else prior.post_count_at
    return PriorState(
        status=verdict.status,
        status_since=now if verdict.changed else prior.status_since,
        last_post_at=verdict.last_post_at,
        last_post_estimated=verdict.last_post_estimated,
        post_count=count,
        post_count_at=count_at,
        post_count_since=verdict.post_count_since,
        consecutive_failures=verdict.consecutive_failures,
        gone_streak=verdict.gone_streak,
        gone_streak_since=verdict.gone_streak_since,
        last_checked_at=now,
        last_post_url=prior.last_post_url,
        unit=prior.unit,
    )


def run(steps, prior: PriorState | None = None, settings: Settings = S) -> list[Verdict]:
    """Feed (now, outcome, obs) steps through classify, threading the state like the store does."""
    prior = prior or PriorState()
    out = []
    for now, kind, obs in steps:
        verdict = classify(prior, obs, kind, now, settings)
        out.append(verdict)
        prior = thread(prior, verdict, now, obs if kind == "ok" else None)
    return out


# ------------------------------------------------------------------------------------- outcome()


@pytest.mark.parametrize(
    "fetched, obs, expected",
    [
        (None, None, "error"),
        (Fetched("u", "u", error="blocked_by_robots"), None, "blocked_by_robots"),
        (Fetched("u", "u", error="timeout"), None, "error"),
        (Fetched("u", "u", error="dns_error"), None, "error"),
        (Fetched("u", "u", status=304), None, "not_modified"),
        (Fetched("u", "u", status=404), None, "gone"),
        (Fetched("u", "u", status=410), None, "gone"),
        (Fetched("u", "u", status=500), None, "error"),
        (Fetched("u", "u", status=200), GONE, "gone"),
        (Fetched("u", "u", status=200), WALL, "login_wall"),
        (Fetched("u", "u", status=200), Observation("html", None, "cannot tell"), "error"),
        (Fetched("u", "u", status=200), blog(T0), "ok"),
        (None, blog(T0), "ok"),
    ],
)
def test_outcome(fetched, obs, expected):
    assert outcome(fetched, obs) == expected


# ------------------------------------------------------------------------------ dates and status


def test_recent_post_is_active_with_evidence_in_reason():
    v = classify(PriorState(), blog(T0 - 59 * DAY), "ok", T0, S)
    assert (v.status, v.changed) == ("active", True)
    assert v.reason == "last post 2023-01-01 (59 days ago)"
    assert v.last_post_at == T0 - 59 * DAY and not v.last_post_estimated


def test_boundary_of_active_days():
    assert classify(PriorState(), blog(T0 - 90 * DAY), "ok", T0, S).status == "active"
    assert classify(PriorState(), blog(T0 - 91 * DAY), "ok", T0, S).status == "dormant"
    assert classify(PriorState(), blog(T0 - 91 * DAY), "ok", T0, S.replace(active_days=120)).status == "active"


def test_newest_of_posts_is_used():
    v = classify(PriorState(), blog(None, T0 - 200 * DAY, T0 - 3 * DAY, T0 - 100 * DAY), "ok", T0, S)
    assert v.status == "active" and v.last_post_at == T0 - 3 * DAY


def test_blog_without_posts_is_dormant():
    v = classify(PriorState(), blog(None), "ok", T0, S)
    assert v.status == "dormant" and "no dated posts" in v.reason


def test_future_date_beyond_skew_is_ignored():
    far = T0 + timedelta(hours=S.future_skew_hours + 1)
    v = classify(PriorState(), blog(None, far, T0 - 200 * DAY), "ok", T0, S)
    assert v.status == "dormant" and v.last_post_at == T0 - 200 * DAY
    assert "ignored 1 future date" in v.reason
    near = T0 + timedelta(hours=S.future_skew_hours - 1)
    assert classify(PriorState(), blog(near), "ok", T0, S).last_post_at == near


def test_odd_visit_with_an_older_or_empty_feed_does_not_move_last_post_back():
    prior = PriorState(status="active", last_post_at=T0 - 10 * DAY)
    v = classify(prior, blog(None), "ok", T0, S)
    assert v.status == "active" and v.last_post_at == T0 - 10 * DAY and not v.changed
    v = classify(prior, blog(T0 - 300 * DAY), "ok", T0, S)
    assert v.status == "active" and v.last_post_at == T0 - 10 * DAY


def test_not_modified_carries_last_post_and_reevaluates_against_now():
    prior = PriorState(status="active", last_post_at=T0 - 80 * DAY)
    v = classify(prior, None, "not_modified", T0, S)
    assert v.status == "active" and not v.changed and v.last_post_at == prior.last_post_at
    v = classify(prior, None, "not_modified", T0 + 20 * DAY, S)
    assert v.status == "dormant" and v.changed and v.reason == "last post 2022-12-11 (100 days ago)"


def test_dormant_by_the_passage_of_time_in_a_sequence():
    last = T0 - 85 * DAY
    steps = [(T0 + i * DAY, "not_modified" if i else "ok", blog(last) if i == 0 else None) for i in range(8)]
    statuses = [v.status for v in run(steps)]
    assert statuses == ["active"] * 6 + ["dormant"] * 2


# ------------------------------------------------------------------------------ failures, unknown


@pytest.mark.parametrize("kind, label", [("login_wall", "login wall"), ("error", "fetch error"),
                                         ("blocked_by_robots", "robots.txt disallows")])
def test_failures_turn_unknown_only_after_unknown_after(kind, label):
    prior = PriorState(status="active", last_post_at=T0 - DAY)
    steps = [(T0 + i * DAY, kind, WALL if kind == "login_wall" else None) for i in range(4)]
    verdicts = run(steps, prior)
    assert [v.status for v in verdicts] == ["active", "active", "unknown", "unknown"]
    assert [v.changed for v in verdicts] == [False, False, True, False]
    assert verdicts[2].reason == f"{label} on 3 checks"
    assert verdicts[0].reason == f"{label} on 1 check; active kept"
    assert [v.consecutive_failures for v in verdicts] == [1, 2, 3, 4]
    assert all(v.last_post_at == T0 - DAY for v in verdicts)


def test_never_classified_account_without_information_is_unknown_at_once():
    v = classify(PriorState(), WALL, "login_wall", T0, S)
    assert v.status == "unknown" and v.changed and v.consecutive_failures == 1


def test_one_success_resets_the_failure_count():
    prior = PriorState(status="dormant", last_post_at=T0 - 400 * DAY)
    steps = [
        (T0, "error", None),
        (T0 + DAY, "error", None),
        (T0 + 2 * DAY, "ok", blog(T0 - 400 * DAY)),
        (T0 + 3 * DAY, "error", None),
        (T0 + 4 * DAY, "error", None),
    ]
    verdicts = run(steps, prior)
    assert [v.status for v in verdicts] == ["dormant"] * 5
    assert [v.consecutive_failures for v in verdicts] == [1, 2, 0, 1, 2]


def test_unknown_after_setting_is_respected():
    steps = [(T0 + i * DAY, "error", None) for i in range(5)]
    verdicts = run(steps, PriorState(status="active", last_post_at=T0), S.replace(unknown_after=5))
    assert [v.status for v in verdicts] == ["active"] * 4 + ["unknown"]


def test_unknown_account_that_answers_is_classified_again():
    steps = [(T0 + i * DAY, "login_wall", WALL) for i in range(3)] + [(T0 + 3 * DAY, "ok", blog(T0))]
    verdicts = run(steps, PriorState(status="dormant", last_post_at=T0 - 400 * DAY))
    assert [v.status for v in verdicts] == ["dormant", "dormant", "unknown", "active"]
    assert verdicts[-1].changed and verdicts[-1].reason == "last post 2023-03-01 (3 days ago)"


# ------------------------------------------------------------------------------------------ gone


def test_gone_needs_two_checks_spanning_24_hours():
    prior = PriorState(status="active", last_post_at=T0 - DAY)
    steps = [
        (T0, "gone", GONE),
        (T0 + timedelta(hours=6), "gone", GONE),  # second check but too soon
        (T0 + timedelta(hours=30), "gone", GONE),
        (T0 + timedelta(hours=54), "gone", GONE),
    ]
    verdicts = run(steps, prior)
    assert [v.status for v in verdicts] == ["active", "active", "gone", "gone"]
    assert [v.changed for v in verdicts] == [False, False, True, False]
    assert verdicts[2].reason == "http 404 on 3 checks since 2023-03-01"
    assert verdicts[0].reason.endswith("active until confirmed")
    assert [v.gone_streak for v in verdicts] == [1, 2, 3, 4]
    assert all(v.gone_streak_since == T0 for v in verdicts)


def test_gone_streak_is_broken_by_any_other_visit():
    prior = PriorState(status="active", last_post_at=T0 - DAY)
    steps = [
        (T0, "gone", GONE),
        (T0 + DAY, "error", None),  # a DNS failure never counts toward gone
        (T0 + 2 * DAY, "gone", GONE),
        (T0 + 3 * DAY, "ok", blog(T0 - DAY)),
        (T0 + 4 * DAY, "gone", GONE),
        (T0 + 5 * DAY, "gone", GONE),
    ]
    verdicts = run(steps, prior)
    assert [v.status for v in verdicts] == ["active"] * 5 + ["gone"]
    assert [v.gone_streak for v in verdicts] == [1, 0, 1, 0, 1, 2]
    assert verdicts[-1].gone_streak_since == T0 + 4 * DAY


def test_gone_after_setting():
    steps = [(T0 + i * DAY, "gone", GONE) for i in range(3)]
    verdicts = run(steps, PriorState(status="dormant"), S.replace(gone_after=3))
    assert [v.status for v in verdicts] == ["dormant", "dormant", "gone"]


def test_new_account_that_is_not_there_starts_unknown_not_gone():
    v = classify(PriorState(), None, "gone", T0, S)
    assert v.status == "unknown" and v.reason == "not found on 1 check since 2023-03-01; unknown until confirmed"


def test_account_back_after_gone_is_active_again_with_the_change_recorded():
    # its last known post (b.example/1) is listed again beside a new one: the same account
    back = blog(T0 + 9 * DAY, T0 + 9 * DAY, T0 - DAY)
    steps = [(T0, "gone", GONE), (T0 + 2 * DAY, "gone", GONE), (T0 + 10 * DAY, "ok", back)]
    verdicts = run(steps, PriorState(status="active", last_post_at=T0 - DAY, last_post_url="https://b.example/1"))
    assert [v.status for v in verdicts] == ["active", "gone", "active"]
    assert verdicts[-1].changed
    assert verdicts[-1].reason == "back after gone (its last known post is listed again): last post 2023-03-10 (1 day ago)"
    assert verdicts[-1].gone_streak == 0 and verdicts[-1].gone_streak_since is None


def test_back_after_gone_when_the_site_names_the_unit():
    prior = PriorState(status="gone", status_since=T0, last_post_at=T0 - 30 * DAY, unit="Förskolan Solrosen")
    restored = replace(blog(T0 + 5 * DAY, T0 + 5 * DAY), site_title="Solrosens förskola – nyheter")
    v = classify(prior, restored, "ok", T0 + 6 * DAY, S)
    assert v.status == "active" and v.reason.startswith("back after gone (the site names Solrosen): ")
    # the generic words of a unit's name are no evidence: any preschool's site says "förskolan"
    other = replace(restored, site_title="Förskolan Tandvårdshuset")
    assert classify(prior, other, "ok", T0 + 6 * DAY, S).status == "gone"


@pytest.mark.parametrize(
    ("what", "obs", "said"),
    [
        ("the web server's default page", Observation("wordpress", True, "page parsed",
                                                      site_title="Apache2 Debian Default Page: It works"), "no dated posts"),
        # another site with a post newer than the gone date: a newer post alone is no evidence
        ("another site", replace(blog(T0 + 5 * DAY, T0 + 5 * DAY), site_title="Tandvårdshuset"),
         "newest post there 2023-03-06"),
    ],
)
def test_a_gone_address_that_serves_something_else_stays_gone_with_its_old_date(what, obs, said):
    """Issue 13 defect 1: gone -> active on an undated page (or another site) reusing the old date."""
    prior = PriorState(status="gone", status_since=T0, last_post_at=T0 - 30 * DAY, gone_streak=2,
                       gone_streak_since=T0 - DAY, last_post_url="https://solrosen.example/p/9/", unit="Förskolan Solrosen")
    v = classify(prior, obs, "ok", T0 + 6 * DAY, S)
    assert v.status == "gone" and not v.changed, what
    assert v.reason == f"now serves something else ({said}; no post or name of the account); gone kept"
    assert v.last_post_at == T0 - 30 * DAY and v.gone_streak_since == T0 - DAY


def test_a_gone_account_that_then_fails_to_answer_stays_gone():
    # a deleted blog's domain expires (DNS errors), then serves a parked page: it must not pass through unknown
    steps = [(T0 + i * DAY, "error", None) for i in range(4)]
    verdicts = run(steps, PriorState(status="gone"))
    assert [v.status for v in verdicts] == ["gone"] * 4
    assert verdicts[-1].reason == "fetch error on 4 checks; gone kept"


def test_not_modified_after_an_outage_re_reads_the_stored_observation():
    """Issue 13 defect 3: after an outage the account is unknown; a 304 brings back what the
    stored reading says, also for a blog whose reading had no dated post (dormant, not unknown)."""
    after_outage = PriorState(status="unknown", last_post_at=T0 - 3 * DAY, consecutive_failures=3)
    v = classify(after_outage, Observation("wordpress", True, "not modified"), "not_modified", T0, S)
    assert v.status == "active" and v.reason == "last post 2023-02-26 (3 days ago)" and v.consecutive_failures == 0
    undated = PriorState(status="unknown", consecutive_failures=3)
    v = classify(undated, Observation("blog", True, "not modified"), "not_modified", T0, S)
    assert v.status == "dormant" and v.reason == "exists; no dated posts"


def test_days_in_reasons_are_the_inventorys_local_days():
    """Issue 13 defect 6: a post at 00:20 Swedish time on 14 April is on the 14th (UTC: the 13th)."""
    post = datetime(2023, 4, 13, 22, 20, tzinfo=timezone.utc)
    v = classify(PriorState(), blog(post), "ok", datetime(2023, 4, 15, 10, 0, tzinfo=timezone.utc), S)
    assert v.reason == "last post 2023-04-14 (1 day ago)"
    v = classify(PriorState(), blog(post), "ok", datetime(2023, 4, 15, 10, 0, tzinfo=timezone.utc),
                 S.replace(timezone="UTC"))
    assert v.reason == "last post 2023-04-13 (1 day ago)"


# ----------------------------------------------------------------------------------- post counts


def test_post_count_rise_means_a_post_in_the_interval():
    prior = PriorState(status="dormant", post_count=57, post_count_at=T0, post_count_since=T0 - 50 * DAY)
    now = T0 + 7 * DAY
    v = classify(prior, insta(58), "ok", now, S)
    assert v.status == "active" and v.changed
    assert v.last_post_at == now and v.last_post_estimated
    assert v.reason == "post count rose 57→58 between 2023-03-01 and 2023-03-08"
    assert v.post_count_since == now


def test_estimated_last_post_ages_into_dormant_and_stays_estimated():
    prior = PriorState(status="active", last_post_at=T0, last_post_estimated=True, post_count=58,
                       post_count_at=T0, post_count_since=T0)
    v = classify(prior, insta(58), "ok", T0 + 100 * DAY, S)
    assert v.status == "dormant" and v.last_post_estimated
    assert "estimated from the post count" in v.reason


def test_read_date_replaces_an_estimate():
    prior = PriorState(status="active", last_post_at=T0, last_post_estimated=True)
    v = classify(prior, blog(T0 - 5 * DAY), "ok", T0 + DAY, S)
    assert v.last_post_at == T0 - 5 * DAY and not v.last_post_estimated


def test_unchanged_count_is_dormant_only_after_active_days_since_first_read():
    weekly = [(T0 + i * 7 * DAY, "ok", insta(57)) for i in range(16)]
    verdicts = run(weekly)
    statuses = [v.status for v in verdicts]
    # honest while the count has been seen for fewer than 90 days: unknown, then dormant
    assert statuses[:13] == ["unknown"] * 13  # day 0 .. day 84
    assert statuses[13:] == ["dormant"] * 3  # day 91 onward
    assert verdicts[13].reason == "post count 57 unchanged since 2023-03-01 (91 days)"
    assert verdicts[0].reason == "post count 57, no post date yet"


def test_count_without_date_keeps_a_known_status():
    prior = PriorState(status="active", last_post_at=None, post_count=10, post_count_at=T0,
                       post_count_since=T0)
    v = classify(prior, insta(10), "ok", T0 + 7 * DAY, S)
    assert v.status == "active" and not v.changed


def test_count_rise_in_a_sequence_makes_an_undated_account_active():
    steps = [(T0 + i * 30 * DAY, "ok", insta(n)) for i, n in enumerate([5, 5, 5, 5, 6, 6, 6, 6, 6])]
    verdicts = run(steps)
    assert [v.status for v in verdicts] == ["unknown", "unknown", "unknown", "unknown", "active",
                                            "active", "active", "active", "dormant"]
    assert verdicts[4].reason == "post count rose 5→6 between 2023-05-30 and 2023-06-29"
    assert verdicts[8].reason == "last post 2023-06-29 (120 days ago, estimated from the post count)"


def test_missing_post_count_since_falls_back_to_the_last_read():
    prior = PriorState(status="unknown", post_count=5, post_count_at=T0)
    assert classify(prior, insta(5), "ok", T0 + 30 * DAY, S).status == "unknown"
    v = classify(prior, insta(5), "ok", T0 + 91 * DAY, S)
    assert v.status == "dormant"


def test_zero_posts_is_dormant():
    assert classify(PriorState(), insta(0), "ok", T0, S).status == "dormant"


def test_count_falling_is_not_a_post():
    prior = PriorState(status="unknown", post_count=10, post_count_at=T0, post_count_since=T0 - 200 * DAY)
    v = classify(prior, insta(9), "ok", T0 + DAY, S)
    assert v.last_post_at is None and v.status == "unknown" and v.post_count_since == T0 + DAY


def test_instagram_page_with_neither_date_nor_count_tells_only_existence():
    assert classify(PriorState(), insta(None), "ok", T0, S).status == "unknown"
    prior = PriorState(status="dormant", last_post_at=None)
    v = classify(prior, insta(None), "ok", T0, S)
    assert v.status == "dormant" and not v.changed


def test_ok_outcome_without_observation_counts_as_a_failure():
    prior = PriorState(status="active", last_post_at=T0)
    v = classify(prior, None, "ok", T0 + DAY, S)
    assert v.status == "active" and v.consecutive_failures == 1


def test_verdict_is_pure():
    prior = PriorState(status="active", last_post_at=T0 - DAY)
    a = classify(prior, blog(T0 - DAY), "ok", T0, S)
    b = classify(replace(prior), blog(T0 - DAY), "ok", T0, S)
    assert a == b
