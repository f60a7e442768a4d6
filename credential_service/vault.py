"""The vault: backends and their credentials, in $DARIO_HOME/vault.json (vault_file.py) or, with
[cluster] postgres, in PostgreSQL (vault_postgres.py, secrets sealed by sealing.py) behind the same Storage seam.

Pure storage with no gRPC and no HTTP: backends.py serializes writes and the servicer maps these exceptions to
status codes; the refresher (refresher.py) fetches tokens and stores them here before anyone is told of them.
Every write is a compare-and-swap on the stored revision, one writer at a time (see Vault._writing).
"""

from __future__ import annotations

import contextlib
import functools
import pathlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar
from urllib.parse import urlsplit

from dario.catalog import api_root
from dario.names import check_base_url, check_name
from dario.presets import KINDS

FORMAT_VERSION = 1
API_KEY_LEASE_SECONDS = 3600.0
HINT_MIN_LENGTH = 12
CREDENTIAL_KINDS = ("api_key", "oauth", "client_credentials")
REFRESHABLE = ("oauth", "client_credentials")
OK, FAILING, NEEDS_LOGIN = "ok", "failing", "needs-login"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class VaultError(Exception):
    """Base of the vault's errors; messages never contain a secret."""


class NotFound(VaultError):
    pass


class AlreadyExists(VaultError):
    pass


class Invalid(VaultError):
    pass


class Corrupt(VaultError):
    pass


class Stale(VaultError):
    """The credential changed on disk since the caller read it (rotated or replaced): the write was not made."""


class Refused(VaultError):
    """The request is sound but cannot be done as things are (a backend config.toml declares, a refused login)."""


@dataclass(frozen=True)
class Credential:
    """One credential. `secret` is the API key, or the current access token of the OAuth kinds."""

    name: str
    secret: str = field(repr=False)
    kind: str = "api_key"
    created_at: float = field(default_factory=time.time)
    revision: int = 1
    refresh_token: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    token_url: str = ""
    client_id: str = ""
    scope: str = ""
    expires_at: float = 0.0  # of the access token; 0 for API keys (and OAuth kinds not yet fetched)
    last_refresh: float = 0.0
    state: str = OK  # OK, or NEEDS_LOGIN once the token endpoint refused the grant (kept across restarts)

    @property
    def hint(self) -> str:
        if self.kind != "api_key":
            return ""  # access tokens change at every refresh: a hint would only confuse
        return "…" + self.secret[-4:] if len(self.secret) >= HINT_MIN_LENGTH else ""

    @property
    def refreshable(self) -> bool:
        return self.kind in REFRESHABLE

    def secrets(self) -> tuple[str, ...]:
        """Every secret this credential holds (for redacting messages that might quote one)."""
        return tuple(value for value in (self.secret, self.refresh_token, self.client_secret) if value)


@dataclass(frozen=True)
class StoredBackend:
    name: str
    kind: str
    base_url: str
    created_at: float = field(default_factory=time.time)
    credentials: tuple[Credential, ...] = ()


@dataclass(frozen=True)
class LeaseGrant:
    header_name: str
    header_value: str = field(repr=False)
    expires_at: float
    revision: int


Arguments = ParamSpec("Arguments")
Returned = TypeVar("Returned")


def _writes(method: Callable[Concatenate[Vault, Arguments], Returned]) -> Callable[Concatenate[Vault, Arguments],
                                                                                   Returned]:
    """Runs a Vault change inside Vault._writing: from the latest revision on disk, one writer at a time."""

    @functools.wraps(method)
    def written(vault: Vault, /, *args: Arguments.args, **kwargs: Arguments.kwargs) -> Returned:
        with vault._writing():
            return method(vault, *args, **kwargs)

    return written


