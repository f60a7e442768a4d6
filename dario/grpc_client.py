"""What a caller of dario's gRPC services needs: the Unix socket target, the channel options, the health-check
stubs and the names of the extra health services. Serving lives in dario.grpc_server, which a caller never
imports (its health servicer and reflection stay out of the frontend and the CLI)."""

from __future__ import annotations

import os

import grpc
from grpc_health.v1 import health_pb2

# The health-check name under which pool_service reports whether the cluster's Redis is reachable (SERVING) or not
# (NOT_SERVING: pools local to the host meanwhile); unknown (NOT_FOUND) without [cluster] redis.
CLUSTER_HEALTH = "dario.cluster.redis"
# Likewise whether the cluster's PostgreSQL takes this host's analytics (NOT_SERVING: outcomes wait in the host's
# SQLite); unknown (NOT_FOUND) without [cluster] postgres.
ANALYTICS_HEALTH = "dario.cluster.postgres"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"

# Reconnect quickly after a service restarts; gRPC's default backoff grows to two minutes.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


def unix_target(socket_path: str | os.PathLike[str]) -> str:
    return f"unix:{socket_path}"


# The health service's Check, as grpc_health's HealthStub has it; typed here because its stubs package declares
# HealthStub without its methods.
def health_check(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable[
        health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse]:
    return channel.unary_unary(HEALTH_CHECK, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                               response_deserializer=health_pb2.HealthCheckResponse.FromString)


def health_check_aio(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable[
        health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse]:
    return channel.unary_unary(HEALTH_CHECK, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                               response_deserializer=health_pb2.HealthCheckResponse.FromString)
