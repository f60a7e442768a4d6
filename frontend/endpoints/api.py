"""The handler of the three API posts (/v1/chat/completions, /v1/messages, /v1/responses, and count_tokens on an
anthropic backend): the body read and parsed, then forwarded; every request, failed or not, becomes an analytics
record and a metric."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler

from frontend.attribution import attribute
from frontend.dialects import Dialect
from frontend.error_mapping import http_error_code
from frontend.errors import ApiError
from frontend.exchange import Exchange
from frontend.forwarding import forward
from frontend.state import REQUEST_ID, STATE, State


def handler(dialect: Dialect) -> Handler:
    """The aiohttp handler for one endpoint; every request, failed or not, becomes an analytics outcome."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        exchange = Exchange(request_id=request[REQUEST_ID], api_format=dialect.api_format)
        attributed = False  # from the headers alone when the body cannot be read or parsed
        state.metrics.in_flight.inc()
        try:
            body = await read_body(request, state)
            parsed = dialect.parse(body)
            exchange.attribution, attributed = attribute(request.headers, parsed.document), True
            exchange.model, exchange.stream = parsed.model, parsed.stream
            exchange.request_document = parsed.document  # a native answer without usage is estimated from it
            return await forward(request, state, exchange, dialect, parsed, body)
        except ApiError as error:
            exchange.fail(error.status, error.code or "dario_error")
            raise
        except web.HTTPException as error:
            exchange.fail(error.status, http_error_code(error))
            raise
        except asyncio.CancelledError:  # the client left: aiohttp cancels the handler, and so the upstream read
            exchange.client_gone()
            raise
        finally:
            if not attributed:
                exchange.attribution = attribute(request.headers)
            exchange.finish()
            state.metrics.in_flight.dec()
            # After the answer's bytes have left: aiohttp writes a whole body once this handler returns.
            asyncio.get_running_loop().call_soon(state.metrics.observe, exchange)
            if not exchange.recorded:  # journaled now: a whole-body answer is written out after this returns
                state.pool.reporter.add(exchange)

    return handle


async def read_body(request: web.Request, state: State) -> bytes:
    """The whole request body, or 408 when the client sends it too slowly (slow-body clients hold a slot)."""
    if request.content.is_eof():  # the whole body came with the headers: nothing to wait for (no timer, no task)
        return await request.read()
    try:
        return await asyncio.wait_for(request.read(), state.config.limits.body_read_seconds)
    except TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {state.config.limits.body_read_seconds:.0f}s",
                       code="request_timeout") from None
