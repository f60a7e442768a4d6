"""`dario vault migrate --to postgres` (dario/cli/vault.py, issue 15 item 3) run as a real process."""

from __future__ import annotations

import base64
import os
import pathlib
import subprocess
import sys

import pytest

from credential_service.sealing import Sealer
from credential_service.vault import Credential, Vault
from credential_service.vault_postgres import PostgresStorage
from dario.testing.processes import REPO, environment
from tests.integration.postgres_vault import fresh_schema
from tests.integration.test_vault_postgres import rows

pytestmark = pytest.mark.timeout(60)
KEY = "sk-test-migrate-0123456789abcdef"
REFRESH = "rt-test-migrate-secret-0123456789"


def dario(home: pathlib.Path, extra: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dario.cli.main", *arguments], env=environment(home, extra),
                          cwd=REPO, capture_output=True, text=True, timeout=30, check=False)


def test_migrate_moves_the_file_sealed_is_idempotent_and_names_only(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    local = Vault(home / "vault.json")
    local.add_backend("moved-openai", "openai", "http://127.0.0.1:9/v1", api_key=KEY)
    local.add_credential("moved-openai", Credential("login", "at-test-migrate-access", kind="oauth",
                                                    refresh_token=REFRESH, token_url="http://127.0.0.1:9/token",
                                                    client_id="c", expires_at=1e10))
    local.add_backend("empty", "anthropic", "http://127.0.0.1:9", no_credential=True)
    key = os.urandom(32)
    with fresh_schema("migrate") as url:
        extra = {"DARIO_CLUSTER_POSTGRES": url, "DARIO_VAULT_KEY": base64.b64encode(key).decode()}
        first = dario(home, extra, "vault", "migrate", "--to", "postgres")
        assert first.returncode == 0, first.stderr
        assert "moved-openai/default: moved" in first.stdout and "moved-openai/login: moved" in first.stdout
        assert "backend empty: moved" in first.stdout and "2 credential(s) moved" in first.stdout
        again = dario(home, extra, "vault", "migrate", "--to", "postgres")
        assert again.returncode == 0, again.stderr
        assert "moved-openai/login: already there" in again.stdout and "0 credential(s) moved" in again.stdout
        shared = Vault(PostgresStorage(url, Sealer(key)))
        assert [b.name for b in shared.backends()] == ["moved-openai", "empty"]
        assert [c.name for c in shared.backend("moved-openai").credentials] == ["default", "login"]
        assert shared.credential("moved-openai", "login").refresh_token == REFRESH
        assert shared.lease("moved-openai", "default").header_value == f"Bearer {KEY}"
        stored = "\n".join(rows(url))
        for output in (first.stdout + first.stderr, again.stdout + again.stderr, stored):
            assert KEY not in output and REFRESH not in output and "at-test-migrate" not in output
        local.remove_credential("moved-openai", "login")  # a different file: PostgreSQL's copy is never overwritten
        local.add_credential("moved-openai", Credential("login", "at-other", kind="oauth", refresh_token="rt-other",
                                                        token_url="http://127.0.0.1:9/token", client_id="c"))
        third = dario(home, extra, "vault", "migrate", "--to", "postgres")
        assert "moved-openai/login: kept PostgreSQL's" in third.stdout
        assert Vault(PostgresStorage(url, Sealer(key))).credential("moved-openai", "login").refresh_token == REFRESH
    assert (home / "vault.json").exists()


def test_migrate_without_postgres_or_key_says_so(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    Vault(home / "vault.json").add_backend("b", "openai", "http://127.0.0.1:9/v1", api_key=KEY)
    unset = dario(home, {"DARIO_CLUSTER_POSTGRES": "", "DARIO_VAULT_KEY": ""}, "vault", "migrate", "--to", "postgres")
    assert unset.returncode == 1 and "[cluster] postgres" in unset.stderr
    with fresh_schema("migrate") as url:
        keyless = dario(home, {"DARIO_CLUSTER_POSTGRES": url, "DARIO_VAULT_KEY": "", "DARIO_VAULT_KEY_FILE": ""},
                        "vault", "migrate", "--to", "postgres")
    assert keyless.returncode == 1 and "DARIO_VAULT_KEY_FILE" in keyless.stderr and KEY not in keyless.stderr
