"""`crawler status`: the inventory's health at a glance, and the exit code of a health check.

Reads the inventory read-only, the lock file (is a cycle running, who holds it) and the service's
state file (next scheduled run, heartbeat). Health:

    ok        0   the last full cycle finished within settings.health_max_age_hours
    stale     1   no full cycle has finished, or the last one is older than that
    degraded  2   the last cycle that ended failed (the inventory could not be written: disk full),
                  the inventory lies on a read-only file system (no cycle can write it), or it cannot
                  be read at all (a damaged file: the CLI prints the Error and exits 2)

It needs no write access: from a folder this user cannot write, the inventory is read as
immutable (the output says so).

A full cycle is one that visited the whole registry (it left a snapshot row); `crawl --only`
runs do not make a stale inventory healthy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler.clock import time_text, utcnow
from crawler.errors import CrawlerError
from crawler.lock import holder
from crawler.models import STATUSES
from crawler.service import read_state
from crawler.settings import Settings
from crawler.store import Store, iso, parse_iso, read_only_file_system

FAILING_LIMIT = 10
EXIT_CODES = {"ok": 0, "stale": 1, "degraded": 2}



@dataclass(frozen=True)
class Health:
    state: str  # ok | stale | degraded
    reason: str

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.state]


def _age_hours(text: str | None, now: datetime) -> float | None:
    try:
        at = parse_iso(text)
    except (TypeError, ValueError):  # the state file is plain JSON anyone can edit
        return None
    return None if at is None else (now - at).total_seconds() / 3600


def _seconds(start: str | None, end: str | None) -> int | None:
    a, b = parse_iso(start), parse_iso(end)
    return None if a is None or b is None else int((b - a).total_seconds())


def _cycle_ended(lock: dict[str, Any], service: dict[str, Any] | None) -> bool:
    """True when the lock holder is the service and it says no cycle is running."""
    return (lock.get("purpose") == "serve" and service is not None and service.get("pid") == lock.get("pid")
            and service.get("state") != "crawling")


def gather(db_path: str, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Everything `crawler status` shows, as plain data (also its --json output)."""
    now = now or utcnow()
    if not Path(db_path).exists():
        raise CrawlerError(f"no inventory at {db_path}.\n\nRun `crawler crawl` (or `crawler sources sync`) first.")
    lock = holder(db_path)
    with Store.open(db_path, readonly=True) as store:
        runs = [_row(r) for r in store.recent_runs(20)]
        good = store.last_full_cycle()
        good = _row(good) if good else None
        counts = store.counts()
        failing = [_row(f) for f in store.failing_accounts(FAILING_LIMIT)]
        pending = store.pending_summary()
        immutable = store.immutable
        service = read_state(db_path)
        running = None
        for run in runs:
            if run["state"] != "running":
                continue
            if lock and lock.get("pid") == run["pid"] and not _cycle_ended(lock, service):
                running = {**_run(run, now), "accounts_done": store.checks_in_run(run["id"])}
            elif lock and lock.get("pid") == run["pid"]:
                # the live service ended this cycle but could not write its row (the disk is full)
                ended = (service or {}).get("last_run") or {}
                run["state"] = "failed" if ended.get("state") == "failed" else "interrupted"
                run["error"] = run["error"] or ended.get("error")
            else:
                run["state"] = "interrupted"  # left `running` by a process that is gone
    last = next((r for r in runs if r["state"] != "running"), None)

    if service is not None:
        alive = (service.get("state") != "stopped" and lock is not None and lock.get("purpose") == "serve"
                 and lock.get("pid") == service.get("pid"))
        beat = _age_hours(service.get("last_heartbeat"), now)
        service = {**service, "running": alive, "heartbeat_age_s": None if beat is None else int(beat * 3600)}

    health = assess(last, good, settings, now)
    if read_only_file_system(db_path):
        health = Health("degraded", f"the inventory lies on a read-only file system: no cycle can write it "
                                    f"(remount {Path(db_path).absolute().parent} read-write)")
    total = sum(counts.values())
    return {
        "inventory": db_path,
        "read_as": "immutable" if immutable else "read-only",
        "now": now.isoformat(timespec="seconds"),
        "health": {"state": health.state, "reason": health.reason, "exit_code": health.exit_code},
        "last_run": _run(last, now) if last else None,
        "last_good_run": _run(good, now) if good else None,
        "running": running,
        "lock_holder": lock,
        "service": service,
        "counts": {**{s: counts.get(s, 0) for s in (*STATUSES, "unchecked")}, "registered": total},
        "failing": failing,
        "pending_review": {"count": pending.count, "oldest": iso(pending.oldest)},
    }


