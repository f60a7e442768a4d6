"""The vault file: validation, no secret in what is listed, private modes, atomic writes, damage detected, and
writes that never start from a stale revision (two Vault objects on one file, as an orphaned process would be)."""

from __future__ import annotations

import concurrent.futures
import json
import os
import pathlib

import pytest

from credential_service.vault import AlreadyExists, Corrupt, Credential, Invalid, NotFound, Stale, Vault

KEY = "test-key-vault-0123456789abcdef"


@pytest.fixture
def vault(tmp_path: pathlib.Path) -> Vault:
    return Vault(tmp_path / "home" / "vault.json")


def test_added_backend_is_persisted_and_reloaded(vault: Vault) -> None:
    vault.add_backend("openai", "openai", "https://api.openai.com/v1/", api_key=KEY)
    reloaded = Vault(vault.path)
    [backend] = reloaded.backends()
    assert (backend.name, backend.kind, backend.base_url) == ("openai", "openai", "https://api.openai.com/v1")
    assert backend.credentials[0].name == "default"


def test_leases_carry_the_header_each_kind_needs(vault: Vault) -> None:
    vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    vault.add_backend("a", "anthropic", "http://127.0.0.1:2/v1", api_key=KEY)
    vault.add_backend("local", "openai", "http://127.0.0.1:3/v1")
    grant = vault.lease("o", "default", now=100.0)
    assert (grant.header_name, grant.header_value, grant.expires_at) == ("authorization", f"Bearer {KEY}", 3700.0)
    grant = vault.lease("a", "default")
    assert (grant.header_name, grant.header_value) == ("x-api-key", KEY)
    grant = vault.lease("local", "default")
    assert (grant.header_name, grant.header_value) == ("", "")


def test_hint_shows_only_the_last_four_characters_of_long_keys(vault: Vault) -> None:
    vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", credential_name="short", api_key="tiny-key")
    long_key, short_key = vault.backends()[0].credentials
    assert long_key.hint == "…cdef"
    assert short_key.hint == ""


def test_second_credential_on_the_same_backend_gets_a_new_revision(vault: Vault) -> None:
    vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", credential_name="second", api_key=KEY + "2")
    first, second = vault.backends()[0].credentials
    assert second.revision > first.revision


@pytest.mark.parametrize(
    ("name", "kind", "url", "credential"),
    [
        ("../escape", "openai", "http://127.0.0.1:1/v1", ""),
        ("bad/name", "openai", "http://127.0.0.1:1/v1", ""),
        ("ctrl\x07", "openai", "http://127.0.0.1:1/v1", ""),
        ("ok", "openai", "http://127.0.0.1:1/v1", "../key"),
        ("ok", "gemini", "http://127.0.0.1:1/v1", ""),
        ("ok", "openai", "file:///etc/passwd", ""),
        ("ok", "openai", "http://user:pw@127.0.0.1/v1", ""),
        ("ok", "openai", "not a url", ""),
    ],
)
def test_invalid_input_is_refused(vault: Vault, name: str, kind: str, url: str, credential: str) -> None:
    with pytest.raises(Invalid):
        vault.add_backend(name, kind, url, credential_name=credential)
    assert vault.backends() == []


def test_key_with_a_newline_is_refused(vault: Vault) -> None:
    with pytest.raises(Invalid, match="control"):
        vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", api_key="abc\ndef-ghijkl")


def test_conflicts_and_missing_names(vault: Vault) -> None:
    vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    with pytest.raises(AlreadyExists):
        vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    with pytest.raises(AlreadyExists):
        vault.add_backend("o", "anthropic", "http://127.0.0.1:1/v1", credential_name="x")
    with pytest.raises(NotFound):
        vault.remove_backend("nope")
    with pytest.raises(NotFound):
        vault.lease("o", "nope")


def test_errors_never_contain_the_key(vault: Vault) -> None:
    vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    with pytest.raises(AlreadyExists) as caught:
        vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    assert KEY not in str(caught.value)


def test_files_are_private(vault: Vault) -> None:
    vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    assert vault.path.stat().st_mode & 0o777 == 0o600
    assert vault.path.parent.stat().st_mode & 0o777 == 0o700


