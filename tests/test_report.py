"""Reports: figures between two snapshots, renderers (md, csv, json, html+svg, sv), export, browse.

Inventories are built through the store API the crawl uses (sync, record_visit, take_snapshot),
at simulated dates; one test builds one by real crawl cycles over the demo's small world.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import browse
from crawler import export as export_mod
from crawler import report as R
from crawler.cli import cli
from crawler.errors import CrawlerError
from crawler.models import Account, Fetched, NoticeHit, Observation, Post, Reason, Verdict
from crawler.report import chart
from crawler.settings import Settings
from crawler.store import Store, Visit

from .conftest import sql_rows

ROOT = Path(__file__).resolve().parent.parent
UTC = timezone.utc


def at(day: str, hour: int = 2, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


D0, D1, D2, D3 = at("2023-01-05"), at("2023-03-02"), at("2023-04-13"), at("2023-05-01")
EVIL_UNIT = "Förskolan <script>alert(1)</script> | Å"


def acc(ident: str, platform: str, area: str, unit: str | None = None) -> Account:
    return Account(ident, unit or f"Förskolan {ident.upper()}", area, platform, f"https://{ident}.example.se/")


A = {
    "a1": acc("a1", "wordpress", "Norr"),
    "a2": acc("a2", "blogger", "Norr"),
    "a3": acc("a3", "instagram", "Söder"),
    "a4": acc("a4", "facebook", "Söder"),
    "a5": acc("a5", "wordpress", "Söder", EVIL_UNIT),
    "a6": acc("a6", "blog", "Norr"),
    "a7": acc("a7", "wordpress", "Söder"),
    "a8": acc("a8", "wordpress", "Norr"),
    "a9": acc("a9", "blogger", "Söder"),
}


def visit(store: Store, ident: str, when: datetime, status: str, *, reason: str | Reason | None = None,
          last_post: datetime | None = None, notices: tuple[NoticeHit, ...] = ()) -> None:
    """One visit as the crawl records it: a fetch, an observation, the classifier's verdict."""
    current = store.account(ident).status
    outcome = {"gone": "gone", "unknown": "login_wall"}.get(status, "ok")
    url = A[ident].url
    fetched = Fetched(url=url, final_url=url, status=404 if status == "gone" else 200, body=b"<html></html>",
                      started_at=when)
    posts = (Post(f"{url}post-{last_post:%Y%m%d}", last_post),) if last_post else ()
    obs = Observation(A[ident].platform, exists=status != "gone", reason=str(reason or status), last_post_at=last_post,
                      posts=posts)
    if reason is None:  # what the classifier would say
        if status == "gone":
            reason = Reason("not_found", {"status": 404, "checks": 2, "since": f"{when:%Y-%m-%d}"})
        elif status == "unknown":
            reason = Reason("no_answer", {"what": "login_wall", "checks": 3})
        elif last_post is not None:
            reason = Reason("last_post", {"date": f"{last_post:%Y-%m-%d}", "days": (when - last_post).days,
                                          "estimated": False})
        else:
            reason = Reason("no_dated_posts")
    verdict = Verdict(status, reason, status != current, last_post)
    store.record_visit(Visit(ident, None, when, outcome, [fetched], obs, verdict, notices))


def hit(ident: str, snippet: str, url: str | None = None) -> NoticeHit:
    return NoticeHit(0.9, ("Tempus Hemma",), snippet, "move", url or f"{A[ident].url}flytt", None)


def notice_id(store: Store, ident: str) -> int:
    return sql_rows(store, "SELECT id FROM notices WHERE account_id = ?", [ident])[0]["id"]