def _row(record: Any) -> dict[str, Any]:
    """A store record as the plain data this module shows (and prints as JSON): times as ISO text."""
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in asdict(record).items()}


def _run(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "id": row["id"], "state": row["state"], "trigger": row["trigger"], "pid": row["pid"],
        "started_at": row["started_at"], "finished_at": row["finished_at"],
        "seconds": _seconds(row["started_at"], row["finished_at"]),
        "age_hours": None if row["finished_at"] is None else round(_age_hours(row["finished_at"], now), 1),
        "accounts_total": row["accounts_total"], "accounts_done": row["accounts_done"],
        "errors": row["errors"], "requests": row["requests"], "error": row["error"], "summary": row["summary"],
    }


def assess(last: dict[str, Any] | None, good: dict[str, Any] | None, settings: Settings,
           now: datetime) -> Health:
    """The health verdict from the last ended run and the last finished full cycle."""
    if last is not None and last["state"] == "failed":
        return Health("degraded", f"the last cycle (run {last['id']}) failed: {last['error'] or 'no reason recorded'}")
    limit = settings.health_max_age_hours
    if good is None:
        return Health("stale", "no full crawl cycle has finished yet")
    age = _age_hours(good["finished_at"], now) or 0.0
    if age > limit:
        return Health("stale", f"the last full cycle (run {good['id']}) finished {age:.1f} h ago, "
                               f"more than health_max_age_hours ({limit:g} h)")
    return Health("ok", f"the last full cycle (run {good['id']}) finished {age:.1f} h ago")


def render(report: dict[str, Any]) -> str:
    """The human-readable status."""
    h = report["health"]
    lines = [f"Inventory: {report['inventory']}", f"Health:    {h['state'].upper()} - {h['reason']}"]
    if report.get("read_as") == "immutable":
        lines.append("Read:      as immutable (this user cannot write the inventory's folder): what a cycle "
                     "writes meanwhile is not seen")

    def run_line(label: str, r: dict[str, Any] | None) -> None:
        if r is None:
            lines.append(f"{label}none")
            return
        took = f"{r['seconds'] // 60}m{r['seconds'] % 60:02d}s" if r["seconds"] is not None else "?"
        ago = f", {r['age_hours']} h ago" if r["age_hours"] is not None else ""
        lines.append(f"{label}run {r['id']} ({r['trigger']}) {r['state']}, started {time_text(r['started_at'])}{ago}, "
                     f"took {took}: {r['accounts_done']}/{r['accounts_total']} accounts, {r['errors']} errors, "
                     f"{r['requests']} requests")
        if r["error"]:
            lines.append(f"{' ' * len(label)}error: {r['error']}")

    run_line("Last run:  ", report["last_run"])
    if report["last_good_run"] and (report["last_run"] or {}).get("id") != report["last_good_run"]["id"]:
        run_line("Last good: ", report["last_good_run"])
    running, lock = report["running"], report["lock_holder"]
    if running:
        lines.append(f"Running:   run {running['id']} ({running['trigger']}, pid {running['pid']}) since "
                     f"{time_text(running['started_at'])}: {running['accounts_done']}/{running['accounts_total']} accounts")
    elif lock:
        lines.append(f"Lock:      held by pid {lock.get('pid')} ({lock.get('purpose')}, since {lock.get('since')})")
    svc = report["service"]
    if svc is None:
        lines.append("Service:   no state file (`crawler serve` has not run on this inventory)")
    elif svc["running"]:
        lines.append(f"Service:   running (pid {svc.get('pid')}, since {svc.get('started')}, {svc.get('state')}); "
                     f"next cycle {svc.get('next_run') or 'not scheduled'}, maintenance {svc.get('next_maintenance') or '-'}; "
                     f"heartbeat {svc.get('heartbeat_age_s')} s ago")
    else:
        lines.append(f"Service:   not running (last seen pid {svc.get('pid')}, heartbeat {svc.get('last_heartbeat')})")
    c = report["counts"]
    lines.append(f"Accounts:  {c['registered']} registered: " + ", ".join(
        f"{c[s]} {s}" for s in (*STATUSES, "unchecked")))
    p = report["pending_review"]
    lines.append(f"Review:    {p['count']} notice{'s' if p['count'] != 1 else ''} pending"
                 + (f" (oldest detected {time_text(p['oldest'])})" if p["oldest"] else ""))
    if report["failing"]:
        lines.append("Failing longest:")
        for f in report["failing"]:
            lines.append(f"  {f['id']:<32} {f['platform']:<9} {f['consecutive_failures']:>3} failures  "
                         f"last ok {time_text(f['last_ok_at']) or 'never'}  last error {f['last_error'] or '-'}")
    return "\n".join(lines)
