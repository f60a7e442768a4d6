"""Sealing the vault's secrets at rest (issue 15 item 3): AES-256-GCM under a key that never enters the database.

The key comes from DARIO_VAULT_KEY_FILE (a file of mode 0600 or stricter holding
32 random bytes in base64) or
DARIO_VAULT_KEY (base64). Each sealed value is nonce (12 random bytes) + ciphertext + tag, and its associated data
names what it belongs to (`dario-vault/1`, backend, credential): a row copied onto another credential's does not
open. Errors name what went wrong, never a secret nor the key.
"""

from __future__ import annotations

import base64
import binascii
import os
import pathlib
import stat
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from credential_service.vault import VaultError

KEY_FILE_ENV = "DARIO_VAULT_KEY_FILE"
KEY_ENV = "DARIO_VAULT_KEY"
KEY_BYTES = 32
NONCE_BYTES = 12
CONTEXT = b"dario-vault/1"


class KeyProblem(VaultError):
    """No usable vault key: missing, malformed, or its file readable by others."""


class Unsealable(VaultError):
    """A sealed value does not open: another key, a changed byte, or a row moved to another credential."""


def associated_data(backend: str, credential: str) -> bytes:
    # NUL cannot occur in a checked name (dario.names), so the parts cannot run into each other.
    return b"\0".join((CONTEXT, backend.encode(), credential.encode()))


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise KeyProblem(f"the vault key must be {KEY_BYTES} bytes (256 bits), not {len(key)}")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "Sealer(<key hidden>)"

    def seal(self, plaintext: bytes, backend: str, credential: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated_data(backend, credential))

    def open(self, sealed: bytes, backend: str, credential: str) -> bytes:
        if len(sealed) < NONCE_BYTES + 16:
            raise Unsealable(f"the sealed secrets of {backend}/{credential} are truncated")
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                      associated_data(backend, credential))
        except InvalidTag:
            raise Unsealable(
                f"the sealed secrets of {backend}/{credential} do not open: the vault key is not the one they were "
                "sealed with, or the row was altered or copied from another credential") from None


def generate_key() -> str:
    """A new key, base64 (for DARIO_VAULT_KEY or a key file)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _decode(text: bytes, origin: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyProblem(f"the vault key in {origin} is not base64") from None
    if len(key) != KEY_BYTES:
        raise KeyProblem(f"the vault key in {origin} decodes to {len(key)} bytes; it must be {KEY_BYTES} (256 bits)")
    return key


def load_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The vault key from DARIO_VAULT_KEY_FILE (preferred) or DARIO_VAULT_KEY; raises KeyProblem otherwise."""
    environ = os.environ if environ is None else environ
    path_text = environ.get(KEY_FILE_ENV, "")
    if path_text:
        path = pathlib.Path(path_text)
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise KeyProblem(f"the vault key file {path} cannot be opened ({type(error).__name__})") from None
        with os.fdopen(descriptor, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyProblem(f"the vault key file {path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
                                 f"chmod 600 {path}")
            return _decode(handle.read(), KEY_FILE_ENV)
    text = environ.get(KEY_ENV, "")
    if text:
        return _decode(text.encode(), KEY_ENV)
    raise KeyProblem(f"the vault in PostgreSQL needs a key: set {KEY_FILE_ENV} to a file of mode 0600 holding "
                     f"{KEY_BYTES} random bytes in base64, or {KEY_ENV}")


def load_sealer(environ: Mapping[str, str] | None = None) -> Sealer:
    return Sealer(load_key(environ))
