"""`crawler status`: the inventory's health at a glance, and the exit code of a health check.

Reads the inventory read-only, the lock file (is a cycle running, who holds it), the service's
state file (its passes, heartbeat, the registry it could not read) and the registry itself.
Health is the worst of its problems (each has a stable key; crawler/alerts.py opens an incident
per key and closes it when the problem is gone):

    ok        0   no problem
    stale     1   the inventory is not being kept up to date:
                    service_stopped   the service ran on this inventory and has stopped
                    service_silent    its heartbeat is older than three beats (hung, or killed)
                    no_good_pass      no pass ended well for 1.5 pass intervals (or the running one
                                      has made no progress for that long)
                    behind            an account is overdue by more than revisit_max_days
                    no_cycle/old_cycle  without a service: no full cycle yet, or the last one is
                                      older than health_max_age_hours
    degraded  2   something needs a person:
                    cycle_failed      the last cycle or pass failed (the inventory could not be written)
                    registry          sources.yaml is broken (the service crawls its last valid one)
                    api:NAME          an official API's token or permission is unusable
                    failing           many accounts failed at once in the last pass
                    read_only         the inventory lies on a read-only file system (no cycle can write it)
                  (an inventory that cannot be read at all: the CLI prints the Error and exits 2)

It needs no write access: from a folder this user cannot write, the inventory is read as
immutable (the output says so).

A full cycle is one that visited the whole registry (it left a snapshot row); `crawl --only`
runs do not make a stale inventory healthy.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crawler import sanitize
from crawler.clock import local_zone, time_text, utcnow
from crawler.errors import CrawlerError
from crawler.lock import holder
from crawler.models import STATUSES
from crawler.service import read_state
from crawler.settings import Settings
from crawler.store import Store, iso, parse_iso, read_only_file_system

FAILING_LIMIT = 10
EXIT_CODES = {"ok": 0, "stale": 1, "degraded": 2}
FAILING_MIN = 20  # visits a pass needs before its share of failures can be an incident
FAILED_OUTCOMES = ("error", "robots_unreachable")  # a site or the network failing, not a login wall
API_DEGRADED = ("token_invalid", "token_unusable", "permission")  # API states that need a person


@dataclass(frozen=True)
class Problem:
    """One reason the inventory is not healthy: a stable key (one incident per key), how bad, what."""

    key: str
    severity: str  # stale | degraded
    text: str


@dataclass(frozen=True)
class Health:
    state: str  # ok | stale | degraded
    reason: str
    problems: tuple[Problem, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.state]

    @classmethod
    def of(cls, problems: list[Problem], ok_reason: str) -> Health:
        """The worst problem's state and text, all problems kept; ok with `ok_reason` when none."""
        if not problems:
            return cls("ok", ok_reason)
        worst = max(problems, key=lambda p: EXIT_CODES[p.severity])
        return cls(worst.severity, worst.text, tuple(sorted(problems, key=lambda p: -EXIT_CODES[p.severity])))


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


