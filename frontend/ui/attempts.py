"""Failed logins to the dashboard (issue 14): a wrong DARIO_API_KEY may be tried only so often, per client address
and from all addresses together ([limits] login_*, dario.config.LoginLimits).

Each address keeps the times of its latest failures (at most `attempts` of them), and one list keeps the latest
failures of all addresses (at most `total_attempts`). A login is refused while either holds its limit of failures
within the last window_seconds: for as long as the oldest of those is younger than the window, so the limit decays
one failure at a time. A successful login clears its address's failures (not the global ones). The addresses are
kept in the order they last failed, and past `addresses` of them the longest quiet is forgotten.

Nothing here awaits: the caller reads the form first, then asks, compares and records in one step, so requests
in parallel cannot all pass the check before any of them is counted. The state is per frontend process."""

from __future__ import annotations

import collections
import ipaddress
import math
import time
from collections.abc import Callable

from dario.config import LoginLimits

IPV6_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64: its addresses count as one


def address_key(remote: str | None) -> str:
    """The address failures are counted under: the IPv4 address (an IPv4-mapped IPv6 one included) or the
    IPv6 /64; anything else (no peer address, a unix socket) as it is."""
    if not remote:
        return ""
    try:
        address = ipaddress.ip_address(remote.partition("%")[0])
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


class LoginAttempts:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # seconds, never going back (tests set a fake one)
        self._by_address: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()
        self._all: collections.deque[float] = collections.deque()

    def retry_after(self, remote: str | None, limits: LoginLimits) -> int:
        """Whole seconds until a login from this address is taken again; 0: now."""
        now = self.clock()
        key = address_key(remote)
        since = now - limits.window_seconds
        _forget_before(self._all, since)
        waits = []
        if len(self._all) >= limits.total_attempts:
            waits.append(self._all[-limits.total_attempts] - since)
        failures = self._by_address.get(key)
        if failures is not None:
            _forget_before(failures, since)
            if not failures:
                del self._by_address[key]
            elif len(failures) >= limits.attempts:
                waits.append(failures[-limits.attempts] - since)
        return max(1, math.ceil(max(waits))) if waits else 0

    def failed(self, remote: str | None, limits: LoginLimits) -> None:
        now = self.clock()
        key = address_key(remote)
        failures = self._by_address.pop(key, None) or collections.deque()
        self._by_address[key] = failures  # the most recent failure last
        failures.append(now)
        while len(failures) > limits.attempts:
            failures.popleft()
        while len(self._by_address) > limits.addresses:
            self._by_address.popitem(last=False)
        self._all.append(now)
        while len(self._all) > limits.total_attempts:
            self._all.popleft()

    def succeeded(self, remote: str | None) -> None:
        self._by_address.pop(address_key(remote), None)

    @property
    def addresses(self) -> int:
        """How many addresses are remembered."""
        return len(self._by_address)


def _forget_before(times: collections.deque[float], since: float) -> None:
    while times and times[0] <= since:
        times.popleft()
