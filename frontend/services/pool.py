"""The frontend's side of pool_service: the credential chosen locally when pool_service's pushed availability
allows it, else Acquire; outcomes streamed off the hot path (frontend.services.reporter, journaled in
$DARIO_HOME/run/journal until pool_service acknowledges them)."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import time
from collections.abc import Mapping, Sequence
from typing import TypeVar

import grpc

from dario.grpc_client import CHANNEL_OPTIONS, unix_target
from dario.v1 import pool_pb2, pool_pb2_grpc
from frontend import bounds
from frontend.error_mapping import from_acquire_error, from_rpc_error
from frontend.errors import ServiceUnavailable
from frontend.services.journal import Journal
from frontend.services.reporter import BATCH_WAIT_SECONDS, SERVICE, OutcomeReporter
from pool_service import ratelimit  # pure: the header parser pool_service ranks with, so both rank alike

# After an answer that fails over (429, 401/403, 5xx) a pool's credentials go through Acquire until pool_service's
# next availability push, or this long: the push that rests the credential may be on its way.
DISTRUST_SECONDS = 1.0

JOURNAL_FOLDER = "journal"  # beside the pool socket, in $DARIO_HOME/run


class PoolClient:
    """Owns the channel to pool_service, the Acquire call and the outcome reporter."""

    def __init__(self, socket_path: str, timeout: float, queue_timeout: float = 60.0,
                 journal_folder: pathlib.Path | None = None, local_pools: bool = True) -> None:
        self.socket_path = socket_path
        # False when pools are shared by several hosts ([cluster] redis): a pool's credential is then chosen by
        # pool_service, whose view (headroom, in-flight counts) is every host's; a lone credential still locally.
        self.local_pools = local_pools
        self.timeout = timeout
        self.queue_timeout = queue_timeout + timeout  # Acquire may wait in pool_service's queue
        self.channel = grpc.aio.insecure_channel(unix_target(socket_path), options=CHANNEL_OPTIONS)
        self.stub = pool_pb2_grpc.PoolStub(self.channel)
        journal_folder = journal_folder or pathlib.Path(socket_path).parent / JOURNAL_FOLDER
        self.reporter = OutcomeReporter(self.stub, Journal(journal_folder),
                                        batch_wait=BATCH_WAIT_SECONDS if local_pools else 0.0)
        # Pushed by pool_service: credentials that cannot serve now, and until when. None until the first push;
        # kept while pool_service restarts (a backend's only credential stays usable meanwhile).
        self.unavailable: dict[tuple[str, str], float] | None = None
        self.local_choices = 0  # requests served by a backend's lone credential without Acquire
        self.local_pool_choices = 0  # requests whose credential of a pool the frontend chose itself
        # A pool's credentials as this frontend saw them answer: rate-limit windows, and requests sent whose answer
        # has not come yet. Only for backends with two or more credentials.
        self.rates: dict[tuple[str, str], ratelimit.RateState] = {}
        self.pending: dict[tuple[str, str], int] = {}
        self.distrusted: dict[str, float] = {}  # backend: monotonic time until which its pool goes through Acquire
        self._watcher: asyncio.Task[None] | None = None

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
        """The credential to use without a round trip, or None for Acquire. A lone credential that pool_service said
        nothing against: there is nothing to choose. A pool: the one with the most headroom in the rate-limit
        headers this frontend saw, then the fewest requests awaiting an answer, among those pool_service's push
        says can serve (as pool_service's own choice ranks them); Acquire when any has no headroom left (its
        queue waits for a reset), after a failover, and for a moment after a failed answer. Its answer reaches
        pool_service with the outcome (`local`)."""
        if tried or self.unavailable is None:
            return None
        now = time.time()
        if len(candidates) == 1:
            if self.unavailable.get((backend, candidates[0]), 0.0) > now:
                return None  # cooling down or exhausted: Acquire queues the request or answers 429
            self.local_choices += 1
            return candidates[0]
        if not candidates or not self.local_pools or self.distrusted.get(backend, 0.0) > time.monotonic():
            return None
        best, best_rank = None, (0.0, 0)
        for credential in candidates:
            key = (backend, credential)
            if self.unavailable.get(key, 0.0) > now:
                continue
            rate = self.rates.get(key)
            room = rate.headroom(now) if rate is not None else 1.0
            if room <= 0.0:
                return None  # a window is spent: pool_service's queue decides, as it would
            rank = (-room, self.pending.get(key, 0))
            if best is None or rank < best_rank:
                best, best_rank = credential, rank
        if best is not None:
            self.pending[(backend, best)] = self.pending.get((backend, best), 0) + 1
            self.local_pool_choices += 1
        return best

    def resent(self, backend: str, credential: str) -> None:
        """A request chosen locally goes to the same credential once more (its first answer was counted): it
        awaits an answer again."""
        key = (backend, credential)
        self.pending[key] = self.pending.get(key, 0) + 1

    def answered(self, backend: str, credential: str, local: bool, status: int,
                 headers: Mapping[str, str] | None) -> None:
        """What the upstream said to a request on a pool's credential (headers None: no answer), for the next local
        choice: its rate-limit windows, one request fewer awaiting an answer, distrust after a failed one."""
        key = (backend, credential)
        if local and self.pending.get(key, 0) > 0:
            self.pending[key] -= 1
        if headers:
            self.rates.setdefault(key, ratelimit.RateState()).update(ratelimit.parse(headers, time.time()))
        if status in (0, 401, 403, 429) or status >= 500:
            self.distrusted[backend] = time.monotonic() + DISTRUST_SECONDS

    async def _watch_availability(self) -> None:
        while True:
            with contextlib.suppress(grpc.RpcError):
                async for snapshot in self.stub.WatchAvailability(pool_pb2.WatchAvailabilityRequest()):
                    self.unavailable = {(item.backend, item.credential): item.until for item in snapshot.unavailable}
                    self.distrusted.clear()  # pool_service has taken in what made the frontend distrust its view
            await asyncio.sleep(0.2)

    async def acquire(self, backend: str, candidates: tuple[str, ...], request_id: str, model: str,
                      tried: Sequence[pool_pb2.Attempt] = ()) -> pool_pb2.AcquireResponse:
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


Request = TypeVar("Request")
Response = TypeVar("Response")


async def call_admin(client: PoolClient, method: grpc.aio.UnaryUnaryMultiCallable[Request, Response],
                     request: Request, deadline: float = 10.0) -> Response:
    """An admin RPC of pool_service (Accounts, Analytics; a method of client.stub): not on the request path, its
    own deadline (at least the client's)."""
    try:
        return await method(request, timeout=max(client.timeout, deadline))
    except grpc.RpcError as error:
        raise from_rpc_error(error, SERVICE, client.socket_path, client.channel) from None
