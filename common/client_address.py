"""The client's address: the peer, or, behind trusted proxies, the address
they say they forwarded for.

Rate limits count per client address and events record it. Behind a proxy
(the edge, a load balancer) the peer is the proxy, so every client would share
one count. X-Forwarded-For is what each proxy appends the address of its own
peer to; only proxies listed in TRUSTED_PROXIES are believed, since anyone can
send the header. It is read right to left: the rightmost entries were written
by our proxies, and the first address that is not one of them is the client.
Everything to its left was written by the client or proxies we don't know.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _parse(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # An IPv4 client seen over IPv6 (::ffff:a.b.c.d) is that IPv4 address.
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(request: HttpRequest) -> str | None:
    """The address of the client that sent ``request``, None if unknown."""
    peer = request.META.get("REMOTE_ADDR") or ""
    candidate = _parse(peer)
    if candidate is None:
        return peer or None
    networks = _networks(tuple(settings.TRUSTED_PROXIES))

    def trusted(address: Address) -> bool:
        return any(address in network for network in networks)

    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = reversed(forwarded.split(",")) if forwarded else ()
    for hop in hops:
        if not trusted(candidate):
            break
        address = _parse(hop)
        if address is None:
            # Garbage a trusted proxy passed on: nothing left of it can be
            # believed; the last address a trusted proxy vouched for stands.
            break
        candidate = address
    return str(candidate)
