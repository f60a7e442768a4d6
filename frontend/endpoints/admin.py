"""Admin endpoints (no secret in any): GET /status (credentials, asked of credential_service), GET /accounts (the
pool, asked of pool_service), GET /analytics (pool_service's report) and GET /metrics (Prometheus)."""

from __future__ import annotations

import time

from aiohttp import web

from dario.conversions import (
    GROUP_KEYS,
    OPTIONAL_GROUP_KEYS,
    account_to_json,
    credential_status_to_json,
    report_to_json,
)
from dario.v1 import pool_pb2
from frontend.errors import ApiError
from frontend.metrics import scrape
from frontend.services.pool import call_admin
from frontend.state import STATE


async def status(request: web.Request) -> web.Response:
    """GET /status: every credential's kind, expiry and refresh state, asked of credential_service (no secret)."""
    state = request.app[STATE]
    backends = await state.credentials.list_backends()
    now = time.time()
    credentials = [credential_status_to_json(backend, credential, now)
                   for backend in backends for credential in backend.credentials]
    return web.json_response({"credentials": credentials, "lease_generation": state.credentials.lease_generation,
                              "forced_refreshes": state.credentials.forced_refreshes})


async def accounts(request: web.Request) -> web.Response:
    """GET /accounts: the pool state of every credential (headroom, windows, cooldown, in flight), no secret."""
    state = request.app[STATE]
    answer = await call_admin(state.pool, state.pool.stub.Accounts, pool_pb2.AccountsRequest())
    shown: dict[str, object] = {"accounts": [account_to_json(account) for account in answer.accounts],
                                "queue_depth": answer.queue_depth, "queue_depth_here": answer.queue_depth_here}
    if answer.queue_depth_by_instance:  # pools shared by several instances: queue_depth is their sum
        shown["queue_depth_by_instance"] = dict(sorted(answer.queue_depth_by_instance.items()))
    return web.json_response(shown)


async def metrics(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return await scrape(state.metrics, state.pool)


FILTER_CHARS = 256  # as long as any recorded session, project or client can be
# A week of a million-row database grouped by session takes seconds of SQLite on a busy machine (README, Usage per
# session): more than the other admin calls' 10 s would allow.
ANALYTICS_DEADLINE_SECONDS = 60.0


async def analytics(request: web.Request) -> web.Response:
    """GET /analytics[?window=SECONDS][&by=session,project,client,instance][&session=ID][&project=NAME][&client=NAME]
    [&instance=NAME] (instance: a cluster's report, [cluster] postgres):
    pool_service's report (window and all-time totals, groups, burn, forecast), with a by_<name> list for each
    grouping in by, and every part narrowed to the session, project or client given."""
    state = request.app[STATE]
    try:
        window = float(request.query.get("window", "3600"))
    except ValueError:
        window = -1.0
    if not 0 < window <= 10 * 365 * 86400:
        raise ApiError(400, "window must be a number of seconds, e.g. ?window=3600", param="window",
                       code="invalid_window")
    by = groupings(request.query.getall("by", []))
    filters = {name: request.query.get(name, "") for name in ("session", "project", "client", "instance")}
    for name, value in filters.items():
        if len(value) > FILTER_CHARS:
            raise ApiError(400, f"{name} is longer than any recorded one ({FILTER_CHARS} characters)", param=name,
                           code="invalid_filter")
    answer = await call_admin(state.pool, state.pool.stub.Analytics,
                              pool_pb2.AnalyticsRequest(window_seconds=window, by=by, **filters),
                              deadline=ANALYTICS_DEADLINE_SECONDS)
    return web.json_response(report_to_json(answer, by))


def groupings(values: list[str]) -> list[str]:
    """The groupings of ?by= (comma separated, may repeat), each once; a 400 naming the choices otherwise."""
    choices = [*OPTIONAL_GROUP_KEYS, *(name.removeprefix("by_") for name in GROUP_KEYS)]
    chosen: list[str] = []
    for value in values:
        for name in (part.strip().lower() for part in value.split(",")):
            if name and name not in choices:
                raise ApiError(400, f"by={name[:64]!r} is no grouping; use by= with one or more of "
                                    f"{', '.join(choices)}, comma separated", param="by", code="invalid_grouping")
            if name and name not in chosen:
                chosen.append(name)
    return chosen
