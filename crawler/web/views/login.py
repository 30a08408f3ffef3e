"""Signing in and out, and the language. The login page is the only page anonymous people see."""

from __future__ import annotations

import logging
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crawler import log
from crawler.locale import LANGS
from crawler.store import Store
from crawler.web import sessions as S
from crawler.web.auth import AuthError, clean_name
from crawler.web.middleware import LANG_COOKIE
from crawler.web.views import form, public, render, safe_next


@public
async def login_page(request: Request) -> Response:
    if request.state.user is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return render(request, "web/login.html", next=safe_next(request.query_params.get("next")))


@public
async def login_post(request: Request) -> Response:
    config = request.app.state.config
    data = await form(request)
    raw_name, password = data.get("name", ""), data.get("password", "")
    target = safe_next(data.get("next"))
    address = request.state.client.address
    try:
        name = clean_name(raw_name)
    except AuthError:
        name = raw_name.strip().lower()[:64]  # counted all the same, so a bad name cannot dodge the throttle
    wait = config.throttle.retry_after(name, address)
    if wait is not None:
        log.event("web.login_throttled", level=logging.WARNING, user=name, address=address)
        response = render(request, "web/login.html", 429, next=target, name=raw_name,
                          error="throttled", minutes=max(1, -(-wait // 60)))
        response.headers["Retry-After"] = str(wait)
        return response
    now = config.clock()

    def check() -> str | None:
        """The new session's token when the password is right for an enabled user, else None."""
        with Store.open(config.db_path, migrate=False) as store:
            user = store.user(name)
            ok = config.passwords.verify(store.password_hash(name), password)  # the work is done either way
            if user is None or user.disabled or not ok:
                return None
            token = S.new_token()
            store.create_session(S.token_hash(token), user.name, now,
                                 now + timedelta(hours=config.settings.web_session_hours), "password")
            return token

    token = await run_in_threadpool(check)
    if token is None:
        config.throttle.failed(name, address)
        log.event("web.login_failed", level=logging.WARNING, user=name, address=address)
        return render(request, "web/login.html", 401, next=target, name=raw_name,
                      error="wrong")
    config.throttle.succeeded(name)
    log.event("web.login", user=name, address=address)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(S.SESSION_COOKIE, S.sign(config.key, token), httponly=True, samesite="lax",
                        secure=request.state.client.https, path="/")
    return response


@public
async def logout(request: Request) -> Response:
    """Sign out (a form with its CSRF token, so no other site can sign anyone out)."""
    await form(request)
    token = request.state.session_token
    if token:
        config = request.app.state.config

        def end() -> None:
            with Store.open(config.db_path, migrate=False) as store:
                store.end_session(S.token_hash(token))

        await run_in_threadpool(end)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(S.SESSION_COOKIE, path="/")
    return response


@public
async def language(request: Request) -> Response:
    """Choose Swedish or English (a cookie), then back to the page."""
    lang = request.path_params["lang"]
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="lax",
                            secure=request.state.client.https, path="/")
    return response
