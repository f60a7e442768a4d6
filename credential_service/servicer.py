"""The Credentials gRPC servicer over the Vault: admin RPCs, the catalog and lease streams, refresh and login."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator

import grpc

from credential_service.refresher import Refresher, TokenError, exchange_code
from credential_service.vault import (
    NEEDS_LOGIN,
    AlreadyExists,
    Credential,
    Invalid,
    NotFound,
    StoredBackend,
    Vault,
    VaultError,
    validate_credential,
)
from dario.settings import Settings
from dario.v1 import credentials_pb2, credentials_pb2_grpc

log = logging.getLogger(__name__)

_CODES = {NotFound: grpc.StatusCode.NOT_FOUND, AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
          Invalid: grpc.StatusCode.INVALID_ARGUMENT}


def credential_to_proto(credential: Credential, state: str = "ok", last_error: str = "",
                        ) -> credentials_pb2.CredentialInfo:
    """The public view of a credential: never a secret."""
    return credentials_pb2.CredentialInfo(
        name=credential.name, kind=credential.kind, hint=credential.hint, created_at=credential.created_at,
        revision=credential.revision, state=state, expires_at=credential.expires_at,
        last_refresh=credential.last_refresh, last_error=last_error, token_url=credential.token_url,
        client_id=credential.client_id, scope=credential.scope,
    )


def backend_to_proto(backend: StoredBackend, refresher: Refresher | None = None) -> credentials_pb2.Backend:
    """The public view of a backend: every credential's name, hint and state, never its secret."""
    return credentials_pb2.Backend(
        name=backend.name,
        kind=backend.kind,
        base_url=backend.base_url,
        created_at=backend.created_at,
        credentials=[
            credential_to_proto(credential, *(refresher.status(backend.name, credential) if refresher else ()))
            for credential in backend.credentials
        ],
    )


def credential_from_proto(request: credentials_pb2.AddCredentialRequest) -> Credential:
    oauth = request.oauth
    return Credential(
        name=request.name or "default", kind=request.kind or "api_key",
        secret=request.api_key if (request.kind or "api_key") == "api_key" else oauth.access_token,
        refresh_token=oauth.refresh_token, client_secret=oauth.client_secret, token_url=oauth.token_url,
        client_id=oauth.client_id, scope=oauth.scope,
        expires_at=time.time() + oauth.expires_in if oauth.access_token and oauth.expires_in > 0 else 0.0,
    )


