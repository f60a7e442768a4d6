"""POST /v1/messages/count_tokens: native on anthropic backends, an estimate (marked as such) elsewhere; either
way the request is recorded (an estimate with the tokens it counted, which are not consumed and so not priced)."""

from __future__ import annotations

from aiohttp import web

from dario.json_types import JsonObject
from dario.routing import NoRoute, route
from frontend.dialects import ANTHROPIC_COUNT_TOKENS
from frontend.endpoints.api import handler, read_body
from frontend.error_mapping import from_no_route
from frontend.exchange import Exchange
from frontend.state import REQUEST_ID, STATE
from frontend.token_estimate import request_tokens
from frontend.usage import Usage

ESTIMATE_HEADER = "x-dario-token-count"
COUNTED_FIELDS = ("system", "messages", "tools", "tool_choice")

_native = handler(ANTHROPIC_COUNT_TOKENS)


def estimate_tokens(document: JsonObject) -> int:
    """The input tokens of an Anthropic request, estimated as for usage (translation.md §5.4)."""
    return max(1, request_tokens({name: document.get(name) for name in COUNTED_FIELDS}))


async def count_tokens(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await read_body(request, state)
    parsed = ANTHROPIC_COUNT_TOKENS.parse(body)
    try:
        backend = route(parsed.model, state.credentials.require_catalog(), state.routing).backend
    except NoRoute as error:
        raise from_no_route(error) from None
    if backend.kind == "anthropic":
        return await _native(request)
    counted = estimate_tokens(parsed.document)
    exchange = Exchange(request_id=request[REQUEST_ID], api_format="anthropic", model=parsed.model,
                        backend=backend.name, status=200, usage=Usage(estimated=True), counted_tokens=counted)
    exchange.mark_first_byte()
    exchange.finish()
    state.metrics.observe(exchange)
    state.pool.reporter.add(exchange)
    return web.json_response({"input_tokens": counted},
                             headers={ESTIMATE_HEADER: "estimate", "x-dario-backend": backend.name})
