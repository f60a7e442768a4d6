"""The translated answer: an upstream answer of the other API brought back in the client's (whole bodies, errors
and streams, through the machine of the request's Plan)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from aiohttp import web
from multidict import CIMultiDict

from dario.catalog import Backend
from dario.json_types import JsonObject
from frontend import json_codec
from frontend.dialects import OPENAI_CHAT
from frontend.errors import ApiError
from frontend.exchange import Exchange
from frontend.translate.estimated_usage import with_estimated_usage
from frontend.translation_plan import Plan
from frontend.upstream.framing import MAX_HELD_BYTES
from frontend.upstream.headers import client_headers
from frontend.upstream.not_found import not_found_body
from frontend.upstream.relay import ClientSink, PassThrough, Relay, Upstream, read_whole, record_now
from frontend.upstream.scrub import Scrubber
from frontend.usage import NO_USAGE, Usage

DROPPED_HEADER = "x-dario-translation-dropped"
# On a whole answer whose usage dario estimated (the upstream reported none): translation.md §5.4.
ESTIMATED_HEADER = "x-dario-usage-estimated"
# Upstream silence after which the client gets a keep-alive (Anthropic `ping` event, or an SSE comment).
PING_SECONDS = 10.0
# Whole answers larger than this are parsed and translated off the event loop.
INLINE_TRANSLATION_BYTES = 1024 * 1024


async def respond(request: web.Request, upstream: Upstream, backend: Backend, exchange: Exchange,
                  translation: Plan) -> web.StreamResponse:
    """Answers the client from an upstream response of the other format, translated (streams as they come)."""
    target, answer, limits = translation.target, upstream.response, upstream.limits
    reply_headers = client_headers(answer, exchange, upstream.scrubber)
    reply_headers["x-dario-translation"] = f"{exchange.api_format}->{target.api_format}"
    if translation.warnings:
        reply_headers[DROPPED_HEADER] = ",".join(translation.warnings)
    exchange.status = answer.status
    if answer.status != 200:
        exchange.error_type = "upstream_error"
        body = await read_whole(request, upstream, PassThrough(target, events=False), exchange, limits.error_bytes,
                                "upstream_error_bytes")
        if answer.status == 404:  # the URL dario called, so a wrong base URL shows (issue 12 item 5)
            return _json_response(not_found_body(backend.name, answer.url, body, exchange.api_format,
                                                 upstream.scrubber), 404, reply_headers)
        error = upstream.scrubber.error_body(_json(translation.error(answer.status, body)))
        return _json_response(error, answer.status, reply_headers)
    if answer.content_type == "text/event-stream":
        return await _stream(request, upstream, exchange, translation, reply_headers)
    body = await read_whole(request, upstream, PassThrough(target, events=False), exchange, limits.body_bytes,
                            "upstream_body_bytes")
    if len(body) > INLINE_TRANSLATION_BYTES:  # parsing and encoding megabytes would stall every other request
        translated, usage = await asyncio.to_thread(_translate_whole, body, translation, upstream.scrubber)
    else:
        translated, usage = _translate_whole(body, translation, upstream.scrubber)
    if translated is None:
        message = f"backend {backend.name!r} answered with something that is not a JSON object"
        raise ApiError(502, message, code="upstream_invalid_json")
    exchange.usage = usage
    if usage.estimated:
        reply_headers[ESTIMATED_HEADER] = "true"
    return _json_response(translated, 200, reply_headers)


def _translate_whole(body: bytes, translation: Plan, scrubber: Scrubber) -> tuple[bytes | None, Usage]:
    """The client's answer (scrubbed JSON) and the upstream's usage, from a whole upstream body; None when the
    body is not a JSON object."""
    try:
        document = json.loads(body)  # exact: a tool_use input's integers past 64 bits go on as they came
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        return None, NO_USAGE
    estimated = False
    if translation.target is OPENAI_CHAT:  # OpenAI-compatible servers may report no usage: estimated (issue 16)
        document, estimated = with_estimated_usage(document, translation.body)
    served = document.get("model") if isinstance(document.get("model"), str) else ""
    usage = replace(translation.target.usage_of(document) or Usage(served_model=served), estimated=estimated)
    return scrubber.bytes(_json(translation.answer(document))), usage


def _json(document: JsonObject) -> bytes:
    return json_codec.dumps(document)  # escapes keep lone surrogates (an upstream's \ud800) encodable


def _json_response(body: bytes, status: int, headers: CIMultiDict[str]) -> web.Response:
    headers.popall("content-type", None)
    return web.Response(body=body, status=status, headers=headers, content_type="application/json", charset="utf-8")


async def _stream(request: web.Request, upstream: Upstream, exchange: Exchange, translation: Plan,
                  headers: CIMultiDict[str]) -> web.StreamResponse:
    headers["content-type"] = "text/event-stream; charset=utf-8"
    headers["cache-control"] = "no-cache"
    # Held until the first token (the relay starts it then): a failure before it may still fail over.
    sink = ClientSink(request, web.StreamResponse(status=200, headers=headers), exchange, hold=MAX_HELD_BYTES)
    keepalive = b"event: ping\ndata: {\"type\":\"ping\"}\n\n" if exchange.api_format == "anthropic" else b": ping\n\n"
    await Relay(upstream, translation.machine, sink, events=True, limit=upstream.limits.body_bytes,
                setting="upstream_body_bytes", keepalive=keepalive, ping_seconds=PING_SECONDS,
                record=record_now(request)).run()
    # A stream the machine ended with an error after the 200 (a cut, an in-band error) is recorded as one.
    failure: tuple[int, str] | None = getattr(translation.machine, "failure", None)
    if failure is not None and not exchange.error_type:
        exchange.settle(*failure)
    return await sink.end()
