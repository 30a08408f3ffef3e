"""`crawler export`: the inventory now and as it stood at a date (--as-of), as CSV, JSON and xlsx.

The as-of export is held to what `crawler export` printed at the time: a real crawl of the demo's
small world, week by week on a simulated clock, with the export taken after every cycle; afterwards
the export as of each of those moments must give the same rows.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import export as export_mod
from crawler import report as R
from crawler.cli import cli
from crawler.errors import CrawlerError
from crawler.store import Store

from .test_report import A, at, build, visit

UTC = timezone.utc
CYCLES = 20  # the demo's cycles up to its as-of (2023-04-13)
SAME_THEN = ("id", "unit", "area", "platform", "url", "status", "status_since", "last_post_at",
             "last_post_estimated", "post_count", "last_checked_at", "announced_move")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """The real crawler over a 40-account demo world, `crawler export` read after every cycle."""
    from crawler.demo.runner import run_demo

    out = tmp_path_factory.mktemp("crawl")
    then: dict[datetime, list[dict]] = {}

    def after_cycle(line: str) -> None:
        if " cycle " in line:
            with Store.open(out / "inventory.sqlite", readonly=True) as store:
                then[store.snapshots()[-1].taken_at] = export_mod.export_rows(store)

    result = run_demo(out, accounts=40, seed=1, cycles=CYCLES, slow_seconds=0, progress=after_cycle)
    assert len(then) == CYCLES
    return result.db_path, then


@pytest.mark.slow
def test_the_export_as_of_a_moment_is_what_export_said_then(crawled):
    db, then = crawled
    kinds = set()
    with Store.open(db, readonly=True) as store:
        for moment, rows in then.items():
            past = export_mod.export_rows(store, moment)
            assert [r["id"] for r in past] == [r["id"] for r in rows]
            for old, new in zip(rows, past, strict=True):
                assert {c: new[c] for c in SAME_THEN} == {c: old[c] for c in SAME_THEN}, moment
                # the reason is the one recorded when the account took its status
                taken = next(m for m in then if rows_by_id(then[m]).get(old["id"], {}).get("status_since")
                             == old["status_since"])
                assert new["reason"] == rows_by_id(then[taken])[old["id"]]["reason"]
                kinds.add(new["reason_kind"])
    # the crawl went through what makes this hard: estimates from post counts, removals, no answers
    estimated = sum(r["last_post_estimated"] for rows in then.values() for r in rows)
    statuses = {r["status"] for rows in then.values() for r in rows}
    assert estimated > 20 and {"active", "dormant", "gone", "unknown"} <= statuses, (estimated, statuses)
    assert {"last_post", "post_count_rose", "not_found", "no_answer"} <= kinds, kinds


def rows_by_id(rows: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in rows}


@pytest.mark.slow
def test_cli_export_as_of_a_day_in_csv_json_and_xlsx(crawled, tmp_path):
    from openpyxl import load_workbook

    db, then = crawled
    moment = sorted(then)[13]  # 2023-03-02 02:00 UTC, the demo's baseline crawl; the next is a week later
    day = moment.date().isoformat()
    runner = CliRunner()
    base = ["--sources", str(tmp_path / "none.yaml"), "--db", str(db), "export", "--as-of", day]
    sv = runner.invoke(cli, [*base, "--lang", "sv", "--output", str(tmp_path / "inv.csv")])
    assert sv.exit_code == 0, sv.output
    raw = (tmp_path / "inv.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads å, ä, ö
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    expected = then[moment]
    assert [r["id"] for r in table] == [r["id"] for r in expected]
    assert [r["status"] for r in table] == [r["status"] or "" for r in expected]
    assert [r["last_post_at"] for r in table] == [r["last_post_at"] or "" for r in expected]
    assert all("senaste inlägg" in r["reason"] for r in table if r["reason_kind"] == "last_post")

    js = runner.invoke(cli, [*base, "--format", "json"])
    assert js.exit_code == 0, js.output
    assert [(r["id"], r["status"], r["post_count"]) for r in json.loads(js.output)] == [
        (r["id"], r["status"], r["post_count"]) for r in expected]
    assert json.loads(js.output)[0]["reason"].isascii()  # English unless --lang sv

    xl = runner.invoke(cli, [*base, "--format", "xlsx", "--output", str(tmp_path / "inv.xlsx")])
    assert xl.exit_code == 0, xl.output
    sheet = load_workbook(tmp_path / "inv.xlsx").active
    header, *cells = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert tuple(header) == export_mod.EXPORT_COLUMNS
    assert [(c[0], c[5]) for c in cells] == [(r["id"], r["status"]) for r in expected]


@pytest.mark.slow
def test_the_export_as_of_the_reports_date_counts_what_the_report_counts(crawled):
    db, then = crawled
    with Store.open(db, readonly=True) as store:
        rep = R.build_report(store, "2023-03-01", "2023-04-15")
        for point in (rep.baseline, rep.as_of):
            rows = export_mod.export_rows(store, point.at)
            for figure in ("active", "dormant", "gone", "unknown"):
                assert sum(r["status"] == figure for r in rows) == int(point.snapshot[figure]), figure
            assert len(rows) == int(point.snapshot["registered"])


def test_as_of_follows_the_registry_and_the_notices_detected_by_then(inventory):
    """The synthetic inventory of test_report: a6 deregistered and a7 registered at D2; a1's move
    notice detected before D2 and a8's after, both confirmed later."""
    with Store.open(inventory, readonly=True) as store:
        baseline = rows_by_id(export_mod.export_rows(store, at("2023-03-02", 3)))
        as_of = rows_by_id(export_mod.export_rows(store, at("2023-04-13", 3)))
        now = rows_by_id(export_mod.export_rows(store))
    assert "a6" in baseline and "a7" not in baseline
    assert "a6" not in as_of and "a7" in as_of
    assert baseline["a1"]["status"] == "active" and as_of["a1"]["status"] == "dormant"
    assert as_of["a2"]["status"] == "gone" and as_of["a2"]["reason_kind"] == "not_found"
    assert not baseline["a1"]["announced_move"] and as_of["a1"]["announced_move"]
    assert not as_of["a8"]["announced_move"] and now["a8"]["announced_move"]
    assert baseline["a1"]["last_post_at"].startswith("2023-02-28") and as_of["a1"]["last_post_at"].startswith(
        "2023-03-10")


