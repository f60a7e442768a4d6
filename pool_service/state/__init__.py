"""Where the pool's state lives: `PoolState` is what the queue, the answers and the servicer use; `LocalPoolState`
keeps it in this process (the default), `pool_service.state.shared.RedisPoolState` in Redis for several hosts.

Both read their own clock (the shared one Redis's), and every time they return is on this host's clock."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from pool_service.selection import Account, Pool

# What a PoolState says of itself in /health: "local" (embedded), "shared" (Redis in use), "degraded" (Redis
# configured but unreachable: local state meanwhile).
LOCAL, SHARED, DEGRADED = "local", "shared", "degraded"

Changed = Callable[[str], None]  # told a backend whose availability may have changed elsewhere


class PoolState(Protocol):
    """The pool's state and the choices made from it (selection.Pool's rules, wherever the state lives)."""

    pool: Pool  # in this process: the state itself, or the copy a shared state falls back on

    async def start(self, changed: Changed) -> None:
        """Starts background work; `changed(backend)` is called when another host changed that backend."""

    async def close(self) -> None: ...

    def mode(self) -> str:
        """LOCAL, SHARED or DEGRADED."""

    def batch(self) -> AbstractAsyncContextManager[None]:
        """`async with state.batch():` the answers applied inside may reach the state's store together, at the
        end (a Report batch: one round trip to Redis instead of one per outcome)."""

    def announces_changes(self) -> bool:
        """True while every availability change this state makes reaches `changed` by itself (the shared state
        publishes through Redis), so whoever applied answers need not look again."""

    async def choose(self, backend: str, candidates: Sequence[str], exclude: Collection[str] = (),
                     request_id: str = "") -> str | None:
        """The candidate to use, counted in flight and leased to request_id; None when none can serve now."""

    async def available_at(self, backend: str, candidates: Sequence[str],
                           exclude: Collection[str] = ()) -> float | None:
        """When the first candidate outside exclude can serve (≤ now: now); None when all are excluded."""

    async def settle(self, request_id: str, backend: str, credential: str, status: int,
                     headers: Mapping[str, str]) -> bool:
        """Releases what request_id holds and applies its answer; False when it does not hold that credential."""

    async def apply(self, backend: str, credential: str, status: int, headers: Mapping[str, str],
                    chosen: bool = False) -> None:
        """Applies an answer of a credential the frontend chose itself (counted as chosen when `chosen`)."""

    async def unavailable(self) -> dict[tuple[str, str], float]:
        """Credentials that cannot serve now, with until when."""

    async def snapshot(self) -> list[Account]:
        """Every credential known, by backend then credential."""

    def note_queue_depth(self, depth: int) -> None:
        """The queue of this host now holds depth requests (a shared state tells the other hosts at its next
        heartbeat; no round trip here, on the queue's path)."""

    async def queue_depths(self) -> dict[str, int]:
        """The queue depth of every live instance sharing this state, this one's as it is now; {} when the state
        is not shared (local, or degraded: the caller has only its own)."""


class LocalPoolState:
    """The pool in this process: selection.Pool over the host's clock."""

    def __init__(self, pool: Pool | None = None) -> None:
        self.pool = pool or Pool()

    async def start(self, changed: Changed) -> None:
        return None

    async def close(self) -> None:
        return None

    def mode(self) -> str:
        return LOCAL

    def announces_changes(self) -> bool:
        return False

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        yield

    async def choose(self, backend: str, candidates: Sequence[str], exclude: Collection[str] = (),
                     request_id: str = "") -> str | None:
        return self.pool.choose(backend, candidates, time.time(), exclude, request_id)

    async def available_at(self, backend: str, candidates: Sequence[str],
                           exclude: Collection[str] = ()) -> float | None:
        return self.pool.available_at(backend, candidates, time.time(), exclude)

    async def settle(self, request_id: str, backend: str, credential: str, status: int,
                     headers: Mapping[str, str]) -> bool:
        return self.pool.settle(request_id, backend, credential, status, headers, time.time())

    async def apply(self, backend: str, credential: str, status: int, headers: Mapping[str, str],
                    chosen: bool = False) -> None:
        self.pool.apply(backend, credential, status, headers, time.time())
        if chosen:
            self.pool.state(backend, credential).chosen += 1

    async def unavailable(self) -> dict[tuple[str, str], float]:
        return self.pool.unavailable(time.time())

    async def snapshot(self) -> list[Account]:
        return self.pool.snapshot(time.time())

    def note_queue_depth(self, depth: int) -> None:
        return None  # the servicer reads its own queue

    async def queue_depths(self) -> dict[str, int]:
        return {}


def as_state(pool: Pool | PoolState) -> PoolState:
    """A PoolState for either (a bare Pool is kept in this process)."""
    return LocalPoolState(pool) if isinstance(pool, Pool) else pool
