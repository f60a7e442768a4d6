"""The native answer: an upstream body of the client's own API, relayed unchanged (through the identity machine)."""

from __future__ import annotations

from aiohttp import web

from frontend.dialects import Dialect
from frontend.exchange import Exchange
from frontend.upstream.framing import MAX_HELD_BYTES
from frontend.upstream.headers import client_headers
from frontend.upstream.not_found import not_found_body
from frontend.upstream.relay import ClientSink, PassThrough, Relay, Upstream, read_whole, record_now

# Non-streamed bodies up to this size are read whole and answered with a Content-Length.
WHOLE_BODY_LIMIT = 1024 * 1024


async def respond(request: web.Request, upstream: Upstream, exchange: Exchange, dialect: Dialect) -> web.StreamResponse:
    """The native answer: an error body read whole (bounded, scrubbed); a small body whole, with a Content-Length;
    anything else streamed as it comes."""
    answer, limits = upstream.response, upstream.limits
    headers = client_headers(answer, exchange, upstream.scrubber)
    exchange.status = answer.status
    if answer.status >= 400:
        exchange.error_type = "upstream_error"
        body = await read_whole(request, upstream, PassThrough(dialect, events=False), exchange, limits.error_bytes,
                                "upstream_error_bytes")
        if answer.status == 404:  # the URL dario called, so a wrong base URL shows (issue 12 item 5)
            headers.popall("content-type", None)
            body = not_found_body(exchange.backend, answer.url, body, dialect.api_format, upstream.scrubber)
            return web.Response(status=404, body=body, headers=headers, content_type="application/json")
        return web.Response(status=answer.status, body=upstream.scrubber.error_body(body), headers=headers)
    is_stream = answer.content_type == "text/event-stream"
    length = answer.content_length  # of the body as sent: a compressed one may inflate past WHOLE_BODY_LIMIT
    whole = not is_stream and length is not None and length <= WHOLE_BODY_LIMIT
    if is_stream:
        headers["cache-control"] = "no-cache"
    # A stream is held until its first token (the relay starts it then): a failure before may still fail over.
    sink = ClientSink(request, web.StreamResponse(status=answer.status, headers=headers), exchange,
                      hold=WHOLE_BODY_LIMIT if whole else MAX_HELD_BYTES if is_stream else 0)
    if not whole and not is_stream and not await sink.start():
        return sink.response
    await Relay(upstream, PassThrough(dialect, events=is_stream), sink, events=is_stream, limit=limits.body_bytes,
                setting="upstream_body_bytes", record=record_now(request)).run()
    if sink.open or sink.gone:
        return await sink.end()
    body = sink.body()
    exchange.mark_first_byte()
    exchange.read_usage_later(dialect.usage_from_body, body)
    return web.Response(status=answer.status, body=body, headers=headers)
