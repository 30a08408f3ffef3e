"""Where the Graph API token comes from: an environment variable or a file only the crawler reads.

    load(meta_settings, environ) -> (Token | None, problem | None)

The token never lives in sources.yaml (settings refuse a `token:` key), never in a log line, an
error message, the inventory or a repr: `Token` prints as `Token(***)` and is revealed only where
the Authorization header is built. A token file must be a regular file that neither the group nor
others may read (mode 0600 or 0400); a looser one is refused, with the chmod that fixes it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

from crawler.settings import MetaSettings

MAX_TOKEN_FILE = 4096
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=|")


class Token:
    """A secret that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        """The token itself: only for the Authorization header."""
        return self._value

    def __repr__(self) -> str:
        return "Token(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _check(text: str, where: str) -> tuple[Token | None, str | None]:
    value = text.strip()
    if not value:
        return None, f"{where} is empty"
    if len(value) > 2048 or any(c not in _ALLOWED for c in value):
        return None, f"{where} does not hold an access token (one line of letters, digits and -._~+/=)"
    return Token(value), None


def load(meta: MetaSettings, environ: Mapping[str, str] | None = None) -> tuple[Token | None, str | None]:
    """The token named by `settings.meta`, or None and why it cannot be used (never the token)."""
    env = os.environ if environ is None else environ
    if meta.token_env:
        raw = env.get(meta.token_env)
        if raw is None:
            return None, f"the environment variable {meta.token_env} (settings.meta.token_env) is not set"
        return _check(raw, f"the environment variable {meta.token_env}")
    if meta.token_file:
        path = meta.token_file
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return None, f"the token file {path} (settings.meta.token_file) does not exist"
        except OSError as exc:
            return None, f"the token file {path} cannot be read ({exc.strerror or type(exc).__name__})"
        if not stat.S_ISREG(info.st_mode):
            return None, f"the token file {path} is not a regular file"
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            return None, (f"the token file {path} may be read by other users (mode {mode:04o}); refusing it: "
                          f"run `chmod 600 {path}`")
        if info.st_size > MAX_TOKEN_FILE:
            return None, f"the token file {path} is larger than a token ({info.st_size} bytes)"
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_TOKEN_FILE + 1)
        except OSError as exc:
            return None, f"the token file {path} cannot be read ({exc.strerror or type(exc).__name__})"
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            return None, f"the token file {path} does not hold an access token (not ASCII)"
        return _check(text, f"the token file {path}")
    return None, "no token source is configured (settings.meta.token_env or token_file)"
