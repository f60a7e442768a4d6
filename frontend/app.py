"""The frontend's application factory: routes, middlewares, and the clients started and stopped with it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from dario.settings import Settings
from frontend.access import check_browser, check_json_body, check_key, cors_preflight
from frontend.config_watch import RoutingWatcher
from frontend.dialects import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES, api_format_of
from frontend.endpoints import admin, api, count_tokens, health, models
from frontend.error_mapping import from_http_exception
from frontend.errors import ApiError, error_response
from frontend.metrics import Metrics
from frontend.services.credentials import CredentialsClient
from frontend.services.pool import PoolClient
from frontend.state import REQUEST_ID, STATE, State

log = logging.getLogger(__name__)

# In-flight requests get this long to finish on SIGTERM; supervisord's stopwaitsecs is longer.
SHUTDOWN_GRACE_SECONDS = 20.0
# Before listening, the frontend waits this long for credential_service's first catalog when it is running:
# a frontend restarted under load would otherwise answer 503 "no catalog yet" for its first moments.
STARTUP_CATALOG_SECONDS = 5.0


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Gives every request an id and turns every failure into an error in the client's API format."""
    request[REQUEST_ID] = new_request_id()
    api_format = api_format_of(request.path)
    settings = request.app[STATE].settings
    try:
        check_browser(request, settings)  # before all else: a refused page learns nothing, not even a 401
        preflight = cors_preflight(request, settings.cors_origin)
        if preflight is not None:
            return preflight
        check_key(request, settings.api_key)
        check_json_body(request)
        return await handler(request)
    except ApiError as error:
        response = error_response(error, api_format)
        if request.content.exception() is not None:  # its body broke (e.g. a bad chunk): the stream is lost
            response.force_close()
        return response
    except web.HTTPException as error:
        if error.status < 400:
            raise
        limit = request.app[STATE].settings.body_limit
        return error_response(from_http_exception(error, request.method, request.path, limit), api_format)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        failure = ApiError(500, "dario hit an internal error; see $DARIO_HOME/logs", code="internal_error")
        return error_response(failure, api_format)


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    request_id = request.get(REQUEST_ID) or new_request_id()
    response.headers["request-id"] = request_id
    response.headers["x-request-id"] = request_id
    origin = request.app[STATE].settings.cors_origin
    if origin:
        vary = response.headers.get("vary", "")  # the answer differs by Origin: caches must not share it
        if "origin" not in vary.lower():
            response.headers["vary"] = f"{vary}, origin" if vary else "origin"
        if request.headers.get("origin", "").strip().lower() == origin:
            response.headers["access-control-allow-origin"] = origin


def init(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.body_limit, middlewares=[errors_middleware])
    app.cleanup_ctx.append(lambda app: _clients(app, settings))
    app.on_response_prepare.append(_stamp_request_id)
    app.router.add_post("/v1/chat/completions", api.handler(OPENAI_CHAT))
    app.router.add_post("/v1/messages", api.handler(ANTHROPIC_MESSAGES))
    app.router.add_post("/v1/responses", api.handler(OPENAI_RESPONSES))
    app.router.add_post("/v1/messages/count_tokens", count_tokens.count_tokens)
    app.router.add_get("/v1/models", models.models)
    app.router.add_get("/health", health.health)
    app.router.add_get("/status", admin.status)
    app.router.add_get("/accounts", admin.accounts)
    app.router.add_get("/metrics", admin.metrics)
    app.router.add_get("/analytics", admin.analytics)
    app.router.add_get("/", health.root)
    return app


async def _clients(app: web.Application, settings: Settings) -> AsyncIterator[None]:
    credentials = CredentialsClient(str(settings.paths.credential_socket), settings.grpc_timeout,
                                    refresh_timeout=settings.token_timeout + 5.0)
    pool = PoolClient(str(settings.paths.pool_socket), settings.grpc_timeout, queue_timeout=settings.queue_seconds)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=settings.connect_timeout, sock_read=settings.upstream_timeout
    )
    session = aiohttp.ClientSession(
        timeout=timeout,
        connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
        auto_decompress=True,
        raise_for_status=False,
    )
    routing = RoutingWatcher(settings)
    app[STATE] = State(settings=settings, credentials=credentials, pool=pool, session=session, routing=routing,
                       metrics=Metrics())
    await credentials.start()
    await pool.start()
    await routing.start()
    await credentials.wait_for_first_catalog(STARTUP_CATALOG_SECONDS)
    yield
    await routing.close()
    await session.close()
    await pool.close()
    await credentials.close()
