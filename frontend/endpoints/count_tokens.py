"""POST /v1/messages/count_tokens: native on anthropic backends, an estimate (marked as such) elsewhere."""

from __future__ import annotations

import json

from aiohttp import web

from dario.json_types import JsonObject
from dario.routing import NoRoute, route
from frontend.dialects import ANTHROPIC_COUNT_TOKENS
from frontend.endpoints.api import handler, read_body
from frontend.error_mapping import from_no_route
from frontend.state import STATE

# Roughly four characters a token for English text and JSON; an estimate, and the header says so.
CHARACTERS_PER_TOKEN = 4
ESTIMATE_HEADER = "x-dario-token-count"
COUNTED_FIELDS = ("system", "messages", "tools", "tool_choice")

_native = handler(ANTHROPIC_COUNT_TOKENS)


def estimate_tokens(document: JsonObject) -> int:
    text = json.dumps([document.get(name) for name in COUNTED_FIELDS], ensure_ascii=False)
    return max(1, len(text) // CHARACTERS_PER_TOKEN)


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
    return web.json_response(
        {"input_tokens": estimate_tokens(parsed.document)},
        headers={ESTIMATE_HEADER: "estimate", "x-dario-backend": backend.name},
    )
