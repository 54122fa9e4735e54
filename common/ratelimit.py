"""Rate limits against guessing and flooding: logins, registrations, password
resets, upload token failures, new projects.

Counters live in Django's default cache, which every worker process shares: one
Redis (REDIS_URL) makes a limit hold across processes and machines, the
embedded default's disk cache across the processes of its one machine.

Each limit is a fixed window: at most ``limit`` hits per ``window_seconds``,
counted in a key named after the window's start. A burst straddling a window
boundary can reach twice the limit; in exchange a check is one cache read and
a hit one atomic increment (``add`` then ``incr`` is atomic on Redis and, as a
SQLite transaction each, on the disk cache), and the key expires on its own
with its window.

Identifiers (an IP address, a username, an e-mail address) go into keys only as
an HMAC under SECRET_KEY: the cache never holds them, nor a plain hash of them
that a dictionary of addresses would reverse.
"""

import ipaddress
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils.crypto import salted_hmac

from .http import error_response


@dataclass(frozen=True)
class RateLimit:
    scope: str
    limit: int
    window_seconds: int
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def _window(self) -> tuple[int, float]:
        """The current window's number and the seconds left in it."""
        now = self.clock()
        number = int(now // self.window_seconds)
        return number, (number + 1) * self.window_seconds - now

    def _key(self, number: int, identifiers: Iterable[str]) -> str:
        joined = "\x00".join(str(part) for part in identifiers)
        # The salt keeps this module's old name: a new one would reset every
        # counter in the shared cache while old and new machines run side by side.
        digest = salted_hmac("pypi_site.ratelimit", f"{self.scope}\x00{joined}").hexdigest()
        return f"ratelimit:{self.scope}:{number}:{digest}"

    def hit(self, *identifiers: str) -> int:
        """Count one attempt; the count so far in this window, this one included."""
        number, left = self._window()
        key = self._key(number, identifiers)
        # The key lives to its window's end (plus a second for clock skew
        # between machines); add() only creates it, incr() is atomic.
        timeout = math.ceil(left) + 1
        cache.add(key, 0, timeout)
        try:
            return cache.incr(key)
        except ValueError:
            # Expired between add() and incr(): this hit starts the count.
            cache.add(key, 1, timeout)
            return 1

    def take(self, *identifiers: str) -> int | None:
        """Count one attempt, then say whether it may go ahead: None, or the
        seconds until one may. Counting first makes it one atomic step, so of
        any number of attempts at once (threads, workers, machines) exactly
        ``limit`` go ahead; checking first would let every attempt that checks
        before the others count pass."""
        if self.hit(*identifiers) <= self.limit:
            return None
        return max(1, math.ceil(self._window()[1]))

    def exceeded(self, *identifiers: str) -> int | None:
        """Seconds until another attempt is allowed, or None if it is now."""
        number, left = self._window()
        if cache.get(self._key(number, identifiers), 0) < self.limit:
            return None
        return max(1, math.ceil(left))


def client_network(ip: str | None) -> str:
    """What a per-client limit counts for an address: an IPv4 address itself,
    an IPv6 address its /64. One IPv6 subscriber (a home line, a cloud VM) is
    routinely given a whole /64, so counting single addresses would give one
    client 2**64 allowances. An IPv4 address written as IPv6 (::ffff:a.b.c.d)
    is that IPv4 address. Anything else (no peer address) counts as itself."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ip or ""
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


def limit(name: str) -> RateLimit:
    """The configured limit called ``name`` (settings.RATELIMITS)."""
    hits, seconds = settings.RATELIMITS[name]
    return RateLimit(name, hits, seconds)


# Several limits on one attempt, e.g. a login counted per username and per IP:
# [(limit name, identifiers), ...].
Rules = list[tuple[str, list[str]]]


def limit_wait(rules: Rules) -> int | None:
    """Seconds until every limit of ``rules`` allows another attempt, or None."""
    waits = [wait for name, ids in rules if (wait := limit(name).exceeded(*ids)) is not None]
    return max(waits, default=None)


def limit_hit(rules: Rules) -> None:
    """Count one attempt against every limit of ``rules``."""
    for name, ids in rules:
        limit(name).hit(*ids)


def limit_take(rules: Rules) -> int | None:
    """Count one attempt against every limit of ``rules`` (RateLimit.take):
    None if it may go ahead, else the seconds until every limit allows one."""
    waits = [wait for name, ids in rules if (wait := limit(name).take(*ids)) is not None]
    return max(waits, default=None)


def try_again(retry_after: int) -> str:
    if retry_after < 120:
        return f"Try again in {retry_after} seconds."
    return f"Try again in {math.ceil(retry_after / 60)} minutes."


def too_many_requests(retry_after: int, reason: str = "Too many attempts.") -> HttpResponse:
    """429 with Retry-After; the reason and the wait in the reason phrase and the body."""
    return error_response(
        429, f"{reason} {try_again(retry_after)}", headers={"Retry-After": str(retry_after)}
    )