def test_a_crash_during_a_write_leaves_the_old_vault_intact(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    vault.add_backend("kept", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    before = vault.path.read_bytes()

    def crash(*arguments: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        vault.add_backend("lost", "openai", "http://127.0.0.1:2/v1", api_key=KEY)
    assert vault.path.read_bytes() == before
    assert [backend.name for backend in vault.backends()] == ["kept"]  # memory matches the disk
    assert not list(vault.path.parent.glob(".*.tmp")), "temporary file left behind"
    assert json.loads(before)["backends"][0]["name"] == "kept"


def test_a_damaged_vault_is_reported_not_reset(vault: Vault) -> None:
    vault.path.parent.mkdir(parents=True, exist_ok=True)
    vault.path.write_text('{"backends": [{"name": "half')
    with pytest.raises(Corrupt, match="damaged"):
        Vault(vault.path)
    assert vault.path.read_text().startswith('{"backends"')


@pytest.mark.parametrize(
    "content",
    [b"[]", b'{"backends": "x"}', b'{"backends": [{"name": "a"}]}', b"\xff\xfe\x00garbage", b"null",
     b'{"backends": [{"name": "a", "kind": "openai", "base_url": "u", "created_at": 1, "credentials": [{"x": 1}]}]}'],
)
def test_a_vault_of_the_wrong_shape_is_reported_as_damaged(vault: Vault, content: bytes) -> None:
    vault.path.parent.mkdir(parents=True, exist_ok=True)
    vault.path.write_bytes(content)
    with pytest.raises(Corrupt):
        Vault(vault.path)


def test_a_vault_from_a_newer_dario_is_refused(vault: Vault) -> None:
    vault.path.parent.mkdir(parents=True, exist_ok=True)
    vault.path.write_text('{"version": 99, "backends": []}')
    with pytest.raises(Corrupt, match="newer"):
        Vault(vault.path)


def test_the_damage_message_never_quotes_the_file(vault: Vault) -> None:
    vault.path.parent.mkdir(parents=True, exist_ok=True)
    vault.path.write_text(f'{{"backends": [{{"name": "a", "secret": "{KEY}"')
    with pytest.raises(Corrupt) as caught:
        Vault(vault.path)
    assert KEY not in str(caught.value)


def test_records_never_show_the_secret_in_their_repr(vault: Vault) -> None:
    vault.add_backend("o", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    assert KEY not in repr(vault.backends()) and KEY not in repr(vault.lease("o", "default"))


def test_a_failed_remove_keeps_the_backend_on_disk_and_in_memory(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault.add_backend("kept", "openai", "http://127.0.0.1:1/v1", api_key=KEY)
    def disk_full(descriptor: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        vault.remove_backend("kept")
    assert vault.lease("kept", "default").header_value == f"Bearer {KEY}"
    monkeypatch.undo()
    assert [backend.name for backend in Vault(vault.path).backends()] == ["kept"]


OAUTH = Credential("login", "at-first", kind="oauth", refresh_token="rt-first", token_url="https://auth.example/t")


def test_a_stale_copy_writes_on_top_of_what_another_wrote_since(vault: Vault) -> None:
    vault.add_backend("b", "openai", "http://127.0.0.1:1/v1", no_credential=True)
    vault.add_credential("b", OAUTH)
    stale = Vault(vault.path)  # an orphaned credential_service, or any second process, read the file here
    vault.add_credential("b", Credential("added-later", KEY))
    # The stale copy stores a refresh result for the credential it knows: the one added since must survive.
    stale.update_credential("b", "login", expect=stale.credential("b", "login"), secret="at-second",
                            refresh_token="rt-second")
    on_disk = Vault(vault.path)
    assert {c.name: c.secret for c in on_disk.backend("b").credentials} == {"login": "at-second",
                                                                            "added-later": KEY}
    revisions = [c.revision for c in on_disk.backend("b").credentials]
    assert len(set(revisions)) == 2 and json.loads(vault.path.read_text())["revision"] == max(revisions)
    vault.add_backend("c", "openai", "http://127.0.0.1:2/v1", api_key=KEY)  # the other way round, too
    assert [backend.name for backend in Vault(vault.path).backends()] == ["b", "c"]
    assert vault.backend("b").credentials[0].secret == "at-second"  # the writer caught up before writing


def test_a_refresh_result_for_a_grant_rotated_since_is_refused(vault: Vault) -> None:
    vault.add_backend("b", "openai", "http://127.0.0.1:1/v1", no_credential=True)
    vault.add_credential("b", OAUTH)
    stale = Vault(vault.path)
    read = stale.credential("b", "login")
    vault.update_credential("b", "login", expect=vault.credential("b", "login"), secret="at-rotated",
                            refresh_token="rt-rotated")
    with pytest.raises(Stale):
        stale.update_credential("b", "login", expect=read, secret="at-late", refresh_token="rt-late")
    with pytest.raises(Stale):
        stale.update_credential("b", "login", expect=read, state="needs-login")
    stored = Vault(vault.path).credential("b", "login")
    assert (stored.secret, stored.refresh_token, stored.state) == ("at-rotated", "rt-rotated", "ok")


def test_writers_on_separate_copies_lose_nothing(vault: Vault) -> None:
    vault.add_backend("b", "openai", "http://127.0.0.1:1/v1", no_credential=True)
    copies = [Vault(vault.path) for _ in range(4)]

    def add_many(number: int) -> None:
        for index in range(25):
            copies[number].add_credential("b", Credential(f"k{number}-{index}", KEY))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for outcome in [pool.submit(add_many, number) for number in range(4)]:
            outcome.result(60)
    assert len(Vault(vault.path).backend("b").credentials) == 100
    assert vault.path.with_suffix(".lock").stat().st_mode & 0o777 == 0o600
