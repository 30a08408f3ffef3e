"""The address guard: which peers the crawler may connect to, checked where the connection is made.

Checking at connect time (not before the request) closes the gap where DNS answers differently
between a check and the connect; connecting to the very address checked closes the rest. Literal
addresses in URLs (also in redirects) are refused before any request by `Fetcher`, with the same
`is_forbidden_address`.

The resolver is injectable (`Resolver`), so that tests can give a name any A/AAAA answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port, timeout -> the addresses the host resolves to, in the order to try them
Resolver = Callable[[str, int, float | None], Awaitable[list[IPAddress]]]


class BlockedAddress(Exception):
    """A connection was refused by the address guard (the peer is not a public address)."""


# IPv6 ranges that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64 well-known prefix,
# RFC 4291 IPv4-compatible, RFC 2765 IPv4-translated): the IPv4 address is what is reached.
_EMBEDS_LOW_32 = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("::ffff:0:0:0/96"),
)
# Ranges that are never public whatever Python's `is_global` says (3.11 says True for them):
# RFC 8215 local-use NAT64 (translates into the operator's own IPv4 network), RFC 3879 site-local.
_NEVER_PUBLIC = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("fec0::/10"))


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, translated, compatible, NAT64, 6to4, Teredo)."""
    if ip.version == 4:
        return []
    assert isinstance(ip, ipaddress.IPv6Address)
    out: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        out.append(ip.ipv4_mapped)
    if any(ip in net for net in _EMBEDS_LOW_32):
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip.teredo is not None:
        out.extend(ip.teredo)  # the relay server and the (de-obfuscated) client
    return out


def is_forbidden_address(ip: IPAddress) -> bool:
    """True for addresses the crawler must never connect to.

    Forbidden: anything that is not global, multicast, site-local and local-use NAT64, and any
    IPv6 address whose embedded IPv4 address (NAT64, 6to4, Teredo, IPv4-mapped, -translated or
    -compatible forms) is itself forbidden: on an IPv6-only host with NAT64 that address is what
    the connection reaches.
    """
    return _forbidden(ip)


def _forbidden(ip: IPAddress) -> bool:
    if not ip.is_global or ip.is_multicast:
        return True
    if ip.version == 6 and any(ip in net for net in _NEVER_PUBLIC):
        return True
    return any(_forbidden(v4) for v4 in embedded_ipv4(ip))


async def system_resolver(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    """The host's addresses from the system resolver (getaddrinfo), without duplicates."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
    out: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip not in out:
            out.append(ip)
    return out


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves the host itself, refuses non-public addresses,
    then connects to the checked address. Installed through httpcore's public
    `AsyncConnectionPool(network_backend=...)`.

    `guard=False` keeps the resolver (so that tests can inject names) without the refusal.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend, resolver: Resolver = system_resolver, guard: bool = True):
        self._inner = inner
        self._resolve = resolver
        self._guard = guard

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        if self._guard:
            for ip in addresses:
                if is_forbidden_address(ip):
                    raise BlockedAddress(f"{host} resolves to the non-public address {ip}")
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are never used by the crawler")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
