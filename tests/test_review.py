"""Tests for crawler.review and `crawler review`, on a real SQLite inventory file."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import review
from crawler.cli import cli
from crawler.errors import NotFound, StoreError
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
    assert header.split() == ["id", "account", "unit", "area", "platform", "date", "score", "state", "snippet"]
    assert lines[0].startswith("1 ") and "Förskolan Solen" in lines[0] and "2023-02-27" in lines[0]
    # two units of one name are told apart by the account id and the area (issue 16)
    assert "solen" in lines[0].split() and A.area in lines[0]
    assert review.format_list([]) == "no notices"
    review.confirm(store, 1, "Anna", comment="ok")
    notice = review.get(store, 1)
    text = review.format_notice(notice, review.history(store, 1), store.account(notice.account_id))
    assert "open:       https://solen.example.se/2023/03/hej-da" in text
    assert "confirmed by Anna" in text and "pending → confirmed — ok" in text
    assert "status now: not yet checked" in text and "last post:  -; last checked never" in text


def test_show_says_when_the_account_is_gone_now(store):
    """A reviewer must see that the account has since been removed and its link may be dead."""
    gone = Verdict("gone", "http 404 on 2 checks", True, NOW - timedelta(days=2))
    obs = Observation("wordpress", False, "http 404")
    fetched = Fetched(A.url, A.url, status=404, body=b"")
    store.record_visit(Visit("solen", None, NOW + timedelta(days=14), "not_found", [fetched], obs, gone, []))
    notice = review.get(store, 1)
    text = review.format_notice(notice, (), store.account(notice.account_id))
    line = next(x for x in text.splitlines() if x.startswith("status now:"))
    assert line.startswith("status now: gone since") and "the link may not open" in line


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


# ------------------------------------------------------------- the trail is the record (17.11)


def analyst(db: Path) -> sqlite3.Connection:
    """Someone with the sqlite3 shell on the inventory (foreign keys off, as the shell starts)."""
    return sqlite3.connect(db, isolation_level=None)


def agree(store: Store, notice_id: int) -> tuple[str, bool, bool, bool]:
    """(state, in the pending queue, account flagged, counted as announced by the report's read)."""
    n = review.get(store, notice_id)
    return (n.state, notice_id in [m.id for m in review.list_notices(store)],
            store.account(n.account_id).announced_move, n.account_id in store.announced_accounts(NOW + timedelta(days=1)))


def test_a_direct_edit_of_a_notice_or_the_flag_is_refused(db):
    with Store.open(db) as store:
        review.reject(store, 1, "Anna", comment="about absence")
    con = analyst(db)
    for forgery in ("UPDATE notices SET state = 'confirmed', reviewer = 'Mallory' WHERE id = 1",
                    "UPDATE notices SET state = 'confirmed' WHERE id = 2",
                    "UPDATE notices SET comment = 'fine' WHERE id = 1"):
        with pytest.raises(sqlite3.IntegrityError, match="only through a notice_reviews entry"):
            con.execute(forgery)
    with pytest.raises(sqlite3.IntegrityError, match="announced_move follows the confirmed notices"):
        con.execute("UPDATE accounts SET announced_move = 1 WHERE id = 'solen'")
    with pytest.raises(sqlite3.IntegrityError, match="stored pending"):
        con.execute("INSERT INTO notices (account_id, key_sha256, detected_at, score, kind, matched, snippet, state) "
                    "VALUES ('pilen', 'k', '2023-03-01', 1, 'move', '[]', 's', 'confirmed')")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        con.execute("DELETE FROM notices WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="evidence of a reviewed notice"):
        con.execute("UPDATE notices SET snippet = 'Vi flyttar till Tempus Hemma' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="never changed"):
        con.execute("UPDATE notices SET account_id = 'pilen' WHERE id = 1")
    # a trail entry must name a reviewer and follow the notice's current state
    entry = ("INSERT INTO notice_reviews (notice_id, at, reviewer, old_state, new_state, kind) "
             "VALUES (1, '2023-03-09', ?, ?, ?, 'move')")
    with pytest.raises(sqlite3.IntegrityError, match="reviewer's name"):
        con.execute(entry, (" \u00a0\u200b ", "rejected", "confirmed"))
    with pytest.raises(sqlite3.IntegrityError, match="no longer in old_state"):
        con.execute(entry, ("Mallory", "pending", "confirmed"))
    con.close()
    with Store.open(db, readonly=True) as store:
        assert agree(store, 1) == ("rejected", False, False, False)
        assert agree(store, 2) == ("pending", True, False, False)
        assert [t.new_state for t in review.history(store, 1)] == ["rejected"]


def test_a_trail_entry_is_the_decision_wherever_it_comes_from(db):
    # a later web app (or anyone) that appends a proper entry makes a decision the whole inventory follows
    con = analyst(db)
    entry = ("INSERT INTO notice_reviews (notice_id, at, reviewer, old_state, new_state, kind, comment) "
             "VALUES (1, '2023-03-09T10:00:00+00:00', 'Cecilia', 'pending', 'confirmed', ?, 'in the app')")
    with pytest.raises(sqlite3.IntegrityError, match="names the kind decided"):
        con.execute(entry, (None,))
    con.execute(entry, ("move",))
    con.close()
    with Store.open(db, readonly=True) as store:
        assert agree(store, 1) == ("confirmed", False, True, True)
        n = review.get(store, 1)
        assert (n.reviewer, n.comment, n.decided_kind) == ("Cecilia", "in the app", "move")


def version_3(path: Path) -> sqlite3.Connection:
    """An inventory as 0.1 left it (schema version 3), open in the sqlite3 shell."""
    from crawler.store import MIGRATIONS, _statements

    con = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:3]:
        for statement in _statements(script):
            con.execute(statement)
    con.execute("PRAGMA user_version = 3")
    return con


def test_an_edit_made_before_the_upgrade_gives_way_to_the_trail(tmp_path):
    # issue 17.11's case: the trail said rejected, an edit of the row said confirmed, the report counted it
    path = tmp_path / "v3.sqlite"
    # the 0.1 code wrote the decision on the row and appended the trail; do what it did, then forge
    con = version_3(path)
    con.execute("INSERT INTO accounts (id, unit, area, platform, url, registered_at) VALUES "
                "('solen', 'Förskolan Solen', 'Norr', 'wordpress', 'https://solen.example.se/', '2023-01-01')")
    con.execute("INSERT INTO notices (account_id, key_sha256, detected_at, score, kind, matched, snippet, state, "
                "reviewer, reviewed_at) VALUES ('solen', 'k', '2023-02-01T00:00:00+00:00', 0.9, 'move', '[]', "
                "'Vi flyttar till Tempus Hemma', 'rejected', 'Anna', '2023-02-02T00:00:00+00:00')")
    con.execute("INSERT INTO notice_reviews (notice_id, at, reviewer, old_state, new_state) "
                "VALUES (1, '2023-02-02T00:00:00+00:00', 'Anna', 'pending', 'rejected')")
    con.execute("UPDATE notices SET state = 'confirmed', reviewer = 'Mallory' WHERE id = 1")
    con.execute("UPDATE accounts SET announced_move = 1")
    con.close()
    with Store.open(path, readonly=True) as old:  # a reader of the not yet migrated inventory sees the row
        assert old.announced_accounts(NOW) == ["solen"]
    with Store.open(path) as store:
        assert agree(store, 1) == ("rejected", False, False, False)
        assert review.get(store, 1).reviewer == "Anna"
        review.confirm(store, 1, "Bo", force=True)  # and decisions work on the migrated inventory
        assert agree(store, 1) == ("confirmed", False, True, True)


def test_a_closing_confirmed_before_the_upgrade_still_counts_as_it_did(tmp_path):
    # 0.1's "confirm" meant "announced the move, or the account's closing": its decisions keep counting
    path = tmp_path / "v3.sqlite"
    con = version_3(path)
    con.execute("INSERT INTO accounts (id, unit, area, platform, url, registered_at, announced_move) VALUES "
                "('solen', 'Förskolan Solen', 'Norr', 'wordpress', 'https://solen.example.se/', '2023-01-01', 1)")
    con.execute("INSERT INTO notices (account_id, key_sha256, detected_at, score, kind, matched, snippet, state, "
                "reviewer, reviewed_at) VALUES ('solen', 'k', '2023-02-01T00:00:00+00:00', 0.9, 'closing', '[]', "
                "'Bloggen stängs', 'confirmed', 'Anna', '2023-02-02T00:00:00+00:00')")
    con.execute("INSERT INTO notice_reviews (notice_id, at, reviewer, old_state, new_state) "
                "VALUES (1, '2023-02-02T00:00:00+00:00', 'Anna', 'pending', 'confirmed')")
    con.close()
    with Store.open(path) as store:
        assert agree(store, 1) == ("confirmed", False, True, True)
        assert review.get(store, 1).decided_kind == "closing" and review.history(store, 1)[0].kind is None
        review.confirm(store, 1, "Bo", force=True)  # decided again now: a closing is not the move
        assert agree(store, 1) == ("confirmed", False, False, False)


def test_the_reviewer_corrects_the_kind_and_only_a_confirmed_move_flags_the_account(store):
    result = review.confirm(store, 3, "Anna", kind="elsewhere", comment="they went to Instagram")
    assert (result.notice.state, result.notice.decided_kind, result.notice.kind) == ("confirmed", "elsewhere", "move")
    assert agree(store, 3) == ("confirmed", False, False, False)
    assert review.history(store, 3)[-1].kind == "elsewhere"
    again = review.confirm(store, 3, "Bo", kind="move", force=True)
    assert again.changed and again.old_state == "confirmed" and agree(store, 3) == ("confirmed", False, True, True)
    assert [t.kind for t in review.history(store, 3)] == ["elsewhere", "move"]
    shown = review.format_notice(result.notice, review.history(store, 3)[:1])
    assert "— confirmed as elsewhere" in shown and "pending → confirmed as elsewhere" in shown
    with pytest.raises(review.ReviewError, match="unknown kind"):
        review.confirm(store, 1, "Anna", kind="gone")
    # a closing is listed for the board, but it is not the move to Tempus Hemma
    closing = store.add_notice("pilen", hit("https://www.instagram.com/p/1", "Bloggen stängs ner. Tack för alla år!"),
                               NOW)
    assert review.get(store, closing).kind == "closing"
    review.confirm(store, 3, "Bo", kind="elsewhere", force=True)
    review.confirm(store, closing, "Anna")
    assert agree(store, closing) == ("confirmed", False, False, False)
    cli_result = run(store.path, "confirm", "2", "--by", "Anna", "--kind", "elsewhere")
    assert "notice 2: confirmed" in cli_result.output and "announced move: no" in cli_result.output


def test_a_stronger_text_replaces_a_weaker_pending_notice_but_never_a_reviewed_one(store):
    url = "https://solen.example.se/2023/03/hej-da"
    weak = review.get(store, 1)
    stronger = NoticeHit(weak.score + 0.05, ("Tempus Hemma", "inte längre"), "Vi skriver inte längre här: Tempus Hemma",
                         "move", post_url=url, published_at=NOW)
    assert store.strengthen_notice("solen", NoticeHit(weak.score - 0.1, (), "svag", "move", post_url=url)) is None
    assert store.strengthen_notice("solen", stronger) == 1
    now = review.get(store, 1)
    assert (now.snippet, now.kind, now.score, now.detected_at) == (stronger.snippet, "move", stronger.score,
                                                                 weak.detected_at)
    assert now.matched == ("Tempus Hemma", "inte längre")
    review.reject(store, 2, "Anna")
    decided = NoticeHit(0.99, (), "starkare", "move", post_url="https://solen.example.se/2023/03/tack")
    assert store.strengthen_notice("solen", decided) is None
    assert review.get(store, 2).snippet != "starkare"
    assert store.strengthen_notice("pilen", stronger) is None  # another account's post


def test_a_blank_reviewer_is_refused_everywhere(store, db):
    for name in ("", "   ", "\t\n", "\u200b\u00a0", "--", None):
        with pytest.raises(review.ReviewError, match="reviewer's name"):
            review.confirm(store, 1, name)
        with pytest.raises(StoreError, match="reviewer's name"):
            store.set_notice_state(1, "pending", "confirmed", name, NOW, None)
    assert review.history(store, 1) == []
    assert review.confirm(store, 1, "  Anna \x1b[31m Svensson ").notice.reviewer == "Anna [31m Svensson"


def test_cli_interactive_walk_asks_again_for_a_name_made_of_spaces(db):
    result = run(db, input="   \nBo\nc\n\nq\n")
    assert result.exit_code == 0, result.output
    assert "spaces alone name nobody" in result.output
    assert result.output.rstrip().endswith("1 confirmed, 0 rejected, 0 skipped")
    with Store.open(db) as store:
        assert [(t.reviewer, t.new_state) for t in review.history(store, 1)] == [("Bo", "confirmed")]
    blank = CliRunner().invoke(cli, ["--db", str(db), "review", "--by", "  "], input="c\n\n")
    assert blank.exit_code == 1 and "Error: a review needs the reviewer's name" in blank.output
    assert "[1/" not in blank.output  # refused before the walk, not after each decision


class Script:
    """The review walk's prompts answered from a list, as a reviewer would at the terminal."""

    def __init__(self, answers: list[str], store: Store | None = None, meddle: int | None = None):
        self.answers, self.shown, self.warned, self.opened = list(answers), [], [], []
        self.store, self.meddle = store, meddle

    def name(self) -> str:
        return "Cecilia"

    def show(self, text: str) -> None:
        self.shown.append(text)

    def choose(self) -> str:
        return self.answers.pop(0)

    def comment(self) -> str:
        if self.meddle is not None:  # someone else decides the notice while this reviewer types
            review.reject(self.store, self.meddle, "Bo")
            self.meddle = None
        return self.answers.pop(0)

    def open(self, link: str) -> None:
        self.opened.append(link)

    def warn(self, text: str) -> None:
        self.warned.append(text)


def test_the_walk_without_a_terminal(db):
    with Store.open(db) as store:
        prompts = Script(["o", "c", "", "s", "q"])
        done = review.walk(store, prompts)
        assert done == {"confirmed": 1, "rejected": 0, "skipped": 1}
        assert prompts.opened == ["https://solen.example.se/2023/03/hej-da"]
        assert prompts.shown[0].startswith("\n[1/3] notice 1") and "notice 1: confirmed" in prompts.shown
        assert review.get(store, 1).reviewer == "Cecilia"  # asked once, as no name was given
        assert [n.id for n in review.list_notices(store)] == [2, 3]


def test_the_walk_passes_over_a_notice_someone_else_decided_meanwhile(db):
    with Store.open(db) as store:
        prompts = Script(["c", "because", "r", "", "q"], store=store, meddle=1)
        done = review.walk(store, prompts, reviewer="Anna")
        assert prompts.warned and prompts.warned[0].startswith("not recorded: notice 1 was already rejected by Bo")
        assert done == {"confirmed": 0, "rejected": 1, "skipped": 0}
        assert (review.get(store, 1).state, review.get(store, 2).reviewer) == ("rejected", "Anna")
        assert [n.id for n in review.list_notices(store)] == [3]  # quit before it


def test_the_walk_of_an_empty_queue_asks_nothing(db):
    with Store.open(db) as store:
        for notice_id in (1, 2, 3):
            review.reject(store, notice_id, "A")
        assert review.walk(store, Script([])) is None
