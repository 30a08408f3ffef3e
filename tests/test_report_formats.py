"""One number per figure: Markdown, HTML, CSV, JSON, xlsx and DOCX carry the same figures, in
Swedish and in English: the key figures at both dates and the change, the series, the cohort, the
breakdowns and the guideline's list. Each format is read back as its reader would (an HTML parser,
csv, json, openpyxl, python-docx), never compared with the renderer's own data.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import pytest

from crawler import report as R
from crawler.report import figures as F
from crawler.store import Store

from .test_report import at, build

FORMATS = ("md", "html", "csv", "json", "xlsx", "docx")
ALL_FIGURES = [f.name for f in (*F.FIGURES, F.BLOGS, F.BLOGS_MONTHLY) if f.name != "unchecked"]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """The synthetic inventory's report (with a monthly series) in every format and both languages."""
    path = tmp_path_factory.mktemp("formats") / "inventory.sqlite"
    with Store.open(path) as store:
        build(store)
    with Store.open(path, readonly=True) as store:
        rep = R.build_report(store, "2023-03-01", "2023-04-15", every="1m", now=at("2023-05-20"))
    return rep, {(fmt, lang): R.render(rep, fmt, lang) for fmt in FORMATS for lang in ("sv", "en")}


def number(text) -> int:
    """A cell as a number: 3, "−3", "+4", "±0"."""
    if isinstance(text, int):
        return text
    return int(str(text).strip().replace("−", "-").replace("±", "").replace("+", ""))


class Tables(HTMLParser):
    """The tables of an HTML page: class -> rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self.paragraphs: list[str] = []
        self._cell: list[str] | None = None
        self._p: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append((dict(attrs).get("class", ""), []))
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "p":
            self._p = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "p" and self._p is not None:
            self.paragraphs.append(" ".join("".join(self._p).split()))
            self._p = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._p is not None:
            self._p.append(data)


def _label_rows(rows: list[list], labels: dict[str, str]) -> dict[str, list]:
    """Rows of a figures table by figure name (its first cell is the figure's label)."""
    by_label = {v: k for k, v in labels.items()}
    out = {}
    for row in rows:
        label = str(row[0] or "").strip().removeprefix("– ").strip()
        if label in by_label:
            out[by_label[label]] = list(row[1:])
    return out


def key_figures(fmt: str, lang: str, data, rep) -> dict[str, tuple[int | None, int | None, int | None]]:
    """(baseline, as-of, change) per figure name, as the format's reader sees them."""
    words = R.Words(lang, rep.settings)
    labels = {f.name: words.figure(f) for f in (*F.FIGURES, F.BLOGS, F.BLOGS_MONTHLY)}
    if fmt == "json":
        return {f["figure"]: (f["baseline"], f["as_of"], f["change"]) for f in json.loads(data)["figures"]}
    if fmt == "csv":
        rows = csv.DictReader(io.StringIO(data.lstrip("\ufeff")), delimiter=";" if lang == "sv" else ",")
        return {r["key"]: (number(r["baseline"]), number(r["as_of"]), number(r["change"]))
                for r in rows if r["section"] == "figure"}
    if fmt == "md":
        table = data[data.index("\n| ") + 1:].split("\n\n")[0]
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table.splitlines()[2:]]
    elif fmt == "html":
        parser = Tables()
        parser.feed(data)
        rows = next(t for c, t in parser.tables if c.split()[0] == "figures")[1:]
    elif fmt == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data))
        rows = [list(r) for r in book.worksheets[0].iter_rows(min_row=4, values_only=True) if r[0]]
    else:
        from docx import Document

        rows = [[c.text for c in r.cells] for r in Document(io.BytesIO(data)).tables[0].rows[1:]]
    return {name: tuple(number(c) for c in cells[:3]) for name, cells in _label_rows(rows, labels).items()}


@pytest.mark.parametrize("name", ALL_FIGURES)
@pytest.mark.parametrize("lang", ["sv", "en"])
def test_each_key_figure_has_one_number_in_every_format(outputs, name, lang):
    rep, out = outputs
    seen = {fmt: key_figures(fmt, lang, out[fmt, lang], rep).get(name) for fmt in FORMATS}
    assert len(set(seen.values())) == 1 and seen["json"] is not None, seen
    baseline, as_of, change = seen["json"]
    assert change == as_of - baseline


def series(fmt: str, lang: str, data, rep) -> dict[str, list[tuple[str, int]]]:
    """Per figure name, its (day, value) at each point of the series."""
    words = R.Words(lang, rep.settings)
    if fmt == "json":
        points = json.loads(data)["series"]
        return {n: [(p["taken_at"][:10], p[n]) for p in points] for n in points[0] if n in ALL_FIGURES}
    if fmt == "csv":
        out: dict[str, list] = {}
        for r in csv.DictReader(io.StringIO(data.lstrip("\ufeff")), delimiter=";" if lang == "sv" else ","):
            if r["section"] == "series":
                out.setdefault(r["measure"], []).append((r["key"], int(r["as_of"])))
        return out
    if fmt == "md":
        block = data[data.index("| " + words._("Crawl") + " |"):].split("\n\n")[0]
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines()]
        rows = [rows[0], *rows[2:]]
    elif fmt == "html":
        parser = Tables()
        parser.feed(data)
        rows = next(t for c, t in parser.tables if c.split()[0] == "series")
    elif fmt == "xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data)).worksheets[1]
        rows = [list(r) for r in sheet.iter_rows(min_row=3, values_only=True) if r[0]]
    else:
        from docx import Document

        table = next(t for t in Document(io.BytesIO(data)).tables if t.rows[0].cells[0].text == words._("Crawl"))
        rows = [[c.text for c in r.cells] for r in table.rows]
    header, *body = rows
    labels = {words.figure_short(f)[:1].upper() + words.figure_short(f)[1:]: f.name for f in F.FIGURES}
    out = {}
    for col, label in enumerate(header[1:], 1):
        out[labels[str(label)]] = [(str(r[0])[:10], number(r[col])) for r in body]
    return out


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_series_has_one_number_per_figure_and_point_in_every_format(outputs, lang):
    rep, out = outputs
    seen = {fmt: series(fmt, lang, out[fmt, lang], rep) for fmt in FORMATS}
    assert seen["json"]["active"] and len(seen["json"]["active"]) == len(rep.series)
    for fmt in FORMATS:
        assert seen[fmt] == seen["json"], fmt


