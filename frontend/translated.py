"""The translated path: a request in one API sent to a backend of the other kind, and its answer brought back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from dario.catalog import Backend
from frontend.dialects import ANTHROPIC_MESSAGES, OPENAI_CHAT, Dialect
from frontend.errors import ApiError
from frontend.exchange import Exchange
from frontend.relay import Tail
from frontend.requests import ParsedRequest
from frontend.translate import TranslationError
from frontend.translate.responses import error_to_anthropic, error_to_openai, to_anthropic_message, to_openai_completion
from frontend.translate.responses_answer import anthropic_to_response, chat_to_response, error_to_responses
from frontend.translate.responses_api import responses_to_anthropic, responses_to_chat
from frontend.translate.responses_stream import AnthropicToResponsesStream, ChatToResponsesStream
from frontend.translate.stream_to_anthropic import ToAnthropicStream
from frontend.translate.stream_to_openai import ToOpenAIStream
from frontend.translate.to_anthropic_request import to_anthropic_request
from frontend.translate.to_openai_request import to_openai_request
from frontend.upstream import client_headers

DROPPED_HEADER = "x-dario-translation-dropped"
# Upstream silence after which the client gets a keep-alive (Anthropic `ping` event, or an SSE comment).
PING_SECONDS = 10.0


@dataclass
class Plan:
    """Everything that depends on the direction of one translated request."""

    target: Dialect
    body: dict
    warnings: list[str]
    machine: ToOpenAIStream | ToAnthropicStream | ChatToResponsesStream | AnthropicToResponsesStream
    answer: Callable[[dict], dict]
    error: Callable[[int, bytes], dict]


def plan(dialect: Dialect, parsed: ParsedRequest, upstream_model: str, default_max_tokens: int,
         backend_kind: str = "") -> Plan:
    """How to translate one request; the client keeps seeing the model it asked for."""
    document, model = parsed.document, parsed.model
    try:
        if dialect.api_format == "responses":
            return _responses_plan(document, model, upstream_model, default_max_tokens, backend_kind)
        if dialect.api_format == "openai":
            body, warnings = to_anthropic_request(document, upstream_model, default_max_tokens)
            include_usage = bool((document.get("stream_options") or {}).get("include_usage"))
            machine = ToOpenAIStream(model, include_usage, include_reasoning=bool(document.get("reasoning_effort")))
            return Plan(ANTHROPIC_MESSAGES, body, warnings, machine,
                        lambda message: to_openai_completion(message, model), error_to_openai)
        body, warnings = to_openai_request(document, upstream_model)
        return Plan(OPENAI_CHAT, body, warnings, ToAnthropicStream(model),
                    lambda completion: to_anthropic_message(completion, model), error_to_anthropic)
    except TranslationError as error:
        raise ApiError(400, str(error), param=error.param, code="unsupported_parameter") from None


def _responses_plan(document: dict, model: str, upstream_model: str, default_max_tokens: int,
                    backend_kind: str) -> Plan:
    """A Responses client on a backend without /responses: Chat Completions, or Anthropic Messages."""
    if backend_kind == "anthropic":
        body, warnings = responses_to_anthropic(document, upstream_model, default_max_tokens)
        return Plan(ANTHROPIC_MESSAGES, body, warnings, AnthropicToResponsesStream(model, document),
                    lambda message: anthropic_to_response(message, model, document), error_to_responses)
    body, warnings = responses_to_chat(document, upstream_model)
    return Plan(OPENAI_CHAT, body, warnings, ChatToResponsesStream(model, document),
                lambda completion: chat_to_response(completion, model, document), error_to_responses)


async def respond(request: web.Request, upstream: aiohttp.ClientResponse, backend: Backend, exchange: Exchange,
                  translation: Plan) -> web.StreamResponse:
    """Answers the client from an upstream response of the other format, translated (streams as they come)."""
    target = translation.target
    reply_headers = client_headers(upstream, exchange)
    reply_headers["x-dario-translation"] = f"{exchange.api_format}->{target.api_format}"
    if translation.warnings:
        reply_headers[DROPPED_HEADER] = ",".join(translation.warnings)
    exchange.status = upstream.status
    if upstream.status != 200:
        exchange.error_type = "upstream_error"
        body = await upstream.read()
        exchange.mark_first_byte()
        return web.json_response(translation.error(upstream.status, body), status=upstream.status,
                                 headers=_without_content_type(reply_headers))
    if upstream.content_type == "text/event-stream":
        return await _stream(request, upstream, exchange, translation, reply_headers)
    body = await upstream.read()
    exchange.mark_first_byte()
    exchange.read_usage_later(target.usage_from_body, body)
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        message = f"backend {backend.name!r} answered with something that is not a JSON object"
        raise ApiError(502, message, code="upstream_invalid_json")
    return web.json_response(translation.answer(document), headers=_without_content_type(reply_headers))


def _without_content_type(headers):
    headers.popall("content-type", None)
    return headers


async def _stream(request: web.Request, upstream: aiohttp.ClientResponse, exchange: Exchange, translation: Plan,
                  headers) -> web.StreamResponse:
    headers["content-type"] = "text/event-stream; charset=utf-8"
    headers["cache-control"] = "no-cache"
    response = web.StreamResponse(status=200, headers=headers)
    await response.prepare(request)
    machine, tail = translation.machine, Tail()
    keepalive = b"event: ping\ndata: {\"type\":\"ping\"}\n\n" if exchange.api_format == "anthropic" else b": ping\n\n"
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(upstream.content.readany(), PING_SECONDS)
            except aiohttp.ServerTimeoutError:  # the upstream's own read deadline: it stalled for too long
                exchange.error_type = "upstream_stream_broken"
                chunk = b""
            except TimeoutError:  # only the keep-alive timer: the upstream is slow, not gone
                if machine.started:
                    await response.write(keepalive)
                continue
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
                exchange.error_type = "upstream_stream_broken"
                chunk = b""
            if chunk:
                tail.add(chunk)
                out = machine.feed(chunk)
            else:
                out = machine.finish()
            if out:
                exchange.mark_first_byte()
                await response.write(out)
            if machine.finished:
                exchange.delivered = exchange.error_type == ""
                break
            if not chunk:
                break
    except ConnectionResetError:
        exchange.fail(499, "client_disconnected")
        return response
    finally:
        if exchange.error_type == "":
            exchange.usage = translation.target.usage_from_stream(tail.head, tail.value())
    await response.write_eof()
    return response
