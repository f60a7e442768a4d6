"""The queue of Acquire: a request no credential has room for waits here, bounded in number and in time, until
one recovers; past those bounds it is refused at once, with the retry-after that will work.

Plain asyncio over a PoolState (pool_service.state): no gRPC, so it can be driven by tests without a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pool_service.selection import Pool
from pool_service.state import PoolState, as_state

# A queued request gives up this long before the client's deadline, so the refusal (with retry-after) arrives.
DEADLINE_MARGIN = 0.05
# Timers may fire a hair before a cooldown's wall-clock end; waking this much later avoids a spin.
CLOCK_SLACK = 0.005


class Refused(Exception):
    """No candidate can serve in time: the client gets a 429, with retry_after seconds when one will recover."""

    def __init__(self, message: str, retry_after: int | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Granted:
    """The credential a request is to use, and how long it waited for it in the queue."""

    credential: str
    queued_ms: float = 0.0


class Queue:
    """Requests waiting for a credential, at most max_depth of them, each at most max_seconds.

    `changed(backend)` wakes the requests waiting on that backend (an answer released or rested a credential);
    they also wake by themselves when the first candidate's cooldown or window ends."""

    def __init__(self, pool: Pool | PoolState, max_seconds: float, max_depth: int) -> None:
        self.state = as_state(pool)
        self.max_seconds = max_seconds
        self.max_depth = max_depth
        self.depth = 0  # requests waiting now
        self._changed: dict[str, asyncio.Event] = {}  # per backend, set (and replaced) when its state changes

    def changed(self, backend: str) -> None:
        """The pool state of backend changed: its waiting requests look again."""
        if (event := self._changed.pop(backend, None)) is not None:
            event.set()

    async def acquire(self, backend: str, candidates: Sequence[str], request_id: str = "",
                      tried: Collection[str] = (), tried_summary: str = "",
                      time_remaining: float | None = None) -> Granted:
        """A credential of candidates outside tried: at once when one can serve, else after waiting for one.

        tried_summary ("k1:429 k2:503") says what the tried ones answered, for the refusal when no other is left;
        time_remaining is the client's own deadline in seconds (None: none). Raises Refused."""
        if (credential := await self.state.choose(backend, candidates, tried, request_id)) is not None:
            return Granted(credential)
        if await self.state.available_at(backend, candidates, exclude=tried) is None:
            # Every credential failed this very request: no point waiting, the frontend tries the fallbacks.
            raise await self.refusal(backend, candidates, (), f"every credential of backend {backend!r} was tried: "
                                                        f"{tried_summary}")
        return await self._wait(backend, candidates, request_id, tried, time_remaining)

    async def _wait(self, backend: str, candidates: Sequence[str], request_id: str, tried: Collection[str],
                    time_remaining: float | None) -> Granted:
        limited = (
            f"all {len(candidates)} credentials of backend {backend!r} are"
            if len(candidates) > 1
            else f"the only credential of backend {backend!r} is"
        ) + " rate-limited"
        if self.depth >= self.max_depth:
            raise await self.refusal(backend, candidates, tried, f"{limited}; the queue is full ({self.max_depth})")
        # Give up a little before the client's deadline, so it gets retry-after rather than a bare timeout.
        wait = self.max_seconds if time_remaining is None else min(self.max_seconds,
                                                                   time_remaining - DEADLINE_MARGIN)
        now = time.time()
        recovers_at = await self.state.available_at(backend, candidates, exclude=tried)
        if recovers_at is not None and recovers_at - now > wait:
            # Nothing recovers within the queue's window (a reset minutes away): waiting would only hold the
            # client; it gets the 429 now, with the retry-after that will work.
            raise await self.refusal(backend, candidates, tried, f"{limited}; the first recovers in "
                                                           f"{recovers_at - now:.0f}s, past the queue's {wait:.0f}s")
        started = time.monotonic()
        self.depth += 1
        self.state.note_queue_depth(self.depth)
        try:
            while (left := started + wait - time.monotonic()) > 0:
                changed = self._changed.setdefault(backend, asyncio.Event())
                now = time.time()
                recovers_in = (await self.state.available_at(backend, candidates, exclude=tried) or now) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(left, recovers_in + CLOCK_SLACK))
                credential = await self.state.choose(backend, candidates, tried, request_id)
                if credential is not None:
                    return Granted(credential, (time.monotonic() - started) * 1000)
        finally:
            self.depth -= 1
            self.state.note_queue_depth(self.depth)
        raise await self.refusal(backend, candidates, tried,
                                 f"{limited}; waited {time.monotonic() - started:.0f}s for one to recover")

    async def refusal(self, backend: str, candidates: Sequence[str], exclude: Collection[str],
                      message: str) -> Refused:
        """Refused, with retry-after (whole seconds, at least 1) when a candidate outside exclude will recover."""
        available_at = await self.state.available_at(backend, candidates, exclude=exclude)
        now = time.time()
        retry_after = max(1, math.ceil(available_at - now)) if available_at is not None and available_at > now \
            else None
        return Refused(message, retry_after)
