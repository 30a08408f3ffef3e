"""The ASGI app: every route and the middleware in one place (Starlette), served by uvicorn.

    create_app(config)  the app; `crawler web` serves it, tests drive it with Starlette's TestClient
                        and a real uvicorn on loopback for Chromium
    serve(config)       uvicorn on settings.web_host:web_port (127.0.0.1 by default)

Every page but /login, /healthz, /metrics (its own rule) and the static files asks the one
permission rule through `views.needs(action)`; tests/test_web.py walks the routes to keep it so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from crawler.clock import utcnow
from crawler.settings import Settings
from crawler.store import Store
from crawler.web import views
from crawler.web.auth import Passwords, Throttle
from crawler.web.middleware import SecurityHeaders, SessionMiddleware
from crawler.web.sessions import parse_networks
from crawler.web.views import admin, analysts, candidates, login, ops, review

STATIC = Path(__file__).resolve().parent / "static"
METRICS_TOKEN_ENV = "CRAWLER_WEB_METRICS_TOKEN"
LOG = logging.getLogger("crawler.web")


@dataclass
class Config:
    """What the app needs: the inventory, the settings, its key, and clocks tests can set."""

    db_path: str
    settings: Settings
    key: bytes
    sources_path: str | None = None  # the registry, for the status page's "registry problems"
    clock: Callable[[], datetime] = utcnow  # wall time: sessions, decisions, ages
    monotonic: Callable[[], float] = time.monotonic  # the login throttle's clock
    passwords: Passwords = field(default_factory=Passwords)
    metrics_token: str | None = None  # CRAWLER_WEB_METRICS_TOKEN, for web_metrics = token

    def __post_init__(self) -> None:
        s = self.settings
        self.proxies = parse_networks(s.web_trusted_proxies)
        self.throttle = Throttle(clock=self.monotonic, per_user=s.web_login_attempts,
                                 per_address=s.web_login_attempts_address, window=s.web_login_window_minutes * 60)


ROUTES = [
    Route("/", views.home, name="home"),
    Route("/login", login.login_page, methods=["GET"], name="login"),
    Route("/login", login.login_post, methods=["POST"]),
    Route("/logout", login.logout, methods=["POST"], name="logout"),
    Route("/lang/{lang}", login.language, name="language"),
    # reviewers
    Route("/review", review.queue, name="queue"),
    Route("/review/{notice_id:int}", review.notice_page, methods=["GET"], name="notice"),
    Route("/review/{notice_id:int}", review.decide, methods=["POST"]),
    Route("/reviewers", review.reviewers, name="reviewers"),
    Route("/reviewers/{name}", review.reviewer, name="reviewer"),
    # discovery's candidates (reviewers decide)
    Route("/candidates", candidates.candidates_page, name="candidates"),
    Route("/candidates/{candidate_id:int}", candidates.candidate_page, methods=["GET"], name="candidate"),
    Route("/candidates/{candidate_id:int}", candidates.decide, methods=["POST"]),
    # analysts
    Route("/inventory", analysts.inventory, name="inventory"),
    Route("/inventory.csv", analysts.inventory_csv, name="inventory_csv"),
    Route("/inventory.xlsx", analysts.inventory_xlsx, name="inventory_xlsx"),
    Route("/accounts/{account_id:path}", analysts.account, name="account"),
    Route("/report", analysts.report, name="report"),
    Route("/report.{fmt}", analysts.report_download, name="report_download"),
    # ops
    Route("/status", ops.status_page, name="status"),
    Route("/healthz", ops.healthz, name="healthz"),
    Route("/metrics", ops.metrics, name="metrics"),
    # admins
    Route("/users", admin.users_page, methods=["GET"], name="users"),
    Route("/users", admin.add_user, methods=["POST"]),
    Route("/users/{name}", admin.change_user, methods=["POST"], name="user"),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]


def config_for(db_path: str, settings: Settings, sources_path: str | None = None,
               environ: dict[str, str] | None = None) -> Config:
    """The app's configuration for `crawler web`: the key and the metrics token from the environment
    (or the key file beside the inventory); CrawlerError when web_metrics = token has no token."""
    import os

    from crawler.errors import CrawlerError
    from crawler.web.sessions import load_key

    env = os.environ if environ is None else environ
    token = env.get(METRICS_TOKEN_ENV) or None
    if settings.web_metrics == "token" and not token:
        raise CrawlerError(f"web_metrics is 'token' but {METRICS_TOKEN_ENV} is not set.\n\nSet it to a long "
                           "random value (the same as in Prometheus' bearer_token), or set web_metrics to localhost.")
    try:
        key = load_key(db_path, env)
    except (OSError, ValueError) as exc:
        raise CrawlerError(f"cannot read or make the web app's signing key: {exc}") from None
    return Config(db_path=db_path, settings=settings, key=key, sources_path=sources_path, metrics_token=token)


def create_app(config: Config) -> Starlette:
    """The web app over the inventory at config.db_path (migrated once here, then read per request)."""
    with Store.open(config.db_path):
        pass  # creates or migrates the inventory now, so no request pays for it or races another
    app = Starlette(routes=ROUTES, middleware=[Middleware(SecurityHeaders), Middleware(SessionMiddleware)],
                    exception_handlers=views.ERROR_HANDLERS)
    app.state.config = config
    return app


def serve(config: Config, *, host: str | None = None, port: int | None = None,
          on_start: Callable[[str], None] | None = None) -> None:
    """Serve the app with uvicorn until Ctrl-C (or SIGTERM)."""
    import uvicorn

    host = host or config.settings.web_host
    port = port or config.settings.web_port
    if on_start is not None:
        on_start(f"http://{host if ':' not in host else f'[{host}]'}:{port}/")
    # proxy headers are ours to judge (web_trusted_proxies), not uvicorn's
    uvicorn.run(create_app(config), host=host, port=port, proxy_headers=False, server_header=False,
                log_level="warning", access_log=False)
