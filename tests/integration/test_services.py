"""Each gRPC service for real over its Unix socket: health, reflection, modes, contracts, crash durability."""

from __future__ import annotations

import os
import pathlib
import signal
import sqlite3

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from dario.grpc_client import health_check
from dario.testing.processes import running_module
from dario.v1 import credentials_pb2, credentials_pb2_grpc, pool_pb2, pool_pb2_grpc

pytestmark = pytest.mark.timeout(120)
KEY = "test-key-services-0123456789"


def listed_services(channel: grpc.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    return {service.name for answer in answers for service in answer.list_services_response.service}


@pytest.mark.parametrize(
    ("module", "socket_name", "service"),
    [("credential_service", "credential.sock", "dario.v1.Credentials"), ("pool_service", "pool.sock", "dario.v1.Pool")],
)
def test_service_answers_health_and_reflection_on_a_private_socket(
    tmp_path: pathlib.Path, module: str, socket_name: str, service: str
) -> None:
    home = tmp_path / "home"
    socket_path = home / "run" / socket_name
    with running_module(module, home, socket_path):
        assert socket_path.stat().st_mode & 0o777 == 0o600
        assert (home / "run").stat().st_mode & 0o777 == 0o700
        with grpc.insecure_channel(f"unix:{socket_path}") as channel:
            answer = health_check(channel)(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            assert {service, "grpc.health.v1.Health"} <= listed_services(channel)
    assert not socket_path.exists(), "a clean stop removes the socket"


def test_credentials_contract_and_persistence_across_a_sigkill(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    socket_path = home / "run" / "credential.sock"
    with running_module("credential_service", home, socket_path) as process:
        with grpc.insecure_channel(f"unix:{socket_path}") as channel:
            stub = credentials_pb2_grpc.CredentialsStub(channel)
            watch = stub.WatchBackends(credentials_pb2.WatchBackendsRequest(), timeout=30)
            first = next(watch)
            assert list(first.backends) == []
            stub.AddBackend(credentials_pb2.AddBackendRequest(
                name="o", kind=credentials_pb2.BACKEND_KIND_OPENAI, base_url="http://127.0.0.1:1/v1", api_key=KEY),
                timeout=5)
            second = next(watch)
            assert second.generation > first.generation and second.backends[0].name == "o"
            listing = stub.ListBackends(credentials_pb2.ListBackendsRequest(), timeout=5)
            assert KEY not in str(listing) and KEY.encode() not in listing.SerializeToString()
            assert KEY not in str(second)
            lease = stub.Lease(credentials_pb2.LeaseRequest(backend="o", credential="default"), timeout=5).lease
            assert lease.header_value == f"Bearer {KEY}" and lease.expires_at > 0
            with pytest.raises(grpc.RpcError) as caught:
                stub.AddBackend(credentials_pb2.AddBackendRequest(
                    name="../x", kind=credentials_pb2.BACKEND_KIND_OPENAI, base_url="http://127.0.0.1:1/v1"), timeout=5)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.RpcError) as caught:
                stub.Lease(credentials_pb2.LeaseRequest(backend="none", credential="default"), timeout=5)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            watch.cancel()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    with running_module("credential_service", home, socket_path):
        with grpc.insecure_channel(f"unix:{socket_path}") as channel:
            stub = credentials_pb2_grpc.CredentialsStub(channel)
            lease = stub.Lease(credentials_pb2.LeaseRequest(backend="o", credential="default"), timeout=5).lease
            assert lease.header_value == f"Bearer {KEY}"


def test_acknowledged_outcomes_survive_a_sigkill_of_pool_service(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    socket_path = home / "run" / "pool.sock"
    with running_module("pool_service", home, socket_path) as process:
        with grpc.insecure_channel(f"unix:{socket_path}") as channel:
            stub = pool_pb2_grpc.PoolStub(channel)
            first = stub.Acquire(pool_pb2.AcquireRequest(backend="b", candidates=["k1", "k2"]), timeout=5)
            second = stub.Acquire(pool_pb2.AcquireRequest(backend="b", candidates=["k1", "k2"]), timeout=5)
            assert {first.credential, second.credential} == {"k1", "k2"}
            with pytest.raises(grpc.RpcError) as caught:
                stub.Acquire(pool_pb2.AcquireRequest(backend="b", candidates=[]), timeout=5)
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            batches = [
                pool_pb2.ReportRequest(sequence=index, outcomes=[
                    pool_pb2.Outcome(request_id=f"r{index}-{item}", backend="b", credential="k1", status=200,
                                     input_tokens=1, output_tokens=2)
                    for item in range(10)
                ])
                for index in range(1, 51)
            ]
            acknowledged = [answer.sequence for answer in stub.Report(iter(batches), timeout=30)]
            assert acknowledged == list(range(1, 51))
            summary = stub.Summary(pool_pb2.SummaryRequest(), timeout=5)
            assert (summary.requests, summary.input_tokens, summary.output_tokens) == (500, 500, 1000)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    with sqlite3.connect(home / "analytics.db") as connection:
        assert connection.execute("select count(*) from requests").fetchone()[0] == 500