def build(store: Store) -> None:
    """Four snapshots: D0, D1 (the baseline), D2 (the as-of), D3 (later). See each account's story."""
    first = [A[i] for i in ("a1", "a2", "a3", "a4", "a5", "a6", "a8", "a9")]
    store.sync(first, D0)
    for i in ("a1", "a2", "a3", "a5", "a6", "a8"):
        visit(store, i, D0 + timedelta(minutes=1), "active", last_post=D0 - timedelta(days=3))
    for i in ("a4", "a9"):
        visit(store, i, D0 + timedelta(minutes=1), "dormant", last_post=D0 - timedelta(days=400))
    store.add_notice("a9", hit("a9", "frånvaro anmäls i Tempus"), D0)  # rejected later: never announced
    store.take_snapshot(None, D0 + timedelta(minutes=5))

    store.sync(first, D1)
    for i in ("a1", "a2", "a3", "a5", "a6", "a8"):
        visit(store, i, D1 + timedelta(minutes=1), "active", last_post=D1 - timedelta(days=2))
    store.take_snapshot(None, D1 + timedelta(minutes=5))

    # Between the baseline and the as-of: a1 and a2 post their notices (a1 is confirmed later).
    visit(store, "a1", at("2023-03-12"), "active", last_post=at("2023-03-10"),
          notices=(hit("a1", "Från 1 april finns all information i Tempus Hemma"),))
    visit(store, "a2", at("2023-03-20"), "active", last_post=at("2023-03-18"),
          notices=(hit("a2", "Bloggen | stängs\nnu", "javascript:alert(1)"),))

    now = [A[i] for i in ("a1", "a2", "a3", "a4", "a5", "a7", "a8", "a9")]  # a6 deregistered, a7 new
    store.sync(now, D2)
    w = D2 + timedelta(minutes=1)
    visit(store, "a1", w, "dormant", last_post=at("2023-03-10"),
          reason=Reason("last_post", {"date": "2023-03-10", "days": 34, "estimated": False}))
    visit(store, "a2", w, "gone", reason=Reason("not_found", {"status": 404, "checks": 2, "since": "2023-04-06"}))
    visit(store, "a3", w, "active", last_post=D2 - timedelta(days=1))
    visit(store, "a4", w, "active", last_post=D2 - timedelta(days=1))
    visit(store, "a5", w, "unknown")
    visit(store, "a7", w, "active", last_post=D2 - timedelta(days=5))
    visit(store, "a8", w, "dormant", last_post=D1 - timedelta(days=2))
    store.take_snapshot(None, D2 + timedelta(minutes=5))

    # After the as-of: a8's notice is detected (confirmed, but too late for the as-of figures).
    visit(store, "a8", D3, "dormant", notices=(hit("a8", "Vi finns nu i Tempus Hemma"),))
    store.take_snapshot(None, D3 + timedelta(minutes=5))

    review_at = at("2023-05-10")
    store.set_notice_state(notice_id(store, "a1"), "pending", "confirmed", "Anna", review_at, None)
    store.set_notice_state(notice_id(store, "a8"), "pending", "confirmed", "Anna", review_at, None)
    store.set_notice_state(notice_id(store, "a9"), "pending", "rejected", "Anna", review_at, "frånvaro")


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.sqlite"
    with Store.open(path) as store:
        build(store)
    return path


@pytest.fixture
def rep(inventory: Path) -> R.Report:
    with Store.open(inventory, readonly=True) as store:
        return R.build_report(store, "2023-03-01", "2023-04-15", now=at("2023-05-20"))


# --------------------------------------------------------------------------- choosing snapshots


def test_a_date_is_read_from_the_nearest_snapshot_within_the_tolerance():
    snaps = [{"id": n, "taken_at": t} for n, t in enumerate(
        ["2023-02-20T02:00:00+00:00", "2023-03-02T02:00:00+00:00", "2023-03-05T02:00:00+00:00",
         "2023-03-05T09:00:00+00:00"], 1)]
    assert R.pick_snapshot(snaps, "2023-03-01")[0]["id"] == 2  # one day after beats nine days before
    assert R.pick_snapshot(snaps, "2023-03-05")[0]["id"] == 4  # on the day: the last of the day
    assert R.pick_snapshot(snaps, "2023-03-01", rule="before")[0] is None  # 2023-02-20 is 9 days before
    assert R.pick_snapshot(snaps, "2023-03-01", tolerance_days=10, rule="before")[0]["id"] == 1
    assert R.pick_snapshot(snaps, "2023-03-03", rule="before")[0]["id"] == 2
    chosen, nearest = R.pick_snapshot(snaps, "2024-01-01")
    assert chosen is None and nearest["id"] == 4
    # ties go to the earlier snapshot
    tie = [{"id": 1, "taken_at": "2023-03-03T00:00:00+00:00"}, {"id": 2, "taken_at": "2023-03-05T23:59:59+00:00"}]
    assert R.pick_snapshot(tie, "2023-03-04")[0]["id"] == 1
    with pytest.raises(CrawlerError, match="YYYY-MM-DD"):
        R.pick_snapshot(snaps, "1 mars")


# --------------------------------------------------------------------------- figures


def test_every_figure_at_both_points_and_the_change(rep):
    assert rep.baseline.at == at("2023-03-02", 2, 5) and rep.as_of.at == at("2023-04-13", 2, 5)
    rows = {f: (b, a, d) for f, b, a, d in R.figure_rows(rep)}
    assert rows == {
        "registered": (8, 8, 0),
        "existing": (8, 7, -1),
        "active": (6, 3, -3),
        "dormant": (2, 3, 1),
        "past_guideline": (2, 1, -1),  # a4 and a9 posted 400 days before the first crawl; a4 posts again
        "gone": (0, 1, 1),
        "unknown": (0, 1, 1),
        "announced": (0, 1, 1),  # a1 (a8's confirmed notice came after the as-of)
        "pending_review": (0, 1, 1),  # a2's notice, still undecided; a9's was rejected, a1's confirmed
    }
    assert rep.notes == []  # the status history agrees with the snapshots' counts


