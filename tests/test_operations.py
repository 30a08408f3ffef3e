"""Operating the service (issue 18): systemd's notify socket and watchdog, JSON start-up errors,
a health check that tells the truth, alerts once per incident (a real SMTP server and a webhook on
loopback), backup and restore, migrate refusing a downgrade, and a pass over the due accounts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from crawler import service, sources
from crawler import status as status_mod
from crawler.alerts import AlertError, Alerts, secrets
from crawler.lock import CrawlLock
from crawler.settings import Settings
from crawler.store import Store
from tests.conftest import execute, sql_rows
from tests.test_service import N, blogs, cli_in_process, registry, start, stop, wait_until  # noqa: F401

pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------- systemd


def test_serve_notifies_systemd_and_keeps_the_watchdog_alive(registry: Path, blogs, tmp_path: Path):  # noqa: F811
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(30)
    os.environ["NOTIFY_SOCKET"] = address
    os.environ["WATCHDOG_USEC"] = "2000000"  # 2 s: the service must ping at least every second
    try:
        proc = start(registry, "--log-format", "json", "serve")
    finally:
        del os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"]
    got: list[str] = []
    try:
        while sum(m == "WATCHDOG=1" for m in got) < 3:
            got += sock.recv(4096).decode().split("\n")
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in got:
            got += sock.recv(4096).decode().split("\n")
        assert proc.wait() == 0, proc.err
    finally:
        stop(proc)
        sock.close()
    assert got[0] == "READY=1" and any(m.startswith("STATUS=") for m in got)
    assert got.index("READY=1") < got.index("WATCHDOG=1") < got.index("STOPPING=1")
    start_line = next(json.loads(line) for line in proc.err.splitlines() if '"service.start"' in line)
    assert start_line["watchdog_s"] == 2.0
    assert service.read_state(str(registry.parent / "inv.sqlite"))["watchdog_s"] == 2.0


def test_notifier_speaks_to_an_abstract_socket_and_is_silent_without_systemd():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"crawler-test-{os.getpid()}"
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        notifier = service.SystemdNotifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "30000000",
                                            "WATCHDOG_PID": str(os.getpid())})
        assert notifier.watchdog == 30.0 and notifier.notify("WATCHDOG=1")
        assert sock.recv(100) == b"WATCHDOG=1"
    finally:
        sock.close()
    assert service.SystemdNotifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).watchdog is None  # not ours
    silent = service.SystemdNotifier({})
    assert silent.notify("READY=1") is False and silent.watchdog is None


def test_a_stalled_pass_stops_the_watchdog_pings(registry: Path):  # noqa: F811
    class Counting(service.SystemdNotifier):
        def __init__(self):
            super().__init__({})
            self.watchdog, self.pings = 10.0, 0

        def notify(self, *fields: str) -> bool:
            self.pings += "WATCHDOG=1" in fields
            return True

    ticks = [0.0]
    svc = service.Service(str(registry), str(registry.parent / "inv.sqlite"), sources.load(registry),
                          notifier=Counting(), monotonic=lambda: ticks[0])

    async def go() -> None:
        await svc._beat()  # idle: a ping
        svc._current = asyncio.current_task()  # a pass that makes no progress...
        ticks[0] = service.STALL_LIMIT + 1  # ...for longer than the stall limit
        await svc._beat()
        svc._progress_at = ticks[0]  # a visit ended: pings again
        await svc._beat()

    asyncio.run(go())
    assert svc.notifier.pings == 2


# --------------------------------------------------------------------------- JSON start-up errors


def test_start_up_errors_are_json_lines_under_log_format_json(registry: Path):  # noqa: F811
    text = registry.read_text(encoding="utf-8")
    registry.write_text(text.replace("crawler-tests@localhost.invalid", "CHANGE-ME@example.org"), encoding="utf-8")
    result = cli_in_process(registry, "--log-format", "json", "serve")
    assert result.exit_code == 1
    (line,) = [json.loads(x) for x in result.output.splitlines() if x.strip()]
    assert line["level"] == "error" and "placeholder" in line["message"] and line["exit_code"] == 1
    registry.write_text(text.replace("  - id: blog-39\n", "  - id: blog-38\n"), encoding="utf-8")
    result = cli_in_process(registry, "--log-format", "json", "serve")
    assert result.exit_code == 2
    (line,) = [json.loads(x) for x in result.output.splitlines() if x.strip()]
    assert "duplicate id" in line["message"]
    # as text, the same error is the usual `Error:` line
    assert cli_in_process(registry, "serve").output.startswith("Error: ")


# --------------------------------------------------------------------------- health that tells the truth


def _served(db: Path, _registry: Path, **state) -> None:
    """A state file as a live service leaves it (the test holds the lock as that service)."""
    now = datetime.now(timezone.utc)
    data = {"pid": os.getpid(), "started": (now - timedelta(hours=2)).isoformat(), "state": "idle",
            "last_heartbeat": now.isoformat(), "heartbeat_s": 60, "pass_gap_s": 600,
            "last_good_pass": now.isoformat(), "registry": None}
    data.update(state)
    service.write_state(str(db), data)


def test_status_is_stale_once_the_service_stops_not_36_hours_later(registry: Path):  # noqa: F811
    db = registry.parent / "inv.sqlite"
    with Store.open(db) as store:
        store.sync(sources.load(registry).accounts, datetime.now(timezone.utc))
        run = store.start_run(datetime.now(timezone.utc), N, "schedule", os.getpid())
        store.take_snapshot(run, datetime.now(timezone.utc))
        store.finish_run(run, "finished", done=N, errors=0)
    _served(db, registry)
    with CrawlLock(str(db), "serve"):
        assert cli_in_process(registry, "status").exit_code == 0
        # a pass that ended well 20 minutes ago with passes due every 10: missed passes
        _served(db, registry, last_good_pass=(datetime.now(timezone.utc) - timedelta(minutes=20)).isoformat())
        result = cli_in_process(registry, "status")
        assert result.exit_code == 1 and "no pass has ended well for 20 min" in result.output
        # a heartbeat older than three beats: hung
        _served(db, registry, last_heartbeat=(datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat())
        result = cli_in_process(registry, "status")
        assert result.exit_code == 1 and "has not written its heartbeat for 5 min" in result.output
    # the lock is gone: the service stopped; status says so at once, though the last cycle is fresh
    _served(db, registry)
    result = cli_in_process(registry, "status", "--json")
    data = json.loads(result.output)
    assert result.exit_code == 1 and data["health"]["problems"][0]["key"] == "service_stopped"


def test_status_reads_the_registry_and_a_broken_one_is_degraded(registry: Path):  # noqa: F811
    db = registry.parent / "inv.sqlite"
    with Store.open(db) as store:
        store.sync(sources.load(registry).accounts, datetime.now(timezone.utc))
        run = store.start_run(datetime.now(timezone.utc), N, "manual", os.getpid())
        store.take_snapshot(run, datetime.now(timezone.utc))
        store.finish_run(run, "finished", done=N, errors=0)
    assert cli_in_process(registry, "status").exit_code == 0
    text = registry.read_text(encoding="utf-8")
    registry.write_text(text.replace("  - id: blog-39\n", "  - id: blog-38\n"), encoding="utf-8")
    result = cli_in_process(registry, "status")
    assert result.exit_code == 2, result.output
    assert "Registry:  the registry" in result.output and "BROKEN" in result.output
    assert "duplicate id 'blog-38'" in result.output
    # the service's own finding (it crawls its last valid registry) counts too, from its state file
    registry.write_text(text, encoding="utf-8")
    _served(db, registry, registry={"path": str(registry), "since": "2026-12-01T10:00:00+00:00", "problems": 3,
                                    "first": "sources.yaml:9: id: duplicate id", "kept_accounts": 40})
    with CrawlLock(str(db), "serve"):
        result = cli_in_process(registry, "status")
    assert result.exit_code == 2 and "crawling the last valid registry of 40 accounts" in result.output


def test_many_accounts_failing_at_once_is_degraded():
    s = Settings()
    last = {"id": 7, "state": "finished", "error": None}
    health = status_mod.assess(last, None, s, datetime.now(timezone.utc), service={"running": True},
                               outcomes={"ok": 10, "error": 25, "login_wall": 5})
    assert health.state == "degraded" and "25 of 40 visits of run 7 failed" in health.reason
    fine = status_mod.assess(last, None, s, datetime.now(timezone.utc), outcomes={"ok": 30, "login_wall": 10})
    assert "failing" not in {p.key for p in fine.problems}  # login walls are Instagram's normal, not a failure


# --------------------------------------------------------------------------- alerts


class Mailbox:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        self.messages.append(envelope)
        return "250 OK"


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.headers.get("Authorization"), json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mail():
    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd's controller checks its port by connecting: it needs a number
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.posts = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_incident_is_told_once_by_mail_and_webhook_and_its_end_once(tmp_path: Path, mail, hook):
    box, port = mail
    db = str(tmp_path / "inv.sqlite")
    with Store.open(db) as store:
        run = store.start_run(datetime.now(timezone.utc), 4, "schedule", 1)
        store.finish_run(run, "failed", done=0, errors=0, error="OperationalError: database or disk is full")
    secret_file = tmp_path / "secrets"
    secret_file.write_text(f"WEBHOOK_URL=http://127.0.0.1:{hook.server_address[1]}/hook\nWEBHOOK_TOKEN=s3cr3t-token\n")
    secret_file.chmod(0o600)
    s = Settings(alert_email="drift@kommun.se", smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                 smtp_from="crawler@kommun.se", secrets_file=str(secret_file), review_email="granskning@kommun.se")
    alerts = Alerts(s, db, environ={})
    now = datetime.now(timezone.utc)
    first = alerts.run(now)
    assert first["opened"] == 2  # the failed cycle, and no full cycle yet (no service on this inventory)
    for minute in range(1, 6):  # every minute again: nothing more is sent
        assert alerts.run(now + timedelta(minutes=minute))["opened"] == 0
    assert len(box.messages) == 2 and len(hook.posts) == 2
    mailed = box.messages[0].content.decode()
    assert "Subject: [crawler] DEGRADED: the last cycle (run 1) failed" in mailed
    assert box.messages[0].rcpt_tos == ["drift@kommun.se"]
    token, payload = hook.posts[0]
    assert token == "Bearer s3cr3t-token"
    assert payload["event"] == "incident.opened" and payload["incident"]["key"] == "cycle_failed"
    assert payload["text"].startswith("[crawler] DEGRADED")
    # a good full cycle: both incidents end, each told once
    with Store.open(db) as store:
        run = store.start_run(now, 4, "manual", 1)
        store.take_snapshot(run, now)
        store.finish_run(run, "finished", done=0, errors=0)
    assert alerts.run(now + timedelta(minutes=10))["closed"] == 2
    assert alerts.run(now + timedelta(minutes=11))["closed"] == 0
    assert len(box.messages) == 4 and [p["event"] for _, p in hook.posts][2:] == ["incident.closed"] * 2
    assert "RECOVERED" in box.messages[2].content.decode()
    with Store.open(db) as store:
        rows = sql_rows(store, "SELECT key, sent, closed_sent FROM alerts ORDER BY id")
    assert [r["key"] for r in rows] == ["cycle_failed", "no_cycle"]
    assert all(json.loads(r["sent"]) == ["email", "webhook"] == json.loads(r["closed_sent"]) for r in rows)
    # nothing secret in any log line or message
    assert all("s3cr3t" not in m.content.decode() for m in box.messages)


def test_an_expired_graph_api_token_is_told_to_ops_once_and_its_renewal_once(tmp_path: Path, mail):
    """The token of Meta's Graph API expires: one mail saying so (never the token), one when it works again."""
    box, port = mail
    db = str(tmp_path / "inv.sqlite")
    now = datetime.now(timezone.utc)
    with Store.open(db) as store:  # a good full cycle, so the API is the only incident
        run = store.start_run(now, 0, "manual", 1)
        store.take_snapshot(run, now)
        store.finish_run(run, "finished", done=0, errors=0)
        store.record_api_status("meta", "token_invalid", "190/463: Error validating access token: Session has "
                                "expired; renew it", now, calls=1)
    s = Settings(alert_email="drift@kommun.se", smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                 smtp_from="crawler@kommun.se")
    alerts = Alerts(s, db, environ={})
    assert alerts.run(now)["opened"] == 1
    assert alerts.run(now + timedelta(minutes=10))["opened"] == 0  # the next cycle finds it still expired
    assert len(box.messages) == 1
    mailed = box.messages[0].content.decode()
    assert "DEGRADED" in mailed and "Graph API (Meta)" in mailed and "190/463" in mailed
    with Store.open(db) as store:
        store.record_api_status("meta", "ok", None, now + timedelta(hours=1), calls=40)
    assert alerts.run(now + timedelta(hours=1))["closed"] == 1
    assert alerts.run(now + timedelta(hours=2))["closed"] == 0
    assert len(box.messages) == 2 and "RECOVERED" in box.messages[1].content.decode()
    with Store.open(db) as store:
        assert [r["key"] for r in sql_rows(store, "SELECT key FROM alerts")] == ["api:meta"]


