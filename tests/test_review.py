"""Tests for crawler.review and `crawler review`, on a real SQLite inventory file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import review
from crawler.cli import cli
from crawler.errors import NotFound
from crawler.models import Account, Fetched, NoticeHit, Observation, PublicText, Verdict
from crawler.notices import detect
from crawler.store import Store, Visit

from .conftest import NOW

A = Account("solen", "Förskolan Solen", "Norr", "wordpress", "https://solen.example.se/")
B = Account("pilen", "Förskolan Pilen", "Söder", "instagram", "https://www.instagram.com/pilen/")


def hit(url: str | None, text: str = "Bloggen stängs ner, vi går över till Tempus Hemma") -> NoticeHit:
    (found,) = detect([PublicText("summary", text, url, NOW - timedelta(days=2))])
    return found


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """An inventory file with two accounts and three pending notices (ids 1, 2 on solen; 3 on pilen)."""
    path = tmp_path / "inventory.sqlite"
    with Store.open(path) as store:
        store.sync([A, B], NOW)
        assert store.add_notice("solen", hit("https://solen.example.se/2023/03/hej-da"), NOW) == 1
        assert store.add_notice("solen", hit("https://solen.example.se/2023/03/tack"), NOW) == 2
        assert store.add_notice("pilen", hit(None, "Följ oss i appen! Vi uppdaterar inte Instagram längre."),
                                NOW + timedelta(hours=1)) == 3
    return path


@pytest.fixture
def store(db: Path):
    with Store.open(db) as s:
        yield s


def announced(store: Store, account: str) -> int:
    return store.account(account).announced_move


# ------------------------------------------------------------------------------------- library


def test_list_pending_oldest_first_with_account(store):
    items = review.list_notices(store)
    assert [n.id for n in items] == [1, 2, 3]
    first = items[0]
    assert (first.unit, first.platform, first.state, first.kind) == ("Förskolan Solen", "wordpress", "pending",
                                                                    "move")
    assert any("Tempus Hemma" in m for m in first.matched) and first.link == "https://solen.example.se/2023/03/hej-da"
    assert items[2].link == B.url  # a bio has no post: the account is what to open


def test_confirm_sets_announced_move_and_records_the_audit_row(store):
    result = review.confirm(store, 1, "Anna", comment=" says so ", now=NOW + timedelta(days=1))
    assert result.notice.state == "confirmed" and result.old_state == "pending" and result.changed
    assert (result.notice.reviewer, result.notice.comment) == ("Anna", "says so")
    assert announced(store, "solen") == 1 and announced(store, "pilen") == 0
    (row,) = review.history(store, 1)
    assert (row.reviewer, row.old_state, row.new_state, row.comment) == ("Anna", "pending", "confirmed",
                                                                                     "says so")
    assert row.at.date().isoformat() == "2023-03-02"
    assert [n.id for n in review.list_notices(store)] == [2, 3]
    assert [n.id for n in review.list_notices(store, "confirmed")] == [1]
    assert [n.id for n in review.list_notices(store, "all")] == [1, 2, 3]


def test_reviewed_notice_needs_force_and_the_change_is_recorded(store):
    review.confirm(store, 1, "Anna")
    with pytest.raises(review.ReviewError, match="(?s)already confirmed by Anna.*--force"):
        review.reject(store, 1, "Bo")
    assert review.get(store, 1).state == "confirmed" and len(review.history(store, 1)) == 1
    result = review.reject(store, 1, "Bo", comment="about absence", force=True)
    assert result.old_state == "confirmed" and result.notice.state == "rejected"
    trail = review.history(store, 1)
    assert [(t.reviewer, t.old_state, t.new_state) for t in trail] == [
        ("Anna", "pending", "confirmed"), ("Bo", "confirmed", "rejected")]


def test_rejecting_the_only_confirmed_notice_clears_the_flag_but_not_while_another_stays(store):
    review.confirm(store, 1, "Anna")
    review.confirm(store, 2, "Anna")
    review.reject(store, 1, "Bo", force=True)
    assert announced(store, "solen") == 1  # notice 2 is still confirmed
    review.reject(store, 2, "Bo", force=True)
    assert announced(store, "solen") == 0


def test_rejected_notice_never_resurfaces_when_the_same_post_is_flagged_again(store):
    review.reject(store, 1, "Anna", comment="not a move")
    again = hit("https://solen.example.se/2023/03/hej-da")
    verdict = Verdict("active", "last post 2023-02-27 (2 days ago)", True, NOW - timedelta(days=2))
    obs = Observation("wordpress", True, "feed", last_post_at=NOW - timedelta(days=2))
    fetched = Fetched(A.url, A.url, status=200, body=b"<rss/>")
    new = store.record_visit(Visit("solen", None, NOW + timedelta(days=7), "ok", [fetched], obs, verdict, [again]))
    assert new == 0
    assert review.get(store, 1).state == "rejected"
    assert [n.id for n in review.list_notices(store, "all")] == [1, 2, 3]


def test_reviewer_name_is_required_and_unknown_ids_are_reported(store):
    with pytest.raises(review.ReviewError, match="reviewer's name"):
        review.confirm(store, 1, "  ")
    with pytest.raises(NotFound, match="no notice with id 99"):
        review.confirm(store, 99, "Anna")
    with pytest.raises(NotFound):
        review.history(store, 99)
    with pytest.raises(review.ReviewError, match="unknown state"):
        review.list_notices(store, "maybe")


def test_audit_rows_are_only_appended(store):
    review.confirm(store, 3, "Anna")
    review.reject(store, 3, "Bo", force=True)
    review.confirm(store, 3, "Cecilia", force=True, comment="checked the app")
    trail = review.history(store, 3)
    assert [t.id for t in trail] == sorted(t.id for t in trail) and len(trail) == 3
    assert announced(store, "pilen") == 1


def test_format_list_and_notice_show_what_a_reviewer_needs(store):
    table = review.format_list(review.list_notices(store))
    header, *lines = table.splitlines()
    assert header.split() == ["id", "unit", "platform", "date", "score", "state", "snippet"]
    assert lines[0].startswith("1 ") and "Förskolan Solen" in lines[0] and "2023-02-27" in lines[0]
    assert review.format_list([]) == "no notices"
    review.confirm(store, 1, "Anna", comment="ok")
    text = review.format_notice(review.get(store, 1), review.history(store, 1))
    assert "open:       https://solen.example.se/2023/03/hej-da" in text
    assert "confirmed by Anna" in text and "pending → confirmed — ok" in text


# ----------------------------------------------------------------------------------------- CLI


def run(db: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--db", str(db), "review", *args], input=input, catch_exceptions=False)


def test_cli_list_and_show(db):
    result = run(db, "list")
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()[1:]] == ["1", "2", "3"]
    assert run(db, "list", "--state", "confirmed").output.strip() == "no notices"
    shown = run(db, "show", "3")
    assert shown.exit_code == 0 and "open:       https://www.instagram.com/pilen/" in shown.output


def test_cli_confirm_reject_force(db):
    result = run(db, "confirm", "1", "--by", "Anna", "--comment", "blog says so")
    assert result.exit_code == 0 and "notice 1: confirmed by Anna" in result.output
    assert "announced move: yes" in result.output
    again = CliRunner().invoke(cli, ["--db", str(db), "review", "reject", "1", "--by", "Bo"])
    assert again.exit_code == 1 and "already confirmed" in again.output and "--force" in again.output
    forced = run(db, "reject", "1", "--by", "Bo", "--force", "--comment", "was about absence")
    assert "notice 1: rejected (was confirmed) by Bo" in forced.output and "announced move: no" in forced.output
    missing = CliRunner().invoke(cli, ["--db", str(db), "review", "confirm", "42", "--by", "Anna"])
    assert missing.exit_code == 1 and "no notice with id 42" in missing.output
    no_name = CliRunner().invoke(cli, ["--db", str(db), "review", "confirm", "2"])
    assert no_name.exit_code == 2 and "--by" in no_name.output


def test_cli_interactive_walks_the_pending_queue(db):
    # notice 1: open the link, then confirm with a comment; 2: skip; 3: reject without comment
    result = run(db, "--by", "Anna", input="o\nc\nblog says so\ns\nr\n\n")
    assert result.exit_code == 0, result.output
    assert "open: https://solen.example.se/2023/03/hej-da" in result.output
    assert "[1/3]" in result.output and "[3/3]" in result.output
    assert result.output.rstrip().endswith("1 confirmed, 1 rejected, 1 skipped")
    with Store.open(db) as store:
        assert [(n.id, n.state) for n in review.list_notices(store, "all")] == [
            (1, "confirmed"), (2, "pending"), (3, "rejected")]
        assert review.history(store, 1)[0].comment == "blog says so"
        assert review.history(store, 3)[0].comment is None
        assert store.account("solen").announced_move == 1


def test_cli_interactive_asks_for_the_name_and_quits(db):
    result = run(db, input="Bo\nq\n")
    assert result.exit_code == 0
    assert "Your name" in result.output and result.output.rstrip().endswith("0 confirmed, 0 rejected, 0 skipped")
    with Store.open(db) as store:
        assert len(review.list_notices(store)) == 3


def test_cli_interactive_with_an_empty_queue(db):
    run(db, "reject", "1", "--by", "A")
    run(db, "reject", "2", "--by", "A")
    run(db, "reject", "3", "--by", "A")
    assert run(db).output.strip() == "no pending notices"