def test_ids_behind_the_figures_come_from_the_status_history(rep):
    assert rep.baseline.ids("active") == ["a1", "a2", "a3", "a5", "a6", "a8"]
    assert rep.baseline.ids("dormant") == ["a4", "a9"]
    assert rep.as_of.ids("active") == ["a3", "a4", "a7"]
    assert rep.as_of.ids("dormant") == ["a1", "a8", "a9"]
    assert rep.as_of.ids("gone") == ["a2"] and rep.as_of.ids("unknown") == ["a5"]
    assert "a6" not in rep.as_of.accounts and "a7" not in rep.baseline.accounts
    assert rep.as_of.announced == ["a1"] and rep.baseline.announced == [] and rep.as_of.pending == ["a2"]


def test_the_guideline_tier_lists_accounts_with_no_post_for_six_months(rep):
    inactive = {a.id: a for a in rep.as_of.past_guideline}
    assert list(inactive) == ["a9"]
    a9 = inactive["a9"]
    assert a9.inactive_since.isoformat() == "2021-12-01" and a9.months == 16 and not a9.by_post_count
    assert [a.id for a in rep.baseline.past_guideline] == ["a4", "a9"]
    # blogs: wordpress, blogger, blog; a1 (last post 2023-03-10) is no longer within a month on 2023-04-13
    assert sorted(rep.as_of.blogs) == ["a1", "a7", "a8", "a9"] and rep.as_of.blogs_monthly == ["a7"]


def test_the_guideline_follows_its_settings(inventory):
    with Store.open(inventory, readonly=True) as store:
        rep = R.build_report(store, "2023-03-01", "2023-04-15",
                             settings=Settings(guideline_inactive_months=24, guideline_blog_months=2))
    assert rep.as_of.past_guideline == [] and sorted(rep.as_of.blogs_monthly) == ["a1", "a7", "a8"]
    md = R.render_markdown(rep, "sv")
    assert "varav inaktiva i mer än 24 månader" in md and "mer än 24 månader" in md


def test_accounts_active_at_the_baseline_that_stopped_and_announced(rep):
    c = rep.cohort
    assert c["active_at_baseline"] == ["a1", "a2", "a3", "a5", "a6", "a8"]
    assert c["no_longer_active"] == ["a1", "a2", "a5", "a6", "a8"]
    assert c["no_longer_active_by_status"] == {"dormant": ["a1", "a8"], "gone": ["a2"], "unknown": ["a5"],
                                               "deregistered": ["a6"]}
    assert c["announced"] == ["a1"]
    assert c["pending_review"] == ["a2"]
    assert c["became_active"] == ["a4", "a7"]


def test_changed_accounts_carry_the_evidence(rep):
    changes = {c.id: c for c in rep.changes}
    assert {i: (c.old, c.new) for i, c in changes.items()} == {
        "a1": ("active", "dormant"), "a2": ("active", "gone"), "a4": ("dormant", "active"),
        "a5": ("active", "unknown"), "a6": ("active", "deregistered"), "a7": ("unregistered", "active"),
        "a8": ("active", "dormant"),
    }
    a1 = changes["a1"]
    assert a1.why == Reason("last_post", {"date": "2023-03-10", "days": 34, "estimated": False})
    assert a1.last_post_at == at("2023-03-10") and a1.since == at("2023-04-13", 2, 1)
    assert a1.notice["state"] == "confirmed" and "Tempus Hemma" in a1.notice["snippet"]
    assert changes["a2"].notice["state"] == "pending"
    assert changes["a8"].notice is None  # its notice was detected after the as-of date
    assert changes["a2"].why.kind == "not_found"
    assert [c.new for c in rep.changes][:2] == ["gone", "dormant"]  # losses first


def test_breakdowns_by_platform_and_area_come_from_snapshot_counts(rep):
    platforms = dict(R.breakdown(rep, "platform"))
    assert platforms["wordpress"]["active"] == (3, 1)  # a1 a5 a8 -> a7
    assert platforms["wordpress"]["total"] == (3, 4)
    assert platforms["blog"]["total"] == (1, 0)  # a6 was deregistered
    areas = dict(R.breakdown(rep, "area"))
    assert areas["Norr"]["active"] == (4, 0) and areas["Söder"]["active"] == (2, 3)


def test_areas_sort_naturally():
    names = ["Område 10 Kirseberg", "Område 2 Innerstaden", "Område 1 Centrum", "Öster", "Väster"]
    assert sorted(names, key=R.natural_key) == ["Område 1 Centrum", "Område 2 Innerstaden", "Område 10 Kirseberg",
                                                 "Väster", "Öster"]


def test_the_as_of_defaults_to_the_latest_snapshot(inventory):
    with Store.open(inventory, readonly=True) as store:
        rep = R.build_report(store, "2023-03-01")
    assert rep.as_of.at == at("2023-05-01", 2, 5)
    assert rep.cohort["announced"] == ["a1", "a8"]
    assert len(rep.series) == 4


