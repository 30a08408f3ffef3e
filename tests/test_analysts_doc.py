"""docs/ANALYSTS.md's examples run: every `crawler ...` command of its sh blocks, every SQL query,
on a small demo inventory after a reviewer confirmed the flagged notices (as the page says), and
their output has the shape the page shows: the same headings, table headers and row labels, the
same CSV header, the same columns of every query and view. The numbers differ (a 40-account demo,
not the 319-account one), so they are not compared.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shlex
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli as main

DOC = Path(__file__).resolve().parent.parent / "docs" / "ANALYSTS.md"
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(language, body, the prose after it up to the next block) of every fenced block."""
    parts = re.split(r"^```(\w*)\n(.*?)^```\n", text, flags=re.S | re.M)
    out = []
    for n in range(1, len(parts) - 1, 3):
        out.append((parts[n], parts[n + 1], parts[n + 2]))
    return out


def commands(body: str) -> list[list[str]]:
    """The `crawler` command lines of an sh block, as argument lists without the program name."""
    out = []
    for line in body.splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("crawler "):
            out.append(shlex.split(line)[1:])
    return out


def table_rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|") and not line.startswith("|---")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A 40-account demo crawled weekly from December to April; every flagged notice confirmed."""
    from crawler.demo.runner import run_demo

    folder = tmp_path_factory.mktemp("analysts")
    result = run_demo(folder / "demo-out", accounts=40, seed=1, cycles=20, slow_seconds=0)
    db = str(result.db_path)
    runner = CliRunner()
    listed = runner.invoke(main, ["--db", db, "review", "list"])
    assert listed.exit_code == 0, listed.output
    ids = [line.split()[0] for line in listed.output.splitlines()[1:] if line.split() and line.split()[0].isdigit()]
    assert ids
    for i in ids:
        done = runner.invoke(main, ["--db", db, "review", "confirm", i, "--by", "Anna Svensson"])
        assert done.exit_code == 0, done.output
    return folder, db


def run(demo, args: list[str]) -> str:
    folder, db = demo
    args = [db if a == "demo-out/inventory.sqlite" else a for a in args]
    if "--db" not in args:
        args = ["--db", db, *args]
    with contextlib.chdir(folder):  # files named by --output land beside the demo
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
        for flag in ("--output", "-o"):
            if flag in args:
                assert Path(args[args.index(flag) + 1]).stat().st_size > 0
    return result.output


def test_every_command_on_the_page_runs(demo):
    text = DOC.read_text(encoding="utf-8")
    ran = 0
    for lang, body, _ in blocks(text):
        if lang != "sh":
            continue
        for args in commands(body):
            if args[0] == "browse" and "--metadata-only" not in args:
                continue  # starts a server
            run(demo, args)
            ran += 1
    assert ran >= 8


def test_the_reports_shown_have_the_shape_of_the_real_output(demo):
    """Headings, table headers (dates aside) and the labels of table rows are what the report prints."""
    found = blocks(DOC.read_text(encoding="utf-8"))
    checked = 0
    for n, (lang, body, _) in enumerate(found[:-1]):
        if lang != "sh" or not commands(body) or commands(body)[0][2] != "report":
            continue
        shown = found[n + 1][1].split("\n...")[0]
        real = run(demo, commands(body)[0])
        real_headings = {line for line in real.splitlines() if line.startswith("#")}
        for line in shown.splitlines():
            if line.startswith("#"):
                assert line in real_headings, line
        real_rows = table_rows(real)
        real_headers = {tuple(DAY.sub("DAY", c) for c in r) for r in real_rows}
        real_labels = {r[0] for r in real_rows}
        for row in table_rows(shown):
            if not DAY.match(row[0]) and not row[1].isdigit():  # a header
                assert tuple(DAY.sub("DAY", c) for c in row) in real_headers, row
            elif not DAY.match(row[0]):
                assert row[0] in real_labels, row[0]
        checked += 1
    assert checked == 2


