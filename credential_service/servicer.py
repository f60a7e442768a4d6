"""The Credentials gRPC servicer over the Vault: admin RPCs, the catalog and lease streams, refresh and login."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator

import grpc

from credential_service import config_backends, probe
from credential_service.refresher import Refresher, TokenError, exchange_code
from credential_service.vault import (
    API_KEY_LEASE_SECONDS,
    NEEDS_LOGIN,
    AlreadyExists,
    Credential,
    Invalid,
    LeaseGrant,
    NotFound,
    StoredBackend,
    Vault,
    VaultError,
    auth_header,
    validate_credential,
)
from dario.config import Config, ConfigWatcher
from dario.names import check_base_url
from dario.presets import KINDS
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
        source="vault",
    )


def config_backend_to_proto(backend: StoredBackend, parsed: config_backends.ConfigBackends) -> credentials_pb2.Backend:
    """A config.toml backend: its credentials name their variable; one whose variable is unset says so."""
    credentials = []
    for credential in backend.credentials:
        key = (backend.name, credential.name)
        variable = parsed.key_envs.get(key, "")
        state, error = ("ok", "")
        if key in parsed.missing:
            state = config_backends.MISSING_KEY
            error = (f"environment variable {variable} is not set where dario was started: export it, then "
                     "`dario restart`")
        public = credential_to_proto(credential, state, error)
        public.key_env, public.hint = variable, ""
        credentials.append(public)
    return credentials_pb2.Backend(name=backend.name, kind=backend.kind, base_url=backend.base_url,
                                   created_at=backend.created_at, credentials=credentials,
                                   source=config_backends.SOURCE)


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

    def __init__(self, vault: Vault, config: Config, stopping: asyncio.Event | None = None) -> None:
        self.vault = vault
        self.config = config  # as read at start: of config.toml, only [backends] apply while running (watcher)
        self.config_backends = config_backends.ConfigBackends()
        self.config_error = ""  # why config.toml's [backends] are not (all) in force, if they are not
        self.generation = 1
        self.stopping = stopping or asyncio.Event()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._stop_watcher: asyncio.Task | None = None
        self.watchers = 0  # open WatchBackends/WatchLeases streams; back to 0 once clients go away
        self.refresher = Refresher(vault, config, self._lock, self._announce)
        self.watcher = ConfigWatcher(config, "the backends config.toml declared before stay in force",
                                     self._config_changed)
        self.apply_config_backends(config)

    def apply_config_backends(self, config: Config) -> bool:
        """Takes config.toml's [backends], their keys looked up in the environment; True when the catalog changed.
        A file that does not parse never gets here: the watcher keeps the previous ones in force."""
        parsed = config_backends.resolve(config.backends, config.environment.variables,
                                         config_backends.revisions_of(self.config_backends))
        stored = {backend.name for backend in self.vault.backends()}
        clashes = sorted(backend.name for backend in parsed.backends if backend.name in stored)
        self.config_error = (f"backend(s) {', '.join(clashes)} of config.toml are also in the vault and are "
                             "ignored: remove one (`dario backend remove NAME`, or the [backends.NAME] table)"
                             if clashes else "")
        if clashes:
            log.error("%s", self.config_error)
            parsed = dataclasses.replace(parsed, backends=tuple(b for b in parsed.backends if b.name not in clashes))
        for backend, credential in sorted(parsed.missing):
            log.warning("config.toml: backend %s, account %s: environment variable %s is not set", backend,
                        credential, parsed.key_envs[(backend, credential)])
        changed = parsed.backends != self.config_backends.backends or parsed.missing != self.config_backends.missing
        self.config_backends = parsed
        if changed:
            log.info("config.toml declares %d backend(s)", len(parsed.backends))
        return changed

    async def _config_changed(self, config: Config) -> None:
        """A change of config.toml's [backends] is pushed like any vault change."""
        if self.apply_config_backends(config):
            await self._announce()

    def _all_backends(self) -> list[StoredBackend]:
        """The vault's backends, then config.toml's."""
        return [*self.vault.backends(), *self.config_backends.backends]

    def _credential(self, backend: str, name: str) -> Credential:
        declared = self.config_backends.find(backend)
        if declared is None:
            return self.vault.credential(backend, name)
        for credential in declared.credentials:
            if credential.name == name:
                return credential
        raise NotFound(f"backend {backend!r} has no credential named {name!r}")

    async def _refuse_config_backend(self, context: grpc.aio.ServicerContext, name: str, what: str) -> None:
        if self.config_backends.find(name) is not None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                f"backend {name!r} is declared in config.toml ([backends.{name}]): {what}")

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
        if self.config_backends.find(backend.name) is backend:
            return config_backend_to_proto(backend, self.config_backends)
        return backend_to_proto(backend, self.refresher)

    async def AddBackend(self, request: credentials_pb2.AddBackendRequest, context: grpc.aio.ServicerContext):
        await self._refuse_config_backend(context, request.name, "change it there")
        base_url, found = request.base_url, None
        if request.probe:
            found = await self._probe_new(request, context)
            base_url = found.base_url or base_url
        async with self._lock:
            try:
                backend = await asyncio.to_thread(
                    self.vault.add_backend, request.name, request.kind, base_url,
                    request.credential_name, request.api_key, request.no_credential,
                )
            except VaultError as error:
                await self._abort(context, error)
        log.info("backend %s (%s) now has %d credential(s)", backend.name, backend.kind, len(backend.credentials))
        await self._announce()
        return credentials_pb2.AddBackendResponse(backend=self._public(backend), probe=found)

    async def _probe_new(self, request: credentials_pb2.AddBackendRequest,
                         context: grpc.aio.ServicerContext) -> credentials_pb2.ProbeResult:
        """Probes the URL being added with the key being added; an existing backend of that name is probed at the
        base URL it has (the new key must work there)."""
        problem = check_base_url(request.base_url) or (None if request.kind in KINDS else f"kind {request.kind!r} "
                                                                                           "is not known")
        if problem:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        header = probe.Header(*auth_header(request.kind, request.api_key)) if request.api_key else None
        secrets = (request.api_key,) if request.api_key else ()
        credential = request.credential_name or "default" if request.api_key else ""
        with contextlib.suppress(NotFound):
            existing = self.vault.backend(request.name)
            return await probe.probe_root(self.refresher.session(), existing.base_url, existing.kind, header,
                                          secrets, credential)
        return await probe.probe_new(self.refresher.session(), request.kind, request.base_url, header, secrets,
                                     credential)

    async def ProbeBackend(self, request: credentials_pb2.ProbeBackendRequest, context: grpc.aio.ServicerContext):
        """Probes a stored backend with each of its credentials that has a key (once without one if none has)."""
        backend = next((b for b in self._all_backends() if b.name == request.name), None)
        if backend is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no backend named {request.name!r}")
        credentials = []
        for credential in backend.credentials:
            if credential.secret:
                grant = self._grant(backend, credential)
                credentials.append((credential.name, probe.Header(grant.header_name, grant.header_value),
                                    credential.secrets()))
        results = await probe.probe_all(self.refresher.session(), backend.base_url, backend.kind,
                                        credentials or [("", None, ())])
        return credentials_pb2.ProbeBackendResponse(results=results)

    async def ListBackends(self, request: credentials_pb2.ListBackendsRequest, context: grpc.aio.ServicerContext):
        return credentials_pb2.ListBackendsResponse(backends=[self._public(b) for b in self._all_backends()])

    async def AddCredential(self, request: credentials_pb2.AddCredentialRequest, context: grpc.aio.ServicerContext):
        """Stores a credential; an OAuth one gets its first token at once, so the answer shows whether it works."""
        await self._refuse_config_backend(context, request.backend,
                                          f"add accounts there ([[backends.{request.backend}.accounts]])")
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
        await self._refuse_config_backend(context, request.backend, "remove the account there")
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
        await self._refuse_config_backend(context, request.backend, "a login needs a backend added with "
                                                                     "`dario backend add` or `dario login --preset`")
        try:  # the backend must exist and the parameters be sound before the single-use code is spent
            self.vault.backend(request.backend)
            validate_credential(draft)
        except VaultError as error:
            await self._abort(context, error)
        try:
            answer = await exchange_code(self.refresher.session(), draft, request.code, request.code_verifier,
                                         request.redirect_uri, self.config.credentials.token_timeout_seconds)
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
        backends = {backend.name: backend for backend in self._all_backends()}
        if request.backend and request.backend not in backends:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no backend named {request.backend!r}")
        if request.credential and not any(credential.name == request.credential
                                          for backend in backends.values()
                                          if not request.backend or backend.name == request.backend
                                          for credential in backend.credentials):
            where = f"backend {request.backend!r}" if request.backend else "any backend"
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{where} has no account named {request.credential!r}")
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
        await self._refuse_config_backend(context, request.name, "delete its table there")
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
                backends=[self._public(backend) for backend in self._all_backends()], generation=generation
            )

    async def WatchLeases(
        self, request: credentials_pb2.WatchLeasesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[credentials_pb2.WatchLeasesResponse]:
        """Pushes every usable lease (rotations included): the frontend never asks per request."""
        async for generation in self._changes():
            leases = [
                credentials_pb2.LeaseEntry(backend=backend.name, credential=credential.name,
                                           lease=self._lease(backend, credential))
                for backend in self._all_backends()
                for credential in backend.credentials
                if credential.state != NEEDS_LOGIN and (credential.secret or not credential.refreshable)
                and (backend.name, credential.name) not in self.config_backends.missing
            ]
            yield credentials_pb2.WatchLeasesResponse(leases=leases, generation=generation)

    def _grant(self, backend: StoredBackend, credential: Credential) -> LeaseGrant:
        if self.config_backends.find(backend.name) is backend:  # a key from the environment: in memory only
            return LeaseGrant(*auth_header(backend.kind, credential.secret), time.time() + API_KEY_LEASE_SECONDS,
                              credential.revision)
        return self.vault.lease(backend.name, credential.name)

    def _lease(self, backend: StoredBackend, credential: Credential) -> credentials_pb2.LeaseResponse:
        grant = self._grant(backend, credential)
        return credentials_pb2.LeaseResponse(header_name=grant.header_name, header_value=grant.header_value,
                                             expires_at=grant.expires_at, revision=grant.revision,
                                             kind=credential.kind)

    async def Lease(self, request: credentials_pb2.LeaseRequest, context: grpc.aio.ServicerContext):
        try:
            credential = self._credential(request.backend, request.credential)
            backend = self.config_backends.find(request.backend) or self.vault.backend(request.backend)
            return self._lease(backend, credential)
        except VaultError as error:
            await self._abort(context, error)
