"""The vault file: backends and their credentials in $DARIO_HOME/vault.json (0600), written atomically.

Pure storage with no gRPC: the servicer serializes calls and maps these exceptions to status codes.
"""

from __future__ import annotations

import json
import os
import pathlib
import time
from dataclasses import asdict, dataclass, field

from dario.names import check_base_url, check_name
from dario.presets import KINDS

FORMAT_VERSION = 1
API_KEY_LEASE_SECONDS = 3600.0
HINT_MIN_LENGTH = 12


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


@dataclass
class Credential:
    name: str
    secret: str
    kind: str = "api_key"
    created_at: float = field(default_factory=time.time)
    revision: int = 1

    @property
    def hint(self) -> str:
        return "…" + self.secret[-4:] if len(self.secret) >= HINT_MIN_LENGTH else ""


@dataclass
class StoredBackend:
    name: str
    kind: str
    base_url: str
    created_at: float = field(default_factory=time.time)
    credentials: list[Credential] = field(default_factory=list)


@dataclass(frozen=True)
class LeaseGrant:
    header_name: str
    header_value: str
    expires_at: float
    revision: int


class Vault:
    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self._backends: list[StoredBackend] = []
        self._revision = 0
        self.load()

    def load(self) -> None:
        """Reads the vault; a missing file is an empty vault, a damaged one raises Corrupt (never a silent reset)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        try:
            document = json.loads(text)
            self._backends = [
                StoredBackend(
                    name=item["name"],
                    kind=item["kind"],
                    base_url=item["base_url"],
                    created_at=item["created_at"],
                    credentials=[Credential(**credential) for credential in item["credentials"]],
                )
                for item in document["backends"]
            ]
            self._revision = int(document.get("revision", 0))
        except (ValueError, KeyError, TypeError) as error:
            problem = type(error).__name__
            raise Corrupt(f"the vault {self.path} is damaged ({problem}); restore it from a backup") from None

    def backends(self) -> list[StoredBackend]:
        return list(self._backends)

    def add_backend(
        self, name: str, kind: str, base_url: str, credential_name: str = "", api_key: str = ""
    ) -> StoredBackend:
        credential_name = credential_name or "default"
        for problem in (check_name(name, "backend name"), check_name(credential_name, "credential name"),
                        check_base_url(base_url)):
            if problem:
                raise Invalid(problem)
        if kind not in KINDS:
            raise Invalid(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        if any(ord(character) < 32 for character in api_key):
            raise Invalid("the key contains control characters (a stray newline?)")
        backend = self._find(name)
        if backend is None:
            backend = StoredBackend(name=name, kind=kind, base_url=base_url.rstrip("/"))
            self._backends.append(backend)
        elif (backend.kind, backend.base_url) != (kind, base_url.rstrip("/")):
            raise AlreadyExists(f"backend {name!r} already exists with another kind or base URL; remove it first")
        elif any(credential.name == credential_name for credential in backend.credentials):
            raise AlreadyExists(f"backend {name!r} already has a credential named {credential_name!r}")
        self._revision += 1
        backend.credentials.append(Credential(name=credential_name, secret=api_key, revision=self._revision))
        self._save()
        return backend

    def remove_backend(self, name: str) -> int:
        backend = self._require(name)
        self._backends.remove(backend)
        self._save()
        return len(backend.credentials)

    def lease(self, backend_name: str, credential_name: str, now: float | None = None) -> LeaseGrant:
        backend = self._require(backend_name)
        for credential in backend.credentials:
            if credential.name == credential_name:
                expires_at = (time.time() if now is None else now) + API_KEY_LEASE_SECONDS
                return LeaseGrant(*_auth_header(backend.kind, credential.secret), expires_at, credential.revision)
        raise NotFound(f"backend {backend_name!r} has no credential named {credential_name!r}")

    def _find(self, name: str) -> StoredBackend | None:
        return next((backend for backend in self._backends if backend.name == name), None)

    def _require(self, name: str) -> StoredBackend:
        backend = self._find(name)
        if backend is None:
            raise NotFound(f"no backend named {name!r}")
        return backend

    def _save(self) -> None:
        document = {
            "version": FORMAT_VERSION,
            "revision": self._revision,
            "backends": [asdict(backend) for backend in self._backends],
        }
        try:
            atomic_write(self.path, json.dumps(document, indent=1).encode())
        except OSError:
            self._backends, self._revision = [], 0
            self.load()  # memory goes back to what is on disk
            raise


def _auth_header(kind: str, secret: str) -> tuple[str, str]:
    if not secret:
        return "", ""
    if kind == "anthropic":
        return "x-api-key", secret
    return "authorization", f"Bearer {secret}"


def atomic_write(path: pathlib.Path, data: bytes) -> None:
    """Write-then-rename with fsyncs: readers and crashes see the old file or the new one, never half of one."""
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = folder / f".{path.name}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