class Vault:
    """The backends in memory mirror the file; records are immutable and replaced whole only after a write
    succeeds, so a reader on another thread sees the committed state, never a half-applied change."""

    def __init__(self, storage: pathlib.Path | Storage) -> None:
        from credential_service.vault_file import FileStorage  # which imports this module's records

        self.storage: Storage = FileStorage(storage) if isinstance(storage, pathlib.Path) else storage
        self._backends, self._revision = self.storage.read()

    @property
    def path(self) -> pathlib.Path:
        """The vault file (for a vault kept in a file)."""
        path = getattr(self.storage, "path", None)
        if not isinstance(path, pathlib.Path):
            raise AttributeError("this vault is not kept in a file")
        return path

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer at a time (across processes, and across hosts for PostgreSQL), each starting from the
        latest stored revision.

        A change is computed inside this block from what is stored now, never from what this process read
        earlier: a writer holding an old copy (an orphaned process, a second Vault on the same storage) reloads
        first and re-applies its change on top, so it never erases what another wrote since."""
        with self.storage.writing() as (backends, revision):
            if revision != self._revision:
                self._backends, self._revision = backends, revision
            yield

    def reload(self) -> bool:
        """Takes in what another writer stored since (another host, for PostgreSQL); True when it changed."""
        backends, revision = self.storage.read()
        if revision == self._revision:
            return False
        self._backends, self._revision = backends, revision
        return True

    def backends(self) -> list[StoredBackend]:
        return list(self._backends)

    @_writes
    def add_backend(
        self, name: str, kind: str, base_url: str, credential_name: str = "", api_key: str = "",
        no_credential: bool = False,
    ) -> StoredBackend:
        """Creates a backend, or adds a credential to an existing one of the same kind and base URL.

        With no_credential, only creates the backend (a credential comes later, e.g. from `dario login`)."""
        credential_name = credential_name or "default"
        _validate(name, kind, base_url, credential_name, api_key)
        base_url = api_root(kind, base_url)  # stored as called: the SDK form of an Anthropic URL gets its /v1
        revision = self._revision + 1
        credential = Credential(name=credential_name, secret=api_key, revision=revision)
        existing = self._find(name)
        if no_credential:
            if existing is not None:
                raise AlreadyExists(f"backend {name!r} already exists")
            updated = StoredBackend(name=name, kind=kind, base_url=base_url)
            backends = (*self._backends, updated)
        elif existing is None:
            updated = StoredBackend(name=name, kind=kind, base_url=base_url, credentials=(credential,))
            backends = (*self._backends, updated)
        elif (existing.kind, existing.base_url) != (kind, base_url):
            raise AlreadyExists(f"backend {name!r} already exists with another kind or base URL; remove it first")
        elif any(stored.name == credential_name for stored in existing.credentials):
            raise AlreadyExists(f"backend {name!r} already has a credential named {credential_name!r}")
        else:
            updated = replace(existing, credentials=(*existing.credentials, credential))
            backends = tuple(updated if backend is existing else backend for backend in self._backends)
        self._commit(backends, revision)
        return updated

    @_writes
    def remove_backend(self, name: str) -> int:
        """Deletes a backend and its credentials; returns how many credentials went with it."""
        backend = self._require(name)
        self._commit(tuple(other for other in self._backends if other is not backend), self._revision + 1)
        return len(backend.credentials)

    @_writes
    def add_credential(self, backend_name: str, credential: Credential,
                       replace_existing: bool = False) -> StoredBackend:
        """Adds a credential to an existing backend (or replaces one of the same name when asked)."""
        validate_credential(credential)
        backend = self._require(backend_name)
        revision = self._revision + 1
        credential = replace(credential, revision=revision)
        if any(stored.name == credential.name for stored in backend.credentials):
            if not replace_existing:
                raise AlreadyExists(f"backend {backend_name!r} already has a credential named {credential.name!r}")
            credentials = tuple(credential if stored.name == credential.name else stored
                                for stored in backend.credentials)
        else:
            credentials = (*backend.credentials, credential)
        return self._replace_backend(backend, replace(backend, credentials=credentials), revision)

    @_writes
    def remove_credential(self, backend_name: str, credential_name: str) -> StoredBackend:
        backend = self._require(backend_name)
        self.credential(backend_name, credential_name)
        credentials = tuple(stored for stored in backend.credentials if stored.name != credential_name)
        return self._replace_backend(backend, replace(backend, credentials=credentials), self._revision + 1)

    @_writes
    def update_credential(self, /, backend_name: str, credential_name: str, expect: Credential | None = None,
                          **changes: Any) -> Credential:
        """Stores new tokens or state for one credential; a new secret gets a new revision (leases follow).

        With expect (the credential as the caller read it), raises Stale instead when the stored one has since
        been replaced or its refresh token rotated: a refresh result must not overwrite a newer grant."""
        backend = self._require(backend_name)
        current = self.credential(backend_name, credential_name)
        if expect is not None and (current.revision, current.refresh_token) != (expect.revision,
                                                                                expect.refresh_token):
            raise Stale(f"credential {credential_name!r} of backend {backend_name!r} changed since it was read")
        revision = self._revision + 1
        if changes.get("secret", current.secret) != current.secret:
            changes["revision"] = revision
        updated = replace(current, **changes)
        credentials = tuple(updated if stored is current else stored for stored in backend.credentials)
        self._replace_backend(backend, replace(backend, credentials=credentials), revision)
        return updated

    @_writes
    def merge(self, incoming: tuple[StoredBackend, ...]) -> list[tuple[str, str, str]]:
        """Takes in another vault's backends (`dario vault migrate`), never overwriting: (backend, credential or ""
        for the backend itself, outcome: moved, present (the same is here) or kept (here differs)) per item."""
        revision = self._revision + 1
        backends = list(self._backends)
        report: list[tuple[str, str, str]] = []
        for backend in incoming:
            existing = self._find(backend.name)
            if existing is None:
                backends.append(replace(backend, credentials=tuple(replace(c, revision=revision)
                                                                   for c in backend.credentials)))
                report += [(backend.name, "", "moved"), *((backend.name, c.name, "moved")
                                                          for c in backend.credentials)]
                continue
            if (existing.kind, existing.base_url) != (backend.kind, backend.base_url):
                report.append((backend.name, "", "kept"))
                continue
            credentials = list(existing.credentials)
            for credential in backend.credentials:
                here = next((c for c in existing.credentials if c.name == credential.name), None)
                if here is None:
                    credentials.append(replace(credential, revision=revision))
                    report.append((backend.name, credential.name, "moved"))
                else:
                    same = replace(here, revision=credential.revision) == credential
                    report.append((backend.name, credential.name, "present" if same else "kept"))
            backends = [replace(existing, credentials=tuple(credentials)) if b is existing else b for b in backends]
        if any(outcome == "moved" for _, _, outcome in report):
            self._commit(tuple(backends), revision)
        return report

    def credential(self, backend_name: str, credential_name: str) -> Credential:
        for credential in self._require(backend_name).credentials:
            if credential.name == credential_name:
                return credential
        raise NotFound(f"backend {backend_name!r} has no credential named {credential_name!r}")

    def lease(self, backend_name: str, credential_name: str, now: float | None = None) -> LeaseGrant:
        """The header to send for one credential: an API key for an hour, an access token until it expires."""
        backend = self._require(backend_name)
        credential = self.credential(backend_name, credential_name)
        if credential.refreshable:
            return LeaseGrant("authorization", f"Bearer {credential.secret}" if credential.secret else "",
                              credential.expires_at, credential.revision)
        expires_at = (time.time() if now is None else now) + API_KEY_LEASE_SECONDS
        return LeaseGrant(*auth_header(backend.kind, credential.secret), expires_at, credential.revision)

    def _replace_backend(self, old: StoredBackend, new: StoredBackend, revision: int) -> StoredBackend:
        self._commit(tuple(new if backend is old else backend for backend in self._backends), revision)
        return new

    def backend(self, name: str) -> StoredBackend:
        return self._require(name)

    def _find(self, name: str) -> StoredBackend | None:
        return next((backend for backend in self._backends if backend.name == name), None)

    def _require(self, name: str) -> StoredBackend:
        backend = self._find(name)
        if backend is None:
            raise NotFound(f"no backend named {name!r}")
        return backend

    def _commit(self, backends: tuple[StoredBackend, ...], revision: int) -> None:
        """Stores the new state; memory changes only once it is stored (a failed write changes nothing)."""
        self.storage.write(backends, revision, self._revision)
        self._backends, self._revision = backends, revision


class Storage(Protocol):
    """Where a Vault keeps its state: the whole list of backends and the revision it was written at."""

    def read(self) -> tuple[tuple[StoredBackend, ...], int]: ...

    def writing(self) -> contextlib.AbstractContextManager[tuple[tuple[StoredBackend, ...], int]]:
        """Exclusive for one write, yielding the latest stored state; write() is called only inside it."""
        ...

    def write(self, backends: tuple[StoredBackend, ...], revision: int, previous: int) -> None:
        """Stores backends at revision, only if the stored revision is still previous (else raises Stale)."""
        ...

    def refresh_lock(self, backend: str, credential: str) -> RefreshLock | None:
        """The right to refresh one credential across hosts, or None where one process is all there is."""
        ...


class RefreshLock(Protocol):
    """Held while one credential is refreshed (vault_postgres.RefreshLock); current: as stored once granted."""

    current: Credential | None

    def store(self, write: Callable[[], Returned]) -> Returned: ...

    def release(self) -> None: ...


def _validate(name: str, kind: str, base_url: str, credential_name: str, api_key: str) -> None:
    for problem in (check_name(name, "backend name"), check_name(credential_name, "credential name"),
                    check_base_url(base_url)):
        if problem:
            raise Invalid(problem)
    if kind not in KINDS:
        raise Invalid(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if any(ord(character) < 32 or ord(character) == 127 for character in api_key):
        raise Invalid("the key contains control characters (a stray newline?)")


def validate_credential(credential: Credential) -> None:
    problem = check_name(credential.name, "credential name")
    if problem:
        raise Invalid(problem)
    if credential.kind not in CREDENTIAL_KINDS:
        raise Invalid(f"credential kind {credential.kind!r} is not one of {', '.join(CREDENTIAL_KINDS)}")
    for label, value in (("key", credential.secret), ("refresh token", credential.refresh_token),
                         ("client secret", credential.client_secret), ("client id", credential.client_id),
                         ("scope", credential.scope)):
        if any(ord(character) < 32 or ord(character) == 127 for character in value):
            raise Invalid(f"the {label} contains control characters (a stray newline?)")
    if not credential.refreshable:
        return
    problem = check_base_url(credential.token_url)
    if problem:
        raise Invalid(problem.replace("base URL", "token URL"))
    if not token_url_allowed(credential.token_url):
        raise Invalid("the token URL must be https:// (plain http only on 127.0.0.1): it carries secrets")
    if not credential.client_id and credential.kind == "client_credentials":
        raise Invalid("a client_credentials credential needs a client id")
    if credential.kind == "oauth" and not credential.refresh_token:
        raise Invalid("an oauth credential needs a refresh token")
    if credential.kind == "client_credentials" and not credential.client_secret:
        raise Invalid("a client_credentials credential needs a client secret")


def token_url_allowed(url: str) -> bool:
    """Token URLs carry secrets: https, or plain http only to a loopback host."""
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname) or (
        parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def auth_header(kind: str, secret: str) -> tuple[str, str]:
    """The header an API key goes upstream in: x-api-key for Anthropic's API, a bearer token for the others."""
    if not secret:
        return "", ""
    if kind == "anthropic":
        return "x-api-key", secret
    return "authorization", f"Bearer {secret}"
