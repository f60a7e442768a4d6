"""The backends credential_service serves: the vault's, then config.toml's [backends] (keys from the environment,
in memory only). Writes go one at a time (a lock, file I/O in a thread); every change is announced to the watch
streams and the refresher. Errors are the vault's (VaultError): the servicer maps them to status codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from credential_service import config_backends, probe
from credential_service.refresher import Refresher, Result, TokenError, exchange_code
from credential_service.vault import (
    API_KEY_LEASE_SECONDS,
    NEEDS_LOGIN,
    OK,
    Credential,
    Invalid,
    LeaseGrant,
    NotFound,
    Refused,
    StoredBackend,
    Vault,
    auth_header,
    validate_credential,
)
from dario.config import Config, ConfigWatcher
from dario.names import check_base_url
from dario.presets import KINDS

log = logging.getLogger(__name__)
VAULT = "vault"  # where a backend added with the CLI is defined (config_backends.SOURCE for the others)


@dataclass(frozen=True)
class Standing:
    """How a credential stands, as users see it: its state, the last refresh error, the variable of its key."""

    state: str = OK
    last_error: str = ""
    key_env: str = ""  # config.toml's key_env; empty for a key stored in the vault


@dataclass(frozen=True)
class Refreshed:
    """One credential a Refresh concerned, as it is after it."""

    backend: str
    credential: Credential
    standing: Standing
    result: Result


@dataclass(frozen=True)
class Login:
    """What the CLI's loopback callback received, and how to redeem it."""

    code: str
    code_verifier: str
    redirect_uri: str