def test_reviewers_hear_about_new_notices_once(tmp_path: Path, mail):
    box, port = mail
    db = str(tmp_path / "inv.sqlite")
    from crawler.models import Account, NoticeHit

    with Store.open(db) as store:
        store.sync([Account("solrosen", "Förskolan Solrosen", "Centrum", "blog", "https://s.example.se/")],
                   datetime.now(timezone.utc))
    s = Settings(review_email="granskning@kommun.se", smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                 smtp_from="crawler@kommun.se")
    alerts = Alerts(s, db, environ={})
    now = datetime.now(timezone.utc)
    assert alerts.run(now)["notices"] == 0  # the first round marks where reviewers start
    with Store.open(db) as store:
        for i in range(2):
            store.add_notice("solrosen", NoticeHit(0.9, ("Tempus Hemma",), "Vi flyttar till Tempus Hemma", "move",
                                                   f"https://s.example.se/p{i}"), now)
    assert alerts.run(now + timedelta(minutes=1))["notices"] == 2
    assert alerts.run(now + timedelta(minutes=2))["notices"] == 0
    (message,) = box.messages
    body = message.content.decode("utf-8")
    assert "2 nya notiser" in body and message.rcpt_tos == ["granskning@kommun.se"]


def test_secrets_come_from_the_environment_or_a_private_file_only(tmp_path: Path):
    path = tmp_path / "secrets"
    path.write_text("SMTP_PASSWORD=hemligt\n")
    path.chmod(0o644)
    with pytest.raises(AlertError, match="readable by others"):
        secrets(Settings(secrets_file=str(path)), {})
    path.chmod(0o600)
    assert secrets(Settings(secrets_file=str(path)), {}).smtp_password == "hemligt"
    assert secrets(Settings(secrets_file=str(path)), {"CRAWLER_SMTP_PASSWORD": "env"}).smtp_password == "env"
    assert "hemligt" not in repr(secrets(Settings(secrets_file=str(path)), {}))


