"""Managing the web app's users: add, list, change role, set a password, disable, enable.

The rules of `crawler users ...` and of the admin's page are the same functions: a name must be a
clean login name, a role one of viewer/reviewer/admin, a password long enough (it is hashed with
argon2id before it reaches the store); every change is one entry of the append-only trail
`user_changes`, naming who made it. The last enabled admin cannot be disabled or demoted, so the
app is never left without someone who can manage it.
"""

from __future__ import annotations

from datetime import datetime

from crawler.errors import NotFound
from crawler.store import Store
from crawler.store.records import UserRecord
from crawler.web.auth import N_, AuthError, Passwords, check_role, clean_name, password_problem

CLI = "crawler users"  # who made a change from the command line


def add(store: Store, name: str, role: str, password: str | None, *, by: str, now: datetime,
        passwords: Passwords) -> UserRecord:
    """A new user. Without a password the user can sign in only through the proxy's SSO header."""
    name, role = clean_name(name), check_role(role)
    if store.user(name) is not None:
        raise AuthError(N_("there is already a user named {name!r}"), name=name)
    digest = None
    if password is not None:
        if problem := password_problem(password, name):
            raise problem
        digest = passwords.hash(password)
    store.add_user(name, role, digest, now, by)
    return store.user(name)


def get(store: Store, name: str) -> UserRecord:
    user = store.user(clean_name(name))
    if user is None:
        raise NotFound(f"no user named {name!r}; `crawler users list` shows them")
    return user


def set_password(store: Store, name: str, password: str, *, by: str, now: datetime, passwords: Passwords) -> None:
    """A new password (every session of the user ends)."""
    user = get(store, name)
    if problem := password_problem(password, user.name):
        raise problem
    store.set_user_password(user.name, passwords.hash(password), now, by)


def set_role(store: Store, name: str, role: str, *, by: str, now: datetime) -> None:
    user = get(store, name)
    role = check_role(role)
    if user.role == role:
        return
    if user.role == "admin" and _last_admin(store, user):
        raise AuthError(N_("{name} is the last admin; make another user admin first"), name=user.name)
    store.set_user_role(user.name, role, now, by)


def disable(store: Store, name: str, *, by: str, now: datetime) -> None:
    """The user may no longer sign in; their sessions end at once. Their decisions stay theirs."""
    user = get(store, name)
    if user.disabled:
        return
    if user.role == "admin" and _last_admin(store, user):
        raise AuthError(N_("{name} is the last admin; make another user admin first"), name=user.name)
    store.set_user_disabled(user.name, True, now, by)


def enable(store: Store, name: str, *, by: str, now: datetime) -> None:
    user = get(store, name)
    if user.disabled:
        store.set_user_disabled(user.name, False, now, by)


def _last_admin(store: Store, user: UserRecord) -> bool:
    return not any(u.role == "admin" and not u.disabled and u.name != user.name for u in store.users())
