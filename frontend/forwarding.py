"""A parsed client request to a backend: its route, a credential (local or from pool_service), failover to the
next credential and to the route's fallbacks, all before a byte reaches the client; then the answer, native
(same API, the body unchanged) or translated (the other API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import aiohttp
from aiohttp import web

from dario.catalog import Backend, Lease
from dario.config import UpstreamLimits
from dario.presets import speaks
from dario.routing import NOTHING_LISTED, NoRoute, Route, fallback_routes, route
from dario.v1 import pool_pb2
from frontend import json_codec
from frontend.dialects import Dialect
from frontend.endpoints.models import LISTINGS
from frontend.error_mapping import UPSTREAM_ERRORS, from_no_route, from_upstream_error
from frontend.errors import ApiError, NoUsableCredential, PoolExhausted, RelayFailed
from frontend.exchange import Exchange
from frontend.profiles import adjust_native, profile_for
from frontend.request_parsing import ParsedRequest
from frontend.state import State
from frontend.translation_plan import Plan, plan
from frontend.upstream import native, thinking_retry, translated
from frontend.upstream.call import UpstreamCall
from frontend.upstream.headers import rate_limit_headers
from frontend.upstream.relay import Upstream
from frontend.upstream.scrub import scrubber_for


@dataclass
class Target:
    """One route made ready: what to send, in which API, and how its answer comes back."""

    route: Route
    dialect: Dialect  # the API spoken upstream
    payload: bytes
    translation: Plan | None
    headers: dict[str, str]  # dario's notes to the client about this target (a clamped output limit)


def _prepare(route_: Route, dialect: Dialect, parsed: ParsedRequest, body: bytes, state: State) -> Target:
    backend = route_.backend
    profile = profile_for(state.config, backend, route_.model, route_.output_cap)  # its compatibility (issue 16)
    if not speaks(backend.kind, dialect.native_kind):
        translation = plan(dialect, parsed, route_.model, state.config.translation.default_max_tokens, backend.kind,
                           profile)
        return Target(route_, translation.target, json_codec.dumps(translation.body),
                      translation, translation.headers)
    adjusted, headers = adjust_native(parsed.document, dialect.api_format, profile)
    if adjusted is not None or route_.model != parsed.model:
        body = json_codec.dumps(dict(adjusted or parsed.document, model=route_.model))
    return Target(route_, dialect, body, None, headers)


@dataclass
class Held:
    """The last failed upstream answer, kept open: it goes to the client as it came when nothing else serves."""

    call: UpstreamCall
    target: Target
    credential: str

    @property
    def upstream(self) -> aiohttp.ClientResponse:
        return self.call.answer


def fails_over(status: int) -> bool:
    """Answers another credential or backend may not give: rate limits, refused credentials, server errors."""
    return status in (401, 403, 429) or status >= 500


async def forward(request: web.Request, state: State, exchange: Exchange, dialect: Dialect, parsed: ParsedRequest,
                  body: bytes) -> web.StreamResponse:
    """Tries the route's credentials, then its fallbacks, until one answers with something worth passing on;
    no byte reaches the client before that (in-request failover, architecture.md, Contracts)."""
    first = await _route(request, state, parsed.model)
    exchange.backend = first.backend.name
    routes = [first, *fallback_routes(first, state.credentials.require_catalog())]
    held: Held | None = None
    failure: ApiError | None = None
    try:
        for number, chosen in enumerate(routes):
            try:
                target = _prepare(chosen, dialect, parsed, body, state)
            except ApiError:
                if number == 0:
                    raise
                continue  # this fallback cannot take the request (a field its format cannot carry)
            backend = chosen.backend
            tried: list[pool_pb2.Attempt] = []
            again = ""  # the credential that takes the request once more (thinking_retry)
            while True:
                if again:
                    credential, again = again, ""
                else:
                    try:
                        usable = usable_credentials(backend)
                        chosen_here = state.pool.choose_locally(backend.name, usable, tried)
                        local = chosen_here is not None
                        if chosen_here is None:
                            granted = await state.pool.acquire(backend.name, usable, exchange.request_id,
                                                               parsed.model, tried)
                            credential = granted.credential
                            exchange.queued_ms += granted.queued_ms
                        else:
                            credential = chosen_here
                    except (PoolExhausted, NoUsableCredential) as error:
                        failure = failure or error
                        break  # this backend has nothing left for the request: the next fallback, if any
                if held is not None:
                    held.upstream.release()
                    held = None
                exchange.backend, exchange.credential = backend.name, credential
                exchange.reply_headers = target.headers
                exchange.acquired, exchange.local = not local, local
                exchange.fallback_from = first.backend.name if number else ""
                exchange.attempts += 1
                pooled = len(usable) > 1
                try:
                    call = await _send(request, state, target, credential)
                except UPSTREAM_ERRORS as error:
                    if pooled:
                        state.pool.answered(backend.name, credential, local, 0, None)
                    failure = _unreachable(error, backend, state)
                    kind = "timeout" if isinstance(error, TimeoutError) else "connection_error"
                    tried.append(pool_pb2.Attempt(credential=credential, status=0, error_type=kind, local=local))
                    exchange.failover.append(f"{credential}:{kind}")
                    exchange.acquired = exchange.local = False  # the next Acquire settles it
                    continue
                upstream = call.answer
                if pooled:
                    state.pool.answered(backend.name, credential, local, upstream.status,
                                        rate_limit_headers(upstream.headers))
                if fails_over(upstream.status):
                    held = Held(call, target, credential)
                    tried.append(pool_pb2.Attempt(credential=credential, status=upstream.status,
                                                  headers=rate_limit_headers(upstream.headers),
                                                  error_type=_error_type(upstream.status), local=local))
                    exchange.failover.append(f"{credential}:{upstream.status}")
                    exchange.acquired = exchange.local = False
                    continue
                try:
                    async with upstream:
                        read, retry = await _signature_refused(request, state, call, target, exchange)
                        if retry is None:
                            return await _answer(request, state, call, target, exchange, read)
                except RelayFailed as error:  # before the client's first byte (its first token): the next one
                    if exchange.first_byte:
                        raise
                    failure = error
                    tried.append(pool_pb2.Attempt(credential=credential, status=error.status,
                                                  error_type=error.code or "", local=local))
                    exchange.failover.append(f"{credential}:{error.code}")
                    exchange.acquired = exchange.local = False
                    exchange.status, exchange.error_type, exchange.bytes_sent = 0, "", 0
                    if target.translation is not None:  # its stream machine has read the failed stream
                        target = _prepare(chosen, dialect, parsed, body, state)
                    continue
                # Anthropic refused a thinking signature made for another model or account: once more, the same
                # credential, without the thinking blocks (and so for the credentials after it)
                target, again = retry, credential
                if pooled and local:
                    state.pool.resent(backend.name, credential)  # its answer to the first was counted already
                exchange.failover.append(f"{credential}:{thinking_retry.NOTE}")
                exchange.first_byte = 0.0
        if held is not None:  # every option failed: the last upstream answer goes back as it came
            exchange.backend, exchange.credential = held.target.route.backend.name, held.credential
            exchange.reply_headers = held.target.headers
            return await _answer(request, state, held.call, held.target, exchange)
        raise failure or ApiError(503, f"no credential of backend {first.backend.name!r} could serve")
    finally:
        if held is not None:
            held.upstream.release()


async def _send(request: web.Request, state: State, target: Target, credential: str) -> UpstreamCall:
    backend = target.route.backend
    lease = await state.credentials.lease(backend.name, credential, backend.revision_of(credential))

    async def reauthenticate(rejected: Lease) -> Lease | None:
        return await state.credentials.force_refresh(backend.name, credential, rejected)

    url = backend.endpoint(target.dialect.upstream_path)
    if target.translation is None and request.rel_url.query_string:  # e.g. Claude Code's ?beta=true
        url = f"{url}?{request.rel_url.query_string}"
    limits, origin = route_limits(target.route, state.config.limits.upstream)
    call = UpstreamCall(state.session, request.headers, lease, reauthenticate, backend.name, limits, origin=origin)
    call.response = await call.post(url, target.payload, target.dialect)
    return call


def _upstream(state: State, call: UpstreamCall, body: bytes | None = None) -> Upstream:
    # Every secret of the frontend's leases, not only this call's: none may come back from any upstream.
    scrubber = scrubber_for([*call.header_values, *state.credentials.header_values()])
    limits = state.config.limits
    return Upstream(call.answer, call.deadlines, limits.upstream, scrubber, limits.upstream_seconds, body)


async def _signature_refused(request: web.Request, state: State, call: UpstreamCall, target: Target,
                             exchange: Exchange) -> tuple[bytes | None, Target | None]:
    """(the error body when it was read; the target to send once more when the answer is Anthropic's refusal of a
    thinking signature and the request has thinking blocks to go without: frontend.upstream.thinking_retry)."""
    if call.answer.status != 400:
        return None, None
    stripped = thinking_retry.strippable(target.payload, target.dialect, target.route.backend)
    if stripped is None:
        return None, None
    refused, body = await thinking_retry.refused(request, _upstream(state, call), exchange, target.dialect)
    if not refused:
        return body, None
    payload, headers = thinking_retry.retried(stripped, target.headers, target.route.backend.name)
    return None, replace(target, payload=payload, headers=headers)


async def _answer(request: web.Request, state: State, call: UpstreamCall, target: Target,
                  exchange: Exchange, body: bytes | None = None) -> web.StreamResponse:
    """The client's answer from the upstream's; `body`: its error body, read already."""
    answer = call.answer
    exchange.rate_limit_headers = rate_limit_headers(answer.headers)
    upstream = _upstream(state, call, body)
    try:
        if target.translation is not None:
            return await translated.respond(request, upstream, target.route.backend, exchange, target.translation)
        return await native.respond(request, upstream, exchange, target.dialect)
    except UPSTREAM_ERRORS as error:
        raise _unreachable(error, target.route.backend, state) from None


def route_limits(chosen: Route, limits: UpstreamLimits) -> tuple[UpstreamLimits, dict[str, str]]:
    """[limits]'s deadlines with the route's own (its rule's first_token_seconds, stall_seconds) over them, and
    where each one the rule set comes from."""
    where = f"the [[routes]] rule at config.toml line {chosen.rule_line}"
    first_token, stall = chosen.first_token_seconds, chosen.stall_seconds
    origins = {name: where for name, value in (("first_byte_seconds", first_token), ("stall_seconds", stall))
               if value > 0}
    if not origins:
        return limits, origins
    return replace(limits, first_byte_seconds=first_token or limits.first_byte_seconds,
                   stall_seconds=stall or limits.stall_seconds), origins


def _unreachable(error: Exception, backend: Backend, state: State) -> ApiError:
    return from_upstream_error(error, backend.name, backend.base_url, state.config.limits.upstream_seconds)


def _error_type(status: int) -> str:
    return {429: "rate_limited", 401: "unauthorized", 403: "forbidden"}.get(status, "upstream_5xx")


async def _route(request: web.Request, state: State, model: str) -> Route:
    """The route, with the models backends listed; when none routes it and some backend's /models was never
    asked, they are asked (at most [limits] models_seconds) and the model routed again."""
    listings = request.app.get(LISTINGS)
    catalog = state.credentials.require_catalog()
    if listings is None:
        return route_for(state, model)
    try:
        return route_for(state, model, listings.listed(catalog))
    except ApiError:
        if not listings.cold(catalog):
            raise
    await listings.current(state)
    return route_for(state, model, listings.listed(catalog))


def route_for(state: State, model: str, listed: Mapping[str, str] = NOTHING_LISTED) -> Route:
    try:
        chosen = route(model, state.credentials.require_catalog(), state.routing, listed)
    except NoRoute as error:
        raise from_no_route(error) from None
    if not chosen.backend.credentials:
        raise ApiError(503, f"backend {chosen.backend.name!r} has no credentials; add one with `dario accounts add`")
    return chosen


def usable_credentials(backend: Backend) -> tuple[str, ...]:
    """The credentials that can serve; 503 naming the fix when none can (e.g. every one needs a login)."""
    usable = backend.usable()
    if not usable:
        states = ", ".join(f"{name}: {state}" for name, state in zip(backend.credentials, backend.states))
        raise NoUsableCredential(503, f"no credential of backend {backend.name!r} can serve now ({states}); see "
                                      f"`dario status`, and `dario login {backend.name}` for those that need a login",
                                 code="no_usable_credential")
    return usable
