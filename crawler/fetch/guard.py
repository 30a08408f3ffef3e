"""The address guard: which peers the crawler may connect to, checked where the connection is made.

Names are judged at connect time, on what the resolver answered (`transport.GuardedResolver`, in
the connection pool's resolver hook): that closes the gap where DNS answers differently between a
check and the connect, and the pool connects to the very addresses judged. Literal addresses in
URLs (also in redirects), in every spelling the system accepts, are refused before any request by
`Fetcher`, with the same `is_forbidden_address`.

The resolver is injectable (`Resolver`), so that tests can give a name any A/AAAA answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

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


def literal_address(host: str) -> IPAddress | None:
    """The address a host that *looks like* an IP literal stands for, else None (a name).

    aiohttp resolves nothing for a host made only of digits and dots, or holding a colon: it hands
    it to the system, which reads `2130706433`, `127.1` or `0177.0.0.1` as 127.0.0.1. Such hosts
    are judged here by what the system would connect to (inet_aton's reading); one that is no
    address at all raises ValueError.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if ":" not in host and not host.replace(".", "").isdigit():
        return None
    if ":" in host:
        raise ValueError(f"{host!r} is not an IP address")
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise ValueError(f"{host!r} is not an IP address") from None


async def system_resolver(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    """The host's addresses from the system resolver (getaddrinfo), without duplicates.

    Raises socket.gaierror when the name does not resolve, TimeoutError after `timeout` seconds.
    """
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip not in out:
            out.append(ip)
    return out
