"""Which credential of a backend a request should use (pure): the most rate-limit headroom, then fewest in flight.

Every method takes `now` (unix seconds), so the pool's state can be driven by tests without a clock.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from pool_service import ratelimit

# A 401/403 rests a credential this long, doubling per consecutive refusal up to QUARANTINE_MAX.
QUARANTINE_BASE = 30.0
QUARANTINE_MAX = 1800.0
# Requests holding a credential that pool_service keeps track of; far above any real concurrency.
MAX_LEASES = 100_000


class NoCandidates(Exception):
    """The backend has no credential to choose from."""


@dataclass
class CredentialState:
    """What the pool knows of one (backend, credential)."""

    rate: ratelimit.RateState = field(default_factory=ratelimit.RateState)
    in_flight: int = 0
    cooldown_until: float = 0.0  # after a 429
    exhausted_until: float = 0.0  # a window at 0: until its reset, or the upstream's retry-after
    quarantine_until: float = 0.0  # after a 401/403
    refusals: int = 0  # consecutive 401/403 answers
    chosen: int = 0
    last_status: int = 0

    def ready_at(self) -> float:
        """When its rate limits let the credential serve again (at or before now: it can serve now)."""
        return max(self.cooldown_until, self.exhausted_until)

    def status(self, now: float) -> str:
        if self.quarantine_until > now:
            return "quarantined"
        if self.cooldown_until > now:
            return "cooldown"
        return "exhausted" if self.exhausted_until > now else "ok"


@dataclass(frozen=True)
class Account:
    """One credential's state as shown by Accounts (GET /accounts)."""

    backend: str
    credential: str
    headroom: float
    status: str
    cooldown_until: float  # end of the cooldown or quarantine; 0.0 when none
    in_flight: int
    windows: tuple[ratelimit.Window, ...]
    chosen: int
    last_status: int


