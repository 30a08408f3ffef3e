"""Ops: the status page (last and next cycle, health, failing accounts, pending reviews, the
registry's problems), /healthz (the health rule of `crawler status`: 200 when ok, 503 otherwise)
and /metrics (Prometheus text format)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from crawler import sources as sources_mod
from crawler import status as status_mod
from crawler.errors import CrawlerError, RegistryError
from crawler.web import metrics as metrics_mod
from crawler.web.sessions import is_loopback
from crawler.web.views import needs, public, render

LOG = logging.getLogger("crawler.web")


def health(config) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(health, everything `crawler status` gathers); an unreadable inventory is degraded."""
    try:
        report = status_mod.gather(config.db_path, config.settings, config.clock())
    except CrawlerError as exc:
        return {"state": "degraded", "reason": str(exc).split("\n")[0], "exit_code": 2}, None
    return report["health"], report


def registry_problems(path: str | None) -> dict[str, Any] | None:
    """The registry's problems and warnings as the status page lists them (None: no registry named)."""
    if not path:
        return None
    try:
        registry = sources_mod.load(path)
    except RegistryError as exc:
        return {"path": path, "valid": False, "problems": [str(p) for p in exc.problems][:50],
                "count": len(exc.problems), "warnings": []}
    except CrawlerError as exc:
        return {"path": path, "valid": False, "problems": [str(exc)], "count": 1, "warnings": []}
    return {"path": path, "valid": True, "problems": [], "count": 0,
            "warnings": [str(w) for w in registry.warnings][:50], "accounts": len(registry.accounts)}


@needs("read")
async def status_page(request: Request) -> Response:
    config = request.app.state.config

    def gather() -> dict[str, Any]:
        state, report = health(config)
        return {"health": state, "report": report, "registry": registry_problems(config.sources_path)}

    data = await run_in_threadpool(gather)
    return render(request, "web/status.html", **data)


@public
async def healthz(request: Request) -> Response:
    """JSON; 200 when the inventory is healthy by `crawler status`'s rule, 503 otherwise."""
    config = request.app.state.config
    state, report = await run_in_threadpool(health, config)
    body = {"status": state["state"], "reason": state["reason"]}
    if report is not None:
        good = report["last_good_run"]
        body["last_good_cycle"] = {"id": good["id"], "finished_at": good["finished_at"]} if good else None
        body["pending_review"] = report["pending_review"]["count"]
    return JSONResponse(body, status_code=200 if state["state"] == "ok" else 503,
                        headers={"Cache-Control": "no-store"})


@public
async def metrics(request: Request) -> Response:
    """Prometheus text format; who may read it is `web_metrics` (localhost, token or open)."""
    config = request.app.state.config
    rule = config.settings.web_metrics
    if rule == "localhost" and not is_loopback(request.state.client.address):
        return PlainTextResponse("metrics are served to localhost only (setting web_metrics)\n", status_code=403)
    if rule == "token":
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {config.metrics_token or ''}"
        if not config.metrics_token or not hmac.compare_digest(sent.encode(), expected.encode()):
            return PlainTextResponse("a bearer token is needed (setting web_metrics = token)\n", status_code=401,
                                     headers={"WWW-Authenticate": "Bearer"})
    body = await run_in_threadpool(metrics_mod.exposition, config)
    return Response(body, media_type=metrics_mod.CONTENT_TYPE)
