"""The frontend's side of pool_service: Acquire on the hot path, and outcomes streamed off it
(frontend.services.reporter, journaled in $DARIO_HOME/run/journal until pool_service acknowledges them)."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import time

import grpc

from dario.grpc_server import CHANNEL_OPTIONS, unix_target
from dario.v1 import pool_pb2, pool_pb2_grpc
from frontend import bounds
from frontend.error_mapping import from_acquire_error, from_rpc_error
from frontend.errors import ServiceUnavailable
from frontend.services.journal import Journal
from frontend.services.reporter import SERVICE, OutcomeReporter

JOURNAL_FOLDER = "journal"  # beside the pool socket, in $DARIO_HOME/run


class PoolClient:
    """Owns the channel to pool_service, the Acquire call and the outcome reporter."""

    def __init__(self, socket_path: str, timeout: float, queue_timeout: float = 60.0,
                 journal_folder: pathlib.Path | None = None) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.queue_timeout = queue_timeout + timeout  # Acquire may wait in pool_service's queue
        self.channel = grpc.aio.insecure_channel(unix_target(socket_path), options=CHANNEL_OPTIONS)
        self.stub = pool_pb2_grpc.PoolStub(self.channel)
        journal_folder = journal_folder or pathlib.Path(socket_path).parent / JOURNAL_FOLDER
        self.reporter = OutcomeReporter(self.stub, Journal(journal_folder))
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
        # The model is informational here, but unbounded it could outgrow pool_service's 4 MiB message limit.
        request = pool_pb2.AcquireRequest(backend=backend, candidates=candidates, request_id=request_id,
                                          model=bounds.bounded(model, bounds.MODEL_CHARS), tried=tried)
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
            raise from_acquire_error(error, SERVICE, self.socket_path, self.channel) from None


async def call_admin(client: PoolClient, method: str, request: object, deadline: float = 10.0) -> object:
    """An admin RPC of pool_service (Accounts, Analytics): not on the request path, its own deadline (at least
    the client's)."""
    try:
        return await getattr(client.stub, method)(request, timeout=max(client.timeout, deadline))
    except grpc.RpcError as error:
        raise from_rpc_error(error, SERVICE, client.socket_path, client.channel) from None
