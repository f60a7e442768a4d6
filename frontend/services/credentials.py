"""The frontend's side of credential_service: the catalog and the leases, both pushed over watch streams.

credential_service pushes every usable lease at once and again after every change (an OAuth rotation
included), so requests find theirs in memory; the Lease RPC is only a fallback for a lease the stream has not
delivered yet. After an upstream 401 on an OAuth credential, `force_refresh` asks for one refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import grpc

from dario.catalog import Catalog, Lease
from dario.conversions import catalog_from_proto, lease_from_proto
from dario.grpc_client import CHANNEL_OPTIONS, unix_target
from dario.v1 import credentials_pb2, credentials_pb2_grpc
from frontend.error_mapping import from_rpc_error
from frontend.errors import ApiError, ServiceUnavailable

log = logging.getLogger(__name__)

SERVICE = "credential_service"
PUSH_WAIT_SECONDS = 2.0  # after a forced refresh, how long the pushed lease may take before we ask for it


class CredentialsClient:
    """Owns the channel to credential_service, the current Catalog and the lease cache."""

    def __init__(self, socket_path: str, timeout: float, refresh_timeout: float = 15.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.refresh_timeout = refresh_timeout
        self.channel = grpc.aio.insecure_channel(unix_target(socket_path), options=CHANNEL_OPTIONS)
        self.stub = credentials_pb2_grpc.CredentialsStub(self.channel)
        self.catalog: Catalog | None = None
        self.connected = False
        self._leases: dict[tuple[str, str], Lease] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._catalog_changed = asyncio.Event()
        self._leases_changed = asyncio.Event()
        self.lease_generation = 0
        self.lease_fetches = 0  # Lease RPCs: stay at zero while the push stream keeps up
        self.forced_refreshes = 0

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._watch()), asyncio.create_task(self._watch_leases())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.channel.close()

    def header_values(self) -> list[str]:
        """The secret of every lease held: none may come back to a client from an upstream."""
        return [lease.header_value for lease in self._leases.values()]

    def require_catalog(self) -> Catalog:
        if self.catalog is None:
            raise ServiceUnavailable(SERVICE, self.socket_path, "no backend catalog received yet")
        return self.catalog

    async def wait_for_first_catalog(self, timeout: float) -> None:
        """At start: the first catalog, if credential_service answers at all (when it is down, the frontend
        starts at once and answers 503 naming it until it returns)."""
        try:
            await asyncio.wait_for(self.channel.channel_ready(), min(timeout, self.timeout))
        except TimeoutError:
            return
        if not await self.wait_for_catalog(-1, timeout):
            log.warning("no catalog from %s within %gs of starting; serving without one for now", SERVICE, timeout)

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
        """The lease for a credential: from memory on the hot path (pushed), fetched only when not there yet."""
        cached = self._leases.get((backend, credential))
        if cached is not None and cached.revision >= revision:
            return cached
        if cached is not None:
            # The catalog announced a newer revision; its lease comes on the other stream, a moment later.
            pushed = await self._pushed(backend, credential, revision, PUSH_WAIT_SECONDS / 10)
            if pushed is not None:
                return pushed
        return await self._fetch(backend, credential)

    async def _pushed(self, backend: str, credential: str, revision: int, seconds: float) -> Lease | None:
        """Waits (bounded) for the lease stream to bring a lease of at least this revision."""
        deadline = time.monotonic() + seconds
        while True:
            cached = self._leases.get((backend, credential))
            if cached is not None and cached.revision >= revision:
                return cached
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._leases_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._leases_changed.wait(), remaining)

    async def _fetch(self, backend: str, credential: str) -> Lease:
        self.lease_fetches += 1
        try:
            answer = await self.stub.Lease(
                credentials_pb2.LeaseRequest(backend=backend, credential=credential),
                timeout=self.timeout,
                wait_for_ready=True,
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error, SERVICE, self.socket_path, self.channel) from None
        lease = lease_from_proto(answer.lease)
        cached = self._leases.get((backend, credential))
        if cached is None or cached.revision <= lease.revision:
            self._leases[(backend, credential)] = lease
        return lease

    async def list_backends(self) -> list[credentials_pb2.Backend]:
        """Every backend with its credentials' public state (for /status; not on the request path)."""
        try:
            answer = await self.stub.ListBackends(credentials_pb2.ListBackendsRequest(), timeout=self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error, SERVICE, self.socket_path, self.channel) from None
        return list(answer.backends)

    async def force_refresh(self, backend: str, credential: str, rejected: Lease) -> Lease | None:
        """After the upstream refused `rejected`: one refresh (shared with every request that saw the same
        token), then the new lease; None when no newer token could be had."""
        self.forced_refreshes += 1
        try:
            answer = await self.stub.Refresh(
                credentials_pb2.RefreshRequest(backend=backend, credential=credential, force=True,
                                               stale_revision=rejected.revision),
                timeout=self.refresh_timeout,
            )
        except grpc.RpcError as error:
            log.warning("forced refresh of %s/%s failed: %s", backend, credential, error.code().name)
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                # The token was refused and the vault cannot be asked for a new one: say that (a 503 naming
                # credential_service, a 504 when it answered too late), not the upstream's 401, which would send
                # the user after a good credential.
                raise from_rpc_error(error, SERVICE, self.socket_path, self.channel) from None
            return None
        result = next(iter(answer.results), None)
        if result is None or result.credential.revision <= rejected.revision:
            log.warning("forced refresh of %s/%s gave no new token: %s", backend, credential,
                        result.error if result else "credential gone")
            return None
        pushed = await self._pushed(backend, credential, result.credential.revision, PUSH_WAIT_SECONDS)
        if pushed is not None:
            return pushed
        with contextlib.suppress(ApiError):
            return await self._fetch(backend, credential)
        return None

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
        self.catalog = catalog
        self._catalog_changed.set()
        log.info("catalog generation %d: %d backends", catalog.generation, len(catalog.backends))

    async def _watch_leases(self) -> None:
        """Follows WatchLeases forever: each snapshot replaces every lease (rotations, removals, logins)."""
        while True:
            with contextlib.suppress(grpc.RpcError):
                async for snapshot in self.stub.WatchLeases(credentials_pb2.WatchLeasesRequest()):
                    self._leases = {(entry.backend, entry.credential): lease_from_proto(entry.lease)
                                    for entry in snapshot.leases}
                    self.lease_generation = snapshot.generation
                    self._leases_changed.set()
            await asyncio.sleep(0.2)
