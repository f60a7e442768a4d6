"""Foreign errors map once, at their boundary: gRPC failures of dario's services."""

from __future__ import annotations

import pathlib

import grpc
import pytest

from dario.grpc_client import unix_target
from dario.v1 import pool_pb2, pool_pb2_grpc
from frontend.error_mapping import from_rpc_error
from frontend.errors import ServiceUnavailable


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str = "") -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def test_unavailable_service_becomes_503_naming_it_and_how_to_start() -> None:
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE), "pool_service", "/h/run/pool.sock")
    assert isinstance(error, ServiceUnavailable)
    assert error.status == 503
    assert "pool_service" in error.message and "/h/run/pool.sock" in error.message
    assert "dario up" in error.message


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.FAILED_PRECONDITION, 503),
        (grpc.StatusCode.INTERNAL, 500),
    ],
)
def test_grpc_codes_map_to_http_statuses(code: grpc.StatusCode, status: int) -> None:
    assert from_rpc_error(FakeRpcError(code, "detail"), "credential_service", "/s").status == status


def test_a_passed_deadline_is_a_gateway_timeout_naming_the_service() -> None:
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED), "pool_service", "/h/run/pool.sock")
    assert isinstance(error, ServiceUnavailable)
    assert (error.status, error.code) == (504, "service_timeout")
    assert "pool_service" in error.message and "in time" in error.message and "/h/run/pool.sock" in error.message


async def test_a_deadline_passed_waiting_for_an_absent_service_is_still_a_503(tmp_path: pathlib.Path) -> None:
    """A real call that waited for a service never there (nothing on the socket) is its absence, not slowness."""
    socket_path = tmp_path / "pool.sock"
    async with grpc.aio.insecure_channel(unix_target(socket_path)) as channel:
        with pytest.raises(grpc.RpcError) as raised:
            await pool_pb2_grpc.PoolStub(channel).Accounts(pool_pb2.AccountsRequest(), timeout=0.2,
                                                            wait_for_ready=True)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        error = from_rpc_error(raised.value, "pool_service", str(socket_path), channel)
    assert (error.status, error.code) == (503, "service_unavailable")
    assert "pool_service" in error.message and "not running" in error.message
