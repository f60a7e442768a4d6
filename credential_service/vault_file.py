"""vault.json: the vault kept in one file of $DARIO_HOME (0600), written atomically, writers serialized by a lock
on vault.lock; a missing file is an empty vault, a damaged one raises Corrupt (never a silent reset)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pathlib
import secrets
from collections.abc import Iterator
from dataclasses import asdict

from credential_service.vault import FORMAT_VERSION, Corrupt, Credential, RefreshLock, StoredBackend


class FileStorage:
    """vault.json (0600) written atomically, writers serialized by a lock on vault.lock."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.lock_path = path.with_suffix(".lock")

    def read(self) -> tuple[tuple[StoredBackend, ...], int]:
        return read_vault(self.path)

    @contextlib.contextmanager
    def writing(self) -> Iterator[tuple[tuple[StoredBackend, ...], int]]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)  # held for one read and one write: milliseconds
            yield read_vault(self.path)
        finally:
            os.close(descriptor)

    def write(self, backends: tuple[StoredBackend, ...], revision: int, previous: int) -> None:
        # previous is the revision read under the lock just taken: nobody else can have written since.
        document = {"version": FORMAT_VERSION, "revision": revision, "backends": [asdict(b) for b in backends]}
        atomic_write(self.path, json.dumps(document, indent=1).encode())

    def refresh_lock(self, backend: str, credential: str) -> RefreshLock | None:
        return None  # one host: the refresher's single flight per credential is enough


def read_vault(path: pathlib.Path) -> tuple[tuple[StoredBackend, ...], int]:
    """Reads the vault; a missing file is an empty vault, a damaged one raises Corrupt (never a silent reset)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return (), 0
    except (OSError, UnicodeDecodeError) as error:
        raise Corrupt(f"the vault {path} cannot be read ({type(error).__name__}); check its owner and mode") from None
    try:
        document = json.loads(text)
        if document.get("version", FORMAT_VERSION) > FORMAT_VERSION:
            raise Corrupt(f"the vault {path} was written by a newer dario (format {document['version']}); upgrade")
        backends = tuple(
            StoredBackend(
                name=item["name"], kind=item["kind"], base_url=item["base_url"], created_at=item["created_at"],
                credentials=tuple(Credential(**credential) for credential in item["credentials"]),
            )
            for item in document["backends"]
        )
        return backends, int(document.get("revision", 0))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        # The exception's text could quote part of the file, secrets included: name only its type.
        problem = type(error).__name__
        raise Corrupt(f"the vault {path} is damaged ({problem}); restore it from a backup") from None


def atomic_write(path: pathlib.Path, data: bytes) -> None:
    """Write-then-rename with fsyncs: readers and crashes see the old file or the new one, never half of one."""
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A fresh name opened with O_EXCL: never follows a planted symlink, never reuses a leftover file.
    temporary = folder / f".{path.name}.{secrets.token_hex(8)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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
