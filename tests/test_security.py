"""Security at every output edge (issue 17.4 and the developers' guide): what a web site or a file
says never reaches a terminal, a log, a spreadsheet or a page unescaped.

One end-to-end test plants hostile strings where a loopback site and the registry can put them
(post titles and URLs, notice texts, a feed, unit and area names in sources.yaml, cells of a CSV
import, a reviewer's comment), crawls it with the real crawler (`crawler crawl`, text and JSON
logs), then runs every command that prints and every report and export format, and checks each
output: no control or bidi character on a terminal or in a file, no formula a spreadsheet would
run, no link that is not http(s), HTML escaped. The hostile text must still be visible in a
harmless form (so the test proves the path was taken, not that a value was dropped).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from crawler import sanitize
from crawler.cli import cli
from crawler.report.render import TEMPLATES
from crawler.settings import Settings
from crawler.web import auth
from tests.hostile import HostileServer, redirect, respond

pytestmark = pytest.mark.timeout(180)

# What a hostile page or file plants.
ESC = "\x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[H"  # set the window title, clear the screen, cursor home
CSI8 = "\x9b2J"  # the 8-bit (C1) form of "clear the screen"
BIDI = "\u202egnp.exe\u202c\u2066x\u2069\u200f"  # right-to-left override, isolate, mark
CR = "\rFAKE-ROW"  # overwrite the line
SCRIPT = "<script>alert(1)</script>"
HYPERLINK = '=HYPERLINK("http://evil.example/","klicka")'
CMD = "+cmd|' /C calc'!A0"

MOVE = ("Bloggen stängs ner efter sommaren. All information om verksamheten kommer i fortsättningen i "
        "Tempus Hemma, appen där ni redan anmäler frånvaro.")
CLOSING = "Detta är sista inlägget: bloggen stängs och vi slutar uppdatera den."


def page(base: str, social: str) -> bytes:
    """A blog whose posts carry escape sequences, bidi overrides, markup and a javascript: link, and
    whose header links an Instagram account the registry lacks (for `crawler discover`)."""
    return f"""<!doctype html><html><head><title>Förskolan {ESC} blogg {SCRIPT}</title></head><body>
