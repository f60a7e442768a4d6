"""Backends declared in config.toml ([backends.NAME], checked by dario.config) with their keys looked up in
credential_service's environment (`key_env`).

The file names the variable, never the key, and the key stays in memory only (the vault is not written). The
variables are those of the environment `dario up` (or supervisord) was started in; config.toml is re-read when
it changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from credential_service.vault import Credential, StoredBackend
from dario.config import BackendDeclaration

SOURCE = "config.toml"
MISSING_KEY = "missing-key"  # the variable is not set (or empty): the credential cannot serve


@dataclass(frozen=True)
class ConfigBackends:
    """The backends of config.toml with their keys resolved; key_envs and missing by (backend, credential)."""

    backends: tuple[StoredBackend, ...] = ()
    key_envs: Mapping[tuple[str, str], str] = field(default_factory=dict)
    missing: frozenset[tuple[str, str]] = frozenset()

    def find(self, name: str) -> StoredBackend | None:
        return next((backend for backend in self.backends if backend.name == name), None)


def resolve(declared: tuple[BackendDeclaration, ...], variables: Mapping[str, str],
            revisions: Mapping[tuple[str, str, str], int] | None = None) -> ConfigBackends:
    """The declared backends with each key looked up in variables.

    revisions maps (backend, credential, key) to the revision a previous resolve gave it, so an unchanged key keeps
    its revision and a changed one gets a new one (the frontend drops leases of an old revision)."""
    revisions = revisions or {}
    backends, key_envs, missing = [], {}, set()
    next_revision = max(revisions.values(), default=0) + 1
    for backend in declared:
        credentials = []
        for account in backend.accounts:
            secret = ""
            if account.key_env:
                secret = variables.get(account.key_env, "").strip()
                key_envs[(backend.name, account.name)] = account.key_env
                if not secret:
                    missing.add((backend.name, account.name))
            revision = revisions.get((backend.name, account.name, secret))
            if revision is None:
                revision, next_revision = next_revision, next_revision + 1
            credentials.append(Credential(name=account.name, secret=secret, revision=revision, created_at=0.0))
        backends.append(StoredBackend(name=backend.name, kind=backend.kind, base_url=backend.base_url,
                                      created_at=0.0, credentials=tuple(credentials)))
    return ConfigBackends(tuple(backends), key_envs, frozenset(missing))


def revisions_of(resolved: ConfigBackends) -> dict[tuple[str, str, str], int]:
    """What resolve needs to keep unchanged keys' revisions across a reload."""
    return {(backend.name, credential.name, credential.secret): credential.revision
            for backend in resolved.backends for credential in backend.credentials}
