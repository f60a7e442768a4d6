"""The Credentials gRPC servicer over the Vault: admin RPCs, the catalog watch stream, and leases."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc

from credential_service.vault import AlreadyExists, Invalid, NotFound, StoredBackend, Vault, VaultError
from dario.v1 import credentials_pb2, credentials_pb2_grpc

log = logging.getLogger(__name__)

_CODES = {NotFound: grpc.StatusCode.NOT_FOUND, AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
          Invalid: grpc.StatusCode.INVALID_ARGUMENT}


def backend_to_proto(backend: StoredBackend) -> credentials_pb2.Backend:
    """The public view of a backend: every credential's name and hint, never its secret."""
    return credentials_pb2.Backend(
        name=backend.name,
        kind=backend.kind,
        base_url=backend.base_url,
        created_at=backend.created_at,
        credentials=[
            credentials_pb2.CredentialInfo(
                name=credential.name, kind=credential.kind, hint=credential.hint,
                created_at=credential.created_at, revision=credential.revision,
            )
            for credential in backend.credentials
        ],
    )


class CredentialsServicer(credentials_pb2_grpc.CredentialsServicer):
    """Writes go one at a time (a lock, file I/O in a thread); reads see the vault's last committed state."""

    def __init__(self, vault: Vault, stopping: asyncio.Event | None = None) -> None:
        self.vault = vault
        self.generation = 1
        self.stopping = stopping or asyncio.Event()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._stop_watcher: asyncio.Task | None = None
        self.watchers = 0  # open WatchBackends streams; back to 0 once clients go away

    async def _wake_watchers_on_stop(self) -> None:
        await self.stopping.wait()
        async with self._changed:
            self._changed.notify_all()

    async def _abort(self, context: grpc.aio.ServicerContext, error: VaultError) -> None:
        await context.abort(_CODES.get(type(error), grpc.StatusCode.INTERNAL), str(error))

    async def _announce(self) -> None:
        async with self._changed:
            self.generation += 1
            self._changed.notify_all()

    async def AddBackend(self, request: credentials_pb2.AddBackendRequest, context: grpc.aio.ServicerContext):
        async with self._lock:
            try:
                backend = await asyncio.to_thread(
                    self.vault.add_backend, request.name, request.kind, request.base_url,
                    request.credential_name, request.api_key,
                )
            except VaultError as error:
                await self._abort(context, error)
        log.info("credential %s added to backend %s (%s), which now has %d credential(s)",
                 backend.credentials[-1].name, backend.name, backend.kind, len(backend.credentials))
        await self._announce()
        return credentials_pb2.AddBackendResponse(backend=backend_to_proto(backend))

    async def ListBackends(self, request: credentials_pb2.ListBackendsRequest, context: grpc.aio.ServicerContext):
        return credentials_pb2.ListBackendsResponse(backends=[backend_to_proto(b) for b in self.vault.backends()])

    async def RemoveBackend(self, request: credentials_pb2.RemoveBackendRequest, context: grpc.aio.ServicerContext):
        async with self._lock:
            try:
                removed = await asyncio.to_thread(self.vault.remove_backend, request.name)
            except VaultError as error:
                await self._abort(context, error)
        log.info("backend %s removed with %d credential(s)", request.name, removed)
        await self._announce()
        return credentials_pb2.RemoveBackendResponse(credentials_removed=removed)

    async def WatchBackends(
        self, request: credentials_pb2.WatchBackendsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[credentials_pb2.WatchBackendsResponse]:
        if self._stop_watcher is None:
            self._stop_watcher = asyncio.create_task(self._wake_watchers_on_stop())
        seen = 0
        self.watchers += 1
        try:
            while True:
                async with self._changed:
                    await self._changed.wait_for(lambda seen=seen: self.generation != seen or self.stopping.is_set())
                    seen = self.generation
                if self.stopping.is_set():
                    return  # the frontend reconnects to the next process
                yield credentials_pb2.WatchBackendsResponse(
                    backends=[backend_to_proto(backend) for backend in self.vault.backends()], generation=seen
                )
        finally:
            self.watchers -= 1  # runs when the client cancels too: grpc.aio cancels the waiting task

    async def Lease(self, request: credentials_pb2.LeaseRequest, context: grpc.aio.ServicerContext):
        try:
            grant = self.vault.lease(request.backend, request.credential)
        except VaultError as error:
            await self._abort(context, error)
        return credentials_pb2.LeaseResponse(
            header_name=grant.header_name, header_value=grant.header_value,
            expires_at=grant.expires_at, revision=grant.revision,
        )
