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
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import sanitize
from crawler.cli import cli
from crawler.report.render import TEMPLATES
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

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
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


# ------------------------------------------------------------------------------------ the test


PROFILE = f"""<html><head><meta property="og:title" content="Förskolan Ny {ESC}{BIDI}">
<meta property="og:description" content="Förskola i Malmö {ESC}{SCRIPT}"></head><body></body></html>""".encode()


@pytest.fixture
def social():
    """Instagram's stand-in: the registry's three accounts and the profile the hostile blog links."""
    with HostileServer(host="127.0.0.2") as server:
        for n in ("ett", "tva", "tre"):
            server.route(f"/{n}/", respond(b"<html><head><title>Instagram</title></head><body></body></html>"))
        server.route("/ny_profil/", respond(PROFILE))
        yield server


@pytest.fixture
def site(social: HostileServer):
    with HostileServer() as server:
        base = server.base
        server.route("/", respond(page(base, social.base)))
        server.route("/feedblog/", respond(b"<html><body>feed blog</body></html>"))
        server.route("/feed.xml", respond(feed(base), content_type="application/rss+xml; charset=utf-8"))
        server.route("/other-blog/", respond(b"<html><head><title>Annan blogg</title></head><body></body></html>"))
        yield server


def test_hostile_strings_never_reach_a_terminal_spreadsheet_or_page(tmp_path: Path, site: HostileServer,
                                                                   social: HostileServer):
    sources = tmp_path / "sources.yaml"
    sources.write_text(registry(site.base, social.base), encoding="utf-8")
    db = tmp_path / "inventory.sqlite"
    runner = CliRunner()
    outputs: dict[str, str] = {}
    problems: list[str] = []

    def run(name: str, *args: str, input: str | None = None, code: int | tuple[int, ...] = 0) -> str:
        result = runner.invoke(cli, ["--sources", str(sources), "--db", str(db), *args], input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            problems.append(f"{name}: a traceback ({result.exception!r})")  # what a web site caused
        elif result.exit_code not in ((code,) if isinstance(code, int) else code):
            problems.append(f"{name}: exit {result.exit_code}: {result.output}")
        # the bytes as written (Result.stdout turns CRLF into LF, which would hide a carriage return)
        outputs[f"{name} (stdout)"] = result.stdout_bytes.decode("utf-8", "replace")
        outputs[f"{name} (stderr)"] = result.stderr_bytes.decode("utf-8", "replace")
        return outputs[f"{name} (stdout)"]

    # the registry and the administration's CSV
    run("sources check", "sources", "check")
    csv_file = tmp_path / "konton.csv"
    csv_file.write_text(IMPORT_CSV, encoding="utf-8")
    run("sources import", "sources", "import", str(csv_file), code=2)  # two rows carry control characters
    imported = run("sources import --allow-skipped", "sources", "import", str(csv_file), "--allow-skipped")
    assert "HYPERLINK" in imported and "Minus" in imported
    assert "row 3" in outputs["sources import --allow-skipped (stderr)"]  # the ESC row is named, not quoted
    run("sources sync", "sources", "sync")

    # two crawls (the report compares two snapshots): text logs, then JSON logs
    run("crawl --dry-run", "crawl", "--dry-run")
    run("crawl", "crawl", code=(0, 1))
    run("crawl (json logs)", "--log-format", "json", "crawl", code=(0, 1))
    assert "cycle.summary" in outputs["crawl (stderr)"] and '"event": "cycle.summary"' in outputs["crawl (json logs) (stderr)"]

    run("status", "status", code=(0, 1, 2))
    run("status --json", "status", "--json", code=(0, 1, 2))
    run("inspect", "inspect", site.url("/"))
    run("inspect --json", "inspect", site.url("/"), "--json")
    run("inspect feed", "inspect", site.url("/feed.xml"), "--platform", "feed")

    # the reviewers' commands
    listed = json.loads(run("review list --json", "review", "list", "--json"))
    assert len(listed) >= 2, listed
    run("review list", "review", "list")
    by_link = {n["post_url"] or n["account_url"]: n["id"] for n in listed}
    hostile_post = next(i for url, i in by_link.items() if "inlagg" in url)
    script_link = next(i for url, i in by_link.items() if url.startswith(("javascript:", "data:")))
    shown = run("review show", "review", "show", str(hostile_post))
    assert "PWNED-TITLE" in shown or "inlagg-" in shown  # the text is there, its escapes are not
    assert "UNIT-TITLE" in shown and "FAKE-ROW" in shown
    assert "FAKE-ROW" not in shown.splitlines()[1][:5]  # the unit's line break did not start a row
    walked = runner.invoke(cli, ["--sources", str(sources), "--db", str(db), "review", "--by", "Tester"],
                           input="o\ns\n" * len(listed) + "q\n")
    assert walked.exit_code == 0, walked.output
    outputs["review walk (stdout)"] = walked.stdout_bytes.decode("utf-8", "replace")
    outputs["review walk (stderr)"] = walked.stderr_bytes.decode("utf-8", "replace")
    run("review confirm", "review", "confirm", str(hostile_post), "--by", "Anna \x1b[2JSvensson",
        "--comment", f"ok {BIDI}{ESC}{CR}")
    run("review confirm (script link)", "review", "confirm", str(script_link), "--by", "Anna Svensson")
    shown = run("review show (decided)", "review", "show", str(hostile_post))
    assert "Anna [2JSvensson" in shown and "FAKE-ROW" in shown  # the ESC is gone, the rest is readable
    labels = tmp_path / "labels.jsonl"
    run("review export-labels", "review", "export-labels", str(labels))

    # discovery: a link on the hostile page with hostile text
    run("discover", "discover", code=(0, 1))
    run("discover list", "discover", "list", "--state", "all")
    for candidate in json.loads(run("discover list --json", "discover", "list", "--state", "all", "--json") or "[]"):
        run(f"discover show {candidate['id']}", "discover", "show", str(candidate["id"]))

    # every report and export format
    files: dict[str, Path] = {}
    for lang in ("sv", "en"):
        for fmt in ("md", "html", "csv", "json", "xlsx", "docx"):
            path = tmp_path / f"report-{lang}.{fmt}"
            run(f"report {fmt} {lang}", "report", "--format", fmt, "--lang", lang, "--output", str(path))
            files[path.name] = path
    run("report md (stdout)", "report", "--lang", "en")
    for name, args in (("export.csv", ()), ("export-excel.csv", ("--excel",)), ("export.json", ("--format", "json"))):
        path = tmp_path / name
        run(f"export {name}", "export", *args, "--output", str(path))
        files[name] = path
    run("export (stdout)", "export")
    files["labels.jsonl"] = labels

    # ---- every terminal output
    for where, text in outputs.items():
        csv_out = where.startswith("export (stdout)")  # a CSV's BOM and CRLF line ends, for `> file.csv`
        problems += terminal_problems(text.removeprefix("\ufeff") if csv_out else text, where, crlf=csv_out)
    if not outputs["export (stdout) (stdout)"].startswith("\ufeff"):
        problems.append("export to stdout lost the BOM that makes Excel read UTF-8")
    for line in outputs["crawl (json logs) (stderr)"].splitlines():
        problems += json_problems(line, "json log line")
    for name in ("review list --json", "status --json", "inspect --json"):
        problems += json_problems(outputs[f"{name} (stdout)"], name)
    table = outputs["review list (stdout)"].splitlines()
    if len(table) != 1 + len(listed):
        problems.append(f"review list: {len(table)} lines for {len(listed)} notices (a fake row)")
    if "is not an http(s) address" not in outputs["review walk (stderr)"]:
        problems.append("review walk: the javascript:/data: link was offered to open")

    # ---- every file
    for name, path in list(files.items()):
        if not path.exists():
            problems.append(f"{name}: not written")
            del files[name]
            continue
        if name.endswith((".xlsx", ".docx")):
            continue
        text = path.read_text(encoding="utf-8-sig")
        problems += terminal_problems(text, name, crlf=name.endswith(".csv"))
        if name.endswith(".json"):
            problems += json_problems(text, name)
        if name.endswith(".jsonl"):
            for line in text.splitlines():
                problems += json_problems(line, name)
        if name.endswith(".csv"):
            rows = list(csv.reader(io.StringIO(text), delimiter=";" if "excel" in name or "-sv" in name else ","))
            problems += cell_problems([c for r in rows for c in r], name)
            if name.startswith("export"):
                assert "'=HYPERLINK(" in text and "'+cmd|" in text, name  # the area is there, quoted
        if name.endswith(".html"):
            problems += html_problems(text, name)
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the unit's markup is shown as text
        if name.endswith(".md") and SCRIPT in text:
            problems.append(f"{name}: raw markup")

    # ---- xlsx: no formula, no control character, links only to http(s)
    from openpyxl import load_workbook

    for lang in ("sv", "en"):
        if f"report-{lang}.xlsx" not in files:
            continue
        wb = load_workbook(files[f"report-{lang}.xlsx"])
        values = []
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    if c.data_type == "f":
                        problems.append(f"report-{lang}.xlsx: formula {c.value!r} in {ws.title}!{c.coordinate}")
                    if c.hyperlink is not None and not c.hyperlink.target.startswith(("http://", "https://")):
                        problems.append(f"report-{lang}.xlsx: a link to {c.hyperlink.target!r}")
                    if isinstance(c.value, str):
                        values.append(c.value)
        problems += cell_problems([v for v in values if not v.startswith("=")], f"report-{lang}.xlsx")
        assert any("HYPERLINK(" in v for v in values)

    # ---- docx: every paragraph and cell
    from docx import Document

    for lang in ("sv", "en"):
        if f"report-{lang}.docx" not in files:
            continue
        doc = Document(str(files[f"report-{lang}.docx"]))
        texts = [p.text for p in doc.paragraphs]
        texts += [c.text for t in doc.tables for r in t.rows for c in r.cells]
        problems += [f"report-{lang}.docx: {t!r}" for t in texts if unsafe_characters(t)]
        assert any("UNIT-TITLE" in t for t in texts)

    assert not problems, "\n".join(problems)


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


def test_no_secret_lands_in_any_file_log_or_output(tmp_path: Path, site: HostileServer, social: HostileServer,
                                                   mailbox):
    box, smtp_port = mailbox
    hook = HostileServer().start()
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
    needles = [*SECRET_ENV.values(), WEBHOOK_PATH.rsplit("/", 1)[1], WEBHOOK_TOKEN, URL_PASSWORD, URL_TOKEN]

    sources = tmp_path / "sources.yaml"
    alerts = (f"  alert_email: drift@kommun.example\n  review_email: granskning@kommun.example\n"
              f"  smtp_host: 127.0.0.1\n  smtp_port: {smtp_port}\n  smtp_security: none\n"
              f"  smtp_user: crawler\n  smtp_from: crawler@kommun.example\n  secrets_file: {secrets_file}\n")
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
    finally:
        hook.stop()

    # the secrets were used: the SMTP login carried the password, the webhook the token
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
