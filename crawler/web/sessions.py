"""Signed session cookies, server-side sessions, CSRF tokens, and who the client is behind a proxy.

A session cookie is `token.signature`: a random 32-byte token and its HMAC-SHA256 under the app's
key. The store keeps only the token's SHA-256, so a copy of the inventory signs nobody in, and a
cookie whose signature fails is dropped before the store is asked. Cookies are HttpOnly,
SameSite=Lax, and Secure whenever the request came over HTTPS (directly or from a trusted proxy
that says so in X-Forwarded-Proto).

CSRF: every form carries `csrf_token` = HMAC(key, "csrf:" + the session's token), or, before a
login, of a random value in a separate cookie (the double-submit pattern), so a page of another
site can neither read nor forge it. The key is the file `<inventory>.web-key` (0600, made on first
start) or CRAWLER_WEB_SECRET; changing it signs everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SESSION_COOKIE = "crawler_session"
CSRF_COOKIE = "crawler_csrf"  # before a login: the seed of the login form's token
SECRET_ENV = "CRAWLER_WEB_SECRET"


def load_key(db_path: str, environ: dict[str, str] | None = None) -> bytes:
    """The signing key: CRAWLER_WEB_SECRET, else `<inventory>.web-key`, made (0600) when missing."""
    env = os.environ if environ is None else environ
    if env.get(SECRET_ENV):
        return env[SECRET_ENV].encode()
    path = Path(f"{db_path}.web-key")
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    except ValueError:
        raise ValueError(f"{path} is not a key written by crawler web; remove it (everyone is signed out)") from None
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps of a session's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(key: bytes, token: str) -> str:
    """The cookie's value for a session token."""
    return f"{token}.{_mac(key, 'session:' + token)}"


def unsign(key: bytes, value: str | None) -> str | None:
    """The token of a signed cookie value, None when missing or forged."""
    if not value or value.count(".") != 1 or len(value) > 200:
        return None
    token, mac = value.split(".")
    return token if hmac.compare_digest(mac, _mac(key, "session:" + token)) else None


def csrf_token(key: bytes, seed: str) -> str:
    """The token a form must send back, for a session token (or a pre-login seed)."""
    return _mac(key, "csrf:" + seed)


def csrf_ok(key: bytes, seed: str | None, sent: str | None) -> bool:
    return bool(seed) and bool(sent) and hmac.compare_digest(csrf_token(key, seed), sent)


# ------------------------------------------------------------------------------ the client


@dataclass(frozen=True)
class Client:
    """Who is asking: their address, whether they came over HTTPS, and whether through a trusted proxy."""

    address: str
    https: bool
    via_proxy: bool


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _trusted(address: str, proxies) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client(peer: str | None, scheme: str, headers, proxies) -> Client:
    """The client of a request. Only a peer in `proxies` is believed about X-Forwarded-For (its
    right-most address that is not itself a trusted proxy) and X-Forwarded-Proto."""
    peer = peer or ""
    if not proxies or not _trusted(peer, proxies):
        return Client(peer, scheme == "https", False)
    address = peer
    forwarded = [a.strip() for a in ",".join(headers.getlist("x-forwarded-for")).split(",") if a.strip()]
    for hop in reversed(forwarded):
        address = hop
        if not _trusted(hop, proxies):
            break
    proto = (headers.get("x-forwarded-proto") or scheme).split(",")[0].strip().lower()
    return Client(address, proto == "https", True)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
