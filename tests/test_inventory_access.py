"""An inventory that is damaged, read-only, or in a folder this user may not write (issue 17.9).

Every case gets an `Error:` line that says what to do, never a traceback; reading works without
write access; `crawler status` calls what it cannot read, or what no cycle can write, degraded.

Permissions are real: as root (whom permission bits do not stop) the commands run as `nobody`
through setpriv; as another user the folder is made read-only for them. The read-only file
system is a tmpfs mounted read-only in a private mount namespace (unshare), gone when the
command ends.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.clock import utcnow
from crawler.models import Account, Fetched, NoticeHit, Observation, Verdict
from crawler.store import Store, Visit

ROOT = os.geteuid() == 0
ACCOUNTS = [Account("solen", "Förskolan Solen", "Norr", "wordpress", "https://solen.example.se/"),
            Account("pilen", "Förskolan Pilen", "Söder", "blog", "https://pilen.example.se/")]
REGISTRY = textwrap.dedent("""\
    settings:
      contact: it@example.se
    accounts:
      - {id: solen, unit: Förskolan Solen, area: Norr, platform: wordpress, url: "https://solen.example.se/"}
      - {id: pilen, unit: Förskolan Pilen, area: Söder, platform: blog, url: "https://pilen.example.se/"}
    """)


@pytest.fixture
def folder():
    """A folder every user may enter (pytest's own tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="crawler-access-"))
    path.chmod(0o755)
    yield path
    path.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


def fill(path: Path) -> None:
    """A healthy inventory: one full cycle that finished just now, a snapshot, a pending notice."""
    now = utcnow()
    with Store.open(path) as store:
        store.sync(ACCOUNTS, now)
        run = store.start_run(now, 2, "manual", 1)
        page = Fetched("https://solen.example.se/feed/", "https://solen.example.se/feed/", status=200, body=b"<rss/>")
        obs = Observation("wordpress", True, "feed", last_post_at=now - timedelta(days=1))
        hit = NoticeHit(0.95, ("Tempus Hemma",), "Vi flyttar till Tempus Hemma", "move",
                        post_url="https://solen.example.se/2023/flytt/")
        store.record_visit(Visit("solen", run, now, "ok", [page], obs,
                                 Verdict("active", "last post 1 day ago", True, now - timedelta(days=1)), [hit]))
        store.take_snapshot(run, now)
        store.finish_run(run, "finished", done=2, errors=0)
    (path.parent / "sources.yaml").write_text(REGISTRY, encoding="utf-8")


def lock_out(folder: Path) -> None:
    """Make `folder` readable but not writable for the user the commands run as."""
    for child in folder.iterdir():
        child.chmod(0o644)
    folder.chmod(0o755 if ROOT else 0o555)  # as root the commands run as nobody, who is not the owner


def crawler(*args: str, cwd: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`crawler ARGS` in a real process (as `nobody` when the tests run as root and prefix asks)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run([*prefix, sys.executable, "-m", "crawler", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


OTHER_USER = ("setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups") if ROOT else ()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr, result.stderr


# --------------------------------------------------------------------------- a damaged file


@pytest.mark.parametrize("command", [["status"], ["export"], ["report"], ["review", "list"], ["review", "show", "1"],
                                     ["sources", "sync"], ["crawl"]])
def test_a_file_of_random_bytes_is_an_error_that_says_what_to_do(tmp_path, command):
    db = tmp_path / "inventory.sqlite"
    db.write_bytes(os.urandom(64 * 1024))
    before = digest(db)
    (tmp_path / "sources.yaml").write_text(REGISTRY, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--sources", str(tmp_path / "sources.yaml"), "--db", str(db), *command])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "is not a readable SQLite inventory" in result.output and "restore it from a backup" in result.output
    assert result.output.startswith("Error: ")
    # status is a health check: an inventory it cannot read is degraded (2), not stale (1)
    assert result.exit_code == (2 if command == ["status"] else 1)
    assert digest(db) == before  # nothing written over it


# --------------------------------------------------------------------------- a folder this user may not write


def test_reading_works_from_a_folder_this_user_may_not_write(folder):
    db = folder / "inventory.sqlite"
    fill(db)
    lock_out(folder)
    check = subprocess.run([*OTHER_USER, "sh", "-c", f"test -w {folder}"], check=False)
    assert check.returncode != 0, "the test must run the commands as a user who cannot write the folder"
    before = digest(db)

    status = crawler("--db", str(db), "status", cwd=folder, prefix=OTHER_USER)
    no_traceback(status)
    assert status.returncode == 0, status.stdout + status.stderr  # healthy: reading is all status needs
    assert "Health:    OK" in status.stdout and "as immutable" in status.stdout
    export = crawler("--db", str(db), "export", "--format", "json", cwd=folder, prefix=OTHER_USER)
    assert export.returncode == 0 and '"id": "solen"' in export.stdout, export.stderr
    report = crawler("--db", str(db), "report", "--lang", "en", cwd=folder, prefix=OTHER_USER)
    assert report.returncode == 0 and "| Accounts in the register | 2 | 2 |" in report.stdout, report.stderr
    queue = crawler("--db", str(db), "review", "list", cwd=folder, prefix=OTHER_USER)
    assert queue.returncode == 0 and "Vi flyttar till Tempus Hemma" in queue.stdout, queue.stderr
    shown = crawler("--db", str(db), "review", "show", "1", cwd=folder, prefix=OTHER_USER)
    assert shown.returncode == 0 and "open:       https://solen.example.se/2023/flytt/" in shown.stdout

    # writing is refused with the reason and what to do; nothing is changed or left behind
    for command in (["sources", "sync"], ["review", "confirm", "1", "--by", "Anna"], ["crawl"]):
        result = crawler("--sources", str(folder / "sources.yaml"), "--db", str(db), *command, cwd=folder,
                         prefix=OTHER_USER)
        no_traceback(result)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("Error: cannot write the inventory"), result.stderr
        assert "may not write its folder" in result.stderr and "Run the command as the inventory's owner" in result.stderr
    assert digest(db) == before
    assert sorted(p.name for p in folder.iterdir()) == ["inventory.sqlite", "sources.yaml"]


def test_while_the_crawler_writes_the_reader_sees_its_log(folder):
    # A writer that holds the inventory open keeps its write-ahead log and shared memory beside it:
    # then the read-only open works as it is (not immutable) and sees what is in the log.
    db = folder / "inventory.sqlite"
    fill(db)
    lock_out(folder)
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("UPDATE accounts SET unit = 'Förskolan Solen (ny)' WHERE id = 'solen'")
        for name in ("inventory.sqlite-wal", "inventory.sqlite-shm"):
            (folder / name).chmod(0o644)
        status = crawler("--db", str(db), "status", "--json", cwd=folder, prefix=OTHER_USER)
        assert status.returncode == 0, status.stderr
        assert '"read_as": "read-only"' in status.stdout
        export = crawler("--db", str(db), "export", cwd=folder, prefix=OTHER_USER)
        assert "Förskolan Solen (ny)" in export.stdout, export.stderr
    finally:
        writer.close()


def test_a_log_that_cannot_be_applied_is_an_error_not_stale_data(folder):
    # The log of a writer that died, without its shared memory, in a folder this user may not write:
    # reading the main file alone would miss those writes, so the reader says so instead.
    source = folder / "work"
    source.mkdir()
    db = source / "inventory.sqlite"
    fill(db)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE accounts SET unit = 'Förskolan Solen (ny)' WHERE id = 'solen'")
    copy = folder / "copy"
    copy.mkdir()
    shutil.copy(db, copy / "inventory.sqlite")
    shutil.copy(f"{db}-wal", copy / "inventory.sqlite-wal")  # the log, but not the -shm
    writer.close()
    lock_out(copy)
    for command in (["status"], ["export"]):
        result = crawler("--db", str(copy / "inventory.sqlite"), *command, cwd=copy, prefix=OTHER_USER)
        no_traceback(result)
        assert result.returncode == (2 if command == ["status"] else 1), result.stderr
        assert "its newest changes are still in inventory.sqlite-wal" in result.stderr
        assert "copy inventory.sqlite and inventory.sqlite-wal together" in result.stderr


def test_the_analysts_sqlite_recipe_works_from_a_folder_they_may_not_write(folder):
    # docs/ANALYSTS.md: `?mode=ro` needs the folder writable (SQLite creates the -shm file there);
    # `?immutable=1` reads the file as it is. Python's sqlite3 is the same library as the shell's.
    db = folder / "inventory.sqlite"
    fill(db)
    lock_out(folder)
    docs = (Path(__file__).resolve().parent.parent / "docs" / "ANALYSTS.md").read_text(encoding="utf-8")
    assert "sqlite3 'file:db/inventory.sqlite?mode=ro'" in docs
    assert "sqlite3 'file:db/inventory.sqlite?immutable=1'" in docs

    def count(uri: str) -> subprocess.CompletedProcess:
        code = (f"import sqlite3; c = sqlite3.connect({uri!r}, uri=True); "
                "print(c.execute('SELECT count(*) FROM accounts').fetchone()[0])")
        return subprocess.run([*OTHER_USER, sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                              check=False)

    assert "attempt to write a readonly database" in count(f"file:{db}?mode=ro").stderr
    result = count(f"file:{db}?immutable=1")
    assert result.returncode == 0 and result.stdout.strip() == "2", result.stderr


# --------------------------------------------------------------------------- a read-only file system


def in_read_only_mount(folder: Path, body: str) -> subprocess.CompletedProcess:
    """Copy folder's inventory and registry onto a tmpfs, remount it read-only and run the shell
    `body` there, in a private mount namespace."""
    mount = folder / "mnt"
    mount.mkdir()
    setup = (f"mount -t tmpfs -o size=16m crawler-test {mount} && "
             f"cp {folder}/inventory.sqlite {folder}/sources.yaml {mount}/ && mount -o remount,ro {mount} && cd {mount}")
    unshare = ["unshare", "--mount", "--propagation", "private"] + ([] if ROOT else ["--user", "--map-root-user"])
    return subprocess.run([*unshare, "sh", "-c", f"{setup} && {{ {body}; }}"], capture_output=True, text=True,
                          timeout=120, check=False, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder)})


def on_read_only_mount(folder: Path, *commands: list[str]) -> subprocess.CompletedProcess:
    """`crawler` COMMANDS (one after another, each output between markers) on a read-only copy."""
    steps = []
    for n, command in enumerate(commands):
        args = " ".join(f"'{a}'" for a in command)
        steps.append(f"echo '--- {n}' >&2; {sys.executable} -m crawler --db inventory.sqlite {args}; "
                     f"echo \"--- rc $?\" >&2")
    return in_read_only_mount(folder, "; ".join(steps))


POLL = """
import json, sys, time, urllib.request
url, rows, deadline = sys.argv[1], None, time.monotonic() + 30
while rows is None and time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            rows = json.loads(response.read())
    except OSError:
        time.sleep(0.2)
print("ROWS", json.dumps(rows))
"""


def test_datasette_browses_an_inventory_it_can_only_read_as_immutable(folder):
    """`crawler browse` where SQLite cannot open the WAL inventory even read-only (a read-only file
    system, as a folder the analyst may not write): Datasette is given `-i` and answers a canned query."""
    pytest.importorskip("datasette")
    import json
    import socket

    fill(folder / "inventory.sqlite")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/inventory/active_per_area.json?_shape=array"
    result = in_read_only_mount(folder, f"{sys.executable} -m crawler --db inventory.sqlite browse --port {port} & pid=$!; "
                                        f"{sys.executable} -c '{POLL}' {url}; kill $pid; wait $pid")
    no_traceback(result)
    line = next((x for x in result.stdout.splitlines() if x.startswith("ROWS ")), "ROWS null")
    rows = json.loads(line[5:])
    assert rows is not None, result.stderr[-3000:]
    assert {r["area"]: r["active"] or 0 for r in rows} == {"Norr": 1, "Söder": 0}
    assert "read as immutable" in result.stderr


def test_a_read_only_file_system_refuses_writes_and_status_is_degraded(folder):
    fill(folder / "inventory.sqlite")
    result = on_read_only_mount(folder, ["crawl"], ["sources", "sync"], ["status"], ["export"], ["review", "list"])
    assert result.stderr.count("--- rc") == 5, result.stderr  # the mount worked and every command ran
    parts = result.stderr.split("--- ")
    no_traceback(result)
    outputs = {n: p for n, p in enumerate(parts[1::2])}
    codes = [int(p.split()[1]) for p in parts[2::2]]
    for n in (0, 1):  # crawl, sources sync
        assert codes[n] == 1 and outputs[n].split("\n", 1)[1].startswith("Error: cannot write the inventory")
        assert "read-only file system" in outputs[n] and "Remount that file system read-write" in outputs[n]
    assert codes[2] == 2  # status: readable, but no cycle can write it: degraded
    assert "Health:    DEGRADED - the inventory lies on a read-only file system" in result.stdout
    assert codes[3] == 0 and "solen,Förskolan Solen" in result.stdout  # export reads it
    assert codes[4] == 0 and "Vi flyttar till Tempus Hemma" in result.stdout
