"""The vault in PostgreSQL (credential_service/vault_postgres.py, issue 15 item 3) against the real server."""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import os
import pathlib
import time
from collections.abc import Iterator

import grpc
import psycopg
import pytest

from credential_service.sealing import Sealer, Unsealable
from credential_service.vault import Credential, NotFound, Stale, Vault
from credential_service.vault_postgres import MIGRATIONS, PostgresStorage
from dario.testing.processes import running_module
from dario.testing.tcp_proxy import ThreadedTcpProxy
from dario.v1 import credentials_pb2, credentials_pb2_grpc
from tests.integration.postgres_vault import fresh_schema

pytestmark = pytest.mark.timeout(60)
KEY = "sk-test-postgres-vault-0123456789abcdef"
REFRESH = "rt-secret-refresh-token-abcdef"
CLIENT_SECRET = "cs-secret-client-0123456789"
URL = "http://127.0.0.1:9/v1"


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_schema() as schema_url:
        yield schema_url


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


def open_vault(url: str, key: bytes) -> Vault:
    return Vault(PostgresStorage(url, Sealer(key)))


def oauth() -> Credential:
    return Credential("login", "at-secret-access-0123456789", kind="oauth", refresh_token=REFRESH,
                      token_url="http://127.0.0.1:9/token", client_id="client", expires_at=1e10)


def rows(url: str) -> list[str]:
    with psycopg.connect(url) as connection:
        return [repr(row) for table in ("dario_vault_backends", "dario_vault_credentials", "dario_vault_state")
                for row in connection.execute(f"SELECT * FROM {table}").fetchall()]  # noqa: S608 - fixed names


def test_round_trip_through_another_vault_and_nothing_secret_in_the_tables(url: str, key: bytes) -> None:
    vault = open_vault(url, key)
    vault.add_backend("pg-openai", "openai", URL, api_key=KEY)
    vault.add_credential("pg-openai", oauth())
    vault.add_credential("pg-openai", Credential("machine", "", kind="client_credentials",
                                                 client_secret=CLIENT_SECRET, client_id="c",
                                                 token_url="http://127.0.0.1:9/token"))
    vault.add_backend("pg-anthropic", "anthropic", "http://127.0.0.1:9", no_credential=True)
    again = open_vault(url, key)
    assert [b.name for b in again.backends()] == ["pg-openai", "pg-anthropic"]
    assert again.backends() == vault.backends()
    assert again.lease("pg-openai", "default").header_value == f"Bearer {KEY}"
    assert again.credential("pg-openai", "login").refresh_token == REFRESH
    stored = "\n".join(rows(url))
    assert "pg-openai" in stored and "login" in stored  # names and public fields are plain
    for secret in (KEY, REFRESH, CLIENT_SECRET, "at-secret-access", key.hex()):
        assert secret not in stored
    assert again.remove_backend("pg-openai") == 3
    assert [b.name for b in open_vault(url, key).backends()] == ["pg-anthropic"]
    with pytest.raises(NotFound):
        open_vault(url, key).backend("pg-openai")


def test_migrations_are_recorded_and_applied_once(url: str, key: bytes) -> None:
    open_vault(url, key).add_backend("b", "openai", URL, api_key=KEY)
    open_vault(url, key)  # a second start applies nothing and keeps the data
    with psycopg.connect(url) as connection:
        versions = [row[0] for row in connection.execute("SELECT version FROM dario_vault_migrations")]
    assert versions == [version for version, _ in MIGRATIONS]
    assert open_vault(url, key).credential("b", "default").secret == KEY


def test_wrong_key_and_swapped_rows_do_not_open(url: str, key: bytes) -> None:
    vault = open_vault(url, key)
    vault.add_backend("b", "openai", URL, api_key=KEY)
    vault.add_credential("b", Credential("other", "sk-other-0123456789abcdef"))
    with pytest.raises(Unsealable) as caught:
        open_vault(url, os.urandom(32))
    assert "vault key" in str(caught.value) and KEY not in str(caught.value)
    with psycopg.connect(url) as connection:  # an attacker with write access copies one row's secret onto another
        connection.execute("UPDATE dario_vault_credentials SET sealed = (SELECT sealed FROM dario_vault_credentials "
                           "WHERE name = 'default') WHERE name = 'other'")
    with pytest.raises(Unsealable, match="b/other"):
        open_vault(url, key)