def _sentences(fmt: str, data) -> str:
    if fmt == "html":
        parser = Tables()
        parser.feed(data)
        return " ".join(parser.paragraphs)
    if fmt == "docx":
        from docx import Document

        return " ".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    return " ".join(data.split())


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_cohort_and_the_guideline_say_the_numbers_of_the_data(outputs, lang):
    rep, out = outputs
    data = json.loads(out["json", lang])
    cohort = data["no_longer_active"]
    rows = list(csv.DictReader(io.StringIO(out["csv", lang].lstrip("\ufeff")), delimiter=";" if lang == "sv" else ","))
    assert {r["key"]: int(r["as_of"]) for r in rows if r["section"] == "cohort"} == {
        k: len(v) for k, v in cohort.items() if k != "no_longer_active_by_status"}
    listed = [r["key"] for r in rows if r["section"] == "past_guideline"]
    assert listed == data["as_of"]["ids"]["past_guideline"] == [a.id for a in rep.as_of.past_guideline] == ["a9"]
    opening = {"en": "Of the {a} accounts active on 2 March 2023, {s} were no longer active on 13 April 2023",
               "sv": "Av de {a} konton som var aktiva den 2 mars 2023 var {s} inte längre aktiva den 13 april 2023"}
    guideline = {"en": "On 13 April 2023, {n} account had not posted for more than 6 months",
                 "sv": "Den 13 april 2023 hade {n} konto inte haft något inlägg på mer än 6 månader"}
    blogs = {"en": "{m} of the {b} blogs whose status is known had posted within that time",
             "sv": "{m} av de {b} bloggarna med känd status publicerat något inom den tiden"}
    figures = {f["figure"]: f["as_of"] for f in data["figures"]}
    for fmt in ("md", "html", "docx"):
        text = _sentences(fmt, out[fmt, lang])
        assert opening[lang].format(a=len(cohort["active_at_baseline"]), s=len(cohort["no_longer_active"])) in text, fmt
        assert guideline[lang].format(n=len(listed)) in text, fmt
        assert blogs[lang].format(m=figures["blogs_monthly"], b=figures["blogs"]) in text, fmt


@pytest.mark.parametrize("dimension", ["platform", "area"])
def test_breakdowns_carry_the_same_counts_in_csv_json_and_the_tables(outputs, dimension):
    rep, out = outputs
    data = json.loads(out["json", "sv"])["breakdowns"][dimension]
    from_json = {(b["key"], s): (b[s]["baseline"], b[s]["as_of"]) for b in data for s in ("active", "dormant", "gone",
                                                                                             "unknown", "total")}
    rows = csv.DictReader(io.StringIO(out["csv", "sv"].lstrip("\ufeff")), delimiter=";")
    from_csv = {(r["key"], r["measure"]): (int(r["baseline"]), int(r["as_of"]))
                for r in rows if r["section"] == "breakdown" and r["dimension"] == dimension}
    assert from_csv == from_json
    md = out["md", "sv"]
    words = R.Words("sv", rep.settings)
    for (key, status), (b, a) in from_json.items():
        label = words.platform(key) if dimension == "platform" else key
        row = next(line for line in md.splitlines() if line.startswith(f"| {label} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        column = ("active", "dormant", "gone", "unknown", "total").index(status) + 1
        assert re.match(rf"^{b} → {a} \(", cells[column]), (key, status, cells)


def test_wide_tables_print_on_landscape_pages_and_dates_never_break(outputs):
    """The series and the changed accounts (7+ columns) are printed on landscape A4 pages in HTML and
    DOCX; a date in a table cell is kept on one line (Chromium would break it at a hyphen)."""
    from docx import Document
    from docx.enum.section import WD_ORIENT

    rep, out = outputs
    html = out["html", "sv"]
    assert "@page wide { size: A4 landscape;" in html and "section.wide { page: wide; }" in html
    assert '<section class="part-series wide">' in html and '<section class="part-figures">' in html
    assert re.search(r'<td class="num"><span class="nw">|<td><span class="nw">\d{4}-\d{2}-\d{2}</span>', html)
    assert not re.search(r"<td>[^<]*\b\d{4}-\d{2}-\d{2}\b", html)  # every date in a plain cell is wrapped
    doc = Document(io.BytesIO(out["docx", "sv"]))
    orientations = [s.orientation for s in doc.sections]
    assert orientations[0] == WD_ORIENT.PORTRAIT and WD_ORIENT.LANDSCAPE in orientations