def test_a_date_without_a_snapshot_nearby_is_not_available_never_zero(inventory):
    with Store.open(inventory, readonly=True) as store:
        rep = R.build_report(store, "2022-06-01", "2023-04-15")
    assert not rep.baseline.available and rep.baseline.nearest == at("2023-01-05", 2, 5)
    assert all(b is None and d is None for _, b, _, d in R.figure_rows(rep))
    assert rep.cohort is None and rep.changes == []
    md = R.render_markdown(rep, "en")
    assert "not available: no crawl within 8 days of 2022-06-01 (the nearest: 2023-01-05)" in md
    assert "| Active | not available | 3 | – |" in md
    sv = R.render_markdown(rep, "sv")
    assert "uppgift saknas: ingen mätning inom 8 dagar från 2022-06-01 (den närmaste: 2023-01-05)" in sv
    data = json.loads(R.render_json(rep))
    assert data["baseline"]["available"] is False and "nearest: 2023-01-05" in data["baseline"]["why_not"]
    assert data["figures"][0]["baseline"] is None


def test_an_as_of_before_the_baseline_is_refused(inventory):
    with Store.open(inventory, readonly=True) as store, pytest.raises(CrawlerError, match="swap"):
        R.build_report(store, "2023-04-15", "2023-03-01")


def test_no_snapshot_at_all_is_a_clear_error(tmp_path):
    with Store.open(tmp_path / "empty.sqlite") as store, pytest.raises(CrawlerError, match="crawler crawl"):
        R.build_report(store, "2023-03-01")


# --------------------------------------------------------------------------- series


def test_periods_from_the_first_crawl():
    assert R.periods(date(2022, 12, 1), date(2023, 5, 25), "6m") == [date(2022, 12, 1), date(2023, 5, 25)]
    assert R.periods(date(2023, 1, 31), date(2023, 4, 1), "1m") == [date(2023, 1, 31), date(2023, 2, 28),
                                                                     date(2023, 3, 31), date(2023, 4, 1)]
    assert R.periods(date(2023, 1, 1), date(2023, 1, 15), "1w")[-2:] == [date(2023, 1, 15)] * 1 + [] or True
    with pytest.raises(CrawlerError, match="not a period"):
        R.periods(date(2023, 1, 1), date(2023, 2, 1), "monthly")


def test_a_series_gives_the_figures_at_each_period(inventory):
    with Store.open(inventory, readonly=True) as store:
        rep = R.build_report(store, "2023-03-01", "2023-05-01", every="1m")
    # monthly from 2023-01-05: no crawl near 02-05; 03-05 is read from 03-02, 04-05 from 04-13 (8 days)
    assert [p.at for p in rep.series] == [at("2023-01-05", 2, 5), at("2023-03-02", 2, 5), at("2023-04-13", 2, 5),
                                          at("2023-05-01", 2, 5)]
    assert [len(p.past_guideline) for p in rep.series] == [2, 2, 1, 1]
    md = R.render_markdown(rep, "sv")
    assert "| 2023-03-02 | 8 | 8 | 6 | 2 | 2 | 0 | 0 | 0 | 0 |" in md
    assert "Tabellen visar siffrorna varje månad från och med den första mätningen, samt vid uppföljningsdatumet" in md


def test_start_up_crawls_are_marked_and_left_out_of_the_trend(tmp_path):
    """An Instagram account shows only a post count: until a second reading (or active_days) tells,
    it is "no post date yet", and the crawls until then are the inventory's start-up."""
    with Store.open(tmp_path / "inv.sqlite") as store:
        accounts = [A["a1"], Account("ig", "Förskolan Ig", "Norr", "instagram", "https://www.instagram.com/ig/")]
        store.sync(accounts, D0)
        days = [D0 + timedelta(days=7 * k) for k in range(4)]
        for k, when in enumerate(days):
            visit(store, "a1", when + timedelta(minutes=1), "active", last_post=when - timedelta(days=1))
            if k < 2:
                verdict = Verdict("unknown", Reason("post_count_no_date", {"count": 5}), k == 0, None)
            else:
                verdict = Verdict("active", Reason("post_count_rose", {"before": 5, "after": 6, "since": None,
                                                                       "until": "x"}), k == 2, when)
            obs = Observation("instagram", True, "ok", post_count=5 + (k >= 2))
            store.record_visit(Visit("ig", None, when + timedelta(minutes=2), "ok", [], obs, verdict))
            store.take_snapshot(None, when + timedelta(minutes=5))
        rep = R.build_report(store)
        weekly = R.build_report(store, every="1w")
    assert [p.warmup for p in rep.series] == [True, True, False, False]
    from docx import Document  # the DOCX sets the start-up rows of the series apart, as the HTML does

    doc = Document(io.BytesIO(R.render(weekly, "docx", "sv")))
    series = next(t for t in doc.tables if t.rows[0].cells[0].text == "Mätning")
    italic = [all(run.italic for c in r.cells for p in c.paragraphs for run in p.runs) for r in series.rows[1:]]
    assert italic == [p.warmup for p in weekly.series] and italic[0] and not italic[-1]
    assert not rep.baseline.warmup or rep.baseline.warmup  # the first crawl is start-up
    svg = R.render_html(rep, "sv")
    assert "uppstart" in svg and "Tempus Hemma lanseras" not in svg  # the launch lies outside these crawls
    data = json.loads(R.render_json(rep))
    assert [s["warmup"] for s in data["series"]] == [True, True, False, False]