def test_writers_on_separate_vaults_lose_nothing(url: str, key: bytes) -> None:
    open_vault(url, key).add_backend("b", "openai", URL, no_credential=True)
    copies = [open_vault(url, key) for _ in range(3)]  # as three hosts would

    def add_many(number: int) -> None:
        for index in range(10):
            copies[number].add_credential("b", Credential(f"k{number}-{index}", KEY))

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        for outcome in [pool.submit(add_many, number) for number in range(3)]:
            outcome.result(60)
    assert len(open_vault(url, key).backend("b").credentials) == 30


def test_a_refresh_result_for_a_rotated_credential_is_stale(url: str, key: bytes) -> None:
    vault = open_vault(url, key)
    vault.add_backend("b", "openai", URL, no_credential=True)
    vault.add_credential("b", oauth())
    other = open_vault(url, key)
    read = other.credential("b", "login")
    vault.update_credential("b", "login", expect=read, secret="at-rotated", refresh_token="rt-rotated")
    with pytest.raises(Stale):
        other.update_credential("b", "login", expect=read, secret="at-late", refresh_token="rt-late")
    assert open_vault(url, key).credential("b", "login").refresh_token == "rt-rotated"
    assert other.reload() is False  # the failed write already brought it up to date


def test_the_service_keeps_its_vault_in_postgres_across_homes_and_needs_a_key(
        url: str, key: bytes, tmp_path: pathlib.Path) -> None:
    environment = {"DARIO_CLUSTER_POSTGRES": url, "DARIO_VAULT_KEY": base64.b64encode(key).decode()}
    for number, stored in enumerate((None, KEY)):
        home = tmp_path / f"home{number}"  # as another host would: nothing shared but PostgreSQL
        with running_module("credential_service", home, home / "run" / "credential.sock", extra_env=environment):
            with grpc.insecure_channel(f"unix:{home / 'run' / 'credential.sock'}") as channel:
                stub = credentials_pb2_grpc.CredentialsStub(channel)
                if stored is None:
                    stub.AddBackend(credentials_pb2.AddBackendRequest(
                        name="shared", kind=credentials_pb2.BACKEND_KIND_OPENAI, base_url=URL, api_key=KEY),
                        timeout=10)
                else:
                    lease = stub.Lease(credentials_pb2.LeaseRequest(backend="shared", credential="default"),
                                       timeout=10).lease
                    assert lease.header_value == f"Bearer {KEY}"
        assert not (home / "vault.json").exists()
        assert KEY not in (home / "credential_service.test.log").read_text()
    assert all(KEY not in row for row in rows(url))
    home = tmp_path / "keyless"
    keyless = {"DARIO_CLUSTER_POSTGRES": url, "DARIO_VAULT_KEY": ""}
    with running_module("credential_service", home, None, extra_env=keyless) as process:
        assert process.wait(30) != 0
    log = (home / "credential_service.test.log").read_text()
    assert "DARIO_VAULT_KEY_FILE" in log and "Traceback" not in log


