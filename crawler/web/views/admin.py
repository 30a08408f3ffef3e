"""Admins' page: the users, their roles and the trail of changes; add a user, change a role, set a
password, disable or enable (the rules of crawler.web.users, shared with `crawler users`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crawler.errors import NotFound
from crawler.store import Store
from crawler.store.users import ROLES
from crawler.web import users as users_mod
from crawler.web.auth import N_, AuthError
from crawler.web.views import form, needs, read, render, write


async def _page(request: Request, status: int = 200, **extra: Any) -> Response:
    def gather(store: Store) -> dict[str, Any]:
        return {"people": store.users(), "changes": list(reversed(store.user_changes()))[:100]}

    data = await read(request, gather)
    return render(request, "web/users.html", status, roles=ROLES,
                  done=request.query_params.get("done"), **data, **extra)


@needs("manage_users")
async def users_page(request: Request) -> Response:
    return await _page(request)


@needs("manage_users")
async def add_user(request: Request) -> Response:
    data = await form(request)
    config = request.app.state.config
    me = request.state.user.name
    password = data.get("password") or None
    if data.get("password") != data.get("password2"):
        return await _page(request, 400, error=AuthError(N_("The two passwords differ.")), form=data)

    def apply(store: Store) -> None:
        users_mod.add(store, data.get("name", ""), data.get("role", ""), password, by=me, now=config.clock(),
                      passwords=config.passwords)

    try:
        await write(request, apply)
    except AuthError as exc:
        return await _page(request, 400, error=exc, form=data)
    return RedirectResponse("/users?done=added", status_code=303)


@needs("manage_users")
async def change_user(request: Request) -> Response:
    name = request.path_params["name"]
    data = await form(request)
    config = request.app.state.config
    me = request.state.user.name
    action = data.get("action")

    def apply(store: Store) -> None:
        now = config.clock()
        if action == "role":
            users_mod.set_role(store, name, data.get("role", ""), by=me, now=now)
        elif action == "disable":
            if name == me:
                raise AuthError(N_("you cannot disable yourself"))
            users_mod.disable(store, name, by=me, now=now)
        elif action == "enable":
            users_mod.enable(store, name, by=me, now=now)
        elif action == "password":
            if data.get("password") != data.get("password2"):
                raise AuthError(N_("The two passwords differ."))
            users_mod.set_password(store, name, data.get("password", ""), by=me, now=now, passwords=config.passwords)
        else:
            raise AuthError(N_("unknown action {action!r}"), action=action)

    try:
        await write(request, apply)
    except NotFound:
        return await _page(request, 404, error=AuthError(N_("no user named {name!r}"), name=name))
    except AuthError as exc:
        return await _page(request, 400, error=exc)
    return RedirectResponse(f"/users?done={action}", status_code=303)
