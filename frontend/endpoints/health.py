"""GET /health (never needs auth: each service's state, the catalog, the outcome reporter) and the root probe."""

from __future__ import annotations

import asyncio

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2

from dario import __version__
from dario.grpc_client import ANALYTICS_HEALTH, CLUSTER_HEALTH, health_check_aio
from frontend.state import STATE

HEALTH_TIMEOUT_SECONDS = 0.5


async def _service_state(channel: grpc.aio.Channel, service: str = "") -> str:
    try:
        answer = await health_check_aio(channel)(
            health_pb2.HealthCheckRequest(service=service), timeout=HEALTH_TIMEOUT_SECONDS
        )
    except grpc.RpcError as error:
        return "UNAVAILABLE" if error.code() == grpc.StatusCode.UNAVAILABLE else error.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    credential_state, pool_state, cluster_state, analytics_state = await asyncio.gather(
        _service_state(state.credentials.channel), _service_state(state.pool.channel),
        _service_state(state.pool.channel, CLUSTER_HEALTH), _service_state(state.pool.channel, ANALYTICS_HEALTH),
    )
    catalog = state.credentials.catalog
    reporter = state.pool.reporter.health()
    # Pools shared in Redis ([cluster] redis): "shared", or "degraded" while Redis is away (each host then chooses
    # from its own state; requests still succeed). Without a cluster pool_service knows no such health name.
    cluster = {"SERVING": "shared", "NOT_SERVING": "degraded"}.get(cluster_state)
    # Analytics shipped to PostgreSQL ([cluster] postgres): "shared", or "degraded" while PostgreSQL is away (outcomes
    # then wait in the host's SQLite and are shipped when it answers).
    analytics = {"SERVING": "shared", "NOT_SERVING": "degraded"}.get(analytics_state)
    shown = {name: value for name, value in (("pools", cluster), ("analytics", analytics)) if value is not None}
    # Still 200 while degraded (dario answers requests); a reporter behind means records are delayed or lost.
    healthy = (credential_state == pool_state == "SERVING" and reporter["state"] == "ok"
               and "degraded" not in shown.values())
    return web.json_response(
        {
            "status": "ok" if healthy else "degraded",
            "version": __version__,
            "services": {
                "credential_service": {"state": credential_state, "socket": state.credentials.socket_path},
                "pool_service": {"state": pool_state, "socket": state.pool.socket_path},
            },
            "backends": len(catalog.backends) if catalog else None,
            "outcomes_backlog": reporter["backlog"],
            "reporter": reporter,
            **({"cluster": shown} if shown and pool_state == "SERVING" else {}),
        }
    )


async def root(request: web.Request) -> web.Response:
    return web.json_response({"name": "dario", "version": __version__})