class CredentialsServicer(credentials_pb2_grpc.CredentialsServicer):
    """Writes go one at a time (a lock, file I/O in a thread); reads see the vault's last committed state."""

    def __init__(self, vault: Vault, settings: Settings, stopping: asyncio.Event | None = None) -> None:
        self.vault = vault
        self.settings = settings
        self.generation = 1
        self.stopping = stopping or asyncio.Event()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._stop_watcher: asyncio.Task | None = None
        self.watchers = 0  # open WatchBackends/WatchLeases streams; back to 0 once clients go away
        self.refresher = Refresher(vault, settings, self._lock, self._announce)

    async def run_refresher(self) -> None:
        """The refresh scheduler, until stopping (started by __main__ once the loop runs)."""
        try:
            await self.refresher.run(self.stopping)
        finally:
            await self.refresher.close()

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
        self.refresher.poke()

    async def _changes(self) -> AsyncIterator[int]:
        """Yields the generation now and after every change, until stopping (for the watch streams)."""
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
                yield seen
        finally:
            self.watchers -= 1  # runs when the client cancels too: grpc.aio cancels the waiting task

    def _public(self, backend: StoredBackend) -> credentials_pb2.Backend:
        return backend_to_proto(backend, self.refresher)

    async def AddBackend(self, request: credentials_pb2.AddBackendRequest, context: grpc.aio.ServicerContext):
        async with self._lock:
            try:
                backend = await asyncio.to_thread(
                    self.vault.add_backend, request.name, request.kind, request.base_url,
                    request.credential_name, request.api_key, request.no_credential,
                )
            except VaultError as error:
                await self._abort(context, error)
        log.info("backend %s (%s) now has %d credential(s)", backend.name, backend.kind, len(backend.credentials))
        await self._announce()
        return credentials_pb2.AddBackendResponse(backend=self._public(backend))

    async def ListBackends(self, request: credentials_pb2.ListBackendsRequest, context: grpc.aio.ServicerContext):
        return credentials_pb2.ListBackendsResponse(backends=[self._public(b) for b in self.vault.backends()])

    async def AddCredential(self, request: credentials_pb2.AddCredentialRequest, context: grpc.aio.ServicerContext):
        """Stores a credential; an OAuth one gets its first token at once, so the answer shows whether it works."""
        async with self._lock:
            try:
                backend = await asyncio.to_thread(
                    self.vault.add_credential, request.backend, credential_from_proto(request), request.replace
                )
            except VaultError as error:
                await self._abort(context, error)
        name = request.name or "default"
        log.info("credential %s (%s) added to backend %s", name, request.kind or "api_key", backend.name)
        await self._announce()
        with contextlib.suppress(NotFound):
            if self.vault.credential(backend.name, name).refreshable:
                await self.refresher.refresh((backend.name, name), force=False)
                backend = self.vault.backend(backend.name)
        return credentials_pb2.AddBackendResponse(backend=self._public(backend))

    async def RemoveCredential(self, request: credentials_pb2.RemoveCredentialRequest,
                               context: grpc.aio.ServicerContext):
        async with self._lock:
            try:
                backend = await asyncio.to_thread(self.vault.remove_credential, request.backend, request.name)
            except VaultError as error:
                await self._abort(context, error)
        log.info("credential %s removed from backend %s", request.name, request.backend)
        await self._announce()
        return credentials_pb2.RemoveCredentialResponse(remaining=len(backend.credentials))

    async def CompleteLogin(self, request: credentials_pb2.CompleteLoginRequest, context: grpc.aio.ServicerContext):
        """Redeems the code of an authorization-code + PKCE login and stores the tokens as an oauth credential."""
        oauth = request.oauth
        draft = Credential(name=request.name or "default", secret="", kind="oauth", refresh_token="pending",
                           client_secret=oauth.client_secret, token_url=oauth.token_url, client_id=oauth.client_id,
                           scope=oauth.scope)
        try:  # the backend must exist and the parameters be sound before the single-use code is spent
            self.vault.backend(request.backend)
            validate_credential(draft)
        except VaultError as error:
            await self._abort(context, error)
        try:
            answer = await exchange_code(self.refresher.session(), draft, request.code, request.code_verifier,
                                         request.redirect_uri, self.settings.token_timeout)
        except TokenError as error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"the login was refused: {error}")
        if not answer.refresh_token:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                "the token endpoint issued no refresh token (ask for offline access in --scope)")
        now = time.time()
        credential = dataclasses.replace(draft, secret=answer.access_token, refresh_token=answer.refresh_token,
                                         expires_at=now + answer.expires_in, last_refresh=now,
                                         scope=answer.scope or draft.scope)
        async with self._lock:
            try:
                backend = await asyncio.to_thread(self.vault.add_credential, request.backend, credential, True)
            except VaultError as error:
                await self._abort(context, error)
        log.info("login stored as credential %s of backend %s", credential.name, request.backend)
        await self._announce()
        return credentials_pb2.AddBackendResponse(backend=self._public(backend))

    async def Refresh(self, request: credentials_pb2.RefreshRequest, context: grpc.aio.ServicerContext):
        keys = [(backend.name, credential.name) for backend in self.vault.backends()
                for credential in backend.credentials
                if credential.refreshable and (not request.backend or backend.name == request.backend)
                and (not request.credential or credential.name == request.credential)]
        if not keys:
            what = "/".join(part for part in (request.backend, request.credential) if part) or "the vault"
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no oauth or client_credentials credential in {what}")
        outcomes = await asyncio.gather(
            *(self.refresher.refresh(key, request.force, request.stale_revision) for key in keys),
            return_exceptions=True,
        )
        results = []
        for (backend, name), outcome in zip(keys, outcomes):
            if isinstance(outcome, NotFound):
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            with contextlib.suppress(NotFound):
                credential = self.vault.credential(backend, name)
                public = credential_to_proto(credential, *self.refresher.status(backend, credential))
                results.append(credentials_pb2.RefreshResult(backend=backend, credential=public,
                                                             refreshed=outcome.refreshed, error=outcome.error))
        return credentials_pb2.RefreshResponse(results=results)

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
        async for generation in self._changes():
            yield credentials_pb2.WatchBackendsResponse(
                backends=[self._public(backend) for backend in self.vault.backends()], generation=generation
            )

    async def WatchLeases(
        self, request: credentials_pb2.WatchLeasesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[credentials_pb2.WatchLeasesResponse]:
        """Pushes every usable lease (rotations included): the frontend never asks per request."""
        async for generation in self._changes():
            leases = [
                credentials_pb2.LeaseEntry(backend=backend.name, credential=credential.name,
                                           lease=self._lease(backend.name, credential))
                for backend in self.vault.backends()
                for credential in backend.credentials
                if credential.state != NEEDS_LOGIN and (credential.secret or not credential.refreshable)
            ]
            yield credentials_pb2.WatchLeasesResponse(leases=leases, generation=generation)

    def _lease(self, backend: str, credential: Credential) -> credentials_pb2.LeaseResponse:
        grant = self.vault.lease(backend, credential.name)
        return credentials_pb2.LeaseResponse(header_name=grant.header_name, header_value=grant.header_value,
                                             expires_at=grant.expires_at, revision=grant.revision,
                                             kind=credential.kind)

    async def Lease(self, request: credentials_pb2.LeaseRequest, context: grpc.aio.ServicerContext):
        try:
            return self._lease(request.backend, self.vault.credential(request.backend, request.credential))
        except VaultError as error:
            await self._abort(context, error)