# --------------------------------------------------------------------------- backup, restore, migrate


def test_backup_while_writing_restores_to_an_inventory_status_reads(registry: Path, tmp_path: Path):  # noqa: F811
    db = registry.parent / "inv.sqlite"
    with Store.open(db) as store:
        store.sync(sources.load(registry).accounts, datetime.now(timezone.utc))
        run = store.start_run(datetime.now(timezone.utc), N, "manual", os.getpid())
        store.take_snapshot(run, datetime.now(timezone.utc))
        store.finish_run(run, "finished", done=N, errors=0)
        store._conn.execute("BEGIN IMMEDIATE")  # a writer holds the inventory mid-transaction
        execute(store, "UPDATE accounts SET notes = 'half-written' WHERE id = 'blog-00'")
        copy = tmp_path / "backup" / "inv-copy.sqlite"
        result = cli_in_process(registry, "backup", str(copy))
        store._conn.execute("ROLLBACK")
    assert result.exit_code == 0, result.output
    assert "backed up" in result.output and copy.exists()
    assert not (copy.parent / "inv-copy.sqlite.partial").exists()
    again = cli_in_process(registry, "backup", str(copy))
    assert again.exit_code == 1 and "never overwrites" in again.output
    restored = cli_in_process(registry, "--db", str(copy), "status", "--json")
    data = json.loads(restored.output)
    assert data["counts"]["registered"] == N and data["last_run"]["state"] == "finished"
    with Store.open(copy) as store:
        assert store.integrity() == "ok"
        assert sql_rows(store, "SELECT notes FROM accounts WHERE id = 'blog-00'")[0]["notes"] is None


