"""Architecture as tests: each kind of I/O lives in one module (shared/DESIGN.md)."""

from __future__ import annotations

import ast
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
    "apscheduler": {"service.py"},
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
