"""`crawler demo` end to end: the full 319-account world, crawled weekly, matches the world's truth."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.store import Store

from .conftest import sql_rows


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_full_demo_reproduces_the_boards_figures(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--check", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = result.output

    def row(label: str) -> tuple[int, int]:
        m = re.search(rf"^{re.escape(label)}\s+(\d+)\s+(\d+)$", text, re.M)
        assert m, f"no row {label!r} in:\n{text}"
        return int(m.group(1)), int(m.group(2))

    # the board's hand count: 319 accounts, 20 fewer, 79 fewer active, 7 of which announced the move
    assert row("accounts at the launch") == (319, 319)
    assert row("fewer accounts since") == (20, 20)
    assert row("fewer active since") == (79, 79)
    assert row("  of which announced Tempus Hemma") == (7, 7)
    # per-account status agreement at the board's dates (the issue asks for >= 98 %)
    for got, total in re.findall(r"status at \d{4}-\d\d-\d\d: (\d+)/(\d+) agree", text):
        assert int(got) / int(total) >= 0.98
    assert "move notices: 7/7 found" in text
    # the board report as `crawler report` computes it, printed and saved (Swedish HTML and Markdown)
    active = re.search(r"^\| Active \| (\d+) \| (\d+) \| −(\d+) \|$", text, re.M)
    assert active and int(active.group(1)) - int(active.group(2)) == int(active.group(3)) == row("fewer active since")[1]
    assert f"{active.group(3)} were no longer active" in text
    assert (out / "report.docx").stat().st_size > 20_000  # the DOCX for the tjänsteskrivelse
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "Aktiva" in html
    # the inventory is a real file that analysts can open, and the flagged notices await review
    with Store.open(out / "inventory.sqlite", readonly=True) as store:
        assert store.integrity() == "ok"
        assert len(sql_rows(store, "SELECT * FROM pending_review")) >= 7
        assert len(sql_rows(store, "SELECT * FROM status_over_time")) == 26
        # the demo ends with how to open the inventory in `crawler web`, with a login it made
        login = re.search(r"sign in as (\S+) with the password (\S+)", text)
        assert login and login.group(1) == "demo" and " web" in text
        from crawler.web.auth import Passwords

        assert Passwords().verify(store.password_hash("demo"), login.group(2))
        assert store.user("demo").role == "admin" and login.group(2) not in str(sql_rows(store, "SELECT * FROM users"))
