"""credential_service for real over its Unix socket: the Credentials contract, watch streams, codes, durability."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import pathlib
import signal
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from credential_service.backends import Backends
from credential_service.servicer import CredentialsServicer
from credential_service.vault import Vault
from dario.config import Config, Paths
from dario.enums import BACKEND_KINDS
from dario.grpc_client import health_check
from dario.testing.processes import running_module
from dario.v1 import credentials_pb2, credentials_pb2_grpc

pytestmark = pytest.mark.timeout(60)
KEY = "test-key-credential-service-0123456789abcdef"
OTHER_KEY = "test-key-second-fedcba9876543210"
URL = "http://127.0.0.1:9/v1"


def socket_of(home: pathlib.Path) -> pathlib.Path:
    return home / "run" / "credential.sock"


@pytest.fixture(scope="module", params=["file", "postgres"])
def home(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[pathlib.Path]:
    """The same contract over both storages: vault.json, and the vault in PostgreSQL ([cluster] postgres)."""
    home = tmp_path_factory.mktemp("credentials") / "home"
    with contextlib.ExitStack() as stack:
        environment: dict[str, str] = {}
        if request.param == "postgres":
            from tests.integration.postgres_vault import fresh_schema  # needs psycopg: the postgres extra

            environment = {"DARIO_CLUSTER_POSTGRES": stack.enter_context(fresh_schema("service")),
                           "DARIO_VAULT_KEY": base64.b64encode(os.urandom(32)).decode()}
        stack.enter_context(running_module("credential_service", home, socket_of(home), extra_env=environment))
        yield home


@pytest.fixture
def stub(home: pathlib.Path) -> Iterator[credentials_pb2_grpc.CredentialsStub]:
    with grpc.insecure_channel(f"unix:{socket_of(home)}") as channel:
        yield credentials_pb2_grpc.CredentialsStub(channel)


def add(
    stub: credentials_pb2_grpc.CredentialsStub,
    name: str,
    kind: str = "openai",
    base_url: str = URL,
    key: str = "",
    credential: str = "",
) -> credentials_pb2.AddBackendResponse:
    request = credentials_pb2.AddBackendRequest(
        name=name, kind=BACKEND_KINDS.value(kind), base_url=base_url, api_key=key, credential_name=credential
    )
    return stub.AddBackend(request, timeout=5)


def rpc_error(call: object, *arguments: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*arguments, timeout=5)
    return caught.value


def test_socket_is_private_and_health_and_reflection_answer(home: pathlib.Path) -> None:
    assert socket_of(home).stat().st_mode & 0o777 == 0o600
    with grpc.insecure_channel(f"unix:{socket_of(home)}") as channel:
        answer = health_check(channel)(
            health_pb2.HealthCheckRequest(service="dario.v1.Credentials"), timeout=5
        )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = {service.name for answer in answers for service in answer.list_services_response.service}
    assert "dario.v1.Credentials" in names


def test_add_list_lease_remove_and_no_secret_in_any_answer(
    home: pathlib.Path, stub: credentials_pb2_grpc.CredentialsStub
) -> None:
    added = add(stub, "contract-openai", key=KEY)
    add(stub, "contract-openai", key=OTHER_KEY, credential="second")
    add(stub, "contract-anthropic", kind="anthropic", key=KEY)
    listing = stub.ListBackends(credentials_pb2.ListBackendsRequest(), timeout=5)
    for answer in (added, listing):
        assert KEY.encode() not in answer.SerializeToString() and KEY not in str(answer)
    backends = {backend.name: backend for backend in listing.backends}
    assert [c.name for c in backends["contract-openai"].credentials] == ["default", "second"]
    assert backends["contract-openai"].credentials[0].hint == "…cdef"
    lease = stub.Lease(credentials_pb2.LeaseRequest(backend="contract-openai", credential="second"), timeout=5).lease
    assert (lease.header_name, lease.header_value) == ("authorization", f"Bearer {OTHER_KEY}")
    assert 3500 < lease.expires_at - time.time() <= 3600
    lease = stub.Lease(credentials_pb2.LeaseRequest(backend="contract-anthropic", credential="default"),
                       timeout=5).lease
    assert (lease.header_name, lease.header_value) == ("x-api-key", KEY)
    removed = stub.RemoveBackend(credentials_pb2.RemoveBackendRequest(name="contract-openai"), timeout=5)
    assert removed.credentials_removed == 2
    names = [b.name for b in stub.ListBackends(credentials_pb2.ListBackendsRequest(), timeout=5).backends]
    assert "contract-openai" not in names and "contract-anthropic" in names
    log = (home / "credential_service.test.log").read_text()
    assert "backend contract-openai (openai) now has 2 credential(s)" in log and "contract-openai removed" in log
    assert KEY not in log and OTHER_KEY not in log


OPENAI, ANTHROPIC = credentials_pb2.BACKEND_KIND_OPENAI, credentials_pb2.BACKEND_KIND_ANTHROPIC
UNKNOWN_KIND = 99  # a kind no version of the contract has (as "gemini" was, when kinds were strings)


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        ({"name": "../x", "kind": OPENAI, "base_url": URL}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"name": "bell\x07", "kind": OPENAI, "base_url": URL}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"name": "ok", "kind": UNKNOWN_KIND, "base_url": URL}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"name": "ok", "kind": OPENAI, "base_url": "file:///etc/passwd"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"name": "ok", "kind": OPENAI, "base_url": URL, "api_key": KEY + "\n"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"name": "taken", "kind": OPENAI, "base_url": URL, "api_key": KEY}, grpc.StatusCode.ALREADY_EXISTS),
        (
            {"name": "taken", "kind": ANTHROPIC, "base_url": URL, "credential_name": "x"},
            grpc.StatusCode.ALREADY_EXISTS,
        ),
    ],
)
def test_add_errors_have_the_right_code_and_never_echo_the_key(
    stub: credentials_pb2_grpc.CredentialsStub, request_fields: dict[str, str], code: grpc.StatusCode
) -> None:
    with contextlib.suppress(grpc.RpcError):  # an earlier case may have added it already
        add(stub, "taken", key=KEY)
    error = rpc_error(stub.AddBackend, credentials_pb2.AddBackendRequest(**request_fields))
    assert error.code() == code
    assert error.details() and KEY not in error.details()


def test_missing_names_are_not_found(stub: credentials_pb2_grpc.CredentialsStub) -> None:
    add(stub, "present", key=KEY)
    for call, request in (
        (stub.RemoveBackend, credentials_pb2.RemoveBackendRequest(name="absent")),
        (stub.Lease, credentials_pb2.LeaseRequest(backend="absent", credential="default")),
        (stub.Lease, credentials_pb2.LeaseRequest(backend="present", credential="absent")),
    ):
        assert rpc_error(call, request).code() == grpc.StatusCode.NOT_FOUND


def test_every_watcher_gets_a_snapshot_at_once_and_one_after_each_change(
    stub: credentials_pb2_grpc.CredentialsStub,
) -> None:
    watches = [stub.WatchBackends(credentials_pb2.WatchBackendsRequest(), timeout=30) for _ in range(5)]
    try:
        firsts = [next(watch) for watch in watches]
        add(stub, "watched", key=KEY)
        afters_add = [next(watch) for watch in watches]
        stub.RemoveBackend(credentials_pb2.RemoveBackendRequest(name="watched"), timeout=5)
        afters_remove = [next(watch) for watch in watches]
    finally:
        for watch in watches:
            watch.cancel()
    for first, after_add, after_remove in zip(firsts, afters_add, afters_remove, strict=True):
        assert after_add.generation == first.generation + 1
        assert after_remove.generation == first.generation + 2
        assert "watched" in [backend.name for backend in after_add.backends]
        assert "watched" not in [backend.name for backend in after_remove.backends]
        assert KEY.encode() not in after_add.SerializeToString()


async def test_watchers_that_go_away_leave_nothing_behind(tmp_path: pathlib.Path) -> None:
    backends = Backends(Vault(tmp_path / "vault.json"), Config(paths=Paths(tmp_path)))
    servicer = CredentialsServicer(backends)
    server = grpc.aio.server()
    credentials_pb2_grpc.add_CredentialsServicer_to_server(servicer, server)
    server.add_insecure_port(f"unix:{tmp_path / 'test.sock'}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"unix:{tmp_path / 'test.sock'}") as channel:
            stub = credentials_pb2_grpc.CredentialsStub(channel)
            calls = [stub.WatchBackends(credentials_pb2.WatchBackendsRequest()) for _ in range(20)]
            for call in calls:
                snapshot = await call.read()
                assert isinstance(snapshot, credentials_pb2.WatchBackendsResponse) and snapshot.generation == 1
            assert backends.watchers == 20
            for call in calls:
                call.cancel()
            deadline = time.monotonic() + 10
            while backends.watchers and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert backends.watchers == 0
    finally:
        await server.stop(0)


def test_the_vault_survives_a_sigkill_and_restart(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    with running_module("credential_service", home, socket_of(home)) as process:
        with grpc.insecure_channel(f"unix:{socket_of(home)}") as channel:
            add(credentials_pb2_grpc.CredentialsStub(channel), "durable", key=KEY)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    vault = home / "vault.json"
    assert vault.stat().st_mode & 0o777 == 0o600 and home.stat().st_mode & 0o777 == 0o700
    with running_module("credential_service", home, socket_of(home)):
        with grpc.insecure_channel(f"unix:{socket_of(home)}") as channel:
            stub = credentials_pb2_grpc.CredentialsStub(channel)
            lease = stub.Lease(credentials_pb2.LeaseRequest(backend="durable", credential="default"), timeout=5).lease
    assert lease.header_value == f"Bearer {KEY}"
