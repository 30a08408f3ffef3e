"""The middleware every request passes: who is asking (session or trusted SSO header), in which
language, with which CSRF seed; and the security headers of every answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request

from crawler.locale import LANGS
from crawler.store import Store
from crawler.web import sessions as S
from crawler.web.auth import AuthError, clean_name

LANG_COOKIE = "crawler_lang"
TOUCH_EVERY = timedelta(minutes=5)  # a session's expiry moves on at most this often (one short write)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


@dataclass(frozen=True)
class User:
    """The person signed in: their login name (recorded with their decisions) and role."""

    name: str
    role: str
    via: str  # password | sso


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path not in ("/healthz", "/metrics") and not request.url.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")  # pages show a person's data; never cached
        if getattr(request.state, "client", None) is not None and request.state.client.https:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


class SessionMiddleware(BaseHTTPMiddleware):
    """Sets request.state: client, lang, user (or None), session_token, csrf_seed."""

    async def dispatch(self, request: Request, call_next):
        config = request.app.state.config
        state = request.state
        state.client = S.client(request.client.host if request.client else None, request.url.scheme,
                                request.headers, config.proxies)
        lang = request.cookies.get(LANG_COOKIE)
        state.lang = lang if lang in LANGS else "sv"
        state.user, state.session_token = None, None
        now = config.clock()
        token = S.unsign(config.key, request.cookies.get(S.SESSION_COOKIE))
        touch = False
        sso_name = None
        if config.settings.web_sso_header and state.client.via_proxy:
            sso_name = request.headers.get(config.settings.web_sso_header)
        if sso_name:
            state.user = await run_in_threadpool(_sso_user, config, sso_name)
        elif token:
            record = await run_in_threadpool(_session, config, token, now)
            if record is not None and not record.disabled:
                state.user, state.session_token = User(record.user_name, record.role, record.via), token
                touch = now - record.seen_at >= TOUCH_EVERY
        pre = request.cookies.get(S.CSRF_COOKIE)
        new_pre = None
        if state.session_token is None and not (pre and 20 <= len(pre) <= 100):
            pre = new_pre = S.new_token()
        state.csrf_seed = state.session_token or pre
        response = await call_next(request)
        secure = state.client.https
        if new_pre:
            response.set_cookie(S.CSRF_COOKIE, new_pre, httponly=True, samesite="lax", secure=secure, path="/")
        if touch and getattr(state, "session_token", None) == token:
            expires = now + timedelta(hours=config.settings.web_session_hours)
            await run_in_threadpool(_touch, config, token, now, expires)
        return response


def _session(config, token: str, now):
    with Store.open(config.db_path, readonly=True) as store:
        return store.session(S.token_hash(token), now)


def _touch(config, token: str, now, expires) -> None:
    with Store.open(config.db_path) as store:
        store.touch_session(S.token_hash(token), now, expires)


def _sso_user(config, header_value: str) -> User | None:
    """The user a trusted proxy names: an enabled user of that name (their role is ours, not the proxy's)."""
    try:
        name = clean_name(header_value)
    except AuthError:
        return None
    with Store.open(config.db_path, readonly=True) as store:
        user = store.user(name)
    if user is None or user.disabled:
        return None
    return User(user.name, user.role, "sso")
