"""The shared pool state's names in Redis and its conversions: keys under one hash tag, windows as durations (what
hosts send), Redis times on this host's clock (what hosts read back), a credential's hash parsed."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pool_service import ratelimit
from pool_service.selection import Account


@dataclass(frozen=True)
class Keys:
    """The Redis names of one cluster (prefix) as seen by one instance."""

    prefix: str
    instance: str

    @property
    def tag(self) -> str:
        return "{" + self.prefix + "}"

    @property
    def credentials(self) -> str:
        return f"{self.tag}:credentials"

    @property
    def instances(self) -> str:
        return f"{self.tag}:instances"

    @property
    def queues(self) -> str:
        """A hash: each instance's queue depth as of its last heartbeat (read against `instances`, the live ones)."""
        return f"{self.tag}:queues"

    @property
    def channel(self) -> str:
        return f"{self.tag}:changed"

    @property
    def credential_prefix(self) -> str:
        return f"{self.tag}:c:"

    @property
    def in_flight_prefix(self) -> str:
        return f"{self.tag}:inflight:"

    @property
    def in_flight(self) -> str:
        return self.in_flight_prefix + self.instance

    @staticmethod
    def field(backend: str, credential: str) -> str:
        return f"{backend}\n{credential}"

    def credential(self, backend: str, credential: str) -> str:
        return self.credential_prefix + self.field(backend, credential)


def relative_windows(windows: Sequence[ratelimit.Window], now: float) -> str:
    """Windows as JSON {name: [limit, remaining, seconds to reset or -1]}: durations travel, clocks do not."""
    return json.dumps({
        window.name: [window.limit, window.remaining,
                      -1 if window.reset_at is None else max(0.0, window.reset_at - now)]
        for window in windows
    })


def local_time(moment: float, redis_now: float) -> float:
    """A Redis time on this host's clock (0 stays 0: "no end")."""
    return moment - redis_now + time.time() if moment > 0 else moment


def split_field(field: str) -> tuple[str, str]:
    backend, _, credential = field.partition("\n")
    return backend, credential


@dataclass(frozen=True)
class SharedCredential:
    """A credential's hash as the snapshot script returns it, its times moved to this host's clock."""

    backend: str
    credential: str
    windows: tuple[ratelimit.Window, ...]
    cooldown_until: float
    exhausted_until: float
    quarantine_until: float
    in_flight: int
    chosen: int
    last_status: int

    @classmethod
    def parse(cls, field: str, state: dict[str, Any], redis_now: float) -> SharedCredential:
        def number(name: str) -> float:
            return float(state.get(name) or 0)

        backend, credential = split_field(field)
        windows = tuple(
            ratelimit.Window(name, float(limit), float(remaining),
                             None if reset < 0 else local_time(float(reset), redis_now))
            for name, (limit, remaining, reset) in sorted(json.loads(state.get("windows") or "{}").items())
        )
        cooldown, exhausted, quarantine = (local_time(number(name), redis_now)
                                           for name in ("cooldown_until", "exhausted_until", "quarantine_until"))
        return cls(backend, credential, windows, cooldown, exhausted, quarantine, int(number("in_flight")),
                   int(number("chosen")), int(number("last_status")))

    def account(self, now: float) -> Account:
        """Its Accounts row (as selection.Pool.snapshot words it)."""
        status = ("quarantined" if self.quarantine_until > now else "cooldown" if self.cooldown_until > now
                  else "exhausted" if self.exhausted_until > now else "ok")
        return Account(
            backend=self.backend, credential=self.credential, headroom=ratelimit.headroom(self.windows, now),
            status=status,
            cooldown_until=max((end for end in (self.cooldown_until, self.quarantine_until) if end > now),
                               default=0.0),
            in_flight=self.in_flight, windows=self.windows, chosen=self.chosen, last_status=self.last_status,
        )
