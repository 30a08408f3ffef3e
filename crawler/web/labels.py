"""The words of the web app's pages for values stored as codes (roles, states, outcomes), marked for
the catalogs here and translated per request (`helpers(gettext)` is what the templates are given)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from babel.numbers import format_decimal

from crawler.web.auth import N_

ROLES = {"viewer": N_("viewer"), "reviewer": N_("reviewer"), "admin": N_("administrator")}
NOTICE_STATES = {"pending": N_("pending"), "confirmed": N_("confirmed"), "rejected": N_("rejected"),
                 "all": N_("all")}
KINDS = {"move": N_("Moves to Tempus Hemma"), "closing": N_("Closes"), "elsewhere": N_("Moves to another channel")}
RUN_STATES = {"running": N_("running"), "finished": N_("finished"), "interrupted": N_("interrupted"),
              "failed": N_("failed")}
HEALTH = {"ok": N_("Healthy"), "stale": N_("Stale"), "degraded": N_("Degraded")}
OUTCOMES = {"ok": N_("answered"), "not_modified": N_("unchanged since the last check"), "gone": N_("not found"),
            "login_wall": N_("login wall"), "blocked_by_robots": N_("robots.txt forbids"),
            "robots_unreachable": N_("robots.txt unreachable (site error)"), "error": N_("error"),
            # the fetch errors (crawler.models.FETCH_ERRORS) that a failing account shows most
            "dns_error": N_("the name does not resolve (DNS)"), "connect_error": N_("no connection"),
            "timeout": N_("timed out"), "deadline_exceeded": N_("took too long"), "too_large": N_("too large"),
            "too_many_redirects": N_("too many redirects"), "truncated": N_("the answer was cut off"),
            "rate_limited": N_("too many requests (429)"), "server_error": N_("server error")}
# The problems `crawler status` finds (crawler/status.py, by key); the detail stays as status wrote it.
PROBLEMS = {"service_stopped": N_("the service (crawler serve) has stopped"),
            "service_silent": N_("the service has not been heard from for too long"),
            "no_good_pass": N_("no pass of the service has ended well for too long"),
            "behind": N_("accounts are overdue for a visit"), "no_cycle": N_("no full crawl has finished yet"),
            "old_cycle": N_("the last full crawl is too old"), "cycle_failed": N_("the last crawl failed"),
            "registry": N_("the registry (sources.yaml) is broken"),
            "failing": N_("many accounts failed in the last pass"),
            "read_only": N_("the inventory lies on a read-only file system"),
            "api": N_("an official API cannot be used")}
ROUTES = {"api": N_("official API"), "public": N_("public web page"), "unchecked": N_("not yet checked")}
REGISTRY = {"added": N_("added"), "updated": N_("updated"), "deregistered": N_("removed from the registry"),
            "reregistered": N_("back in the registry")}
USER_CHANGES = {"added": N_("added"), "role": N_("new role"), "password": N_("new password"),
                "disabled": N_("disabled"), "enabled": N_("enabled")}


def helpers(gettext: Callable[[str], str], zone: str, lang: str = "en", health_limit: float = 36.0,
            ngettext: Callable[[str, str, int], str] | None = None) -> dict[str, Any]:
    def word(table: dict[str, str]) -> Callable[[str | None], str]:
        return lambda code: gettext(table[code]) if code in table else (code or "")

    def hours(value: float | None) -> str:
        return format_decimal(value or 0.0, format="0.#", locale=lang)

    def health_lines(health: dict[str, Any], report: dict[str, Any] | None) -> list[str]:
        """The health verdict in the page's language: each problem `crawler status` found, named in
        words, with its detail as status wrote it; or why it is healthy."""
        problems = health.get("problems") or []
        if not problems:
            good = (report or {}).get("last_good_run")
            if health["state"] == "ok" and good:
                return [gettext("the last full crawl (run {id}) finished {hours} h ago").format(
                    id=good["id"], hours=hours(good["age_hours"]))]
            return [health["reason"]]
        out = []
        for problem in problems:
            key = problem.get("key", "").split(":")[0]
            name = gettext(PROBLEMS[key]) if key in PROBLEMS else ""
            out.append(f"{name}: {problem.get('text', '')}" if name else problem.get("text", ""))
        return out

    ngettext = ngettext or (lambda one, many, n: one if n == 1 else many)

    def status_count(status: str, n: int) -> tuple[str, str]:
        """ "45 active accounts" as the words before and after the number: ("", " active accounts")."""
        forms = {
            "active": lambda: ngettext("{n} active account", "{n} active accounts", n),
            "dormant": lambda: ngettext("{n} dormant account", "{n} dormant accounts", n),
            "gone": lambda: ngettext("{n} removed account", "{n} removed accounts", n),
            "unknown": lambda: ngettext("{n} account with unknown status", "{n} accounts with unknown status", n),
            "unchecked": lambda: ngettext("{n} account not yet checked", "{n} accounts not yet checked", n),
        }
        text = forms[status]() if status in forms else f"{{n}} {status}"
        before, _, after = text.partition("{n}")
        return before, after

    return {"health_lines": health_lines, "status_count": status_count, "role_word": word(ROLES), "state_word": word(NOTICE_STATES), "kind_word": word(KINDS),
            "run_state": word(RUN_STATES), "health_word": word(HEALTH), "outcome_word": word(OUTCOMES),
            "registry_word": word(REGISTRY), "route_word": word(ROUTES), "change_word": word(USER_CHANGES), "tz": zone}