def gather(db_path: str, settings: Settings, now: datetime | None = None, *,
           registry_problem: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything `crawler status` shows, as plain data (also its --json output).

    `registry_problem` is what the caller found reading sources.yaml itself (the CLI reads it);
    the service's own finding comes from its state file.
    """
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
        if service is not None and not isinstance(service.get("pid"), int):
            service = None  # not a state file the service wrote
        apis = [_row(a) for a in store.api_statuses()]
        routes = _routes(store.route_counts())
        zone = local_zone(settings.timezone)
        local = now.astimezone(zone)
        day_end = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        plan = store.schedule_summary(now, day_end)
        incidents = [_row(a) for a in store.open_alerts()]
        running = None
        for run in runs:
            if run["state"] != "running":
                continue
            if lock and lock.get("pid") == run["pid"] and not _cycle_ended(lock, service):
                last_check = store.last_check_in_run(run["id"])
                running = {**_run(run, now), "accounts_done": store.checks_in_run(run["id"]),
                           "last_check_at": iso(last_check)}
            elif lock and lock.get("pid") == run["pid"]:
                # the live service ended this cycle but could not write its row (the disk is full)
                ended = (service or {}).get("last_run") or {}
                run["state"] = "failed" if ended.get("state") == "failed" else "interrupted"
                run["error"] = run["error"] or ended.get("error")
            else:
                run["state"] = "interrupted"  # left `running` by a process that is gone
        last = next((r for r in runs if r["state"] != "running"), None)
        outcomes = store.run_outcomes(last["id"]) if last else {}

    if service is not None:
        alive = (service.get("state") != "stopped" and lock is not None and lock.get("purpose") == "serve"
                 and lock.get("pid") == service.get("pid"))
        beat = _age_hours(service.get("last_heartbeat"), now)
        service = {**service, "running": alive, "heartbeat_age_s": None if beat is None else int(beat * 3600)}

    registry = registry_problem or (service or {}).get("registry")
    schedule = {
        "due_now": plan.due_now, "due_today": plan.due_today, "never_visited": plan.never_visited,
        "next_due_at": iso(plan.next_due_at), "most_overdue_since": iso(plan.most_overdue_since),
        "reasons": plan.reasons,
        "longest_unseen": [_row(u) for u in plan.longest_unseen],
    }
    health = assess(last, good, settings, now, service=service, running=running, registry=registry, apis=apis,
                    outcomes=outcomes, schedule=schedule)
    if read_only_file_system(db_path):
        health = Health.of([*health.problems, Problem(
            "read_only", "degraded", f"the inventory lies on a read-only file system: no cycle can write it "
                                     f"(remount {Path(db_path).absolute().parent} read-write)")], health.reason)
    total = sum(counts.values())
    return {
        "inventory": db_path,
        "read_as": "immutable" if immutable else "read-only",
        "now": now.isoformat(timespec="seconds"),
        "health": {"state": health.state, "reason": health.reason, "exit_code": health.exit_code,
                   "problems": [asdict(p) for p in health.problems]},
        "last_run": _run(last, now) if last else None,
        "last_good_run": _run(good, now) if good else None,
        "running": running,
        "lock_holder": lock,
        "service": service,
        "registry": registry,
        "schedule": schedule,
        "incidents": incidents,
        "apis": apis,
        "routes": routes,
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


def assess(last: dict[str, Any] | None, good: dict[str, Any] | None, settings: Settings, now: datetime, *,
           service: dict[str, Any] | None = None, running: dict[str, Any] | None = None,
           registry: dict[str, Any] | None = None, apis: list[dict[str, Any]] | None = None,
           outcomes: dict[str, int] | None = None, schedule: dict[str, Any] | None = None) -> Health:
    """The health verdict (pure): every problem the facts show, the worst one deciding the state."""
    problems: list[Problem] = []
    if last is not None and last["state"] == "failed":
        problems.append(Problem("cycle_failed", "degraded",
                                f"the last cycle (run {last['id']}) failed: {last['error'] or 'no reason recorded'}"))
    elif service is not None and ((service.get("last_pass") or {}).get("state") == "failed"):
        error = service["last_pass"].get("error") or "no reason recorded"
        problems.append(Problem("cycle_failed", "degraded", f"the service's last pass failed: {error}"))
    if registry:
        problems.append(Problem("registry", "degraded", registry_text(registry)))
    for api in apis or ():
        if api.get("state") in API_DEGRADED:
            problems.append(Problem(f"api:{api['api']}", "degraded",
                                    f"the {API_LABELS.get(api['api'], api['api'] + ' API')} is unusable since "
                                    f"{time_text(api.get('since'))}: {api.get('detail')}"))
    if last is not None and outcomes:
        visited = sum(outcomes.values())
        failed = sum(outcomes.get(o, 0) for o in FAILED_OUTCOMES)
        if visited >= FAILING_MIN and failed / visited >= settings.alert_failing_share:
            problems.append(Problem("failing", "degraded",
                                    f"{failed} of {visited} visits of run {last['id']} failed "
                                    f"({', '.join(f'{outcomes[o]} {o}' for o in FAILED_OUTCOMES if outcomes.get(o))})"))
    if service is not None:
        problems += _service_problems(service, running, settings, now)
    else:
        limit = settings.health_max_age_hours
        if good is None:
            problems.append(Problem("no_cycle", "stale", "no full crawl cycle has finished yet"))
        else:
            age = _age_hours(good["finished_at"], now) or 0.0
            if age > limit:
                problems.append(Problem("old_cycle", "stale",
                                        f"the last full cycle (run {good['id']}) finished {age:.1f} h ago, "
                                        f"more than health_max_age_hours ({limit:g} h)"))
    overdue = (schedule or {}).get("most_overdue_since")
    if overdue:
        late = (now - parse_iso(overdue)).total_seconds() / 86400
        if late > settings.revisit_max_days:
            problems.append(Problem("behind", "stale",
                                    f"{schedule['due_now']} accounts are due, the most overdue since "
                                    f"{time_text(overdue)} ({late:.1f} days, more than revisit_max_days "
                                    f"{settings.revisit_max_days:g}): the hosts' budgets or the service cannot keep up"))
    if service is not None:
        ok = "the service is running and its passes keep the schedule"
        if service.get("last_good_pass"):
            ok += f" (last pass ended {time_text(service['last_good_pass'])})"
    elif good is not None:
        ok = f"the last full cycle (run {good['id']}) finished {_age_hours(good['finished_at'], now) or 0.0:.1f} h ago"
    else:
        ok = "no problem"
    return Health.of(problems, ok)


def _service_problems(service: dict[str, Any], running: dict[str, Any] | None, settings: Settings,
                      now: datetime) -> list[Problem]:
    """A service that ran on this inventory must be running, beating and ending passes well."""
    if not service.get("running"):
        when = service.get("last_heartbeat")
        return [Problem("service_stopped", "stale",
                        f"the service (pid {service.get('pid')}) is not running; last heartbeat "
                        f"{time_text(when) or 'unknown'}. Start it (`systemctl start crawler`), or delete the state "
                        "file <inventory>.service.json if this inventory is crawled without it")]
    beat_s = service.get("heartbeat_age_s")
    every = float(service.get("heartbeat_s") or 60)
    if beat_s is None or beat_s > max(3 * every, 180):
        return [Problem("service_silent", "stale",
                        f"the service (pid {service.get('pid')}) has not written its heartbeat for "
                        f"{'ever' if beat_s is None else f'{beat_s // 60} min'}: it is hung or overloaded")]
    gap = float(service.get("pass_gap_s") or 600)
    allowed = 1.5 * gap + settings.crawl_jitter
    started_age = (_age_hours(service.get("started"), now) or 0.0) * 3600
    if running is not None:
        progress = running.get("last_check_at") or running.get("started_at")
        quiet = (_age_hours(progress, now) or 0.0) * 3600
        if quiet > allowed:
            return [Problem("no_good_pass", "stale",
                            f"the running pass (run {running['id']}) has visited no account for {quiet / 60:.0f} min "
                            f"(more than 1.5 pass intervals)")]
        return []
    good_age = _age_hours(service.get("last_good_pass"), now)
    if good_age is None:
        if started_age > allowed:
            return [Problem("no_good_pass", "stale",
                            f"no pass has ended well since the service started {time_text(service.get('started'))}")]
        return []
    if good_age * 3600 > allowed:
        return [Problem("no_good_pass", "stale",
                        f"no pass has ended well for {good_age * 60:.0f} min (passes are due every "
                        f"{gap / 60:.0f} min; the last good one ended {time_text(service['last_good_pass'])})")]
    return []


API_LABELS = {"meta": "Graph API (Meta)"}


def _routes(counts: list[Any]) -> dict[str, Any]:
    """Accounts by the route of their last visit (api | public), and why the unknown ones could not be read."""
    by_route: dict[str, int] = {}
    unknown: dict[str, int] = {}
    for c in counts:
        by_route[c.route] = by_route.get(c.route, 0) + c.count
        if c.status == "unknown" and c.note:
            key = f"{c.platform}: {c.note}"
            unknown[key] = unknown.get(key, 0) + c.count
    return {"by_route": by_route, "unknown_because": dict(sorted(unknown.items(), key=lambda kv: -kv[1]))}


def registry_text(problem: dict[str, Any]) -> str:
    """A broken registry as status says it."""
    kept = problem.get("kept_accounts")
    n = problem.get("problems", "?")
    text = (f"the registry {problem.get('path')} is BROKEN since {time_text(problem.get('since')) or '?'}, "
            f"{n} problem{'s' if n != 1 else ''}, first: {problem.get('first')}")
    if kept is not None:
        text += f"; crawling the last valid registry of {kept} accounts"
    return text + " (`crawler sources check` lists them)"


def render(report: dict[str, Any]) -> str:
    """The human-readable status. Every string in it is one line of plain text first (run errors,
    the lock holder and the service's state file quote what processes and files wrote)."""
    report = sanitize.data(report)
    h = report["health"]
    lines = [f"Inventory: {report['inventory']}", f"Health:    {h['state'].upper()} - {h['reason']}"]
    if report.get("read_as") == "immutable":
        lines.append("Read:      as immutable (this user cannot write the inventory's folder): what a cycle "
                     "writes meanwhile is not seen")
    for p in h.get("problems", [])[1:]:
        lines.append(f"           also {p['severity'].upper()}: {p['text']}")

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
        lines.append(f"Lock:      held by pid {lock.get('pid')} ({lock.get('purpose')}, since {time_text(lock.get('since')) or lock.get('since')})")
    svc = report["service"]
    if svc is None:
        lines.append("Service:   no state file (`crawler serve` has not run on this inventory)")
    elif svc["running"]:
        lines.append(f"Service:   running (pid {svc.get('pid')}, since {time_text(svc.get('started'))}, {svc.get('state')}); "
                     f"next pass {time_text(svc.get('next_run')) or 'not scheduled'}, "
                     f"maintenance {time_text(svc.get('next_maintenance')) or '-'}; heartbeat {svc.get('heartbeat_age_s')} s ago"
                     + ("; watchdog on" if svc.get("watchdog_s") else ""))
        lp = svc.get("last_pass") or {}
        if lp:
            held = sum((lp.get("held_by_budget") or {}).values()) + sum((lp.get("held_by_pause") or {}).values())
            lines.append(f"Last pass: {time_text(lp.get('at'))}: {lp.get('chosen', 0)} of {lp.get('due', 0)} due visited"
                         + (f", {held} held by host budgets or Retry-After" if held else "")
                         + f", {lp.get('state')}" + (f" ({lp.get('error')})" if lp.get("error") else ""))
    else:
        lines.append(f"Service:   not running (last seen pid {svc.get('pid')}, heartbeat {time_text(svc.get('last_heartbeat'))})")
    if report.get("registry"):
        lines.append(f"Registry:  {registry_text(report['registry'])}")
    plan = report.get("schedule")
    if plan:
        lines.append(f"Schedule:  {plan['due_now']} due now, {plan['due_today']} more due today, "
                     f"{plan['never_visited']} never visited; next due {time_text(plan['next_due_at']) or '-'}"
                     + (f"; most overdue since {time_text(plan['most_overdue_since'])}" if plan["most_overdue_since"] else ""))
        if plan["reasons"]:
            lines.append("           by rule: " + ", ".join(f"{n} {why}" for why, n in plan["reasons"].items()))
        if plan["longest_unseen"]:
            u = plan["longest_unseen"][0]
            lines.append(f"           longest unseen: {u['id']} ({u['platform']}), last visit "
                         f"{time_text(u['last_checked_at'])}, next {time_text(u['next_due_at']) or 'now'} "
                         f"({u['due_reason'] or 'new'})")
    for incident in report.get("incidents") or ():
        lines.append(f"Incident:  {incident['key']} ({incident['severity']}) open since {time_text(incident['opened_at'])}; "
                     f"told by {', '.join(json.loads(incident['sent'] or '[]')) or 'no channel yet'}")
    c = report["counts"]
    lines.append(f"Accounts:  {c['registered']} registered: " + ", ".join(
        f"{c[s]} {s}" for s in (*STATUSES, "unchecked")))
    for api in report.get("apis") or ():
        usage = f", usage peak {api['usage_percent']:.0f} %" if api.get("usage_percent") is not None else ""
        state = api["state"].replace("_", " ").upper()
        lines.append(f"Graph API: {state} since {time_text(api['since'])} (checked {time_text(api['checked_at'])}"
                     f"{usage}): {api['detail']}")
    routes = report.get("routes") or {}
    if set(routes.get("by_route") or {}) - {"public", "unchecked"}:
        lines.append("Routes:    " + ", ".join(f"{n} {route}" for route, n in sorted(
            routes["by_route"].items(), key=lambda kv: -kv[1])) + " (how each account's last visit read it)")
    for why, n in list((routes.get("unknown_because") or {}).items())[:8]:
        lines.append(f"Unknown:   {n} {why}")
    p = report["pending_review"]
    lines.append(f"Review:    {p['count']} notice{'s' if p['count'] != 1 else ''} pending"
                 + (f" (oldest detected {time_text(p['oldest'])})" if p["oldest"] else ""))
    if report["failing"]:
        lines.append("Failing longest:")
        for f in report["failing"]:
            lines.append(f"  {f['id']:<32} {f['platform']:<9} {f['consecutive_failures']:>3} failures  "
                         f"last ok {time_text(f['last_ok_at']) or 'never'}  last error {f['last_error'] or '-'}")
    return "\n".join(lines)
