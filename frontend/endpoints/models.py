"""GET /v1/models: the models the backends list and the names config.toml makes servable, each only when it
routes to a backend, in the shape both SDKs accept.

OpenAI-kind backends are asked `GET {base}/models`; Anthropic-kind ones `GET {base}/v1/models` (their base URL
carries the /v1: dario.catalog.api_root) with the headers a Messages request gets (the lease's x-api-key or
bearer, anthropic-version), page after page (`has_more`, `after_id`) up to MAX_PAGES. An id that holds a secret
of the frontend's leases is left out: a listing is passed to clients, and an upstream may echo what it got.

Listings are cached (issue 16 item 7, issue 12 item 4): each backend is asked at most `[limits] models_seconds`
(a few seconds, so one that never answers delays no client long), its answer kept `models_cache_seconds` and,
past that, served stale while one refresh runs in the background. A model a backend listed routes to it (after
the [[routes]] rules, before the default prefixes: `dario.routing.route`'s `listed`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from dario.catalog import Backend, Catalog, Lease
from dario.config import RoutingConfig
from dario.presets import speaks
from dario.routing import NoRoute, route
from frontend.dialects import ANTHROPIC_MESSAGES, OPENAI_CHAT, Dialect
from frontend.state import STATE, State
from frontend.upstream.headers import upstream_headers
from frontend.upstream.scrub import scrubber_for

ANSWERED_HEADER = "x-dario-models-from"  # the backends whose listing is in the answer
MISSING_HEADER = "x-dario-models-missing"  # the backends that did not answer /models (their models left out)
MAX_PAGES = 5  # of an Anthropic listing (1000 models each): a backend that pages on and on is not followed for ever
PAGE_SIZE = 1000  # the most Anthropic's GET /v1/models returns at once
NO_CLIENT_HEADERS: Mapping[str, str] = {}


@dataclass(frozen=True)
class Listing:
    models: tuple[str, ...]
    answered: bool  # the backend answered (else `models` is its last answer, or nothing)
    at: float  # loop time it was asked


class Listings:
    """The cached /models answer of each backend with credentials, by (name, base URL)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], Listing] = {}
        self.refreshing: dict[tuple[str, str], asyncio.Task[None]] = {}

    @staticmethod
    def listable(catalog: Catalog) -> list[Backend]:
        return [backend for backend in catalog.backends
                if (speaks(backend.kind, "openai") or speaks(backend.kind, "anthropic")) and backend.credentials]

    async def current(self, state: State) -> list[tuple[Backend, Listing]]:
        """Every listable backend's listing: asked now when never asked, refreshed in the background when old."""
        loop = asyncio.get_running_loop()
        backends = self.listable(state.credentials.require_catalog())
        missing = [backend for backend in backends if _key(backend) not in self.entries]
        if missing:
            await asyncio.gather(*(self._refresh(state, backend) for backend in missing))
        ttl = state.config.limits.models_cache_seconds
        for backend in backends:
            key = _key(backend)
            entry = self.entries.get(key)
            if entry is not None and loop.time() - entry.at >= ttl and key not in self.refreshing:
                task = asyncio.create_task(self._refresh(state, backend))
                self.refreshing[key] = task
                task.add_done_callback(self._refreshed(key))
        return [(backend, self.entries[_key(backend)]) for backend in backends if _key(backend) in self.entries]

    def _refreshed(self, key: tuple[str, str]) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self.refreshing.pop(key, None)
        return done

    def cold(self, catalog: Catalog) -> bool:
        """Some listable backend was never asked."""
        return any(_key(backend) not in self.entries for backend in self.listable(catalog))

    def listed(self, catalog: Catalog) -> dict[str, str]:
        """Model → the first backend (in catalog order) that listed it."""
        owners: dict[str, str] = {}
        for backend in self.listable(catalog):
            entry = self.entries.get(_key(backend))
            for model in entry.models if entry is not None else ():
                owners.setdefault(model, backend.name)
        return owners

    async def _refresh(self, state: State, backend: Backend) -> None:
        at = asyncio.get_running_loop().time()
        models = await _upstream_models(state, backend)
        previous = self.entries.get(_key(backend))
        if models is None:
            self.entries[_key(backend)] = Listing(previous.models if previous else (), False, at)
        else:
            self.entries[_key(backend)] = Listing(tuple(models), True, at)

    async def close(self) -> None:
        for task in list(self.refreshing.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


LISTINGS = web.AppKey("model_listings", Listings)


def _key(backend: Backend) -> tuple[str, str]:
    return backend.name, backend.base_url


async def models(request: web.Request) -> web.Response:
    """The models that route to a backend (each backend's listing, the aliases and exact rules), owned by the
    backend they route to; headers name the backends that answered and those that did not."""
    state, listings = request.app[STATE], request.app[LISTINGS]
    catalog = state.credentials.require_catalog()
    current = await listings.current(state)
    listed = listings.listed(catalog)
    names = [model for _, listing in current for model in listing.models] + _configured_models(state.routing)
    seen: set[str] = set()
    data = []
    for model_id in names:
        if model_id in seen:
            continue
        seen.add(model_id)
        try:
            owner = route(model_id, catalog, state.routing, listed).backend
        except NoRoute:
            continue  # listed by a backend but sent elsewhere by a rule whose backend is gone
        if not owner.credentials:
            continue
        data.append({"id": model_id, "object": "model", "created": 0, "owned_by": owner.name})
    headers = {}
    answered = [backend.name for backend, listing in current if listing.answered]
    silent = [backend.name for backend, listing in current if not listing.answered]
    if answered:
        headers[ANSWERED_HEADER] = ",".join(answered)
    if silent:
        headers[MISSING_HEADER] = ",".join(silent)
    return web.json_response({"object": "list", "data": data}, headers=headers)


def listed_models(app: web.Application, catalog: Catalog) -> Mapping[str, str]:
    listings = app.get(LISTINGS)
    return listings.listed(catalog) if listings is not None else {}


def _configured_models(routing: RoutingConfig) -> list[str]:
    """Aliases and exact (glob-free) rule matches: the names config.toml makes servable."""
    exact = [rule.match for rule in routing.rules if not any(mark in rule.match for mark in "*?[")]
    return [*routing.aliases, *exact]


async def _upstream_models(state: State, backend: Backend) -> list[str] | None:
    """The backend's /models ids; None when it did not answer (all its pages within `[limits] models_seconds`)
    or not with a list."""
    usable = backend.usable()
    if not usable:
        return None
    credential = usable[0]
    try:
        async with asyncio.timeout(state.config.limits.models_seconds):
            lease = await state.credentials.lease(backend.name, credential, backend.revision_of(credential))
            if speaks(backend.kind, "anthropic"):
                ids = await _anthropic_pages(state, backend, lease)
            else:
                document = await _get(state, backend.endpoint("/models"), lease, OPENAI_CHAT)
                ids = _ids(document)
    except Exception:  # noqa: BLE001 — a backend without /models must not break the listing of the others
        return None
    if ids is None:
        return None
    scrubber = scrubber_for([lease.header_value, *state.credentials.header_values()])
    return [model for model in ids if scrubber.text(model) == model]


async def _anthropic_pages(state: State, backend: Backend, lease: Lease) -> list[str] | None:
    """Anthropic's listing, `?limit=1000&after_id=…` while it says `has_more`, at most MAX_PAGES pages."""
    ids: list[str] = []
    after = ""
    for _ in range(MAX_PAGES):
        url = backend.endpoint(f"/models?limit={PAGE_SIZE}") + (f"&after_id={quote(after, safe='')}" if after else "")
        document = await _get(state, url, lease, ANTHROPIC_MESSAGES)
        page = _ids(document)
        if page is None:
            return None
        ids.extend(page)
        last = document.get("last_id") if isinstance(document, dict) else None
        if not (isinstance(document, dict) and document.get("has_more") is True and isinstance(last, str) and last
                and last != after):
            break
        after = last
    return ids


async def _get(state: State, url: str, lease: Lease, dialect: Dialect) -> object:
    """One listing page; None unless a 200. A redirect is not followed (the key would go with it)."""
    headers = upstream_headers(NO_CLIENT_HEADERS, lease, dialect)
    async with state.session.get(url, headers=headers, allow_redirects=False) as answer:
        if answer.status != 200:
            return None
        return await answer.json(content_type=None)


def _ids(document: object) -> list[str] | None:
    items = document.get("data") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return None
    return [item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]