class Backends:
    """The vault and config.toml's backends as one catalog, with a generation that grows at every change."""

    def __init__(self, vault: Vault, config: Config, stopping: asyncio.Event | None = None) -> None:
        self.vault = vault
        self.config = config  # as read at start: of config.toml, only [backends] apply while running (watcher)
        self.config_backends = config_backends.ConfigBackends()
        self.config_error = ""  # why config.toml's [backends] are not (all) in force, if they are not
        self.generation = 1
        self.stopping = stopping or asyncio.Event()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._stop_watcher: asyncio.Task[None] | None = None
        self.watchers = 0  # open change streams; back to 0 once clients go away
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

    async def run_refresher(self) -> None:
        """The refresh scheduler, until stopping (started by __main__ once the loop runs)."""
        try:
            await self.refresher.run(self.stopping)
        finally:
            await self.refresher.close()

    def all(self) -> list[StoredBackend]:
        """The vault's backends, then config.toml's."""
        return [*self.vault.backends(), *self.config_backends.backends]

    def find(self, name: str) -> StoredBackend:
        backend = next((backend for backend in self.all() if backend.name == name), None)
        if backend is None:
            raise NotFound(f"no backend named {name!r}")
        return backend

    def source(self, backend: StoredBackend) -> str:
        """Where the backend is defined: the vault, or config.toml."""
        return config_backends.SOURCE if self.config_backends.find(backend.name) is backend else VAULT

    def standing(self, backend: StoredBackend, credential: Credential) -> Standing:
        if self.config_backends.find(backend.name) is not backend:
            return Standing(*self.refresher.status(backend.name, credential))
        key = (backend.name, credential.name)
        variable = self.config_backends.key_envs.get(key, "")
        if key in self.config_backends.missing:
            return Standing(config_backends.MISSING_KEY, f"environment variable {variable} is not set where dario "
                                                         "was started: export it, then `dario restart`", variable)
        return Standing(key_env=variable)

    def _refuse_declared(self, name: str, what: str) -> None:
        if self.config_backends.find(name) is not None:
            raise Refused(f"backend {name!r} is declared in config.toml ([backends.{name}]): {what}")

    async def add_backend(self, name: str, kind: str, base_url: str, credential_name: str = "", api_key: str = "",
                          no_credential: bool = False,
                          probe_first: bool = False) -> tuple[StoredBackend, probe.Probe | None]:
        """Creates a backend (or adds a credential to one of the same kind and URL); probed first when asked, an
        openai-kind URL without a version that answers only with /v1 is stored with it."""
        self._refuse_declared(name, "change it there")
        found = None
        if probe_first:
            found = await self._probe_new(name, kind, base_url, credential_name, api_key)
            base_url = found.base_url or base_url
        async with self._lock:
            backend = await asyncio.to_thread(self.vault.add_backend, name, kind, base_url, credential_name,
                                              api_key, no_credential)
        log.info("backend %s (%s) now has %d credential(s)", backend.name, backend.kind, len(backend.credentials))
        await self._announce()
        return backend, found

    async def _probe_new(self, name: str, kind: str, base_url: str, credential_name: str,
                         api_key: str) -> probe.Probe:
        """Probes the URL being added with the key being added; an existing backend of that name is probed at the
        base URL it has (the new key must work there)."""
        problem = check_base_url(base_url) or (None if kind in KINDS else f"kind {kind!r} is not known")
        if problem:
            raise Invalid(problem)
        header = probe.Header(*auth_header(kind, api_key)) if api_key else None
        secrets = (api_key,) if api_key else ()
        credential = credential_name or "default" if api_key else ""
        with contextlib.suppress(NotFound):
            existing = self.vault.backend(name)
            return await probe.probe_root(self.refresher.session(), existing.base_url, existing.kind, header,
                                          secrets, credential)
        return await probe.probe_new(self.refresher.session(), kind, base_url, header, secrets, credential)

    async def probe(self, name: str) -> list[probe.Probe]:
        """Probes a backend with each of its credentials that has a key (once without one if none has)."""
        backend = self.find(name)
        credentials: list[tuple[str, probe.Header | None, tuple[str, ...]]] = []
        for credential in backend.credentials:
            if credential.secret:
                grant = self.grant(backend, credential)
                credentials.append((credential.name, probe.Header(grant.header_name, grant.header_value),
                                    credential.secrets()))
        return await probe.probe_all(self.refresher.session(), backend.base_url, backend.kind,
                                     credentials or [("", None, ())])

    async def add_credential(self, backend_name: str, credential: Credential, replace: bool) -> StoredBackend:
        """Stores a credential; an OAuth one gets its first token at once, so the answer shows whether it works."""
        self._refuse_declared(backend_name, f"add accounts there ([[backends.{backend_name}.accounts]])")
        async with self._lock:
            backend = await asyncio.to_thread(self.vault.add_credential, backend_name, credential, replace)
        log.info("credential %s (%s) added to backend %s", credential.name, credential.kind, backend.name)
        await self._announce()
        with contextlib.suppress(NotFound):
            if self.vault.credential(backend.name, credential.name).refreshable:
                await self.refresher.refresh((backend.name, credential.name), force=False)
                backend = self.vault.backend(backend.name)
        return backend

    async def remove_credential(self, backend_name: str, name: str) -> StoredBackend:
        self._refuse_declared(backend_name, "remove the account there")
        async with self._lock:
            backend = await asyncio.to_thread(self.vault.remove_credential, backend_name, name)
        log.info("credential %s removed from backend %s", name, backend_name)
        await self._announce()
        return backend

    async def complete_login(self, backend_name: str, draft: Credential, login: Login) -> StoredBackend:
        """Redeems the code of an authorization-code + PKCE login and stores the tokens as draft's credential."""
        self._refuse_declared(backend_name, "a login needs a backend added with `dario backend add` or "
                                            "`dario login --preset`")
        # The backend must exist and the parameters be sound before the single-use code is spent.
        self.vault.backend(backend_name)
        validate_credential(draft)
        try:
            answer = await exchange_code(self.refresher.session(), draft, login.code, login.code_verifier,
                                         login.redirect_uri, self.config.credentials.token_timeout_seconds)
        except TokenError as error:
            raise Refused(f"the login was refused: {error}") from None
        if not answer.refresh_token:
            raise Refused("the token endpoint issued no refresh token (ask for offline access in --scope)")
        now = time.time()
        credential = dataclasses.replace(draft, secret=answer.access_token, refresh_token=answer.refresh_token,
                                         expires_at=now + answer.expires_in, last_refresh=now,
                                         scope=answer.scope or draft.scope)
        async with self._lock:
            backend = await asyncio.to_thread(self.vault.add_credential, backend_name, credential, True)
        log.info("login stored as credential %s of backend %s", credential.name, backend_name)
        await self._announce()
        return backend

    async def refresh(self, backend_name: str, credential_name: str, force: bool,
                      stale_revision: int = 0) -> list[Refreshed]:
        """Refreshes the refreshable credentials named (empty: all of them), at once; NotFound when none is."""
        backends = {backend.name: backend for backend in self.all()}
        if backend_name and backend_name not in backends:
            raise NotFound(f"no backend named {backend_name!r}")
        if credential_name and not any(credential.name == credential_name for backend in backends.values()
                                       if not backend_name or backend.name == backend_name
                                       for credential in backend.credentials):
            where = f"backend {backend_name!r}" if backend_name else "any backend"
            raise NotFound(f"{where} has no account named {credential_name!r}")
        keys = [(backend.name, credential.name) for backend in self.vault.backends()
                for credential in backend.credentials
                if credential.refreshable and (not backend_name or backend.name == backend_name)
                and (not credential_name or credential.name == credential_name)]
        if not keys:
            what = "/".join(part for part in (backend_name, credential_name) if part) or "the vault"
            raise NotFound(f"no oauth or client_credentials credential in {what}")
        outcomes = await asyncio.gather(*(self.refresher.refresh(key, force, stale_revision) for key in keys),
                                        return_exceptions=True)
        results = []
        for (backend, name), outcome in zip(keys, outcomes):
            if isinstance(outcome, NotFound):
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            with contextlib.suppress(NotFound):
                credential = self.vault.credential(backend, name)
                results.append(Refreshed(backend, credential, Standing(*self.refresher.status(backend, credential)),
                                         outcome))
        return results

    async def remove_backend(self, name: str) -> int:
        """Deletes a backend and its credentials; returns how many credentials went with it."""
        self._refuse_declared(name, "delete its table there")
        async with self._lock:
            removed = await asyncio.to_thread(self.vault.remove_backend, name)
        log.info("backend %s removed with %d credential(s)", name, removed)
        await self._announce()
        return removed

    def grant(self, backend: StoredBackend, credential: Credential) -> LeaseGrant:
        """The header to send for one credential, and until when."""
        if self.config_backends.find(backend.name) is backend:  # a key from the environment: in memory only
            return LeaseGrant(*auth_header(backend.kind, credential.secret), time.time() + API_KEY_LEASE_SECONDS,
                              credential.revision)
        return self.vault.lease(backend.name, credential.name)

    def lease(self, backend_name: str, credential_name: str) -> tuple[LeaseGrant, Credential]:
        backend = self.config_backends.find(backend_name) or self.vault.backend(backend_name)
        credential = next((c for c in backend.credentials if c.name == credential_name), None)
        if credential is None:
            raise NotFound(f"backend {backend_name!r} has no credential named {credential_name!r}")
        return self.grant(backend, credential), credential

    def leases(self) -> list[tuple[StoredBackend, Credential, LeaseGrant]]:
        """Every usable credential's lease: not refused by its token endpoint, with a token (or a key, or none
        needed), its key's variable set."""
        return [(backend, credential, self.grant(backend, credential))
                for backend in self.all()
                for credential in backend.credentials
                if credential.state != NEEDS_LOGIN and (credential.secret or not credential.refreshable)
                and (backend.name, credential.name) not in self.config_backends.missing]

    async def _announce(self) -> None:
        async with self._changed:
            self.generation += 1
            self._changed.notify_all()
        self.refresher.poke()

    async def _wake_watchers_on_stop(self) -> None:
        await self.stopping.wait()
        async with self._changed:
            self._changed.notify_all()

    def _moved_on(self, seen: int) -> bool:
        """A change stream that saw generation `seen` has something new to say (or must end)."""
        return self.generation != seen or self.stopping.is_set()

    async def changes(self) -> AsyncIterator[int]:
        """Yields the generation now and after every change, until stopping (for the watch streams)."""
        if self._stop_watcher is None:
            self._stop_watcher = asyncio.create_task(self._wake_watchers_on_stop())
        seen = 0
        self.watchers += 1
        try:
            while True:
                async with self._changed:
                    await self._changed.wait_for(functools.partial(self._moved_on, seen))
                    seen = self.generation
                if self.stopping.is_set():
                    return  # the frontend reconnects to the next process
                yield seen
        finally:
            self.watchers -= 1  # runs when the client cancels too: grpc.aio cancels the waiting task