<header><a href="{social}/ny_profil{BIDI}/">Följ oss på Instagram {ESC}{BIDI}{SCRIPT}</a></header>
<article><h2><a href="/2023/04/14/inlagg-\x1b[31m-{BIDI}/">Viktigt{ESC}{CR}{SCRIPT}</a></h2>
<time class="published" datetime="2023-04-14T10:00:00+02:00">14 april 2023</time>
<p>{MOVE[:40]}\x1b[2J{MOVE[40:]}{BIDI}{CR}</p></article>
<article><h2><a href="javascript:alert(document.cookie)">{CLOSING}{CSI8}</a></h2>
<time class="published" datetime="2023-04-01T10:00:00+02:00">1 april 2023</time><p>{SCRIPT}</p></article>
</body></html>""".encode()


def feed(base: str) -> bytes:
    """An RSS feed (XML allows C1 and bidi characters, not ESC) with a data: link on a notice."""
    return f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
<title>Blogg {CSI8}{BIDI}</title><link>{base}/feedblog/</link><description>x</description>
<item><title>Bloggen stängs{CSI8} – information kommer i fortsättningen i Tempus Hemma{BIDI}</title>
<link>data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;</link><pubDate>Mon, 10 Apr 2023 08:00:00 +0000</pubDate>
<description>{MOVE.replace("Bloggen", "Bloggen" + CSI8)}</description></item>
<item><title>Vårens utflykt {BIDI}</title><link>{base}/feedblog/utflykt-{CSI8}{BIDI}</link>
<pubDate>Mon, 03 Apr 2023 08:00:00 +0000</pubDate><description>Vi åkte till parken.</description></item>
</channel></rss>""".encode()


def registry(base: str, social: str) -> str:
    # YAML double quotes: \e is ESC, \a BEL, \r\n a line break inside the value (a fake row)
    return f"""settings:
  contact: security-test@localhost.invalid
  allow_private_addresses: true
  per_host_delay: 0
  retries: 1
accounts:
  - id: hostile-blog
    unit: "Förskolan \\e]0;UNIT-TITLE\\a\\u202eliaM <script>alert(1)</script>\\r\\nFAKE-ROW"
    area: '{HYPERLINK}'
    platform: blog
    url: {base}/
    notes: "\\e[2J-2+3"
  - id: hostile-feed
    unit: "Förskolan Feed \\x9b2J\\u2066"
    area: "{CMD}"
    platform: blog
    url: {base}/feedblog/
    feed: {base}/feed.xml
""" + "".join(f"""  - id: ig-{n}
    unit: Förskolan {n.title()}
    area: Område Norr
    platform: instagram
    url: {social}/{n}/
""" for n in ("ett", "tva", "tre"))  # three Instagram accounts on one loopback host: discovery reads it as Instagram


IMPORT_CSV = (
    "Förskola;Område;Plattform;Länk\r\n"
    f'"{HYPERLINK.replace(chr(34), chr(34) * 2)}";"@SUM(1+1)*cmd|\' /C calc\'!A0";blogg;https://import-a.example.se/\r\n'
    "Förskolan \x1b]0;CSV\x07Ljus;Område Norr;blogg;https://import-b.example.se/\r\n"
    "Förskolan \u202eBidi;Område Norr;blogg;https://import-c.example.se/\r\n"
    "-Minus;Område Syd;blogg;https://import-d.example.se/\r\n"
)


# ------------------------------------------------------------------------------------ checks
# Each check returns what it found wrong, so one run lists every leak at once.


def unsafe_characters(text: str, *, crlf: bool = False) -> list[str]:
    """Control and format characters in `text` (by Unicode category, independently of crawler.sanitize):
    line feeds are allowed (outputs have lines), tabs (tables) and CRLF where `crlf` (CSV)."""
    if crlf:
        text = text.replace("\r\n", "\n")
    return sorted({f"U+{ord(c):04X}" for c in text
                   if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") and c not in "\n\t\u200c\u200d"})


def terminal_problems(text: str, where: str, *, crlf: bool = False) -> list[str]:
    found = unsafe_characters(text, crlf=crlf)
    return [f"{where}: {', '.join(found)}"] if found else []


def strings_of(data) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in (*strings_of(k), *strings_of(v))]
    if isinstance(data, list):
        return [s for v in data for s in strings_of(v)]
    return []


def json_problems(text: str, where: str) -> list[str]:
    """JSON escapes C0 characters itself; with ensure_ascii=False C1 and bidi characters would pass,
    and a decoded value would carry its escape sequence to whatever prints it."""
    return terminal_problems(text, where) + [f"{where}: value {s!r}" for s in strings_of(json.loads(text))
                                             if unsafe_characters(s) or "\n" in s]


def cell_problems(cells: list[str], where: str) -> list[str]:
    problems = []
    for value in cells:
        if unsafe_characters(value) or "\n" in value:
            problems.append(f"{where}: cell {value!r}")
        if value.lstrip()[:1] in ("=", "+", "-", "@"):
            problems.append(f"{where}: a formula cell {value!r}")
    return problems


class Links(HTMLParser):
    """Every link target and every element of an HTML page."""

    def __init__(self):
        super().__init__()
        self.targets: list[str] = []
        self.tags: list[str] = []
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.tags.append("script")  # inline code

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        src = dict(attrs).get("src") or ""
        # our own scripts (/static/, allowed by the CSP's script-src 'self') are ours; any other is not
        self.tags.append("own script" if tag == "script" and src.startswith("/static/") else tag)
        self._in_script = tag == "script"
        for name, value in attrs:
            if name in ("href", "src", "action", "formaction") and value is not None:
                self.targets.append(value)


def html_problems(html: str, where: str) -> list[str]:
    problems = terminal_problems(html, where)
    parsed = Links()
    parsed.feed(html)
    if "script" in parsed.tags:
        problems.append(f"{where}: a <script> element")
    problems += [f"{where}: a link to {t!r}" for t in parsed.targets
                 if not t.startswith(("http://", "https://", "#", "/", "?"))]
    if re.search(r"(?i)(href|src)\s*=\s*[\"']?\s*(javascript|data|vbscript|file):", html):
        problems.append(f"{where}: a javascript:/data: link")
    return problems


# ------------------------------------------------------------------------------------ the crawled inventory


PROFILE = f"""<html><head><meta property="og:title" content="Förskolan Ny {ESC}{BIDI}">
<meta property="og:description" content="Förskola i Malmö {ESC}{SCRIPT}"></head><body></body></html>""".encode()
INSTAGRAM = b"<html><head><title>Instagram</title></head><body></body></html>"


def serve_social(server: HostileServer) -> None:
    """Instagram's stand-in: the registry's three accounts and the profile the hostile blog links."""
    for n in ("ett", "tva", "tre"):
        server.route(f"/{n}/", respond(INSTAGRAM))
    server.route("/ny_profil/", respond(PROFILE))


def serve_site(server: HostileServer, social: HostileServer) -> None:
    base = server.base
    server.route("/", respond(page(base, social.base)))
    server.route("/feedblog/", respond(b"<html><body>feed blog</body></html>"))
    server.route("/feed.xml", respond(feed(base), content_type="application/rss+xml; charset=utf-8"))
    server.route("/other-blog/", respond(b"<html><head><title>Annan blogg</title></head><body></body></html>"))


@pytest.fixture
def social():
    with HostileServer(host="127.0.0.2") as server:
        serve_social(server)
        yield server


@pytest.fixture
def site(social: HostileServer):
    with HostileServer() as server:
        serve_site(server, social)
        yield server


IG_USER_ID = "17841400000000000"
META_TOKEN = "EAAsecurityTEST0123456789"


class HostileGraph:
    """Meta's Graph API on loopback, answering Business Discovery in the documented shape with hostile
    text: a bio and a caption with escape sequences, bidi overrides and markup, a javascript: permalink;
    once `refusing`, a permission error (code 10) whose message carries the same."""

    def __init__(self, server: HostileServer, readable: tuple[str, ...] = ("ett",)):
        self.server, self.readable, self.refusing, self.calls = server, readable, False, 0
        self.authorization: list[str] = []
        server.route(f"/v26.0/{IG_USER_ID}", self.answer)

    def answer(self, request, conn):
        self.calls += 1
        self.authorization.append(request.headers.get("authorization", ""))
        if self.refusing:
            body = {"error": {"message": f"(#10) Application does not have permission {ESC}{BIDI}{SCRIPT}",
                              "type": "OAuthException", "code": 10, "fbtrace_id": "A1"}}
            return respond(json.dumps(body).encode(), 400, content_type="application/json")(request, conn)
        username = re.search(r"username\(([^)]*)\)", request.target.replace("%28", "(").replace("%29", ")"))
        if not username or username.group(1) not in self.readable:
            body = {"error": {"message": "Invalid user id", "type": "OAuthException", "code": 110,
                              "error_subcode": 2207013, "fbtrace_id": "A2"}}
            return respond(json.dumps(body).encode(), 400, content_type="application/json")(request, conn)
        caption = ("Instagram-kontot stängs. Information kommer i fortsättningen i Tempus Hemma, appen där ni "
                   f"anmäler frånvaro. {ESC}{BIDI}{SCRIPT}")
        body = {"business_discovery": {"username": username.group(1), "media_count": 12, "id": "1784", "biography":
                                       f"Förskolan Ett {ESC}{BIDI}{CR}",
                                       "media": {"data": [{"timestamp": "2023-04-12T08:00:00+0000", "id": "1",
                                                           "permalink": "javascript:alert(2)", "caption": caption}]}},
                "id": IG_USER_ID}
        return respond(json.dumps(body, ensure_ascii=False).encode(), content_type="application/json")(request, conn)


class Output:
    def __init__(self, result):
        # the bytes as written (Result.stdout turns CRLF into LF, which would hide a carriage return)
        self.stdout = result.stdout_bytes.decode("utf-8", "replace")
        self.stderr = result.stderr_bytes.decode("utf-8", "replace")
        self.code = result.exit_code


class Hostile:
    """The hostile site crawled twice by the real crawler (`crawler crawl`, debug logs as text, then
    as JSON) into a real inventory; `run` runs one more command on it (or on a copy)."""

    def __init__(self, folder: Path, site: HostileServer, social: HostileServer, graph: HostileGraph):
        self.folder, self.site, self.social, self.graph = folder, site, social, graph
        self.sources = folder / "sources.yaml"
        self.db = folder / "inventory.sqlite"
        self.runner = CliRunner(env={"CRAWLER_META_TOKEN": META_TOKEN})
        self.crawls: dict[str, Output] = {}

    def run(self, *args: str, input: str | None = None, code: int | tuple[int, ...] = 0,
            db: Path | None = None) -> Output:
        result = self.runner.invoke(cli, ["--sources", str(self.sources), "--db", str(db or self.db), *args],
                                    input=input)
        # a web site or a file must never cause a traceback
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert result.exit_code in ((code,) if isinstance(code, int) else code), (args, result.output)
        return Output(result)

    def copy(self, into: Path) -> Path:
        """A copy of the inventory for a test that writes (decisions, discovery)."""
        target = into / "inventory.sqlite"
        self.run("backup", str(target))
        return target


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Hostile:
    folder = tmp_path_factory.mktemp("hostile")
    with HostileServer(host="127.0.0.2") as social, HostileServer() as site, HostileServer("127.0.0.3") as api:
        serve_social(social)
        serve_site(site, social)
        h = Hostile(folder, site, social, HostileGraph(api))
        meta = (f"  meta:\n    base_url: {api.base}\n    instagram_user_id: '{IG_USER_ID}'\n"
                f"    token_env: CRAWLER_META_TOKEN\n    call_interval: 0\n")
        h.sources.write_text(registry(site.base, social.base).replace("settings:\n", "settings:\n" + meta, 1),
                             encoding="utf-8")
        h.run("sources", "sync")
        # two crawls (the report compares two snapshots); in the second, the Graph API refuses
        h.crawls["text"] = h.run("--log-level", "debug", "crawl", code=(0, 1))
        h.graph.refusing = True
        h.crawls["json"] = h.run("--log-format", "json", "--log-level", "debug", "crawl", code=(0, 1))
        assert site.hits("/") >= 2 and site.hits("/feed.xml") >= 2 and h.graph.calls >= 3
        yield h


def outputs_problems(name: str, *outputs: Output) -> list[str]:
    return [p for o in outputs for p in (*terminal_problems(o.stdout, f"{name} (stdout)"),
                                         *terminal_problems(o.stderr, f"{name} (stderr)"))]


def assert_clean(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)


def xlsx_problems(data: bytes, where: str) -> tuple[list[str], list[str]]:
    """(problems, every text value) of a workbook: no formula, no control character, links only to http(s)."""
    from openpyxl import load_workbook

    problems, values = [], []
    for ws in load_workbook(io.BytesIO(data)).worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    problems.append(f"{where}: formula {c.value!r} in {ws.title}!{c.coordinate}")
                if c.hyperlink is not None and not c.hyperlink.target.startswith(("http://", "https://")):
                    problems.append(f"{where}: a link to {c.hyperlink.target!r}")
                if isinstance(c.value, str):
                    values.append(c.value)
    return problems + cell_problems([v for v in values if not v.startswith("=")], where), values


def local_today() -> str:
    """Today in the inventory's time zone (the crawls above ran at the wall clock)."""
    from crawler.clock import to_local, utcnow

    return to_local(utcnow()).date().isoformat()


def csv_rows(text: str, delimiter: str) -> list[str]:
    return [c for r in csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=delimiter) for c in r]


# ------------------------------------------------------------------------------------ one test per edge


def test_log_lines_in_text_and_json(hostile: Hostile):
    text, js = hostile.crawls["text"], hostile.crawls["json"]
    assert "cycle.summary" in text.stderr and '"event": "cycle.summary"' in js.stderr
    assert "hostile-blog" in text.stderr  # the accounts were logged, and the Graph API's hostile refusal...
    assert '"event": "meta.reader_stopped"' in js.stderr and "PWNED-TITLE" in js.stderr
    problems = outputs_problems("crawl", text, js)  # ...without a control or bidi character
    for line in js.stderr.splitlines():
        problems += json_problems(line, "json log line")
    assert_clean(problems)


def test_status_text_and_json(hostile: Hostile):
    text = hostile.run("status", code=(0, 1, 2))
    js = hostile.run("status", "--json", code=(0, 1, 2))
    # the Graph API's refusal, in Meta's words (which carried escapes, bidi characters and markup)
    line = next(x for x in text.stdout.splitlines() if x.startswith("Graph API:"))
    assert "does not have permission" in line, line
    assert_clean(outputs_problems("status", text, js) + json_problems(js.stdout, "status --json"))


def test_inspect_of_a_hostile_page_and_feed(hostile: Hostile):
    page_out = hostile.run("inspect", hostile.site.url("/"))
    js = hostile.run("inspect", hostile.site.url("/"), "--json")
    feed_out = hostile.run("inspect", hostile.site.url("/feed.xml"), "--platform", "feed")
    # The strongest flagged text is shown: the closing title or the move paragraph (both score ~1.0,
    # which one wins is the model's call); either way the crawled text is there, its CSI/ESC are not.
    notice = next(line for line in page_out.stdout.splitlines() if line.lstrip().startswith("notice:"))
    assert "uppdatera den. 2J" in notice or "All i [2Jnformation" in notice, notice
    assert "Tempus Hemma" in feed_out.stdout, feed_out.stdout
    assert_clean(outputs_problems("inspect", page_out, js, feed_out) + json_problems(js.stdout, "inspect --json"))


def notices(hostile: Hostile, db: Path | None = None) -> list[dict]:
    listed = json.loads(hostile.run("review", "list", "--json", db=db).stdout)
    assert len(listed) >= 2, listed
    return listed


def hostile_post(listed: list[dict]) -> int:
    return next(n["id"] for n in listed if "inlagg" in (n["post_url"] or ""))


def script_link(listed: list[dict]) -> int:
    return next(n["id"] for n in listed if (n["post_url"] or "").startswith(("javascript:", "data:")))


def test_review_list_and_show(hostile: Hostile):
    listed = notices(hostile)
    assert any(n["post_url"] == "javascript:alert(2)" for n in listed), listed  # read through the Graph API
    js = hostile.run("review", "list", "--json")
    table = hostile.run("review", "list")
    shown = hostile.run("review", "show", str(hostile_post(listed)))
    scripted = hostile.run("review", "show", str(script_link(listed)))
    problems = outputs_problems("review", js, table, shown, scripted) + json_problems(js.stdout, "review list --json")
    rows = table.stdout.splitlines()
    if len(rows) != 1 + len(listed):
        problems.append(f"review list: {len(rows)} lines for {len(listed)} notices (a fake row)")
    assert "UNIT-TITLE" in shown.stdout and "FAKE-ROW" in shown.stdout  # the text is there, its escapes are not
    assert "FAKE-ROW" not in shown.stdout.splitlines()[1][:5]  # the unit's line break did not start a row
    assert_clean(problems)


def test_the_review_walk_names_a_script_link_and_never_opens_it(hostile: Hostile, tmp_path: Path):
    db = hostile.copy(tmp_path)
    listed = notices(hostile, db)
    walked = hostile.run("review", "--by", "Tester", input="o\ns\n" * len(listed) + "q\n", db=db)
    assert "is not an http(s) address" in walked.stderr  # named, not launched
    assert_clean(outputs_problems("review walk", walked))


def test_review_decisions_and_exported_labels(hostile: Hostile, tmp_path: Path):
    db = hostile.copy(tmp_path)
    listed = notices(hostile, db)
    post = hostile_post(listed)
    confirmed = hostile.run("review", "confirm", str(post), "--by", "Anna \x1b[2JSvensson",
                            "--comment", f"ok {BIDI}{ESC}{CR}", db=db)
    hostile.run("review", "confirm", str(script_link(listed)), "--by", "Anna Svensson", db=db)
    shown = hostile.run("review", "show", str(post), db=db)
    assert "Anna [2JSvensson" in shown.stdout and "FAKE-ROW" in shown.stdout  # the ESC is gone, the rest is readable
    labels = tmp_path / "labels.jsonl"
    exported = hostile.run("review", "export-labels", str(labels), db=db)
    problems = outputs_problems("review decisions", confirmed, shown, exported)
    text = labels.read_text(encoding="utf-8")
    problems += terminal_problems(text, "labels.jsonl")
    for line in text.splitlines():
        problems += json_problems(line, "labels.jsonl")
    assert_clean(problems)


def test_discover_run_list_and_show(hostile: Hostile, tmp_path: Path):
    db = hostile.copy(tmp_path)
    ran = hostile.run("discover", code=(0, 1), db=db)
    table = hostile.run("discover", "list", "--state", "all", db=db)
    js = hostile.run("discover", "list", "--state", "all", "--json", db=db)
    candidates = json.loads(js.stdout or "[]")
    assert any("ny_profil" in c["url"] for c in candidates), candidates  # the hostile link was found
    shown = [hostile.run("discover", "show", str(c["id"]), db=db) for c in candidates]
    assert_clean(outputs_problems("discover", ran, table, js, *shown) + json_problems(js.stdout, "discover --json"))


def test_sources_check_routes_and_a_hostile_import(hostile: Hostile, tmp_path: Path):
    checked = hostile.run("sources", "check")
    routes = hostile.run("sources", "check", "--routes")
    csv_file = tmp_path / "konton.csv"
    csv_file.write_text(IMPORT_CSV, encoding="utf-8")
    refused = hostile.run("sources", "import", str(csv_file), code=2)  # two rows carry control characters
    imported = hostile.run("sources", "import", str(csv_file), "--allow-skipped")
    assert "HYPERLINK" in imported.stdout and "Minus" in imported.stdout
    assert "row 3" in imported.stderr  # the ESC row is named, not quoted
    assert_clean(outputs_problems("sources", checked, routes, refused, imported))


def test_csv_of_the_report_and_the_export_never_holds_a_formula(hostile: Hostile, tmp_path: Path):
    problems = []
    for lang, delimiter in (("sv", ";"), ("en", ",")):
        path = tmp_path / f"report-{lang}.csv"
        out = hostile.run("report", "--format", "csv", "--lang", lang, "--output", str(path))
        text = path.read_text(encoding="utf-8-sig")
        problems += outputs_problems("report csv", out) + terminal_problems(text, path.name, crlf=True)
        problems += cell_problems(csv_rows(text, delimiter), path.name)
        assert "'=HYPERLINK(" in text, path.name  # the area is there, quoted
    today = local_today()  # --as-of: the inventory as it stood at the end of today
    for name, args, delimiter in (("export.csv", (), ","), ("export-excel.csv", ("--excel",), ";"),
                                  ("export-sv.csv", ("--lang", "sv"), ";"),
                                  ("export-as-of.csv", ("--as-of", today), ",")):
        path = tmp_path / name
        hostile.run("export", *args, "--output", str(path))
        text = path.read_text(encoding="utf-8-sig")
        problems += terminal_problems(text, name, crlf=True) + cell_problems(csv_rows(text, delimiter), name)
        assert "'=HYPERLINK(" in text and "'+cmd|" in text, name
    stdout = hostile.run("export")  # `crawler export > file.csv`: the BOM and CRLF line ends stay
    assert stdout.stdout.startswith("\ufeff"), "export to stdout lost the BOM that makes Excel read UTF-8"
    problems += terminal_problems(stdout.stdout.removeprefix("\ufeff"), "export (stdout)", crlf=True)
    problems += cell_problems(csv_rows(stdout.stdout, ","), "export (stdout)")
    assert_clean(problems)


def test_xlsx_of_the_report_and_the_export_never_holds_a_formula_or_a_script_link(hostile: Hostile, tmp_path: Path):
    problems = []
    for lang in ("sv", "en"):
        path = tmp_path / f"report-{lang}.xlsx"
        hostile.run("report", "--format", "xlsx", "--lang", lang, "--output", str(path))
        found, values = xlsx_problems(path.read_bytes(), path.name)
        problems += found
        assert any("HYPERLINK(" in v for v in values)
    for name, args in (("export.xlsx", ()), ("export-as-of.xlsx", ("--as-of", local_today()))):
        path = tmp_path / name
        hostile.run("export", "--format", "xlsx", *args, "--output", str(path))
        found, values = xlsx_problems(path.read_bytes(), name)
        problems += found
        assert any(v.startswith("'=HYPERLINK(") for v in values) and any(v.startswith("'+cmd|") for v in values)
    assert_clean(problems)


def test_html_report_escapes_and_links_only_http(hostile: Hostile, tmp_path: Path):
    problems = []
    for lang in ("sv", "en"):
        path = tmp_path / f"report-{lang}.html"
        hostile.run("report", "--format", "html", "--lang", lang, "--output", str(path))
        text = path.read_text(encoding="utf-8")
        problems += html_problems(text, path.name)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the unit's markup is shown as text
    assert_clean(problems)


def test_markdown_json_and_docx_reports_and_the_json_export(hostile: Hostile, tmp_path: Path):
    from docx import Document

    problems = []
    for lang in ("sv", "en"):
        for fmt in ("md", "json", "docx"):
            path = tmp_path / f"report-{lang}.{fmt}"
            hostile.run("report", "--format", fmt, "--lang", lang, "--output", str(path))
            if fmt == "docx":
                doc = Document(str(path))
                texts = [p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells]
                problems += [f"{path.name}: {t!r}" for t in texts if unsafe_characters(t)]
                assert any("UNIT-TITLE" in t for t in texts)
                continue
            text = path.read_text(encoding="utf-8")
            problems += terminal_problems(text, path.name)
            if fmt == "json":
                problems += json_problems(text, path.name)
            elif SCRIPT in text:
                problems.append(f"{path.name}: raw markup")
    problems += outputs_problems("report md (stdout)", hostile.run("report", "--lang", "en"))
    path = tmp_path / "export.json"
    hostile.run("export", "--format", "json", "--output", str(path))
    problems += json_problems(path.read_text(encoding="utf-8"), path.name)
    assert_clean(problems)


def test_the_web_app_escapes_and_never_links_a_script_url(hostile: Hostile, tmp_path: Path):
    """Every page a reviewer and an admin open, and every download, over the hostile inventory."""
    from starlette.testclient import TestClient

    from crawler.web.app import Config, create_app

    db = hostile.copy(tmp_path)
    password = "ett långt lösenord för test"
    saved = dict(auth.HASH_PARAMS)
    auth.HASH_PARAMS.update(time_cost=1, memory_cost=8, parallelism=1)
    try:
        hostile.run("users", "add", "boss", "--role", "admin", "--password-stdin", input=password + "\n", db=db)
        config = Config(db_path=str(db), settings=Settings(), key=b"k" * 32, sources_path=str(hostile.sources),
                        passwords=auth.Passwords())
        client = TestClient(create_app(config), client=("127.0.0.1", 50000), follow_redirects=False)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        assert client.post("/login", data={"csrf_token": token, "name": "boss", "password": password}).status_code == 303
    finally:
        auth.HASH_PARAMS.clear()
        auth.HASH_PARAMS.update(saved)
    listed = notices(hostile, db)
    hostile.run("discover", code=(0, 1), db=db)  # candidates from the hostile pages, for the candidates pages
    found = json.loads(hostile.run("discover", "list", "--state", "all", "--json", db=db).stdout or "[]")
    assert found, "discovery should find the hostile blog's profile link"
    problems: list[str] = []
    pages = ["/", "/inventory", f"/inventory?area={quote(CMD)}&q=%3Cscript%3E", "/accounts/hostile-blog", "/accounts/hostile-feed", "/review", "/review?state=all",
             *(f"/review/{n['id']}" for n in listed), "/reviewers", "/status", "/report", "/users",
             "/candidates?state=all", *(f"/candidates/{c['id']}" for c in found)]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        csp = response.headers.get("content-security-policy", "")
        if "script-src 'self'" not in csp or "object-src 'none'" not in csp:
            problems.append(f"{path}: Content-Security-Policy {csp!r}")
        problems += html_problems(response.text, path)
    from markupsafe import escape

    scripted = [n for n in listed if (n["post_url"] or "").startswith(("javascript:", "data:"))]
    assert len(scripted) >= 2, scripted  # the blog's javascript: link, the feed's data: link, the API's permalink
    for n in scripted:  # shown as text (html_problems above: never as a link)
        assert str(escape(n["post_url"])) in client.get(f"/review/{n['id']}").text, n
    status_page = client.get("/status").text  # the Graph API's hostile refusal, in Meta's words, harmless
    assert "does not have permission" in status_page and "PWNED-TITLE" in status_page
    account_page = client.get("/accounts/hostile-blog").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in account_page and "UNIT-TITLE" in account_page
    for path, delimiter in (("/inventory.csv", ";"), ("/report.csv", ";")):
        text = client.get(path).content.decode("utf-8")
        problems += terminal_problems(text.removeprefix("\ufeff"), path, crlf=True)
        problems += cell_problems(csv_rows(text, delimiter), path)
        assert "'=HYPERLINK(" in text, path
    for path in ("/inventory.xlsx", "/report.xlsx"):
        found, values = xlsx_problems(client.get(path).content, path)
        problems += found
        assert any("HYPERLINK(" in v for v in values), path
    problems += html_problems(client.get("/report.html").text, "/report.html")
    assert_clean(problems)


# ------------------------------------------------------------------------------------ the helper


def test_every_control_and_format_character_is_covered():
    """crawler.sanitize removes exactly Unicode's control, format, separator and surrogate characters
    (the joiners excepted); a character it knows that this Python's Unicode does not yet is unassigned."""
    missed, extra = [], []
    for cp in range(0x110000):
        char = chr(cp)
        category = unicodedata.category(char)
        expected = category in ("Cc", "Cf", "Zl", "Zp", "Cs") and char not in "\u200c\u200d"
        caught = not sanitize.is_clean(char)
        if expected and not caught:
            missed.append(f"U+{cp:04X} {category}")
        elif caught and not expected and category != "Cn":
            extra.append(f"U+{cp:04X} {category}")
    assert not missed and not extra, (missed[:10], extra[:10])


@pytest.mark.parametrize(("raw", "shown"), [
    ("a\x1b]0;title\x07b", "a ]0;title b"),
    ("x\x1b[2Jy", "x [2Jy"),
    ("line\r\nfake row", "line  fake row"),
    ("\u202egnp.exe", "gnp.exe"),
    ("å\u2066ä\u2069ö\u200f", "åäö"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    ("emoji 👩\u200d👧 stays", "emoji 👩\u200d👧 stays"),
    (None, ""),
    (12, "12"),
])
def test_text_is_one_line_without_control_or_bidi_characters(raw, shown):
    assert sanitize.text(raw) == shown


def test_lines_keep_our_own_line_breaks_and_tabs():
    assert sanitize.lines("a\tb\nc\r\nd\re\x1b[2J") == "a\tb\nc \nd e [2J"
    assert sanitize.lines("a\r\nb\rc", crlf=True) == "a\r\nb c"


@pytest.mark.parametrize(("raw", "cell"), [
    (HYPERLINK, "'" + HYPERLINK),
    (CMD, "'" + CMD),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("-2+3", "'-2+3"),
    ("  =1+1", "'  =1+1"),
    ("\t=1+1", "' =1+1"),
    ("\uff1d1+1", "'\uff1d1+1"),
    ("Förskolan Solrosen", "Förskolan Solrosen"),
    ("", ""),
    (-3, -3),
    (None, None),
])
def test_a_spreadsheet_cell_is_never_a_formula(raw, cell):
    assert sanitize.cell(raw) == cell


@pytest.mark.parametrize(("url", "link"), [
    ("https://example.se/a", "https://example.se/a"),
    ("HTTP://example.se/", "HTTP://example.se/"),
    (" https://example.se/\x1b[2J", "https://example.se/ [2J"),
    ("javascript:alert(1)", None),
    ("JaVaScRiPt:alert(1)", None),
    (" javascript:alert(1)", None),
    ("java\tscript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("vbscript:msgbox(1)", None),
    ("file:///etc/passwd", None),
    ("//evil.example/", None),
    ("/relative", None),
    ("https://", None),
    ("http://[::1", None),
    (None, None),
])
def test_only_http_urls_become_links(url, link):
    assert sanitize.href(url) == link


# ------------------------------------------------------------------------------------ secrets
# Every secret the crawler can be given, each a value no file or output may ever hold. The token of
# Meta's Graph API (issue 15) and the web app's session key and metrics token (issue 16) are given
# too: whichever command reads them is held to the same rule.
WEB_PASSWORD = "SECRET-WEB-PASSWORD-123 lång"  # a web user's password (typed into `crawler users add`)
WRONG_PASSWORD = "SECRET-WRONG-PASSWORD-123"  # a mistyped one: the failed login is logged, never the password
SECRET_ENV = {
    "CRAWLER_SMTP_PASSWORD": "SECRET-SMTP-PASSWORD-123",
    "CRAWLER_META_TOKEN": "SECRET-META-TOKEN-123",
    "CRAWLER_WEB_SECRET": "SECRET-WEB-SESSION-KEY-123",
    "CRAWLER_WEB_METRICS_TOKEN": "SECRET-WEB-METRICS-TOKEN-123",
}
WEBHOOK_PATH = "/hook/SECRET-WEBHOOK-PATH-123"  # a chat webhook's URL is itself a secret
WEBHOOK_TOKEN = "SECRET-WEBHOOK-TOKEN-123"
URL_PASSWORD = "SECRET-URL-PASSWORD-123"
URL_TOKEN = "SECRET-URL-TOKEN-123"


class _Mailbox:
    """An SMTP server that wants a login (the crawler's password must reach it, and nothing else)."""

    def __init__(self):
        self.messages: list = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        self.messages.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword)
        if ok:
            self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=ok)


@pytest.fixture
def mailbox():
    import socket

    from aiosmtpd.controller import Controller

    box = _Mailbox()
    with socket.socket() as probe:  # aiosmtpd's controller checks its port by connecting: it needs a number
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=box.authenticate,
                            auth_require_tls=False)
    controller.start()
    yield box, port
    controller.stop()


