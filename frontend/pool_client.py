"""The frontend's side of pool_service: Acquire on the hot path, and outcomes streamed off it.

Outcomes stay in memory until pool_service acknowledges them as persisted, so a pool_service restart loses none.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import grpc

from dario.grpc_server import CHANNEL_OPTIONS, unix_target
from dario.v1 import pool_pb2, pool_pb2_grpc
from frontend.errors import ApiError, ServiceUnavailable, from_rpc_error
from frontend.exchange import Exchange

log = logging.getLogger(__name__)

SERVICE = "pool_service"
BATCH_SIZE = 256
BATCH_WAIT_SECONDS = 0.05
MAX_PENDING = 200_000
EAGER_AFTER = 4 * BATCH_SIZE


class PoolClient:
    """Owns the channel to pool_service, the Acquire call and the outcome reporter."""

    def __init__(self, socket_path: str, timeout: float, queue_timeout: float = 60.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.queue_timeout = queue_timeout + timeout  # Acquire may wait in pool_service's queue
        self.channel = grpc.aio.insecure_channel(unix_target(socket_path), options=CHANNEL_OPTIONS)
        self.stub = pool_pb2_grpc.PoolStub(self.channel)
        self.reporter = OutcomeReporter(self.stub)
        # Pushed by pool_service: credentials that cannot serve now, and until when. None until the first push;
        # kept while pool_service restarts (a backend's only credential stays usable meanwhile).
        self.unavailable: dict[tuple[str, str], float] | None = None
        self.local_choices = 0
        self._watcher: asyncio.Task | None = None

    async def start(self) -> None:
        await self.reporter.start()
        self._watcher = asyncio.create_task(self._watch_availability())

    async def close(self, flush_seconds: float = 3.0) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.reporter.close(flush_seconds)
        await self.channel.close()

    def choose_locally(self, backend: str, candidates: tuple[str, ...], tried: list[pool_pb2.Attempt]) -> str | None:
        """The credential of a backend that has only one, when pool_service said nothing against it: there is
        nothing to choose, so no round trip (its answer still reaches pool_service with the outcome)."""
        if len(candidates) != 1 or tried or self.unavailable is None:
            return None
        if self.unavailable.get((backend, candidates[0]), 0.0) > time.time():
            return None  # cooling down or exhausted: Acquire queues the request or answers 429
        self.local_choices += 1
        return candidates[0]

    async def _watch_availability(self) -> None:
        while True:
            with contextlib.suppress(grpc.RpcError):
                async for snapshot in self.stub.WatchAvailability(pool_pb2.WatchAvailabilityRequest()):
                    self.unavailable = {(item.backend, item.credential): item.until for item in snapshot.unavailable}
            await asyncio.sleep(0.2)

    async def acquire(self, backend: str, candidates: tuple[str, ...], request_id: str, model: str,
                      tried: list[pool_pb2.Attempt] = ()) -> pool_pb2.AcquireResponse:
        """The one blocking round trip of a request (one more per failover): which credential to use.

        Raises PoolExhausted (a 429 with retry-after) when no credential can serve within the queue's deadline."""
        request = pool_pb2.AcquireRequest(
            backend=backend, candidates=candidates, request_id=request_id, model=model, tried=tried
        )
        if self.channel.get_state() != grpc.ChannelConnectivity.READY:
            # Rides through a restart of pool_service (supervisord brings it back in about a second), bounded
            # by the short deadline: only a connected pool_service may keep a request in its queue for long.
            try:
                await asyncio.wait_for(self.channel.channel_ready(), self.timeout)
            except TimeoutError:
                raise ServiceUnavailable(SERVICE, self.socket_path, "not running") from None
        try:
            return await self.stub.Acquire(request, timeout=self.queue_timeout, wait_for_ready=True)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise PoolExhausted(error.details() or "no credential has room", _retry_after(error)) from None
            raise from_rpc_error(error, SERVICE, self.socket_path) from None


async def call_admin(client: PoolClient, method: str, request: object) -> object:
    """An admin RPC of pool_service (Accounts, Analytics): not on the request path, short deadline."""
    try:
        return await getattr(client.stub, method)(request, timeout=max(client.timeout, 10.0))
    except grpc.RpcError as error:
        raise from_rpc_error(error, SERVICE, client.socket_path) from None


class PoolExhausted(ApiError):
    """Every credential of a backend is rate-limited (or was tried); the client may retry after retry_after s."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(429, message, code="rate_limited", headers={"retry-after": str(retry_after)})
        self.retry_after = retry_after


def _retry_after(error: grpc.RpcError) -> int:
    for key, value in error.trailing_metadata() or ():
        if key == "retry-after":
            with contextlib.suppress(ValueError):
                return max(1, int(float(value)))
    return 1


class OutcomeReporter:
    """Streams outcomes to pool_service in batches and keeps each until its batch is acknowledged."""

    def __init__(self, stub: pool_pb2_grpc.PoolStub) -> None:
        self.stub = stub
        self.pending: collections.deque[pool_pb2.Outcome] = collections.deque()
        self.dropped = 0
        self._in_flight: dict[int, list[pool_pb2.Outcome]] = {}
        self._sequence = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None

    @staticmethod
    def _outcome(item: pool_pb2.Outcome | Exchange) -> pool_pb2.Outcome:
        return item if isinstance(item, pool_pb2.Outcome) else item.outcome()

    def add(self, outcome: pool_pb2.Outcome | Exchange) -> None:
        """Queues an outcome (or a finished Exchange, turned into one with the next batch, after the client has its
        answer); never blocks and never waits for pool_service."""
        if len(self.pending) >= EAGER_AFTER:  # pool_service is behind or away: keep outcomes, not bodies
            outcome = self._outcome(outcome)
        if len(self.pending) >= MAX_PENDING:
            self.pending.popleft()
            self.dropped += 1
        self.pending.append(outcome)
        self._wakeup.set()

    @property
    def backlog(self) -> int:
        return len(self.pending) + sum(len(batch) for batch in self._in_flight.values())

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self, flush_seconds: float) -> None:
        deadline = time.monotonic() + flush_seconds
        while self.backlog and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.backlog:
            log.warning("stopping with %d outcomes not yet persisted by %s", self.backlog, SERVICE)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            stream = _Stream()
            try:
                async for acknowledgement in self.stub.Report(self._batches(stream)):
                    self._in_flight.pop(acknowledgement.sequence, None)
            except grpc.RpcError as error:
                log.debug("outcome stream ended: %s", error.code().name)
            finally:
                stream.ended = True
                self._requeue()
            await asyncio.sleep(0.2)

    def _requeue(self) -> None:
        """Puts batches that were sent but never acknowledged back in front, oldest first."""
        for sequence in sorted(self._in_flight, reverse=True):
            self.pending.extendleft(reversed(self._in_flight.pop(sequence)))
        if self.pending:
            self._wakeup.set()

    async def _batches(self, stream: _Stream) -> AsyncIterator[pool_pb2.ReportRequest]:
        """The request side of one Report call; it takes nothing more once that call has ended."""
        while True:
            if not self.pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                await asyncio.sleep(BATCH_WAIT_SECONDS)
            if stream.ended:
                return  # a later call sends what is pending; taking it here would strand it
            if not self.pending:
                continue
            batch = [self._outcome(self.pending.popleft()) for _ in range(min(BATCH_SIZE, len(self.pending)))]
            self._sequence += 1
            self._in_flight[self._sequence] = batch
            yield pool_pb2.ReportRequest(sequence=self._sequence, outcomes=batch)


class _Stream:
    """Whether one Report call has ended (shared by the call's reader and its request generator)."""

    ended = False