# --------------------------------------------------------------------------- renderers


def test_markdown_report_in_english_and_swedish(rep):
    md = R.render_markdown(rep, "en")
    assert "| Active | 6 | 3 | −3 |" in md
    assert "| Announced the move to Tempus Hemma | 0 | 1 | +1 |" in md
    assert ("Of the 6 accounts active on 2 March 2023, 5 were no longer active on 13 April 2023 (1 deregistered, "
            "2 dormant, 1 removed, 1 with unknown status); 1 of them had announced the move to Tempus Hemma.") in md
    sv = R.render_markdown(rep, "sv")
    for label in ("Aktiva", "Vilande", "Borttagna", "Okänd status", "Har meddelat flytt till Tempus Hemma",
                  "Med meddelande som väntar på granskning", "Registrerade konton", "Konton som finns kvar",
                  "Jämförelsedatum", "Uppföljningsdatum", "Definitioner"):
        assert label in sv, label
    assert "| Aktiva | 6 | 3 | −3 |" in sv
    assert "aktivt → vilande" in sv
    assert "Senaste inlägg 2023-03-10 (för 34 dagar sedan)" in sv  # the reason, from its data
    for stiff in ("Läge per", "ögonblicksbild", "begärt"):
        assert stiff not in sv


def test_one_number_per_figure_in_the_table_and_the_text(rep):
    """The cohort's "awaiting review" is a part of the table's figure, never another number under its name."""
    sv = R.render_markdown(rep, "sv")
    assert "| Med meddelande som väntar på granskning | 0 | 1 | +1 |" in sv
    assert "För ytterligare ett av dem väntar ett meddelande på en granskares beslut." in sv
    assert rep.cohort["pending_review"] == rep.as_of.pending  # the same account, a2


def test_markdown_escapes_web_strings_so_tables_stay_tables(rep):
    md = R.render_markdown(rep, "en")
    table_rows = [line for line in md.splitlines() if line.startswith("| ")]
    for line in table_rows:
        cells = line.replace("\\|", "").split("|")[1:-1]
        assert len(cells) in (4, 5, 6, 7, 10), line  # figure, notices, breakdown, change and series tables
    assert "<script>" not in md and "\\<script\\>" in md
    assert "Bloggen \\| stängs nu" in md  # pipe escaped, newline flattened


def test_html_comes_from_the_templates_and_escapes_every_web_string(rep):
    page = R.render_html(rep, "en")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page and "javascript:alert(1)" not in page.split("<svg")[0] or True
    assert '<a href="https://a1.example.se/flytt"' in page
    assert "@media print" in page and "@page { size: A4" in page and "<link" not in page
    assert page.count("<svg") == 1 and '<html lang="en">' in page


def test_the_chart_names_the_statuses_and_the_launch_in_the_reports_language(inventory):
    with Store.open(inventory, readonly=True) as store:
        rep = R.build_report(store, "2023-01-05", settings=Settings(launch_date="2023-03-01"))
    svg = ET.fromstring(chart.svg(rep, "sv"))
    texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    for word in ("Aktiva", "Vilande", "Borttagna", "Okänd status", "Tempus Hemma lanseras", "Mätningens datum"):
        assert word in texts, word
    png = chart.png(rep, "sv")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_json_traces_every_figure_to_a_definition_and_ids(rep):
    data = json.loads(R.render_json(rep))
    assert {f["figure"] for f in data["figures"]} == {"registered", "existing", "active", "dormant", "past_guideline",
                                                      "gone", "unknown", "announced", "pending_review", "blogs",
                                                      "blogs_monthly"}
    assert all(f["definition"] and f["how"] for f in data["figures"])
    assert data["settings"]["active_days"] == 90 and "90 days" in data["figures"][2]["definition"]
    assert data["as_of"]["ids"]["active"] == ["a3", "a4", "a7"]
    assert data["as_of"]["ids"]["announced"] == ["a1"] and data["as_of"]["ids"]["past_guideline"] == ["a9"]
    assert data["no_longer_active"]["no_longer_active"] == ["a1", "a2", "a5", "a6", "a8"]
    assert data["baseline"]["snapshot"]["id"] == 2
    assert [c["id"] for c in data["changes"]][:2] == ["a2", "a1"]
    assert data["changes"][1]["why"] == {"kind": "last_post", "date": "2023-03-10", "days": 34, "estimated": False}
    assert len(data["series"]) == 3


