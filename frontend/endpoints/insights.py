"""What the dashboard reads besides /accounts, /status and /analytics (issue 14), as JSON any client may read:
GET /analytics/timeline (traffic per time bucket), GET /analytics/requests (the latest requests, a page) and
GET /config (backends without keys, routes, aliases, fallbacks, prices). No secret in any."""

from __future__ import annotations

import urllib.parse

from aiohttp import web

from dario.conversions import price_to_json, recorded_to_json, timeline_to_json
from dario.enums import BACKEND_KINDS, CREDENTIAL_STATES
from dario.v1 import pool_pb2
from frontend.errors import ApiError
from frontend.services.pool import call_admin
from frontend.state import STATE

MAX_WINDOW = 10 * 365 * 86400
TEXT_FILTERS = ("backend", "model", "client", "session", "project")
FILTER_CHARACTERS = 512


def _number(request: web.Request, name: str, default: float, low: float, high: float, example: str) -> float:
    try:
        value = float(request.query.get(name, default))
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be a number from {low:g} to {high:g}, e.g. ?{name}={example}", param=name,
                       code=f"invalid_{name}")
    return value


async def timeline(request: web.Request) -> web.Response:
    """GET /analytics/timeline?window=SECONDS&by=backend|model|credential|client|project[&bucket=SECONDS]."""
    window = _number(request, "window", 3600, 1, MAX_WINDOW, "3600")
    bucket = _number(request, "bucket", 0, 0, MAX_WINDOW, "60")
    message = pool_pb2.TimelineRequest(window_seconds=window, bucket_seconds=bucket,
                                       by=request.query.get("by", "backend")[:FILTER_CHARACTERS])
    pool = request.app[STATE].pool
    answer = await call_admin(pool, pool.stub.Timeline, message)
    return web.json_response(timeline_to_json(answer))


async def recent_requests(request: web.Request) -> web.Response:
    """GET /analytics/requests?limit=50&offset=0[&backend=…&model=…&status=…&client=…&session=…&project=…]."""
    limit = int(_number(request, "limit", 50, 1, 500, "50"))
    offset = int(_number(request, "offset", 0, 0, 1_000_000, "50"))
    status = int(_number(request, "status", 0, 0, 999, "429"))
    filters = {name: request.query.get(name, "")[:FILTER_CHARACTERS] for name in TEXT_FILTERS}
    message = pool_pb2.RecentRequestsRequest(limit=limit, offset=offset, status=status, **filters)
    pool = request.app[STATE].pool
    answer = await call_admin(pool, pool.stub.RecentRequests, message)
    return web.json_response({"requests": [recorded_to_json(entry) for entry in answer.requests],
                              "total": answer.total, "limit": limit, "offset": offset})


def shown_url(url: str) -> str:
    """A base URL without what could be a secret in it (user:password@, a query, a fragment)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


async def config(request: web.Request) -> web.Response:
    """GET /config: the backends (names, kinds, URLs, credential names and states; never a key), the routing in
    force (rules with their fallbacks, aliases, default backend) and the prices analytics applies."""
    state = request.app[STATE]
    backends = await state.credentials.list_backends()
    prices = await call_admin(state.pool, state.pool.stub.Prices, pool_pb2.PricesRequest())
    routing = state.routing
    return web.json_response({
        "backends": [{"name": backend.name, "kind": BACKEND_KINDS.name(backend.kind),
                      "base_url": shown_url(backend.base_url),
                      "credentials": [{"name": credential.name, "state": CREDENTIAL_STATES.name(credential.state)}
                                      for credential in backend.credentials]}
                     for backend in backends],
        "rules": [{"line": rule.line, "match": rule.match, "backend": rule.backend, "model": rule.model or None,
                   "fallbacks": list(rule.fallbacks)} for rule in routing.rules],
        "aliases": dict(routing.aliases),
        "default_backend": routing.default_backend or None,
        "prices": [price_to_json(entry) for entry in prices.prices],
    })