class Pool:
    """Per (backend, credential) state, the choice made from it, and the answers that change it.

    A request id holds at most one credential (a lease) until `settle` releases it, so an answer
    repeated (an earlier attempt listed again, an outcome resent) is counted once.
    """

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], CredentialState] = {}
        self._leases: dict[str, tuple[str, str]] = {}  # request id -> (backend, credential), oldest first

    def state(self, backend: str, credential: str) -> CredentialState:
        return self._states.setdefault((backend, credential), CredentialState())

    def choose(
        self, backend: str, candidates: Sequence[str], now: float, exclude: Collection[str] = (), request_id: str = ""
    ) -> str | None:
        """The candidate to use, counted in flight (and leased to request_id); None when none outside exclude can
        serve now. Most headroom wins, then fewest in flight, then catalog order. A quarantined credential is
        chosen only when no other can serve now: waiting for it would hide the upstream's own 401/403, and its
        answer ends the quarantine as soon as the credential is fixed."""
        if not candidates:
            raise NoCandidates(f"backend {backend!r} has no credentials")
        states = {credential: self.state(backend, credential) for credential in candidates}
        ready = [
            credential for credential, state in states.items() if credential not in exclude and state.ready_at() <= now
        ]
        if not ready:
            return None
        ready = [credential for credential in ready if states[credential].quarantine_until <= now] or ready

        def rank(credential: str) -> tuple[float, int]:
            return -states[credential].rate.headroom(now), states[credential].in_flight

        chosen = min(ready, key=rank)  # min() keeps the first of equal ranks: full ties go to catalog order
        states[chosen].in_flight += 1
        states[chosen].chosen += 1
        if request_id:
            self._lease(request_id, (backend, chosen))
        return chosen

    def hold(self, backend: str, credential: str, request_id: str = "") -> None:
        """Counts a credential chosen elsewhere (by a shared pool state) in flight here, leased to request_id, as
        `choose` would have: this pool stays the lease table and the state to fall back on."""
        state = self.state(backend, credential)
        state.in_flight += 1
        state.chosen += 1
        if request_id:
            self._lease(request_id, (backend, credential))

    def adopt(self, backend: str, credential: str, windows: Sequence[ratelimit.Window], cooldown_until: float,
              exhausted_until: float, quarantine_until: float) -> None:
        """Takes in what a shared pool state says of a credential (its windows, when its rests end; this host's
        clock), so this pool, the fallback, knows what other hosts learned (the shared state already holds what this
        host answered: its view replaces this one's). In-flight counts and leases stay this process's."""
        state = self.state(backend, credential)
        state.rate.update(ratelimit.Observation(tuple(windows), None))
        state.cooldown_until = cooldown_until
        state.exhausted_until = exhausted_until
        state.quarantine_until = quarantine_until

    def in_flight(self) -> dict[tuple[str, str], int]:
        """The credentials this process holds for requests now, with how many each."""
        return {key: state.in_flight for key, state in self._states.items() if state.in_flight > 0}

    def states(self) -> dict[tuple[str, str], CredentialState]:
        """Every (backend, credential) seen so far (a view: read, do not change)."""
        return self._states

    def available_at(
        self, backend: str, candidates: Sequence[str], now: float, exclude: Collection[str] = ()
    ) -> float | None:
        """The earliest time a candidate outside exclude can serve (≤ now: one can now); None if all are excluded."""
        return min(
            (self.state(backend, credential).ready_at() for credential in candidates if credential not in exclude),
            default=None,
        )

    def settle(
        self, request_id: str, backend: str, credential: str, status: int, headers: Mapping[str, str], now: float
    ) -> bool:
        """Releases the credential request_id holds and applies its answer; False (nothing done) when the request
        does not hold that credential. Without a request id, releases and applies unconditionally."""
        if request_id:
            if self._leases.get(request_id) != (backend, credential):
                return False
            del self._leases[request_id]
        self.release(backend, credential)
        self.apply(backend, credential, status, headers, now)
        return True

    def apply(self, backend: str, credential: str, status: int, headers: Mapping[str, str], now: float) -> None:
        """Takes in an upstream answer: its rate-limit headers (any status), then what its status means.

        5xx and 0 (connection error, timeout) only record the status: the frontend moves on to the next
        credential for that request anyway, and a flaky upstream should not empty the pool.
        """
        state = self.state(backend, credential)
        observation = ratelimit.parse(headers, now)
        state.rate.update(observation)
        state.last_status = status
        if observation.windows:
            state.exhausted_until = _exhausted_until(state.rate.windows, observation.retry_at, now)
        if status == 429:
            until = ratelimit.cooldown_until(observation, status, now) or now + ratelimit.DEFAULT_COOLDOWN
            state.cooldown_until = max(state.cooldown_until, until)
        elif status in (401, 403):
            state.refusals += 1
            backoff = min(QUARANTINE_MAX, QUARANTINE_BASE * 2 ** min(state.refusals - 1, 16))
            state.quarantine_until = max(state.quarantine_until, now + backoff)
        elif 200 <= status < 400:
            state.refusals = 0
            state.quarantine_until = 0.0

    def release(self, backend: str, credential: str) -> None:
        state = self._states.get((backend, credential))
        if state is not None and state.in_flight > 0:
            state.in_flight -= 1

    def _lease(self, request_id: str, key: tuple[str, str]) -> None:
        if (previous := self._leases.pop(request_id, None)) is not None:
            self.release(*previous)  # the request moved on without settling (e.g. to a fallback backend)
        self._leases[request_id] = key
        if len(self._leases) > MAX_LEASES:  # outcomes lost with a crashed frontend: forget the oldest
            self.release(*self._leases.pop(next(iter(self._leases))))

    def unavailable(self, now: float) -> dict[tuple[str, str], float]:
        """Credentials whose rate limits keep them from serving now (cooldown, exhausted window), with until when."""
        return {key: state.ready_at() for key, state in self._states.items() if state.ready_at() > now}

    def snapshot(self, now: float) -> list[Account]:
        """Every credential seen so far, by backend then credential."""
        return [
            Account(
                backend=backend,
                credential=credential,
                headroom=state.rate.headroom(now),
                status=state.status(now),
                cooldown_until=max(
                    (end for end in (state.cooldown_until, state.quarantine_until) if end > now), default=0.0
                ),
                in_flight=state.in_flight,
                windows=state.rate.windows,
                chosen=state.chosen,
                last_status=state.last_status,
            )
            for (backend, credential), state in sorted(self._states.items())
        ]


def _exhausted_until(windows: Sequence[ratelimit.Window], retry_at: float | None, now: float) -> float:
    """Until when windows at 0 keep a credential out: the upstream's retry-after when it gave one (providers
    refill continuously, so a window's full reset is often much later than the next free slot), else the
    latest reset of those windows; 0.0 when none is at 0."""
    resets = [
        window.reset_at
        for window in windows
        if window.remaining <= 0 and window.reset_at is not None and window.reset_at > now
    ]
    if not resets:
        return 0.0
    return retry_at if retry_at is not None else max(resets)
