"""A thin synchronous gRPC client of dario's two services, with errors a user can act on."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2

from dario.config import Paths
from dario.grpc_client import health_check
from dario.v1 import credentials_pb2_grpc, pool_pb2_grpc

TIMEOUT_SECONDS = 5.0
START_HINT = "Start the stack: dario up"
Answer = TypeVar("Answer")


class CliError(Exception):
    """An error the CLI prints as one line before exiting non-zero."""


def not_running(service: str, socket_path: pathlib.Path) -> CliError:
    return CliError(f"{service} is not running (no answer on {socket_path}). {START_HINT}")


class AdminClient:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._channels: list[grpc.Channel] = []

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        for channel in self._channels:
            channel.close()

    def _channel(self, socket_path: pathlib.Path) -> grpc.Channel:
        channel = grpc.insecure_channel(f"unix:{socket_path}")
        self._channels.append(channel)
        return channel

    def credentials(self) -> credentials_pb2_grpc.CredentialsStub:
        return credentials_pb2_grpc.CredentialsStub(self._channel(self.paths.credential_socket))

    def pool(self) -> pool_pb2_grpc.PoolStub:
        return pool_pb2_grpc.PoolStub(self._channel(self.paths.pool_socket))

    def call(self, service: str, method: Callable[..., Answer], request: object,
             timeout: float = TIMEOUT_SECONDS) -> Answer:
        """Calls one RPC; a service that is down or an error it returns becomes a CliError."""
        socket_path = self.paths.credential_socket if service == "credential_service" else self.paths.pool_socket
        if not socket_path.exists():
            raise not_running(service, socket_path)
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise not_running(service, socket_path) from None
            raise CliError(error.details() or error.code().name) from None

    def health(self, service: str) -> str:
        socket_path = self.paths.credential_socket if service == "credential_service" else self.paths.pool_socket
        if not socket_path.exists():
            return "not running"
        try:
            answer = health_check(self._channel(socket_path))(
                health_pb2.HealthCheckRequest(service=""), timeout=2.0
            )
        except grpc.RpcError:
            return "not running"
        return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
