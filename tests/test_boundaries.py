"""Architecture as tests: each kind of I/O lives in one module (shared/DESIGN.md)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "crawler"

# module prefix -> the only places (relative to crawler/; a folder ends with /) allowed to import it
OWNERS = {
    "httpx": {"fetch/"},
    "httpcore": {"fetch/"},
    "aiohttp": {"fetch/"},
    "httpx_aiohttp": {"fetch/"},
    "sqlite3": {"store/"},
    "sqlite_utils": {"store/"},
    "apscheduler": {"service.py", "cron.py"},
    "argon2": {"web/"},
    "starlette": {"web/"},
    "uvicorn": {"web/"},
    "prometheus_client": {"web/"},
}
# the simulated web is a separate world: it may use what it likes, but the crawler never reads it
EXEMPT_DIRS = {"demo"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def owned(rel: Path, place: str) -> bool:
    return rel.as_posix().startswith(place) if place.endswith("/") else rel.as_posix() == place


def test_io_libraries_are_imported_only_by_their_owner():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in EXEMPT_DIRS:
            continue
        for name in imports(path):
            top = name.split(".")[0]
            if top in OWNERS and not any(owned(rel, place) for place in OWNERS[top]):
                offenders.append(f"{rel} imports {name}")
    assert not offenders, offenders


def test_pure_stages_do_not_touch_network_disk_or_clock():
    pure = [PACKAGE / "classify.py", PACKAGE / "notices.py", PACKAGE / "dates.py",
            *sorted((PACKAGE / "platforms").glob("*.py"))]
    for path in pure:
        if not path.exists():
            continue
        names = imports(path)
        assert not names & {"httpx", "socket", "sqlite3", "sqlite_utils", "crawler.store", "crawler.fetch"}, path
        text = path.read_text(encoding="utf-8")
        assert "datetime.now(" not in text and "time.time(" not in text, f"{path.name} reads the clock"


def test_the_crawler_never_reads_the_demo_world():
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in EXEMPT_DIRS or rel.name == "cli.py":
            continue
        assert not any(n.startswith("crawler.demo") for n in imports(path)), f"{rel} imports the demo"


# SQL statements as they start (or join) in a string, in the upper case the store writes them:
# SELECT ... FROM, INSERT [OR x] INTO, UPDATE t SET, DELETE FROM, CREATE/DROP/ALTER TABLE|VIEW|INDEX|
# TRIGGER, PRAGMA, WITH x AS (; and lower-case statements where their shape leaves no doubt (English
# prose says "select the accounts from the registry", never "... from accounts where").
SQL = re.compile(
    r"\bSELECT\b[\s\S]*?\bFROM\b|\bINSERT\s+(?:OR\s+[A-Z]+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\b(?:CREATE|DROP|ALTER)\s+(?:TEMP\w*\s+|UNIQUE\s+)?(?:TABLE|VIEW|INDEX|TRIGGER)\b|\bPRAGMA\s+\w+"
    r"|\bWITH\s+\w+\s+AS\s*\("
    r"|(?i:\bselect\s+[\w.*, ()]+?\s+from\s+\w+(?:\s+\w+)?\s+(?:where|join|group|order|limit)\b"
    r"|\binsert\s+(?:or\s+\w+\s+)?into\s+\w+\s*\(|\bupdate\s+\w+\s+set\s+\w+\s*="
    r"|\bdelete\s+from\s+\w+\s+where\b|\bcreate\s+(?:table|view|index|trigger)\s+\w+)"
)


def string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string constant in a module, f-strings' literal parts joined (docstrings included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    parts = set()  # the literal parts of f-strings, read with their f-string
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            pieces = [v for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            parts.update(map(id, pieces))
            out.append((node.lineno, "".join(v.value for v in pieces)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            out.append((node.lineno, node.value))
    return out


def sql_outside_the_store() -> list[str]:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "store":
            continue
        for line, text in string_literals(path):
            found = SQL.search(text)
            if found:
                offenders.append(f"{rel}:{line}: {found.group(0)[:60]!r}")
    return offenders


def test_sql_lives_only_in_the_store():
    # The demo too: it reads the inventory through the store's named reads like any reader.
    assert not sql_outside_the_store()


def test_the_sql_check_sees_what_it_must(tmp_path, monkeypatch):
    # The check itself must catch SQL in every string form, and leave English prose alone.
    fake = tmp_path / "crawler"
    (fake / "store").mkdir(parents=True)
    (fake / "store" / "ok.py").write_text('Q = "SELECT id FROM accounts"\n')
    (fake / "prose.py").write_text('"""Select the accounts from the registry; update the set of hosts;\n'
                                   'delete from the queue what is done; create a view of the run."""\n'
                                   'HINT = "select a platform from the list, or update settings"\n')
    (fake / "bad.py").write_text(
        'A = f"SELECT id FROM {t}"\n'
        'B = ("INSERT OR IGNORE "\n     "INTO posts VALUES (?)")\n'
        'C = "UPDATE runs SET state = 1"\n'
        'D = "CREATE TRIGGER x BEFORE DELETE ON y BEGIN END"\n'
        'E = "WITH reg AS (SELECT 1)"\n'
        'F = "PRAGMA user_version"\n'
        'G = "select id, unit from accounts where id = ?"\n'
        'H = "delete from checks where id = 1"\n'
        'I = "insert into runs (id) values (1)"\n'
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    found = sql_outside_the_store()
    assert sorted({int(f.split(":")[1]) for f in found if f.startswith("bad.py")}) == [1, 2, 4, 5, 6, 7, 8, 9, 10], found
    assert not [f for f in found if not f.startswith("bad.py")], found


def test_grep_finds_sql_only_under_the_store():
    # issue 12's proof, as anyone can run it: grep -rn "SELECT\|INSERT INTO\|UPDATE " crawler/
    hits = subprocess.run(["grep", "-rn", r"SELECT\|INSERT INTO\|UPDATE ", str(PACKAGE)], capture_output=True,
                          text=True, check=False).stdout.splitlines()
    assert hits, "grep found no SQL at all: is PACKAGE right?"
    assert [h for h in hits if not h.startswith(str(PACKAGE / "store") + "/")] == []