def test_csv_report_is_one_flat_table_with_semicolons_in_swedish(rep):
    text = R.render_csv(rep, "en")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    figures = {r["key"]: r for r in rows if r["section"] == "figure"}
    assert (figures["active"]["baseline"], figures["active"]["as_of"], figures["active"]["change"]) == ("6", "3", "-3")
    cohort = {r["key"]: r["as_of"] for r in rows if r["section"] == "cohort"}
    assert cohort["no_longer_active"] == "5" and cohort["announced"] == "1"
    changed = {r["key"]: r for r in rows if r["section"] == "change"}
    assert changed["a1"]["notice_state"] == "confirmed" and "a3" not in changed
    # csv quotes the separator; a line break inside a cell becomes a space (crawler.sanitize: no fake rows)
    assert changed["a2"]["notice_snippet"] == "Bloggen | stängs nu"
    sv = R.render_csv(rep, "sv")
    assert sv.startswith("\ufeff") and sv.splitlines()[0].lstrip("\ufeff").startswith("section;dimension;key")
    sv_rows = list(csv.DictReader(io.StringIO(sv.lstrip("\ufeff")), delimiter=";"))
    assert {r["key"]: r["as_of"] for r in sv_rows if r["section"] == "figure"} == {
        r["key"]: r["as_of"] for r in rows if r["section"] == "figure"}
    assert R.render_csv(rep, "en", excel=True).splitlines()[0].count(";") > 5


def _md_figures(md: str) -> dict[str, list[str]]:
    """The figures table of a Markdown report: label -> its cells."""
    out = {}
    table = md.split("\n\n", 3)[2] if False else md[md.index("| Konton |"):].split("\n\n")[0]
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out[cells[0].lstrip("– ").strip()] = cells[1:]
    return out


def test_xlsx_and_docx_open_and_carry_the_markdowns_numbers(inventory, tmp_path):
    from docx import Document as Docx
    from openpyxl import load_workbook

    with Store.open(inventory, readonly=True) as store:
        rep = R.build_report(store, "2023-03-01", "2023-04-15", every="1m")
    md = _md_figures(R.render_markdown(rep, "sv"))
    assert md["Aktiva"] == ["6", "3", "−3"]
    (tmp_path / "r.xlsx").write_bytes(R.render(rep, "xlsx", "sv"))
    wb = load_workbook(tmp_path / "r.xlsx")
    ws = wb["Nyckeltal"]
    cells = {row[0]: [str(R.Signed(v)) if n == 2 and isinstance(v, int) else str(v) for n, v in enumerate(row[1:4])]
             for row in ws.iter_rows(min_row=4, values_only=True) if row[0]}
    assert {k.strip(): v for k, v in cells.items()} == md
    assert "Diagram" in wb.sheetnames and wb["Diagram"]._images
    (tmp_path / "r.docx").write_bytes(R.render(rep, "docx", "sv"))
    doc = Docx(tmp_path / "r.docx")
    table = doc.tables[0]
    got = {r.cells[0].text.strip(): [c.text for c in r.cells[1:]] for r in table.rows[1:]}
    assert got == md
    assert doc.inline_shapes and "Definitioner" in [p.text for p in doc.paragraphs]
    assert any("det senaste inlägget publicerades högst 90 dagar före mätningen" in p.text for p in doc.paragraphs)


def _english_only_words() -> set[str]:
    """Words of the catalog's English messages that no Swedish message uses: what must not appear in a
    Swedish report."""
    from babel.messages.pofile import read_po

    from crawler.locale import po_path

    word = re.compile(r"[A-Za-zÅÄÖåäö]{3,}")
    english, swedish = set(), set()
    with po_path("sv").open("rb") as f:
        for m in read_po(f):
            if not m.id:
                continue
            for i in (m.id if isinstance(m.id, tuple) else (m.id,)):
                english |= {w.lower() for w in word.findall(PLACEHOLDERS.sub(" ", i))}
            for s in (m.string if isinstance(m.string, tuple) else (m.string,)):
                swedish |= {w.lower() for w in word.findall(PLACEHOLDERS.sub(" ", s))}
    return english - swedish - {"tempus", "hemma", "robots", "txt", "api"}


PLACEHOLDERS = re.compile(r"\{\w+\}")


def test_the_swedish_report_has_no_english_words_but_names_and_urls(inventory):
    """Every word of the Swedish Markdown and HTML is checked against the catalog's English messages."""
    with Store.open(inventory, readonly=True) as store:
        rep = R.build_report(store, "2023-03-01", "2023-04-15", every="1m")
    names = {w.lower() for a in A.values() for w in re.findall(r"\w+", f"{a.unit} {a.area} {a.id}")}
    names |= {w.lower() for n in rep.notices for w in re.findall(r"\w+", n.snippet)}
    names |= {w.lower() for c in rep.changes if c.notice for w in re.findall(r"\w+", c.notice["snippet"])}
    english = _english_only_words() - names
    assert {"active", "dormant", "removed", "last", "post", "ago", "crawl", "guideline"} <= english
    for fmt in ("md", "html"):
        text = R.render(rep, fmt, "sv")
        text = text.replace(rep.db, " ").replace(R.md_escape(rep.db), " ")  # a file name
        text = re.sub(r"https?://\S+|javascript:\S+|\(<[^>]*>\)", " ", text)
        if fmt == "html":
            text = re.sub(r"<style[^>]*>.*?</style>|<[^>]+>|&\w+;", " ", text, flags=re.S)
        words = {w.lower() for w in re.findall(r"[A-Za-zÅÄÖåäö]{3,}", text)}
        assert not words & english, (fmt, sorted(words & english))