def test_a_change_on_one_host_reaches_the_other_hosts_watchers(url: str, key: bytes,
                                                                tmp_path: pathlib.Path) -> None:
    environment = {"DARIO_CLUSTER_POSTGRES": url, "DARIO_VAULT_KEY": base64.b64encode(key).decode()}
    homes = [tmp_path / "host-a", tmp_path / "host-b"]
    with contextlib.ExitStack() as stack:
        stubs = []
        for home in homes:
            stack.enter_context(running_module("credential_service", home, home / "run" / "credential.sock",
                                               extra_env=environment))
            channel = stack.enter_context(grpc.insecure_channel(f"unix:{home / 'run' / 'credential.sock'}"))
            stubs.append(credentials_pb2_grpc.CredentialsStub(channel))
        adder, follower = stubs
        watch = follower.WatchBackends(credentials_pb2.WatchBackendsRequest(), timeout=30)
        stack.callback(watch.cancel)
        first = next(watch)
        assert "roaming" not in [backend.name for backend in first.backends]
        started = time.monotonic()
        adder.AddBackend(credentials_pb2.AddBackendRequest(name="roaming", kind=credentials_pb2.BACKEND_KIND_OPENAI,
                                                           base_url=URL, api_key=KEY), timeout=10)
        after = next(watch)  # pushed by host B once host A's commit was notified
        print(f"host A's AddBackend to host B's watch update: {(time.monotonic() - started) * 1000:.0f} ms")
        assert after.generation > first.generation
        assert [backend.name for backend in after.backends] == ["roaming"]
        assert KEY.encode() not in after.SerializeToString()
        lease = follower.Lease(credentials_pb2.LeaseRequest(backend="roaming", credential="default"), timeout=10)
        assert lease.lease.header_value == f"Bearer {KEY}"
        adder.RemoveBackend(credentials_pb2.RemoveBackendRequest(name="roaming"), timeout=10)
        assert [backend.name for backend in next(watch).backends] == []
    assert "changed on another host" in (homes[1] / "credential_service.test.log").read_text()


def test_with_postgresql_cut_leases_keep_serving_from_memory_and_changes_resume_when_it_returns(
        url: str, key: bytes, tmp_path: pathlib.Path) -> None:
    """Issue 15 item 6: the vault's server going away stops no request: leases (and the watch that pushes them)
    are served from what credential_service holds; a change asked meanwhile fails with a clear error, and once the
    server is back changes are stored again."""
    home = tmp_path / "host"
    with ThreadedTcpProxy("127.0.0.1", 5432) as proxy:
        through_proxy = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.proxy.port}")
        environment = {"DARIO_CLUSTER_POSTGRES": through_proxy, "DARIO_VAULT_KEY": base64.b64encode(key).decode()}
        with running_module("credential_service", home, home / "run" / "credential.sock", extra_env=environment), \
                grpc.insecure_channel(f"unix:{home / 'run' / 'credential.sock'}") as channel:
            stub = credentials_pb2_grpc.CredentialsStub(channel)
            stub.AddBackend(credentials_pb2.AddBackendRequest(
                name="steady", kind=credentials_pb2.BACKEND_KIND_OPENAI, base_url=URL, api_key=KEY), timeout=10)
            watch = stub.WatchLeases(credentials_pb2.WatchLeasesRequest(), timeout=60)
            first = next(watch)
            assert [entry.lease.header_value for entry in first.leases] == [f"Bearer {KEY}"]

            proxy.cut()
            for _ in range(20):  # 2 s of requests while the server is away: every lease answered from memory
                lease = stub.Lease(credentials_pb2.LeaseRequest(backend="steady", credential="default"), timeout=5)
                assert lease.lease.header_value == f"Bearer {KEY}"
                time.sleep(0.1)
            with pytest.raises(grpc.RpcError) as refused:
                stub.AddBackend(credentials_pb2.AddBackendRequest(
                    name="later", kind=credentials_pb2.BACKEND_KIND_OPENAI, base_url=URL, api_key=KEY), timeout=20)
            assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                                            grpc.StatusCode.INTERNAL), refused.value
            print(f"a change asked while PostgreSQL is away: {refused.value.code()} {refused.value.details()}")
            assert KEY not in str(refused.value.details())

            proxy.restore()
            deadline = time.monotonic() + 30
            while True:  # the next change, once the server answers again, is stored
                try:
                    stub.AddBackend(credentials_pb2.AddBackendRequest(
                        name="later", kind=credentials_pb2.BACKEND_KIND_OPENAI, base_url=URL, api_key=KEY),
                        timeout=10)
                    break
                except grpc.RpcError:
                    assert time.monotonic() < deadline, "changes never resumed after PostgreSQL came back"
                    time.sleep(0.5)
            watch.cancel()
    assert sorted(backend.name for backend in open_vault(url, key).backends()) == ["later", "steady"]
    log = (home / "credential_service.test.log").read_text()
    assert KEY not in log and "Traceback" not in log