def test_migrate_brings_an_old_inventory_up_and_refuses_a_newer_one(registry: Path):  # noqa: F811
    db = registry.parent / "inv.sqlite"
    with Store.open(db) as store:
        execute(store, "PRAGMA user_version = 99")
    result = cli_in_process(registry, "migrate")
    assert result.exit_code == 1 and "newer than this crawler knows" in result.output
    with Store.open(str(db) + "-new") as store:
        version = store.schema_version()
    result = cli_in_process(registry, "--db", str(db) + "-new", "migrate")
    assert result.exit_code == 0 and f"schema version {version} (up to date)" in result.output


# --------------------------------------------------------------------------- a pass over the due accounts


def test_a_pass_visits_what_is_due_and_the_next_pass_only_what_became_due(registry: Path, blogs):  # noqa: F811
    db = registry.parent / "inv.sqlite"
    clock = [datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)]
    svc = service.Service(str(registry), str(db), sources.load(registry), clock=lambda: clock[0])

    async def a_pass() -> None:
        svc._stop = asyncio.Event()
        await svc._pass_job()

    asyncio.run(a_pass())
    assert svc._last_pass["chosen"] == N and svc._last_pass["state"] == "finished"
    with Store.open(db) as store:
        due = sql_rows(store, "SELECT next_due_at, due_reason FROM accounts")
    assert all(r["next_due_at"] > "2026-12-01T20" and r["due_reason"] == "activity" for r in due)  # >= 12 h
    clock[0] += timedelta(minutes=10)
    asyncio.run(a_pass())
    assert svc._last_pass["chosen"] == 0 and svc._last_pass["due"] == 0
    # a week later every account is due again (the page's post is old: the longest interval)
    clock[0] += timedelta(days=8)
    asyncio.run(a_pass())
    assert svc._last_pass["chosen"] == N
    with Store.open(db) as store:
        assert sql_rows(store, "SELECT count(*) AS n FROM runs WHERE trigger = 'schedule'")[0]["n"] == 2
    summary = json.loads(cli_in_process(registry, "status", "--json").output)["schedule"]
    assert summary["never_visited"] == 0 and summary["longest_unseen"]