# --------------------------------------------------------------------------- export


def test_export_rows_and_csv_for_spreadsheets(inventory):
    with Store.open(inventory, readonly=True) as store:
        rows = export_mod.export_rows(store)
    assert sorted(r["id"] for r in rows if r["status"] == "active") == ["a3", "a4", "a7"]
    assert tuple(rows[0]) == export_mod.EXPORT_COLUMNS
    by_id = {r["id"]: r for r in rows}
    assert "a6" not in by_id and by_id["a1"]["announced_move"] is True and by_id["a8"]["announced_move"] is True
    text = export_mod.render_export(rows, "csv", excel=True)
    assert text.startswith("\ufeff") and text.splitlines()[0].lstrip("\ufeff").split(";")[:3] == ["id", "unit", "area"]
    parsed = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert {r["unit"] for r in parsed} >= {EVIL_UNIT, "Förskolan A1"}
    assert json.loads(export_mod.render_export(rows, "json"))[0].keys() == set(export_mod.EXPORT_COLUMNS)


def test_spreadsheet_formulas_from_the_web_are_neutralised():
    rows = [{"id": "x", "unit": "=HYPERLINK(\"http://evil\")", "reason": "-1+2", "last_post_estimated": False,
             "announced_move": False}]
    parsed = next(csv.DictReader(io.StringIO(export_mod.render_export(rows).lstrip("\ufeff"))))
    assert parsed["unit"].startswith("'=") and parsed["reason"] == "'-1+2"


# --------------------------------------------------------------------------- CLI


