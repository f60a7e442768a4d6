"""Upstream answers applied to the pool once each (an Acquire's earlier attempts, Report's outcomes; a resent one
is skipped), and the set of credentials that cannot serve, pushed to the frontends whenever it changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from pool_service.queue import Queue
from pool_service.selection import Pool
from pool_service.state import PoolState, as_state

LOCAL_ATTEMPTS_KEPT = 10_000
# A frontend resends at most its unacknowledged outcomes (a journal replay after a kill): far fewer than this.
REPORTED_KEPT = 50_000


@dataclass(frozen=True)
class Answer:
    """What one upstream attempt with a credential got back."""

    credential: str
    status: int  # HTTP status; 0 for a connection error or timeout
    headers: Mapping[str, str] = field(default_factory=dict)  # its rate-limit headers, names lower-cased
    error_type: str = ""
    local: bool = False  # the frontend chose the credential itself: apply the answer, release nothing


def summary(tried: Sequence[Answer]) -> str:
    """What each attempt got, for a refusal: "k1:429 k2:503 k3:timeout"."""
    return " ".join(f"{attempt.credential}:{attempt.status or attempt.error_type or 0}" for attempt in tried)


class Availability:
    """Which credentials cannot serve now, and until when; `changes` yields it now and after every change."""

    def __init__(self, pool: Pool | PoolState) -> None:
        self.state = as_state(pool)
        self.unavailable: dict[tuple[str, str], float] = {}  # as last published
        self._changed = asyncio.Event()  # set (and replaced) when unavailable changes
        self._pending: asyncio.Task[None] | None = None  # publish_soon's publishing
        self._again = False  # a change arrived while it was publishing

    async def answered(self) -> None:
        """After answers were applied: publish, unless the state announces its changes by itself (then the
        announcement publishes, and a look now would be one more round trip to Redis on the request path)."""
        if not self.state.announces_changes():
            await self.publish()

    def publish_soon(self) -> None:
        """publish() from a callback (a change another host made): one publishing at a time, run again when a
        change arrived meanwhile (what it read may predate that change)."""
        if self._pending is not None and not self._pending.done():
            self._again = True
            return
        self._pending = asyncio.get_running_loop().create_task(self._publish_until_quiet())

    async def _publish_until_quiet(self) -> None:
        while True:
            self._again = False
            await self.publish()
            if not self._again:
                return

    async def publish(self) -> None:
        """Wakes the watchers when the set of unavailable credentials (or their ends) changed."""
        current = await self.state.unavailable()
        if current != self.unavailable:
            self.unavailable = current
            self._changed.set()
            self._changed = asyncio.Event()

    async def changes(self, stopping: asyncio.Event) -> AsyncIterator[dict[tuple[str, str], float]]:
        """The unavailable credentials now and after every change, until stopping."""
        await self.publish()
        while not stopping.is_set():
            changed = self._changed
            yield self.unavailable
            waits = {asyncio.ensure_future(changed.wait()), asyncio.ensure_future(stopping.wait())}
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()


class Answers:
    """Applies answers to the pool, wakes the queue of the backend they concern and publishes availability."""

    def __init__(self, pool: Pool | PoolState, queue: Queue, availability: Availability) -> None:
        self.state = as_state(pool)
        self.queue = queue
        self.availability = availability
        self._local_attempts: dict[tuple[str, str], None] = {}  # (request id, credential) already applied
        self._reported: dict[str, None] = {}  # request ids whose outcome was applied, oldest first

    async def attempts(self, request_id: str, backend: str, tried: Sequence[Answer]) -> None:
        """The earlier attempts an Acquire lists: each is released and applied once, however often it is listed."""
        for attempt in tried:
            if attempt.local:  # chosen by the frontend itself: nothing to release, its answer counted once
                if (request_id, attempt.credential) not in self._local_attempts:
                    self._local_attempts[(request_id, attempt.credential)] = None
                    await self.state.apply(backend, attempt.credential, attempt.status, attempt.headers)
                    while len(self._local_attempts) > LOCAL_ATTEMPTS_KEPT:
                        self._local_attempts.pop(next(iter(self._local_attempts)))
                continue
            # Only the attempt whose credential the request still holds counts: the others were settled by the
            # Acquire that followed them.
            await self.state.settle(request_id, backend, attempt.credential, attempt.status, attempt.headers)
        if tried:
            await self.availability.answered()
            self.queue.changed(backend)

    async def outcome(self, request_id: str, backend: str, answer: Answer, acquired: bool) -> None:
        """A request's final answer, from Report: its credential released (unless the frontend chose it itself)
        and the answer applied, once per request id. Call `availability.answered()` after a batch."""
        if not self._first_report(request_id):
            return  # sent again (requeued, or replayed from the frontend's journal): already counted
        if answer.local and answer.credential:
            await self.state.apply(backend, answer.credential, answer.status, answer.headers, chosen=True)
        elif acquired and await self.state.settle(request_id, backend, answer.credential, answer.status,
                                                  answer.headers):
            self.queue.changed(backend)

    def _first_report(self, request_id: str) -> bool:
        """False for a request id reported recently (analytics dedupes its rows by request id on its own)."""
        if not request_id:
            return True
        if request_id in self._reported:
            return False
        self._reported[request_id] = None
        if len(self._reported) > REPORTED_KEPT:
            self._reported.pop(next(iter(self._reported)))
        return True