def test_the_exports_shown_have_the_real_columns(demo):
    text = DOC.read_text(encoding="utf-8")
    shown = [body for lang, body, _ in blocks(text) if lang == "" and body.startswith("id")]
    assert len(shown) == 2
    english = run(demo, ["export", "--format", "csv"]).lstrip("\ufeff")
    swedish = run(demo, ["export", "--as-of", "2023-03-01", "--lang", "sv"]).lstrip("\ufeff")
    for example, real, sep in ((shown[0], english, ","), (shown[1], swedish, ";")):
        head, row = list(csv.reader(io.StringIO(example), delimiter=sep))[:2]
        real_rows = list(csv.reader(io.StringIO(real), delimiter=sep))
        assert head == real_rows[0] and len(row) == len(head)
        assert all(len(r) == len(head) for r in real_rows)
    example = json.loads(next(body for lang, body, _ in blocks(text) if lang == "json"))
    figures = json.loads(run(demo, ["report", "--format", "json", "--baseline", "2023-03-01"]))["figures"]
    real = next(f for f in figures if f["figure"] == example["figure"])
    assert set(example) == set(real) and example["how"] == real["how"]


def test_every_query_runs_and_gives_the_columns_shown(demo):
    _, db = demo
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    checked = 0
    for lang, body, after in blocks(DOC.read_text(encoding="utf-8")):
        if lang != "sql":
            continue
        sql = "\n".join(line for line in body.splitlines() if not line.startswith("--")).strip().rstrip(";")
        cursor = connection.execute(sql, {"since": "2023-03-01"} if ":since" in sql else {})
        columns = [d[0] for d in cursor.description]
        assert cursor.fetchall() is not None
        rows = table_rows(after)
        assert rows and rows[0] == columns, (sql, rows[:1])
        checked += 1
    assert checked == 4


def test_the_views_have_the_columns_listed(demo):
    _, db = demo
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    text = DOC.read_text(encoding="utf-8")
    part = text[text.index("## The views"):text.index("## Three questions")]
    part = part[part.index("\n| view"):].split("\n\n")[0]  # the first table: view, one row per, columns
    listed = {r[0].strip("`"): [c.strip() for c in r[2].split(",")] for r in table_rows(part)[1:]}
    assert len(listed) == 5
    for view, columns in listed.items():
        real = [d[0] for d in connection.execute(f"SELECT * FROM {view} LIMIT 0").description]
        assert real == columns, view


def test_the_demos_swedish_report_has_no_english_words(demo):
    """`crawler report --lang sv` on a real crawl of the demo world (every kind of reason, both routes'
    notes, the start-up and the series): no word of the catalog's English messages in Markdown, HTML
    (the chart's SVG text included) or DOCX, but the names of units, areas and notices' own words."""
    import yaml
    from docx import Document

    from .test_report import _english_only_words

    folder, db = demo
    registry = yaml.safe_load((folder / "demo-out" / "sources.yaml").read_text(encoding="utf-8"))["accounts"]
    names = {w.lower() for a in registry for k in ("unit", "area", "id") for w in re.findall(r"\w+", str(a[k]))}
    english = _english_only_words()
    args = ["report", "--baseline", "2023-03-01", "--as-of", "2023-04-15", "--every", "1m"]
    for fmt in ("md", "html", "docx"):
        if fmt == "md":
            text = run(demo, args)
        else:
            run(demo, [*args, "--format", fmt, "--output", f"r.{fmt}"])
            if fmt == "html":
                text = (folder / "r.html").read_text(encoding="utf-8")
            else:
                doc = Document(str(folder / "r.docx"))
                text = "\n".join([p.text for p in doc.paragraphs]
                                 + [c.text for t in doc.tables for r in t.rows for c in r.cells])
        text = re.sub(r"https?://\S+|\(<[^>]*>\)", " ", text.replace(db, " "))
        text = re.sub(r"<style[^>]*>.*?</style>|<metadata>.*?</metadata>|<[^>]+>|&\w+;", " ", text, flags=re.S)
        notices = set()  # the notices' snippets are the accounts' own words
        for snippet in re.findall(r"”([^”]*)”", text):
            notices |= {w.lower() for w in re.findall(r"\w+", snippet)}
        words = {w.lower() for w in re.findall(r"[A-Za-zÅÄÖåäö]{3,}", text)} - names - notices
        assert len(words) > 100 and not words & english, (fmt, sorted(words & english))
