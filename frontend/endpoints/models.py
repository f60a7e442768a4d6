"""GET /v1/models: the models the openai backends list (asked of each, concurrently) and the names config.toml
makes servable, in the shape both SDKs accept."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from dario.catalog import Backend
from dario.config import RoutingConfig
from dario.presets import speaks
from dario.routing import NoRoute, route
from frontend.state import STATE, State

MODELS_TIMEOUT = aiohttp.ClientTimeout(total=5.0)


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
    for model_id in _configured_models(state.routing):
        try:
            owner = route(model_id, catalog, state.routing).backend.name
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
