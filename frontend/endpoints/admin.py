"""Informational endpoints: GET /health (never needs auth), GET /v1/models, and the root probe."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dario import __version__
from dario.catalog import Backend
from dario.presets import speaks
from dario.routes import RoutingConfig
from dario.routing import NoRoute, route
from dario.v1 import pool_pb2
from frontend.errors import ApiError
from frontend.metrics import scrape
from frontend.services.pool import call_admin
from frontend.state import STATE, State

HEALTH_TIMEOUT_SECONDS = 0.5
MODELS_TIMEOUT = aiohttp.ClientTimeout(total=5.0)


async def _service_state(channel: grpc.aio.Channel) -> str:
    try:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
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


async def status(request: web.Request) -> web.Response:
    """GET /status: every credential's kind, expiry and refresh state, asked of credential_service (no secret)."""
    state = request.app[STATE]
    backends = await state.credentials.list_backends()
    now = time.time()
    credentials = [
        {
            "backend": backend.name, "name": credential.name, "kind": credential.kind, "state": credential.state,
            "expires_at": credential.expires_at or None,
            "expires_in": round(credential.expires_at - now, 1) if credential.expires_at else None,
            "last_refresh": credential.last_refresh or None, "last_error": credential.last_error or None,
            "hint": credential.hint or None, "token_url": credential.token_url or None,
            "client_id": credential.client_id or None, "scope": credential.scope or None,
        }
        for backend in backends
        for credential in backend.credentials
    ]
    return web.json_response({"credentials": credentials, "lease_generation": state.credentials.lease_generation,
                              "forced_refreshes": state.credentials.forced_refreshes})


async def accounts(request: web.Request) -> web.Response:
    """GET /accounts: the pool state of every credential (headroom, windows, cooldown, in flight), no secret."""
    state = request.app[STATE]
    answer = await call_admin(state.pool, "Accounts", pool_pb2.AccountsRequest())
    return web.json_response({"accounts": [account_to_json(account) for account in answer.accounts],
                              "queue_depth": answer.queue_depth})


def account_to_json(account: pool_pb2.AccountState) -> dict:
    return {
        "backend": account.backend, "credential": account.credential, "status": account.status,
        "headroom": round(account.headroom, 4), "cooldown_until": account.cooldown_until or None,
        "in_flight": account.in_flight, "chosen": account.chosen, "last_status": account.last_status or None,
        "windows": [{"name": window.name, "limit": window.limit, "remaining": window.remaining,
                     "reset_at": window.reset_at or None} for window in account.windows],
    }


async def metrics(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return await scrape(state.metrics, state.pool)


async def analytics(request: web.Request) -> web.Response:
    """GET /analytics[?window=SECONDS]: pool_service's report (window and all-time totals, groups, burn, forecast)."""
    state = request.app[STATE]
    try:
        window = float(request.query.get("window", "3600"))
    except ValueError:
        window = -1.0
    if not 0 < window <= 10 * 365 * 86400:
        raise ApiError(400, "window must be a number of seconds, e.g. ?window=3600", param="window",
                       code="invalid_window")
    answer = await call_admin(state.pool, "Analytics", pool_pb2.AnalyticsRequest(window_seconds=window))
    return web.Response(text=answer.json, content_type="application/json")


async def root(request: web.Request) -> web.Response:
    return web.json_response({"name": "dario", "version": __version__})


async def models(request: web.Request) -> web.Response:
    """The models the openai backends serve (asked of each, concurrently), in the shape both SDKs accept."""
    state = request.app[STATE]
    catalog = state.credentials.require_catalog()
    backends = [backend for backend in catalog.backends if speaks(backend.kind, "openai") and backend.credentials]
    listings = await asyncio.gather(*(_upstream_models(state, backend) for backend in backends))
    seen: set[str] = set()
    data = []
    for backend, listing in zip(backends, listings):
        for model_id in listing:
            if model_id not in seen:
                seen.add(model_id)
                data.append({"id": model_id, "object": "model", "created": 0, "owned_by": backend.name})
    for model_id in _configured_models(state.routing.current):
        try:
            owner = route(model_id, catalog, state.routing.current).backend.name
        except NoRoute:
            continue
        if model_id not in seen:
            seen.add(model_id)
            data.append({"id": model_id, "object": "model", "created": 0, "owned_by": owner})
    return web.json_response({"object": "list", "data": data})


def _configured_models(routing: RoutingConfig) -> list[str]:
    """Aliases and exact (glob-free) rule matches: the names config.toml makes servable."""
    exact = [rule.match for rule in routing.rules if not any(mark in rule.match for mark in "*?[")]
    return [*routing.aliases, *exact]


async def _upstream_models(state: State, backend: Backend) -> list[str]:
    usable = backend.usable()
    if not usable:
        return []
    credential = usable[0]
    try:
        lease = await state.credentials.lease(backend.name, credential, backend.revision_of(credential))
        headers = {lease.header_name: lease.header_value} if lease.header_name else {}
        async with state.session.get(  # a redirect is not followed (the key would go with it): no listing
            backend.endpoint("/models"), headers=headers, timeout=MODELS_TIMEOUT, allow_redirects=False
        ) as answer:
            if answer.status != 200:
                return []
            document = await answer.json(content_type=None)
    except Exception:  # noqa: BLE001 — a backend without /models must not break the listing of the others
        return []
    items = document.get("data") if isinstance(document, dict) else None
    return [item["id"] for item in items or [] if isinstance(item, dict) and isinstance(item.get("id"), str)]

