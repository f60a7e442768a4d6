"""Sealing the vault's secrets (credential_service/sealing.py, issue 15 item 3)."""

from __future__ import annotations

import base64
import os
import pathlib

import pytest

from credential_service.sealing import KEY_ENV, KEY_FILE_ENV, KeyProblem, Sealer, Unsealable, generate_key, load_key

SECRET = b'{"secret": "sk-live-0123456789abcdef"}'


def sealer() -> Sealer:
    return Sealer(os.urandom(32))


def test_round_trip() -> None:
    box = sealer()
    sealed = box.seal(SECRET, "openai", "default")
    assert SECRET not in sealed and b"sk-live" not in sealed
    assert box.open(sealed, "openai", "default") == SECRET
    assert box.seal(SECRET, "openai", "default") != sealed  # a fresh nonce each time


@pytest.mark.parametrize("index", [0, 12, -1])
def test_tampered_byte_does_not_open(index: int) -> None:
    box = sealer()
    sealed = bytearray(box.seal(SECRET, "openai", "default"))
    sealed[index] ^= 1
    with pytest.raises(Unsealable):
        box.open(bytes(sealed), "openai", "default")


def test_truncated_does_not_open() -> None:
    with pytest.raises(Unsealable, match="truncated"):
        sealer().open(b"short", "openai", "default")


@pytest.mark.parametrize(("backend", "credential"), [("openai", "other"), ("anthropic", "default"),
                                                     ("openaidefault", ""), ("openai\0default", "")])
def test_row_moved_to_another_credential_does_not_open(backend: str, credential: str) -> None:
    box = sealer()
    sealed = box.seal(SECRET, "openai", "default")
    with pytest.raises(Unsealable):
        box.open(sealed, backend, credential)


def test_wrong_key_is_a_clear_error_without_secrets() -> None:
    key = os.urandom(32)
    sealed = Sealer(key).seal(SECRET, "openai", "default")
    with pytest.raises(Unsealable) as caught:
        sealer().open(sealed, "openai", "default")
    message = str(caught.value)
    assert "vault key" in message and "openai/default" in message
    assert "sk-live" not in message and base64.b64encode(key).decode() not in message
    assert "hidden" in repr(Sealer(key))


def test_key_from_environment() -> None:
    key = generate_key()
    assert load_key({KEY_ENV: key}) == base64.b64decode(key)
    with pytest.raises(KeyProblem, match="not base64"):
        load_key({KEY_ENV: "not base64!"})
    with pytest.raises(KeyProblem, match="16 bytes"):
        load_key({KEY_ENV: base64.b64encode(os.urandom(16)).decode()})
    with pytest.raises(KeyProblem, match=KEY_FILE_ENV):
        load_key({})


def test_key_file_must_be_private(tmp_path: pathlib.Path) -> None:
    key = generate_key()
    path = tmp_path / "vault.key"
    path.write_text(key + "\n")
    path.chmod(0o640)
    with pytest.raises(KeyProblem, match="chmod 600") as caught:
        load_key({KEY_FILE_ENV: str(path)})
    assert key not in str(caught.value)
    path.chmod(0o600)
    assert load_key({KEY_FILE_ENV: str(path), KEY_ENV: generate_key()}) == base64.b64decode(key)  # the file wins
    path.chmod(0o400)
    assert load_key({KEY_FILE_ENV: str(path)}) == base64.b64decode(key)
    with pytest.raises(KeyProblem, match="cannot be opened"):
        load_key({KEY_FILE_ENV: str(tmp_path / "missing")})
