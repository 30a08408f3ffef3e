"""The pages, one module per role's work, and what every view shares:

    needs(action)    the one permission check: wraps a view; anonymous people are sent to /login,
                     a signed-in person whose role lacks `action` gets the "not allowed" page (403)
    public(view)     marks the few views anyone may open (login, /healthz; /metrics has its own rule)
    form(request)    a posted form, refused (403) unless its CSRF token is right
    render(...)      a template of crawler/templates/web/ in the request's language
    read(...)/write(...)   the store in a worker thread (SQLite never blocks the event loop)

    login.py     sign in and out, the language
    review.py    reviewers: the queue, one notice, decisions, the audit trails
    candidates.py  discovery's candidates: the queue, the evidence, accept into sources.yaml or dismiss
    analysts.py  the inventory, an account, the board's report, downloads
    ops.py       the status page, /healthz, /metrics
    admin.py     users and roles
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from crawler.locale import translations
from crawler.store import Store
from crawler.web import sessions as S
from crawler.web.auth import allowed
from crawler.web.labels import helpers
from crawler.web.templating import environment, words


def needs(action: str) -> Callable:
    """The view may be used by a signed-in person whose role allows `action` (auth.allowed)."""

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        async def checked(request: Request) -> Response:
            user = request.state.user
            if user is None:
                if request.method == "GET":
                    return RedirectResponse(f"/login?{urlencode({'next': _here(request)})}", status_code=303)
                raise HTTPException(401)
            if not allowed(user.role, action):
                raise HTTPException(403)
            return await view(request)

        checked.action = action
        return checked

    return wrap


def public(view: Callable) -> Callable:
    view.action = None
    return view


def _here(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def safe_next(target: str | None) -> str:
    """A local path to go on to after login (never another site: //evil.example, https://...)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def form(request: Request) -> dict[str, str]:
    """The posted form (single values), after its CSRF token was checked; 403 when it is wrong."""
    data = await request.form()
    sent = data.get("csrf_token")
    if not S.csrf_ok(request.app.state.config.key, request.state.csrf_seed, sent if isinstance(sent, str) else None):
        raise HTTPException(403, detail="csrf")
    return {k: v for k, v in data.items() if isinstance(v, str)}


def read(request: Request, fn: Callable[[Store], Any]) -> Any:
    """Run fn(store) on a read-only store in a worker thread."""
    path = request.app.state.config.db_path

    def run() -> Any:
        with Store.open(path, readonly=True) as store:
            return fn(store)

    return run_in_threadpool(run)


def write(request: Request, fn: Callable[[Store], Any]) -> Any:
    """Run fn(store) on a writable store in a worker thread (short transactions only)."""
    path = request.app.state.config.db_path

    def run() -> Any:
        with Store.open(path, migrate=False) as store:
            return fn(store)

    return run_in_threadpool(run)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page of crawler/templates/web/ in the request's language, with what every page shows."""
    lang = request.state.lang
    tr = translations(lang)
    user = request.state.user
    config = request.app.state.config
    html = environment().get_template(template).render(
        lang=lang, _=tr.gettext, gettext=tr.gettext, ngettext=tr.ngettext, w=words(lang, config.settings),
        user=user, can=lambda action: user is not None and allowed(user.role, action),
        csrf=S.csrf_token(config.key, request.state.csrf_seed), path=request.url.path, here=_here(request),
        quote=quote, **helpers(tr.gettext, config.settings.timezone, lang, config.settings.health_max_age_hours, tr.ngettext), **context)
    return HTMLResponse(html, status_code=status_code)


def hidden_csrf(request: Request) -> Markup:
    token = S.csrf_token(request.app.state.config.key, request.state.csrf_seed)
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)


@needs("read")
async def home(request: Request) -> Response:
    def gather(store: Store) -> dict[str, Any]:
        return {"counts": store.counts(), "pending": store.pending_summary(), "runs": store.recent_runs(1),
                "candidates": store.candidate_counts()}

    data = await read(request, gather)
    return render(request, "web/home.html", **data)


async def _error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 401:
        return render(request, "web/error.html", 401, code=401)
    return render(request, "web/error.html", exc.status_code, code=exc.status_code,
                  detail=exc.detail)


async def _not_found(request: Request, exc: Exception) -> Response:
    return render(request, "web/error.html", 404, code=404, detail=None)


ERROR_HANDLERS = {HTTPException: _error, 404: _error, 403: _error, 401: _error}
