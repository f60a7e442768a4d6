"""Client requests to backends: natively (same kind, the body unchanged) or translated (the other kind)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web

from dario.catalog import Backend
from dario.routing import NoRoute, Route, route
from frontend.credentials_client import Lease
from frontend.dialects import Dialect
from frontend.errors import ApiError
from frontend.exchange import Exchange
from frontend.state import REQUEST_ID, STATE, State
from frontend.translated import forward, plan
from frontend.upstream import UpstreamCall, relay


def handler(dialect: Dialect):
    """The aiohttp handler for one endpoint; every request, failed or not, becomes an analytics outcome."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        exchange = Exchange(request_id=request[REQUEST_ID], api_format=dialect.api_format)
        try:
            return await _proxy(request, state, exchange, dialect)
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

    return handle


async def read_body(request: web.Request, state: State) -> bytes:
    """The whole request body, or 408 when the client sends it too slowly (slow-body clients hold a slot)."""
    try:
        return await asyncio.wait_for(request.read(), state.settings.body_read_timeout)
    except TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {state.settings.body_read_timeout:.0f}s",
                       code="request_timeout") from None


async def _proxy(request: web.Request, state: State, exchange: Exchange, dialect: Dialect) -> web.StreamResponse:
    body = await read_body(request, state)
    parsed = dialect.parse(body)
    exchange.model, exchange.stream = parsed.model, parsed.stream
    chosen = route_for(state, parsed.model)
    backend = chosen.backend
    exchange.backend = backend.name
    translation = None
    if backend.kind != dialect.native_kind:
        translation = plan(dialect, parsed, chosen.model, state.settings.default_max_tokens)
    elif chosen.model != parsed.model:
        body = json.dumps(dict(parsed.document, model=chosen.model), ensure_ascii=False).encode()
    credential = await state.pool.acquire(backend.name, usable_credentials(backend), exchange.request_id,
                                          parsed.model)
    exchange.credential, exchange.acquired = credential, True
    revision = dict(zip(backend.credentials, backend.revisions)).get(credential, 0)
    lease = await state.credentials.lease(backend.name, credential, revision)

    async def reauthenticate(rejected: Lease) -> Lease | None:
        return await state.credentials.force_refresh(backend.name, credential, rejected)

    call = UpstreamCall(state.session, request.headers, lease, reauthenticate)
    try:
        if translation is not None:
            return await forward(request, call, backend, exchange, translation)
        url = backend.endpoint(dialect.upstream_path)
        if request.rel_url.query_string:  # e.g. Claude Code's ?beta=true
            url = f"{url}?{request.rel_url.query_string}"
        async with await call.post(url, body, dialect) as upstream:
            return await relay(request, upstream, exchange, dialect)
    except TimeoutError:
        raise ApiError(
            504,
            f"backend {backend.name!r} did not answer within {state.settings.upstream_timeout:.0f}s",
            code="upstream_timeout",
        ) from None
    except aiohttp.ClientError as error:
        message = f"could not reach backend {backend.name!r} at {backend.base_url}: {error}"
        raise ApiError(502, message, code="upstream_unreachable") from None


def route_for(state: State, model: str) -> Route:
    try:
        chosen = route(model, state.credentials.require_catalog(), state.routing.current)
    except NoRoute as error:
        raise ApiError(404, str(error), param="model", code="model_not_found") from None
    if not chosen.backend.credentials:
        raise ApiError(503, f"backend {chosen.backend.name!r} has no credentials; add one with `dario accounts add`")
    return chosen


def usable_credentials(backend: Backend) -> tuple[str, ...]:
    """The credentials that can serve; 503 naming the fix when none can (e.g. every one needs a login)."""
    usable = backend.usable()
    if not usable:
        states = ", ".join(f"{name}: {state}" for name, state in zip(backend.credentials, backend.states))
        raise ApiError(503, f"no credential of backend {backend.name!r} can serve now ({states}); "
                            f"see `dario status`, and `dario login {backend.name}` for those that need a login",
                       code="no_usable_credential")
    return usable
