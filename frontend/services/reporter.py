"""Outcomes to pool_service: journaled before the client has its answer (frontend.services.journal), streamed in
batches bounded by count and bytes, and kept until acknowledged as persisted, so neither a pool_service restart nor a
frontend kill loses one. An outcome pool_service refuses is found by halving its batch and dropped (counted)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc

from dario.json_types import JsonObject
from dario.v1 import pool_pb2, pool_pb2_grpc
from frontend.exchange import Exchange
from frontend.services.journal import Journal, Segment

log = logging.getLogger(__name__)

SERVICE = "pool_service"
BATCH_SIZE = 256
# Well under the 4 MiB gRPC message limit pool_service receives (gRPC's default): bounded outcomes are
# well under 1 KiB, so a full batch is far below this anyway.
BATCH_BYTES = 1024 * 1024
MAX_OUTCOME_BYTES = 64 * 1024  # frontend.bounds keeps outcomes to a few KiB; one past this is dropped, not sent
# How long the first outcome waits for others to share its batch (fewer Report messages at low rates). With pools
# shared by several hosts the frontend does not wait: pool_service applies an answer's rate-limit headers to the
# shared view when its outcome arrives, and every host's next choice reads that view.
BATCH_WAIT_SECONDS = 0.05
MAX_PENDING = 200_000
RETRY_SECONDS = 0.2
# /health says "behind" (status degraded) when this many outcomes wait, or the oldest waited this long: a
# healthy stream acknowledges each batch within milliseconds, a pool_service restart within about a second.
BEHIND_BACKLOG = 10_000
BEHIND_SECONDS = 10.0
# pool_service refused a batch (too large for its message limit, or a field it cannot take): the oldest
# unacknowledged batch is sent in halves until the one outcome at fault is alone, and dropped. When gRPC's own
# write loses that race with the server's refusal the call ends INTERNAL instead: halved, never dropped.
REFUSED = (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT)
SUSPECT = (*REFUSED, grpc.StatusCode.INTERNAL)


@dataclass(slots=True)
class Entry:
    outcome: pool_pb2.Outcome
    size: int  # serialized bytes
    segment: Segment | None  # the journal file holding it; None when not journaled
    added: float  # monotonic


class OutcomeReporter:
    """Streams outcomes to pool_service in batches and keeps each until its batch is acknowledged."""

    def __init__(self, stub: pool_pb2_grpc.PoolAsyncStub, journal: Journal | None = None, *,
                 batch_bytes: int = BATCH_BYTES, max_outcome_bytes: int = MAX_OUTCOME_BYTES,
                 behind_seconds: float = BEHIND_SECONDS, behind_backlog: int = BEHIND_BACKLOG,
                 batch_wait: float = BATCH_WAIT_SECONDS) -> None:
        self.stub = stub
        self.batch_wait = batch_wait
        self.journal = journal
        self.batch_bytes = batch_bytes
        self.max_outcome_bytes = max_outcome_bytes
        self.behind_seconds = behind_seconds
        self.behind_backlog = behind_backlog
        self.pending: collections.deque[Entry] = collections.deque()
        self.dropped = 0  # the oldest, when MAX_PENDING wait (pool_service away for very long)
        self.refused = 0  # too large to send, or refused by pool_service: dropped so the others go on
        self.replayed = 0  # outcomes a stopped frontend left in the journal, resent at start
        self._in_flight: dict[int, list[Entry]] = {}
        self._sequence = 0
        self._suspects = 0  # outcomes at the head of pending among which one was refused
        self._probe_size = BATCH_SIZE
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.on_outcome: Callable[[pool_pb2.Outcome], None] | None = None  # e.g. the access log

    def add(self, item: pool_pb2.Outcome | Exchange) -> None:
        """Journals and queues an outcome (a finished Exchange is turned into one now: its record is on disk before
        the answer's bytes leave); never waits for pool_service."""
        try:
            outcome = item if isinstance(item, pool_pb2.Outcome) else item.outcome()
            data = outcome.SerializeToString()
        except Exception:  # noqa: BLE001 — a record that cannot be built must not fail the request
            log.exception("could not build the outcome of a request; it is not recorded")
            self.refused += 1
            return
        if self.on_outcome is not None:
            try:  # after the answer's bytes have left (aiohttp writes a whole body once the handler returns)
                asyncio.get_running_loop().call_soon(self.on_outcome, outcome)
            except RuntimeError:  # no loop running (a test, a tool)
                self.on_outcome(outcome)
        if len(data) > self.max_outcome_bytes:
            self._refuse(Entry(outcome, len(data), None, 0.0), "too large to send")
            return
        segment = self.journal.append(data) if self.journal is not None else None
        if len(self.pending) >= MAX_PENDING:
            self._settle(self.pending.popleft())
            self.dropped += 1
        self.pending.append(Entry(outcome, len(data), segment, time.monotonic()))
        self._wakeup.set()

    @property
    def backlog(self) -> int:
        return len(self.pending) + sum(len(batch) for batch in self._in_flight.values())

    def health(self) -> JsonObject:
        """For /health: "behind" when outcomes wait too long or too many (decided by BEHIND_*)."""
        oldest = next(iter(self._in_flight.values()), None) or self.pending
        waited = time.monotonic() - oldest[0].added if oldest else 0.0
        backlog = self.backlog
        behind = backlog > self.behind_backlog or waited > self.behind_seconds
        journal = None if self.journal is None else {"errors": self.journal.errors, "skipped": self.journal.skipped}
        return {"state": "behind" if behind else "ok", "backlog": backlog, "oldest_seconds": round(waited, 3),
                "dropped": self.dropped, "refused": self.refused, "replayed": self.replayed, "journal": journal}

    async def start(self) -> None:
        """Opens the journal and queues, first, what a stopped frontend left in it."""
        if self.journal is not None:
            try:
                left = await asyncio.to_thread(self.journal.open)
            except OSError as error:
                log.warning("no outcome journal in %s (%s): outcomes are kept in memory only", self.journal.folder,
                            error)
                self.journal, left = None, []
            now = time.monotonic()
            replay = [Entry(outcome, outcome.ByteSize(), segment, now) for segment, outcomes in left
                      for outcome in outcomes]
            self.pending.extendleft(reversed(replay))
            self.replayed = len(replay)
            if replay:
                self._wakeup.set()
        self._task = asyncio.create_task(self._run())

    async def close(self, flush_seconds: float) -> None:
        deadline = time.monotonic() + flush_seconds
        while self.backlog and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.backlog:
            log.warning("stopping with %d outcomes not yet persisted by %s (kept in the journal for the next start)",
                        self.backlog, SERVICE)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.journal is not None:
            self.journal.close()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            stream, code = _Stream(), None
            try:
                async for acknowledgement in self.stub.Report(self._batches(stream)):
                    self._acknowledged(acknowledgement.sequence)
            except grpc.RpcError as error:
                code = error.code()
                log.debug("outcome stream ended: %s %s", code.name, error.details())
            finally:
                stream.ended = True
                if code in SUSPECT:
                    self._split_refused(code)
                self._requeue()
            await asyncio.sleep(RETRY_SECONDS)

    def _acknowledged(self, sequence: int) -> None:
        batch = self._in_flight.pop(sequence, None) or []
        for entry in batch:
            self._settle(entry)
        if self._suspects:
            self._suspects = max(0, self._suspects - len(batch))
            if not self._suspects:
                self._probe_size = BATCH_SIZE

    def _split_refused(self, code: grpc.StatusCode) -> None:
        """pool_service refused the oldest unacknowledged batch: drop it if it is one outcome, else send it in
        halves (pool_service reads batches in order, so the bad outcome is in that batch)."""
        if not self._in_flight:
            return
        sequence = next(iter(self._in_flight))
        batch = self._in_flight[sequence]
        if len(batch) == 1 and code in REFUSED:
            del self._in_flight[sequence]
            self._refuse(batch[0], f"refused by {SERVICE} ({code.name})")
            self._suspects = max(0, self._suspects - 1)
            if not self._suspects:
                self._probe_size = BATCH_SIZE
        elif len(batch) > 1:
            self._suspects = len(batch)  # they are at the head of pending once requeued
            self._probe_size = max(1, len(batch) // 2)

    def _refuse(self, entry: Entry, reason: str) -> None:
        self.refused += 1
        self._settle(entry)
        log.warning("dropped the outcome of request %s (%d bytes, model %.40r…): %s; %d dropped so far",
                    entry.outcome.request_id[:64], entry.size, entry.outcome.model, reason, self.refused)

    def _settle(self, entry: Entry) -> None:
        if self.journal is not None:
            self.journal.settle(entry.segment)

    def _requeue(self) -> None:
        """Puts batches that were sent but never acknowledged back in front, oldest first."""
        for sequence in sorted(self._in_flight, reverse=True):
            self.pending.extendleft(reversed(self._in_flight.pop(sequence)))
        if self.pending:
            self._wakeup.set()

    def _take_batch(self) -> list[Entry]:
        """The next batch: at most BATCH_SIZE outcomes and batch_bytes (at least one), fewer while probing."""
        limit = min(self._probe_size, self._suspects) if self._suspects else BATCH_SIZE
        batch: list[Entry] = []
        size = 0
        while self.pending and len(batch) < limit:
            if batch and size + self.pending[0].size > self.batch_bytes:
                break
            entry = self.pending.popleft()
            batch.append(entry)
            size += entry.size
        return batch

    async def _batches(self, stream: _Stream) -> AsyncIterator[pool_pb2.ReportRequest]:
        """The request side of one Report call; it takes nothing more once that call has ended."""
        while True:
            if not self.pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                await asyncio.sleep(self.batch_wait)
            if stream.ended:
                return  # a later call sends what is pending; taking it here would strand it
            if not self.pending:
                continue
            batch = self._take_batch()
            self._sequence += 1
            self._in_flight[self._sequence] = batch
            yield pool_pb2.ReportRequest(sequence=self._sequence, outcomes=[entry.outcome for entry in batch])


class _Stream:
    """Whether one Report call has ended (shared by the call's reader and its request generator)."""

    ended = False
