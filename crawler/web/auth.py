"""Who may do what, and how a person proves who they are: roles, the one permission check,
passwords (argon2id), login names, and the login throttle.

    viewer     reads everything: the inventory, accounts, the report, the status page, the queue
    reviewer   a viewer who also decides notices (confirm, reject, correct the kind) and discovery's
               candidates (accept into sources.yaml, dismiss)
    admin      a reviewer who also manages users

`allowed(role, action)` is the one rule; every view asks it through `crawler.web.views.needs`.
Pure apart from the password hash (CPU only): the throttle takes an injected clock.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from crawler.errors import CrawlerError
from crawler.store.users import ROLES

# What each role may do. An action is a word the views ask about (`needs("review")`).
ACTIONS = {
    "viewer": frozenset({"read"}),
    "reviewer": frozenset({"read", "review", "discover"}),
    "admin": frozenset({"read", "review", "discover", "manage_users"}),
}
assert tuple(ACTIONS) == ROLES

NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
PASSWORD_MIN = 10  # characters; NIST SP 800-63B asks for at least 8 and no composition rules
PASSWORD_MAX = 1024  # a longer one is a denial-of-service attempt on the hash, not a password


def N_(message: str) -> str:
    """Marks a message for the catalogs; it is translated where it is shown (the web app)."""
    return message


class AuthError(CrawlerError):
    """A user name, role or password that cannot be used as given. `message` is the catalog's
    msgid and `values` its placeholders, so the web app can show it in Swedish."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values))
        self.message, self.values = message, values

    def text(self, gettext) -> str:
        return gettext(self.message).format(**self.values)


def allowed(role: str | None, action: str) -> bool:
    """May a user of `role` (None: nobody signed in) do `action`? The one permission rule."""
    return role in ACTIONS and action in ACTIONS[role]


def clean_name(name: str) -> str:
    """A login name as stored: trimmed and lower case; AuthError unless it is 1-64 of a-z 0-9 . _ @ -
    starting with a letter or digit (so two people can never look alike on a page)."""
    text = unicodedata.normalize("NFKC", (name or "").strip()).lower()
    if not NAME.match(text):
        raise AuthError(N_("{name!r} cannot be a user name: use 1-64 letters a-z, digits and . _ @ - "
                           "(an e-mail address works), starting with a letter or digit"), name=name)
    return text


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(N_("unknown role {role!r}; use one of {roles}"), role=role, roles=", ".join(ROLES))
    return role


def password_problem(password: str, name: str = "") -> AuthError | None:
    """Why a new password is refused, or None."""
    if len(password) < PASSWORD_MIN:
        return AuthError(N_("a password needs at least {n} characters"), n=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return AuthError(N_("a password has at most {n} characters"), n=PASSWORD_MAX)
    if name and password.strip().lower() == name.lower():
        return AuthError(N_("the password must not be the user name"))
    if len(set(password)) < 4:
        return AuthError(N_("the password repeats too few characters"))
    return None


# argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, t=3, p=4) unless a test sets cheaper
# ones here, so that its logins do not cost half a second of CPU each.
HASH_PARAMS: dict[str, int] = {}


class Passwords:
    """argon2id hashing with HASH_PARAMS (or the `params` given)."""

    def __init__(self, **params: int) -> None:
        self._hasher = PasswordHasher(**(params or HASH_PARAMS))
        self._dummy = self._hasher.hash("no such user, but the same work")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches the stored hash. Without a hash (no such user, no password
        set) the same work is done against a dummy, so the answer's timing tells nothing."""
        if len(password) > PASSWORD_MAX:
            return False
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True


# ------------------------------------------------------------------------------ the login throttle


@dataclass
class Throttle:
    """Failed logins counted per user name and per client address in a sliding window.

    After `per_user` failures for one name, or `per_address` from one address, within `window`
    seconds, further attempts are refused (even with the right password) until the oldest failure
    leaves the window. A successful login clears its name's failures. `clock` gives seconds
    (time.monotonic in the app; a test's own clock in tests). Memory is bounded: at most `keep`
    names and addresses are remembered, the stalest forgotten first.
    """

    clock: Callable[[], float]
    per_user: int = 5
    per_address: int = 20
    window: float = 900.0
    keep: int = 10_000
    _failures: dict[tuple[str, str], deque] = field(default_factory=dict)

    def retry_after(self, name: str, address: str) -> int | None:
        """Seconds until an attempt for `name` from `address` is allowed again; None: allowed now."""
        now = self.clock()
        waits = []
        for key, limit in ((("user", name), self.per_user), (("address", address), self.per_address)):
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append(times[len(times) - limit] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, name: str, address: str) -> None:
        now = self.clock()
        for key in (("user", name), ("address", address)):
            self._recent(key, now).append(now)
            self._failures[key] = self._failures.pop(key)  # most recently used last
        while len(self._failures) > self.keep:
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, name: str) -> None:
        self._failures.pop(("user", name), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