def web_session(db: Path, sources: Path) -> dict[str, str]:
    """`crawler web` as config_for makes it from the environment (key, metrics token): a mistyped
    password, a login, every page, the downloads, /metrics with and without the token; returns each
    answer (headers and body) and the log lines (text and JSON) written meanwhile."""
    from starlette.testclient import TestClient

    from crawler import log
    from crawler import sources as sources_mod
    from crawler.web.app import config_for, create_app

    settings = sources_mod.load(str(sources)).settings
    config = config_for(str(db), settings, str(sources), environ=SECRET_ENV)
    assert config.key == SECRET_ENV["CRAWLER_WEB_SECRET"].encode() and config.metrics_token
    text, js = io.StringIO(), io.StringIO()
    handlers = []
    for stream, formatter in ((text, log.TextFormatter()), (js, log.JsonFormatter())):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handlers.append(handler)
    saved = log.LOGGER.handlers[:], log.LOGGER.level
    log.LOGGER.handlers[:] = handlers
    log.LOGGER.setLevel(logging.DEBUG)
    out: dict[str, str] = {}

    def seen(name: str, response) -> None:
        out[f"web: {name}"] = "\n".join(f"{k}: {v}" for k, v in response.headers.items()) + "\n" + (
            response.content.decode("utf-8", "replace"))

    try:
        client = TestClient(create_app(config), client=("127.0.0.1", 50000), follow_redirects=False)
        for name, password in (("wrong password", WRONG_PASSWORD), ("signed in", WEB_PASSWORD)):
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            answer = client.post("/login", data={"csrf_token": token, "name": "boss", "password": password})
            seen(name, answer)
        assert answer.status_code == 303, answer.text
        for path in ("/", "/inventory", "/review", "/status", "/report", "/users", "/inventory.csv", "/report.csv",
                     "/healthz"):
            seen(path, client.get(path))
        remote = TestClient(create_app(config), client=("192.0.2.7", 50000))
        refused = remote.get("/metrics")
        assert refused.status_code == 401, refused.status_code
        seen("/metrics without the token", refused)
        metrics = remote.get("/metrics", headers={"Authorization": f"Bearer {config.metrics_token}"})
        assert metrics.status_code == 200, metrics.status_code
        seen("/metrics with the token", metrics)
    finally:
        log.LOGGER.handlers[:], level = saved
        log.LOGGER.setLevel(level)
    assert "web.login_failed user=boss address=127.0.0.1" in text.getvalue() and '"event": "web.login"' in js.getvalue()
    out["web: text log"], out["web: json log"] = text.getvalue(), js.getvalue()
    return out


