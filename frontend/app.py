"""The frontend's application factory: routes, middlewares, and the clients started and stopped with it."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from dario.config import Config, ConfigWatcher
from frontend.access import check_browser, check_json_body, check_key, cors_preflight
from frontend.dialects import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_EMBEDDINGS, OPENAI_RESPONSES, api_format_of
from frontend.endpoints import admin, api, count_tokens, health, insights, models
from frontend.error_mapping import from_http_exception
from frontend.errors import ApiError, error_response
from frontend.metrics import Metrics
from frontend.services import access_log
from frontend.services.credentials import CredentialsClient
from frontend.services.pool import PoolClient
from frontend.state import REQUEST_ID, STATE, State
from frontend.ui import pages as dashboard

log = logging.getLogger(__name__)

# In-flight requests get this long to finish on SIGTERM; supervisord's stopwaitsecs is longer.
SHUTDOWN_GRACE_SECONDS = 20.0
# Before listening, the frontend waits this long for credential_service's first catalog when it is running:
# a frontend restarted under load would otherwise answer 503 "no catalog yet" for its first moments.
STARTUP_CATALOG_SECONDS = 5.0


# Request ids name a request in logs, analytics and the x-request-id header; nothing is guarded by guessing one, so
# a seeded Mersenne Twister gives them (uuid4 asked the kernel for 16 random bytes per request).
_ids = random.Random()


def new_request_id() -> str:
    return f"req_{_ids.getrandbits(96):024x}"


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Gives every request an id and turns every failure into an error in the client's API format."""
    request[REQUEST_ID] = new_request_id()
    api_format = api_format_of(request.path)
    config = request.app[STATE].config
    try:
        check_browser(request, config)  # before all else: a refused page learns nothing, not even a 401
        preflight = cors_preflight(request, config.server.cors_origin)
        if preflight is not None:
            return preflight
        check_key(request, config.server.api_key)
        check_json_body(request)
        return await handler(request)
    except ApiError as error:
        if dashboard.is_ui(request.path) and error.status in (401, 403):  # a browser: a page, not JSON
            return dashboard.refused_page(error.message) if error.status == 403 else dashboard.needs_login(request)
        response = error_response(error, api_format)
        if request.content.exception() is not None:  # its body broke (e.g. a bad chunk): the stream is lost
            response.force_close()
        return response
    except web.HTTPException as error:
        if error.status < 400:
            raise
        limit = request.app[STATE].config.limits.body_bytes
        return error_response(from_http_exception(error, request.method, request.path, limit), api_format)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        failure = ApiError(500, "dario hit an internal error; see $DARIO_HOME/logs", code="internal_error")
        return error_response(failure, api_format)


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    request_id = request.get(REQUEST_ID) or new_request_id()
    response.headers["request-id"] = request_id
    response.headers["x-request-id"] = request_id
    origin = request.app[STATE].config.server.cors_origin
    if origin:
        vary = response.headers.get("vary", "")  # the answer differs by Origin: caches must not share it
        if "origin" not in vary.lower():
            response.headers["vary"] = f"{vary}, origin" if vary else "origin"
        if request.headers.get("origin", "").strip().lower() == origin:
            response.headers["access-control-allow-origin"] = origin


def init(config: Config) -> web.Application:
    app = web.Application(client_max_size=config.limits.body_bytes, middlewares=[errors_middleware])
    app.cleanup_ctx.append(lambda app: _clients(app, config))
    app.on_response_prepare.append(_stamp_request_id)
    app.router.add_post("/v1/chat/completions", api.handler(OPENAI_CHAT))
    app.router.add_post("/v1/messages", api.handler(ANTHROPIC_MESSAGES))
    app.router.add_post("/v1/responses", api.handler(OPENAI_RESPONSES))
    app.router.add_post("/v1/embeddings", api.handler(OPENAI_EMBEDDINGS))
    app.router.add_post("/v1/messages/count_tokens", count_tokens.count_tokens)
    app.router.add_get("/v1/models", models.models)
    app[models.LISTINGS] = models.Listings()  # the cached /models answers (routing reads them too)
    app.on_cleanup.append(lambda app: app[models.LISTINGS].close())
    app.router.add_get("/health", health.health)
    app.router.add_get("/status", admin.status)
    app.router.add_get("/accounts", admin.accounts)
    app.router.add_get("/metrics", admin.metrics)
    app.router.add_get("/analytics", admin.analytics)
    app.router.add_get("/analytics/timeline", insights.timeline)
    app.router.add_get("/analytics/requests", insights.recent_requests)
    app.router.add_get("/config", insights.config)
    dashboard.add_routes(app)
    app.router.add_get("/", health.root)
    return app


async def _log_routing(config: Config) -> None:
    log.info("routing: %d rule(s), %d alias(es)", len(config.routing.rules), len(config.routing.aliases))


async def _clients(app: web.Application, config: Config) -> AsyncIterator[None]:
    credentials = CredentialsClient(str(config.paths.credential_socket), config.limits.grpc_seconds,
                                    refresh_timeout=config.credentials.token_timeout_seconds + 5.0)
    pool = PoolClient(str(config.paths.pool_socket), config.limits.grpc_seconds,
                      queue_timeout=config.pools.queue_seconds, local_pools=not config.cluster.shares_pools)
    if config.server.access_log:
        pool.reporter.on_outcome = access_log.write
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=config.limits.connect_seconds, sock_read=config.limits.upstream_seconds
    )
    session = aiohttp.ClientSession(
        timeout=timeout,
        connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
        auto_decompress=True,
        raise_for_status=False,
        # Upstream cookies are never kept: aiohttp's default jar would send one (Cloudflare's __cf_bm, say) with
        # every later request to that host, whichever client or credential sent it.
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    watcher = ConfigWatcher(config, "the previous routing rules stay in force", _log_routing)
    app[STATE] = State(config=config, credentials=credentials, pool=pool, session=session, config_watcher=watcher,
                       metrics=Metrics())
    await credentials.start()
    await pool.start()
    await watcher.check()  # the rules as config.toml holds them now, before the first request
    watcher.start()
    await credentials.wait_for_first_catalog(STARTUP_CATALOG_SECONDS)
    yield
    await watcher.close()
    await session.close()
    await pool.close()
    await credentials.close()
