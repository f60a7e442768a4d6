"""POST /v1/chat/completions: routed to an openai-kind backend, the body forwarded unchanged."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from frontend.catalog import Backend
from frontend.errors import ApiError
from frontend.exchange import Exchange
from frontend.parsing import parse_chat_request
from frontend.routing import NoRoute, route
from frontend.state import REQUEST_ID, STATE, State
from frontend.upstream import relay, upstream_headers


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    exchange = Exchange(request_id=request[REQUEST_ID], api_format="openai")
    try:
        return await _proxy(request, state, exchange)
    except ApiError as error:
        exchange.fail(error.status, error.code or "dario_error")
        raise
    except web.HTTPException as error:
        exchange.fail(error.status, error.reason.lower().replace(" ", "_"))
        raise
    except asyncio.CancelledError:
        if not exchange.delivered:
            exchange.fail(499, "client_disconnected")
        raise
    finally:
        state.pool.reporter.add(exchange.outcome())


async def _proxy(request: web.Request, state: State, exchange: Exchange) -> web.StreamResponse:
    body = await request.read()
    parsed = parse_chat_request(body)
    exchange.model, exchange.stream = parsed.model, parsed.stream
    backend = _backend_for(state, parsed.model)
    exchange.backend = backend.name
    credential = await state.pool.acquire(backend.name, backend.credentials, exchange.request_id, parsed.model)
    exchange.credential, exchange.acquired = credential, True
    revision = dict(zip(backend.credentials, backend.revisions)).get(credential, 0)
    lease = await state.credentials.lease(backend.name, credential, revision)
    url = backend.endpoint("/chat/completions")
    try:
        async with state.session.post(url, data=body, headers=upstream_headers(request.headers, lease)) as upstream:
            return await relay(request, upstream, exchange)
    except TimeoutError:
        raise ApiError(
            504,
            f"backend {backend.name!r} did not answer within {state.settings.upstream_timeout:.0f}s",
            code="upstream_timeout",
        ) from None
    except aiohttp.ClientError as error:
        raise ApiError(
            502, f"could not reach backend {backend.name!r} at {backend.base_url}: {error}", code="upstream_unreachable"
        ) from None


def _backend_for(state: State, model: str) -> Backend:
    try:
        backend = route(model, state.credentials.require_catalog(), state.settings.default_backend).backend
    except NoRoute as error:
        raise ApiError(404, str(error), param="model", code="model_not_found") from None
    if backend.kind != "openai":
        raise ApiError(
            501,
            f"model {model!r} routes to backend {backend.name!r}, which speaks the {backend.kind} API; "
            "translating /v1/chat/completions to it is not available yet",
            param="model",
            code="translation_unavailable",
        )
    if not backend.credentials:
        raise ApiError(503, f"backend {backend.name!r} has no credentials; add one with `dario backend add`")
    return backend
