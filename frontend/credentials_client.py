"""The frontend's side of credential_service: the catalog kept current by a watch stream, and cached leases.

Leases are fetched when the catalog changes and renewed before they expire, so requests find them in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import grpc

from dario.catalog import Catalog, catalog_from_proto
from dario.grpc_server import CHANNEL_OPTIONS, unix_target
from dario.v1 import credentials_pb2, credentials_pb2_grpc
from frontend.errors import ApiError, ServiceUnavailable, from_rpc_error

log = logging.getLogger(__name__)

SERVICE = "credential_service"
RENEW_BEFORE_SECONDS = 300.0
RENEW_CHECK_SECONDS = 30.0


@dataclass(frozen=True)
class Lease:
    header_name: str
    header_value: str
    expires_at: float
    revision: int


class CredentialsClient:
    """Owns the channel to credential_service, the current Catalog and the lease cache."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.channel = grpc.aio.insecure_channel(unix_target(socket_path), options=CHANNEL_OPTIONS)
        self.stub = credentials_pb2_grpc.CredentialsStub(self.channel)
        self.catalog: Catalog | None = None
        self.connected = False
        self._leases: dict[tuple[str, str], Lease] = {}
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self._catalog_changed = asyncio.Event()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._watch()), asyncio.create_task(self._renew())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.channel.close()

    def require_catalog(self) -> Catalog:
        if self.catalog is None:
            raise ServiceUnavailable(SERVICE, self.socket_path, "no backend catalog received yet")
        return self.catalog

    async def wait_for_catalog(self, generation_above: int, timeout: float) -> bool:
        """Waits until a catalog newer than generation_above arrives (tests and the CLI use it)."""
        deadline = time.monotonic() + timeout
        while self.catalog is None or self.catalog.generation <= generation_above:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._catalog_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._catalog_changed.wait(), remaining)
        return True

    async def lease(self, backend: str, credential: str, revision: int) -> Lease:
        """The lease for a credential: from memory on the hot path, fetched only when cold or stale."""
        cached = self._leases.get((backend, credential))
        if cached is not None and cached.revision == revision and cached.expires_at > time.time():
            return cached
        return await self._fetch(backend, credential)

    async def _fetch(self, backend: str, credential: str) -> Lease:
        try:
            answer = await self.stub.Lease(
                credentials_pb2.LeaseRequest(backend=backend, credential=credential),
                timeout=self.timeout,
                wait_for_ready=True,
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error, SERVICE, self.socket_path) from None
        lease = Lease(answer.header_name, answer.header_value, answer.expires_at, answer.revision)
        self._leases[(backend, credential)] = lease
        return lease

    async def _watch(self) -> None:
        """Follows WatchBackends forever, reconnecting after credential_service restarts."""
        while True:
            try:
                call = self.stub.WatchBackends(credentials_pb2.WatchBackendsRequest())
                async for snapshot in call:
                    self.connected = True
                    self._apply(catalog_from_proto(snapshot))
            except grpc.RpcError as error:
                if self.connected:
                    log.warning("lost the catalog stream from %s: %s", SERVICE, error.code().name)
            self.connected = False
            await asyncio.sleep(0.2)

    def _apply(self, catalog: Catalog) -> None:
        current = {
            (backend.name, name): revision
            for backend in catalog.backends
            for name, revision in zip(backend.credentials, backend.revisions)
        }
        for key in list(self._leases):
            if current.get(key) != self._leases[key].revision:
                del self._leases[key]
        self.catalog = catalog
        self._catalog_changed.set()
        log.info("catalog generation %d: %d backends", catalog.generation, len(catalog.backends))
        missing = [key for key in current if key not in self._leases]
        if missing:
            task = asyncio.create_task(self._prefetch(missing))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _prefetch(self, keys: list[tuple[str, str]]) -> None:
        for backend, credential in keys:
            with contextlib.suppress(ApiError):
                await self._fetch(backend, credential)

    async def _renew(self) -> None:
        """Renews leases that expire soon, off the request path."""
        while True:
            await asyncio.sleep(RENEW_CHECK_SECONDS)
            soon = time.time() + RENEW_BEFORE_SECONDS
            await self._prefetch([key for key, lease in self._leases.items() if lease.expires_at < soon])