def test_no_secret_lands_in_any_file_log_or_output(tmp_path: Path, site: HostileServer, social: HostileServer,
                                                   mailbox):
    box, smtp_port = mailbox
    hook = HostileServer().start()
    graph = HostileGraph(HostileServer("127.0.0.3").start(), readable=("tva",))  # the Graph API, with its token
    posts: list[str] = []

    def webhook(request, conn):
        posts.append(request.headers.get("authorization", ""))
        return respond(b"", 500 if len(posts) == 1 else 204)(request, conn)  # the first POST fails: logged

    hook.route(WEBHOOK_PATH, webhook)
    # a site that redirects to an address with a password in it: followed without it, never kept
    social.route("/ett/", redirect(f"http://forskola:{URL_PASSWORD}@{social.base.removeprefix('http://')}/ett-ny/"))
    social.route("/ett-ny/", respond(b"<html><head><title>Instagram</title></head><body></body></html>"))
    secrets_file = tmp_path / "secrets"
    secrets_file.write_text(f"WEBHOOK_URL={hook.url(WEBHOOK_PATH)}\nWEBHOOK_TOKEN={WEBHOOK_TOKEN}\n", encoding="utf-8")
    secrets_file.chmod(0o600)
    needles = [*SECRET_ENV.values(), WEBHOOK_PATH.rsplit("/", 1)[1], WEBHOOK_TOKEN, URL_PASSWORD, URL_TOKEN,
               WEB_PASSWORD, WRONG_PASSWORD]

    sources = tmp_path / "sources.yaml"
    alerts = (f"  alert_email: drift@kommun.example\n  review_email: granskning@kommun.example\n"
              f"  smtp_host: 127.0.0.1\n  smtp_port: {smtp_port}\n  smtp_security: none\n"
              f"  smtp_user: crawler\n  smtp_from: crawler@kommun.example\n  secrets_file: {secrets_file}\n"
              f"  web_metrics: token\n  meta:\n    base_url: {graph.server.base}\n"
              f"    instagram_user_id: '{IG_USER_ID}'\n    token_env: CRAWLER_META_TOKEN\n    call_interval: 0\n")
    clean = registry(site.base, social.base).replace("settings:\n", "settings:\n" + alerts, 1)
    db = tmp_path / "inventory.sqlite"
    runner = CliRunner()
    outputs: dict[str, str] = {}

    def run(name: str, *args: str, code: int | tuple[int, ...] = 0, input: str | None = None) -> str:
        result = runner.invoke(cli, ["--sources", str(sources), "--db", str(db), *args], env=SECRET_ENV, input=input)
        assert result.exception is None or isinstance(result.exception, SystemExit), (name, result.exception)
        assert result.exit_code in ((code,) if isinstance(code, int) else code), (name, result.output)
        outputs[name] = result.stdout_bytes.decode() + result.stderr_bytes.decode()
        return result.stdout_bytes.decode()

    try:
        # credentials in a registry URL are refused, and the message does not repeat them
        sources.write_text(clean.replace(f"url: {site.base}/\n", f"url: http://forskola:{URL_PASSWORD}@"
                                         f"{site.base.removeprefix('http://')}/\n", 1)
                           .replace(f"feed: {site.base}/feed.xml", f"feed: {site.base}/feed.xml?access_token="
                                    f"{URL_TOKEN}"), encoding="utf-8")
        run("sources check (credentials)", "sources", "check", code=2)
        assert "user name or password" in outputs["sources check (credentials)"]
        assert "token or password in its query" in outputs["sources check (credentials)"]
        sources.write_text(clean, encoding="utf-8")
        run("sources check", "sources", "check")
        run("sources sync", "sources", "sync")
        run("status --notify (before)", "status", "--notify", code=(0, 1, 2))  # no cycle yet: an incident
        run("crawl", "crawl", code=(0, 1))
        run("crawl (json logs)", "--log-format", "json", "--log-level", "debug", "crawl", code=(0, 1))
        run("status --notify", "status", "--notify", code=(0, 1, 2))
        run("status --notify (json logs)", "--log-format", "json", "status", "--notify", "--json", code=(0, 1, 2))
        run("review list", "review", "list", "--json")
        run("discover", "discover", code=(0, 1))
        for fmt in ("md", "html", "csv", "json", "xlsx", "docx"):
            run(f"report {fmt}", "report", "--format", fmt, "--output", str(tmp_path / f"report.{fmt}"))
        run("export", "export", "--output", str(tmp_path / "export.csv"))
        run("export json", "export", "--format", "json", "--output", str(tmp_path / "export.json"))
        run("backup", "backup", str(tmp_path / "backup.sqlite"))
        # the web app: a user's password (typed once), the session key and the metrics token (environment)
        saved = dict(auth.HASH_PARAMS)
        auth.HASH_PARAMS.update(time_cost=1, memory_cost=8, parallelism=1)
        try:
            run("users add", "users", "add", "boss", "--role", "admin", "--password-stdin", input=WEB_PASSWORD + "\n")
            run("users set-password", "users", "set-password", "boss", "--password-stdin", input=WEB_PASSWORD + "\n")
            run("users list", "users", "list")
            run("users list --json", "users", "list", "--json")
            outputs.update(web_session(db, sources))
        finally:
            auth.HASH_PARAMS.clear()
            auth.HASH_PARAMS.update(saved)
    finally:
        hook.stop()
        graph.server.stop()

    # the secrets were used: the SMTP login carried the password, the webhook the token, the Graph API
    # the access token, the web app the password, the session key and the metrics token
    assert f"Bearer {SECRET_ENV['CRAWLER_META_TOKEN']}" in graph.authorization, graph.authorization
    assert "web: signed in" in outputs and "web: /metrics with the token" in outputs
    assert box.logins and all(p == SECRET_ENV["CRAWLER_SMTP_PASSWORD"].encode() for _, p in box.logins)
    assert box.messages, "no alert was mailed"
    assert f"Bearer {WEBHOOK_TOKEN}" in posts and len(posts) >= 2, posts
    assert "alerts.send_failed" in "".join(outputs.values())  # the failed webhook was logged...
    assert social.hits("/ett-ny/") >= 1 and all("authorization" not in r.headers for r in social.requests)

    leaks = []
    for name, text in outputs.items():  # ...and no log line or output names a secret
        leaks += [f"{name}: {n}" for n in needles if n in text]
    for message in box.messages:
        leaks += [f"e-mail: {n}" for n in needles if n in message.content.decode("utf-8", "replace")]
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != secrets_file]
    assert {p.name for p in written} >= {"inventory.sqlite", "sources.yaml", "report.xlsx", "backup.sqlite"}
    for path in written:  # the inventory and its WAL, reports, exports, the backup, state and lock files
        data = path.read_bytes()
        leaks += [f"{path.name}: {n}" for n in needles if n.encode() in data]
    assert not leaks, "\n".join(leaks)


# ------------------------------------------------------------------------------------ templates


OUR_OWN_TARGETS = {"href"}  # web/_header.html's navigation: the app's own routes, from a list in code


def test_every_template_link_to_a_stored_url_is_guarded_by_safe_url():
    """A link whose whole target is an expression ({{ x }}) must be guarded on its line by
    `{% if x is safe_url %}` (crawler.sanitize.href: http(s) only), so a javascript: or data: URL
    from the web is never clickable, in the report or the web app. Targets that start with our own
    path (href="/review/{{ n.id }}") are ours."""
    unguarded = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for expr in re.findall(r"""(?:href|src|action|formaction)\s*=\s*["']\s*\{\{\s*([^}|]+?)\s*(?:\|[^}]*)?\}\}""",
                                   line):
                if expr in OUR_OWN_TARGETS or re.search(rf"{re.escape(expr)}\s+is\s+safe_url", line):
                    continue
                unguarded.append(f"{path.relative_to(TEMPLATES)}:{number}: {expr}")
    assert not unguarded, unguarded
    assert any(TEMPLATES.rglob("*.html"))