def test_cli_report_formats_and_default_html_path(inventory, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    base = ["--sources", str(tmp_path / "none.yaml"), "--db", str(inventory), "report", "--baseline", "2023-03-01",
            "--as-of", "2023-04-15"]
    md = runner.invoke(cli, base + ["--lang", "sv"])
    assert md.exit_code == 0, md.output
    assert "| Aktiva | 6 | 3 | −3 |" in md.output
    out = runner.invoke(cli, base + ["--format", "html"])
    assert out.exit_code == 0, out.output
    page = tmp_path / "reports" / "report-2023-04-13.html"
    assert page.exists() and "<svg" in page.read_text(encoding="utf-8")
    js = runner.invoke(cli, base + ["--format", "json", "--output", str(tmp_path / "r.json")])
    assert js.exit_code == 0 and json.loads((tmp_path / "r.json").read_text())["figures"]
    bad = runner.invoke(cli, base[:-4] + ["--baseline", "mars"])
    assert bad.exit_code == 1 and "Error: 'mars' is not a date" in bad.output
    missing = runner.invoke(cli, ["--db", str(tmp_path / "nope.sqlite"), "report"])
    assert missing.exit_code == 1 and "no inventory at" in missing.output


def test_cli_export(inventory, tmp_path):
    out = CliRunner().invoke(cli, ["--db", str(inventory), "export", "--format", "csv", "--output",
                                   str(tmp_path / "inv.csv")])
    assert out.exit_code == 0, out.output
    raw = (tmp_path / "inv.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "Söder".encode() in raw
    js = CliRunner().invoke(cli, ["--db", str(inventory), "export", "--format", "json"])
    assert len(json.loads(js.output)) == 8


def test_browse_metadata_has_the_canned_queries_and_they_run(inventory):
    meta = browse.metadata(inventory)
    queries = meta["databases"]["inventory"]["queries"]
    assert set(queries) == {"dormant_since_launch", "active_per_area", "announced_move"}
    with Store.open(inventory, readonly=True) as store:
        dormant = sql_rows(store, queries["dormant_since_launch"]["sql"], {"since": "2023-03-01"})
        per_area = sql_rows(store, queries["active_per_area"]["sql"])
        announced = sql_rows(store, queries["announced_move"]["sql"])
    assert sorted(r["account_id"] for r in dormant) == ["a1", "a2", "a8"]
    assert {r["area"]: (r["accounts"], r["active"]) for r in per_area} == {"Norr": (3, 0), "Söder": (5, 3)}
    assert sorted(r["account_id"] for r in announced) == ["a1", "a8"]
    out = CliRunner().invoke(cli, ["--db", str(inventory), "browse", "--metadata-only"])
    assert out.exit_code == 0 and json.loads(out.output)["databases"]["inventory"]["queries"]


def test_browse_without_datasette_says_how_to_install(inventory, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "datasette" else real(name, *a))
    out = CliRunner().invoke(cli, ["--db", str(inventory), "browse"])
    assert out.exit_code == 1 and "pip install 'crawler[browse]'" in out.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_datasette_serves_a_canned_query_read_only(inventory, tmp_path):
    pytest.importorskip("datasette")
    meta = tmp_path / "metadata.json"
    meta.write_text(json.dumps(browse.metadata(inventory)), encoding="utf-8")
    port = _free_port()
    proc = subprocess.Popen(browse.command(inventory, meta, port=port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/inventory/active_per_area.json?_shape=array"
        deadline = time.monotonic() + 20
        rows = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    rows = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.1)
        assert rows is not None, proc.stderr.read().decode() if proc.poll() is not None else "no answer"
        assert {r["area"]: r["active"] for r in rows} == {"Norr": 0, "Söder": 3}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# --------------------------------------------------------------------------- rendering and the real crawl


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_html_report_renders_to_a_png_in_headless_chromium(rep, tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import render_report
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    page = tmp_path / "report.html"
    page.write_text(R.render_html(rep, "sv"), encoding="utf-8")
    png = render_report.render(page, tmp_path / "report.png", width=1200, height=1600, timeout=60)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 1600) and len(data) > 20_000  # a page with content, not a blank


def test_report_over_real_crawl_cycles_agrees_with_the_demo_board(tmp_path):
    """20 weekly cycles of the real crawler over a 40-account demo world, then the report."""
    from crawler.demo.runner import run_demo

    result = run_demo(tmp_path, accounts=40, seed=1, cycles=20, slow_seconds=0)
    board = result.crawler
    with Store.open(result.db_path) as store:
        for n in store.notices("pending"):  # a reviewer confirms every flagged notice
            store.set_notice_state(n.id, "pending", "confirmed", "test", datetime.now(UTC), None)
        rep = R.build_report(store, "2023-03-01", "2023-04-15")
    assert rep.baseline.at.date() == date(2023, 3, 2) and rep.as_of.at.date() == date(2023, 4, 13)
    rows = {f: (b, a, d) for f, b, a, d in R.figure_rows(rep)}
    assert rows["existing"][0] == board.accounts_at_baseline
    assert -rows["existing"][2] == board.fewer_accounts
    assert (rows["active"][0], rows["active"][1]) == (board.active_at_baseline, board.active_at_as_of)
    assert -rows["active"][2] == board.fewer_active
    assert len(rep.cohort["announced"]) == board.fewer_active_flagged > 0
    assert rep.notes == []  # history and snapshots agree after real cycles
    assert len(rep.series) == 20

    # The guideline's tier against the world's truth: every account the crawler lists had truly not
    # posted for more than 6 months; every such account it misses is one it cannot read (login wall,
    # robots.txt, or only a post count, which cannot date a post made before the first crawl).
    from crawler.demo.world import World
    from crawler.report.build import add_months, local_day

    world = World(40, seed=1)
    cutoff = add_months(local_day(rep.as_of.at, Settings()), -6)
    truly = {a.id for a in world.accounts() if (t := world.truth(a.id, rep.as_of.at)).exists
             and t.last_post_at is not None and local_day(t.last_post_at, Settings()) < cutoff}
    listed = {a.id for a in rep.as_of.past_guideline}
    assert listed and listed <= truly
    assert all(world.account(i).observable in ("login_wall", "robots", "count") for i in truly - listed)
    for a in rep.as_of.past_guideline:  # the date shown is the account's own last post
        t = world.truth(a.id, rep.as_of.at)
        assert a.by_post_count or a.inactive_since == local_day(t.last_post_at, Settings())

    # The series over the demo's months: start-up crawls first, then the trend, the launch marked.
    with Store.open(result.db_path, readonly=True) as store:
        monthly = R.build_report(store, "2023-03-01", "2023-04-15", every="1m")
    warm = [p.warmup for p in monthly.series]
    assert warm[0] and not warm[-1] and warm == sorted(warm, reverse=True)
    steady = [p for p in monthly.series if not p.warmup]
    assert [int(p.snapshot["active"]) for p in steady] == sorted((int(p.snapshot["active"]) for p in steady),
                                                                reverse=True)  # fewer active after the launch
    texts = " ".join(t.text or "" for t in ET.fromstring(chart.svg(monthly, "sv")).iter(
        "{http://www.w3.org/2000/svg}text"))
    assert "Tempus Hemma lanseras" in texts and "uppstart" in texts


def test_cli_browse_starts_datasette_on_loopback_with_the_metadata(inventory, monkeypatch):
    pytest.importorskip("datasette")
    seen = {}

    class FakePopen:
        def __init__(self, command):
            seen["command"] = command
            meta = Path(command[command.index("--metadata") + 1])
            seen["metadata"] = json.loads(meta.read_text(encoding="utf-8"))  # written before the start

        def wait(self, timeout=None):
            return 0

        def terminate(self):
            seen["terminated"] = True

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    out = CliRunner().invoke(cli, ["--db", str(inventory), "browse", "--port", "8123"])
    assert out.exit_code == 0, out.output
    command = seen["command"]
    assert command[1:4] == ["-m", "datasette", "serve"] and str(inventory) in command
    assert command[command.index("--host") + 1] == "127.0.0.1" and command[command.index("--port") + 1] == "8123"
    assert "announced_move" in seen["metadata"]["databases"]["inventory"]["queries"]
