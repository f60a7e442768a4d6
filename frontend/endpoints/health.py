"""GET /health (never needs auth: each service's state, the catalog, the outcome reporter) and the root probe."""

from __future__ import annotations

import asyncio

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2

from dario import __version__
from dario.grpc_server import health_check_aio
from frontend.state import STATE

HEALTH_TIMEOUT_SECONDS = 0.5


async def _service_state(channel: grpc.aio.Channel) -> str:
    try:
        answer = await health_check_aio(channel)(
            health_pb2.HealthCheckRequest(service=""), timeout=HEALTH_TIMEOUT_SECONDS
        )
    except grpc.RpcError as error:
        return "UNAVAILABLE" if error.code() == grpc.StatusCode.UNAVAILABLE else error.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    credential_state, pool_state = await asyncio.gather(
        _service_state(state.credentials.channel), _service_state(state.pool.channel)
    )
    catalog = state.credentials.catalog
    reporter = state.pool.reporter.health()
    # Still 200 while degraded (dario answers requests); a reporter behind means records are delayed or lost.
    healthy = credential_state == pool_state == "SERVING" and reporter["state"] == "ok"
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
        }
    )


async def root(request: web.Request) -> web.Response:
    return web.json_response({"name": "dario", "version": __version__})