def test_a_retry_after_on_a_host_is_carried_into_the_next_passes(registry: Path, blogs, tmp_path: Path):  # noqa: F811
    db = registry.parent / "inv.sqlite"
    now = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    svc = service.Service(str(registry), str(db), sources.load(registry), clock=lambda: now)
    with Store.open(db) as store:
        store.sync(sources.load(registry).accounts, now)
        store.pause_hosts({"127.0.0.1": (now + timedelta(hours=1), "Retry-After")}, now)
    picked = svc.plan(sources.load(registry), now)
    assert picked.chosen == () and picked.held_by_pause["127.0.0.1"] == N
    later = svc.plan(sources.load(registry), now + timedelta(hours=1, minutes=1))
    assert len(later.chosen) == N


def test_the_daily_snapshot_is_taken_once_per_local_day_even_when_dst_ends(registry: Path):  # noqa: F811
    db = registry.parent / "inv.sqlite"
    # 2026-10-25: 02:00 CEST and 02:00 CET an hour apart (APScheduler fires a daily line at both)
    first = datetime(2026, 10, 25, 0, 0, tzinfo=timezone.utc)
    clock = [first]
    svc = service.Service(str(registry), str(db), sources.load(registry), clock=lambda: clock[0])
    with Store.open(db) as store:
        store.sync(sources.load(registry).accounts, first)

    async def snap() -> None:
        svc._stop = asyncio.Event()
        await svc._snapshot_job()

    asyncio.run(snap())
    clock[0] = first + timedelta(hours=1)
    asyncio.run(snap())
    with Store.open(db) as store:
        assert sql_rows(store, "SELECT count(*) AS n FROM snapshots")[0]["n"] == 1
        fresh = sql_rows(store, "SELECT dimension, status, accounts, never FROM snapshot_freshness "
                                "WHERE dimension = 'all' AND status = 'all'")
    assert fresh == [{"dimension": "all", "status": "all", "accounts": N, "never": N}]
    clock[0] = first + timedelta(days=1)
    asyncio.run(snap())
    with Store.open(db) as store:
        assert sql_rows(store, "SELECT count(*) AS n FROM snapshots")[0]["n"] == 2
