"""Foreign errors map once, at their boundary: gRPC failures of dario's services."""

from __future__ import annotations

import grpc
import pytest

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
    assert "supervisord -c deploy/dario.conf" in error.message


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.DEADLINE_EXCEEDED, 503),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.FAILED_PRECONDITION, 503),
        (grpc.StatusCode.INTERNAL, 500),
    ],
)
def test_grpc_codes_map_to_http_statuses(code: grpc.StatusCode, status: int) -> None:
    assert from_rpc_error(FakeRpcError(code, "detail"), "credential_service", "/s").status == status