def test_a_day_is_a_day_of_the_inventorys_time_zone(tmp_path):
    """A visit at 23:30 UTC on 1 March is on 2 March in Stockholm: not in the export as of 1 March."""
    path = tmp_path / "inventory.sqlite"
    with Store.open(path) as store:
        store.sync([A["a1"]], at("2023-02-01"))
        visit(store, "a1", datetime(2023, 3, 1, 23, 30, tzinfo=UTC), "active", last_post=at("2023-02-27"))
    end_of_day = export_mod.as_of_moment("2023-03-01", "Europe/Stockholm")
    assert end_of_day == datetime(2023, 3, 1, 22, 59, 59, 999999, tzinfo=UTC)
    assert export_mod.as_of_moment("2023-07-01", "Europe/Stockholm").hour == 21  # summer time
    assert export_mod.as_of_moment("2023-03-01T12:00:00+00:00") == datetime(2023, 3, 1, 12, tzinfo=UTC)
    with Store.open(path, readonly=True) as store:
        first, second = (export_mod.export_rows(store, export_mod.as_of_moment(d)) for d in ("2023-03-01", "2023-03-02"))
        assert first[0]["status"] is None and first[0]["last_checked_at"] is None
        assert second[0]["status"] == "active" and second[0]["last_checked_at"] == "2023-03-02T00:30:00+01:00"
        with pytest.raises(CrawlerError, match="held no registered account at 2023-01-01 23:59 CET; the first"):
            export_mod.export(store, as_of=export_mod.as_of_moment("2023-01-01"))
    with pytest.raises(CrawlerError, match="lies in the future"):  # 23:00 on 31 May in Stockholm
        export_mod.as_of_moment("2023-06-01", "Europe/Stockholm", now=at("2023-05-31", 21))
    assert export_mod.as_of_moment("2023-06-01", "Europe/Stockholm", now=at("2023-05-31", 22))  # 1 June begun
    with pytest.raises(CrawlerError, match="is not a date"):
        export_mod.as_of_moment("1/3 2023")


def test_control_and_bidi_characters_never_reach_the_csv():
    rows = [{"id": "x", "unit": "Förskolan\u202eLOOF\u202c \x1b[31mröd", "reason": "ok\r\nnext", "last_post_estimated": False,
             "announced_move": False}]
    parsed = next(csv.DictReader(io.StringIO(export_mod.render_export(rows).lstrip("\ufeff"))))
    # crawler.sanitize.cell: bidi characters removed, a control character (ESC, CR, LF) becomes a space,
    # so a cell is one line (a line break inside a cell is a fake row to many readers)
    assert parsed["unit"] == "FörskolanLOOF  [31mröd" and parsed["reason"] == "ok  next"


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.sqlite"
    with Store.open(path) as store:
        build(store)
    return path


def test_the_cli_refuses_what_it_cannot_do(inventory, tmp_path):
    runner = CliRunner()
    base = ["--sources", str(tmp_path / "none.yaml"), "--db", str(inventory), "export"]
    xlsx = runner.invoke(cli, [*base, "--format", "xlsx"])
    assert xlsx.exit_code == 1 and "name a file with --output" in xlsx.output
    future = runner.invoke(cli, [*base, "--as-of", (datetime.now(UTC) + timedelta(days=2)).date().isoformat()])
    assert future.exit_code == 1 and "lies in the future" in future.output
    comma = runner.invoke(cli, base)
    assert comma.exit_code == 0 and comma.output.splitlines()[0].count(",") == len(export_mod.EXPORT_COLUMNS) - 1
