"""Relays a request to an upstream and its answer back to the client as it arrives."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from dario import __version__
from frontend.credentials_client import Lease
from frontend.dialects import Dialect
from frontend.exchange import Exchange
from frontend.relay import EventFramer, Tail

RATE_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
RETRY_HEADERS = ("retry-after", "retry-after-ms")
PASSED_HEADER_PREFIXES = (*RATE_LIMIT_PREFIXES, "openai-")
PASSED_HEADERS = (*RETRY_HEADERS, "content-type")
UPSTREAM_REQUEST_ID_HEADERS = ("x-request-id", "request-id")
# Non-streamed bodies up to this size are read whole and answered with a Content-Length.
WHOLE_BODY_LIMIT = 1024 * 1024
USER_AGENT = f"dario/{__version__}"

log = logging.getLogger(__name__)


def upstream_headers(client_headers: CIMultiDict[str], lease: Lease, dialect: Dialect) -> dict[str, str]:
    """Headers sent upstream: the client's own auth is never forwarded, the lease's header is added."""
    headers = {"content-type": "application/json", "user-agent": USER_AGENT, **dialect.default_headers}
    for name in dialect.passed_headers:
        value = client_headers.get(name)
        if value:
            headers[name] = value
    if lease.header_name:
        headers[lease.header_name] = lease.header_value
    return headers


@dataclass
class UpstreamCall:
    """Posts one client request upstream with its lease; when the upstream answers 401 to an OAuth access
    token, asks once for a forced refresh and sends the request once more with the new token. Without a newer
    token, the 401 goes back to the client as it came."""

    session: aiohttp.ClientSession
    client_headers: CIMultiDict[str]
    lease: Lease
    reauthenticate: Callable[[Lease], Awaitable[Lease | None]]
    retried: bool = False

    async def post(self, url: str, payload: bytes, dialect: Dialect) -> aiohttp.ClientResponse:
        response = await self.session.post(url, data=payload,
                                           headers=upstream_headers(self.client_headers, self.lease, dialect))
        if response.status != 401 or not self.lease.refreshable or self.retried:
            return response
        try:
            fresh = await self.reauthenticate(self.lease)
        except BaseException:
            response.release()
            raise
        if fresh is None:
            return response
        response.release()
        self.lease, self.retried = fresh, True
        log.info("upstream refused an access token (401); retrying once with a refreshed one")
        return await self.session.post(url, data=payload, headers=upstream_headers(self.client_headers, fresh, dialect))


def client_headers(upstream: aiohttp.ClientResponse, exchange: Exchange) -> CIMultiDict[str]:
    """Headers passed back: rate limits, retry hints and the upstream's request id (renamed)."""
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.headers.items():
        lower = name.lower()
        if lower.startswith(PASSED_HEADER_PREFIXES) or lower in PASSED_HEADERS:
            headers.add(name, value)
    for name in UPSTREAM_REQUEST_ID_HEADERS:
        if name in upstream.headers:
            headers["x-upstream-request-id"] = upstream.headers[name]
            break
    headers["x-dario-backend"] = exchange.backend
    headers["x-dario-credential"] = exchange.credential
    if exchange.failover:
        headers["x-dario-failover"] = " ".join(exchange.failover)
    if exchange.fallback_from:
        headers["x-dario-fallback-from"] = exchange.fallback_from
    return headers


async def relay(
    request: web.Request, upstream: aiohttp.ClientResponse, exchange: Exchange, dialect: Dialect
) -> web.StreamResponse:
    headers = client_headers(upstream, exchange)
    exchange.status = upstream.status
    if upstream.status >= 400:
        exchange.error_type = "upstream_error"
    is_stream = upstream.content_type == "text/event-stream"
    length = upstream.content_length
    if not is_stream and length is not None and length <= WHOLE_BODY_LIMIT:
        body = await upstream.read()
        exchange.mark_first_byte()
        if upstream.status < 400:
            exchange.read_usage_later(dialect.usage_from_body, body)
        return web.Response(status=upstream.status, body=body, headers=headers)
    if is_stream:
        headers["cache-control"] = "no-cache"
    response = web.StreamResponse(status=upstream.status, headers=headers)
    await response.prepare(request)
    tail = Tail()
    try:
        await _pump(upstream, response, exchange, dialect if is_stream else None, tail)
    finally:
        # Also when the client hangs up right after the last event and the handler is cancelled.
        if exchange.status < 400 and exchange.error_type == "":
            sample = tail.value()
            if is_stream:
                exchange.usage = dialect.usage_from_stream(tail.head, sample)
            else:
                exchange.usage = dialect.usage_from_body(sample)
    if exchange.error_type != "client_disconnected":
        try:
            await response.write_eof()
        except ConnectionResetError:
            if not exchange.delivered:
                exchange.fail(499, "client_disconnected")
    return response


async def _pump(
    upstream: aiohttp.ClientResponse,
    response: web.StreamResponse,
    exchange: Exchange,
    stream_dialect: Dialect | None,
    tail: Tail,
) -> None:
    """Copies the body chunk by chunk; an upstream that breaks off ends an SSE stream with an error event."""
    framer = EventFramer() if stream_dialect is not None else None
    while True:
        try:
            chunk = await upstream.content.readany()
        except (TimeoutError, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as error:
            exchange.error_type = "upstream_stream_broken"
            if stream_dialect is not None:
                message = f"backend {exchange.backend!r} ended the stream prematurely ({type(error).__name__})"
                await _write(response, exchange, stream_dialect.stream_error(message, "upstream_stream_broken"))
            return
        if not chunk:
            chunk = framer.rest() if framer is not None else b""
            if chunk:
                tail.add(chunk)
                await _write(response, exchange, chunk)
            exchange.delivered = True
            return
        if framer is not None:
            chunk = framer.feed(chunk)
            if not chunk:
                continue
        tail.add(chunk)
        if not await _write(response, exchange, chunk):
            return
        if stream_dialect is not None and stream_dialect.end_marker in chunk[-256:]:
            exchange.delivered = True  # the client has the whole answer, whatever happens next


async def _write(response: web.StreamResponse, exchange: Exchange, data: bytes) -> bool:
    exchange.mark_first_byte()
    try:
        await response.write(data)
    except ConnectionResetError:
        if not exchange.delivered:
            exchange.fail(499, "client_disconnected")
        return False
    return True
