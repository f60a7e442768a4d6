"""The upstream call (headers sent, redirects refused, the first-byte deadline) and the native answer relayed back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from dario import __version__
from dario.settings import UpstreamLimits
from frontend.dialects import Dialect
from frontend.errors import ApiError
from frontend.exchange import Exchange
from frontend.services.credentials import Lease
from frontend.state import STATE
from frontend.upstream.deadlines import CallClock, Failure
from frontend.upstream.relay import ClientSink, PassThrough, Relay, Upstream, read_whole
from frontend.upstream.scrub import Scrubber

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


class DeadlineExpired(TimeoutError):
    """The upstream sent no answer (not even its headers) within the call's deadline: a timeout like any other."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def location_origin(location: str, base: URL) -> str:
    """Where a redirect points, as scheme://host:port only: its path and query may carry anything."""
    try:
        target = base.join(URL(location)) if location else None
    except (ValueError, TypeError):
        return "an unreadable Location"
    if target is None or not target.raw_host:
        return "no Location" if not location else "an unreadable Location"
    host = f"[{target.raw_host}]" if ":" in target.raw_host else target.raw_host
    return f"{target.scheme}://{host}:{target.port}"


@dataclass
class UpstreamCall:
    """Posts one client request upstream with its lease; when the upstream answers 401 to an OAuth access
    token, asks once for a forced refresh and sends the request once more with the new token. Without a newer
    token, the 401 goes back to the client as it came. Redirects are never followed: an upstream's 3xx is a 502
    naming the backend and the Location's origin, and nothing is sent there (the key would go with it)."""

    session: aiohttp.ClientSession
    client_headers: CIMultiDict[str]
    lease: Lease
    reauthenticate: Callable[[Lease], Awaitable[Lease | None]]
    backend: str
    limits: UpstreamLimits
    retried: bool = False
    header_values: list[str] = field(default_factory=list)  # the secret of every lease sent: never passed back
    clock: CallClock | None = None
    response: aiohttp.ClientResponse | None = None  # the answer, once post() returned it

    async def post(self, url: str, payload: bytes, dialect: Dialect) -> aiohttp.ClientResponse:
        loop = asyncio.get_running_loop()
        self.clock = CallClock(self.limits, self.backend, loop.time())
        try:
            async with asyncio.timeout_at(self.clock.expiry()) as deadline:
                return await self._post(url, payload, dialect)
        except TimeoutError:
            if deadline.expired():
                raise DeadlineExpired(self.clock.failure(loop.time())) from None
            raise

    async def _post(self, url: str, payload: bytes, dialect: Dialect) -> aiohttp.ClientResponse:
        response = await self._send(url, payload, dialect)
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
        return await self._send(url, payload, dialect)

    async def _send(self, url: str, payload: bytes, dialect: Dialect) -> aiohttp.ClientResponse:
        self.header_values.append(self.lease.header_value)
        response = await self.session.post(url, data=payload, allow_redirects=False,
                                           headers=upstream_headers(self.client_headers, self.lease, dialect))
        if 300 <= response.status < 400:
            origin = location_origin(response.headers.get("location", ""), response.url)
            response.release()
            message = (f"backend {self.backend!r} answered {response.status} redirecting to {origin}; dario never "
                       "follows upstream redirects and sent nothing there: check the backend's base URL")
            raise ApiError(502, Scrubber(self.header_values).text(message), code="upstream_redirect")
        return response


def client_headers(upstream: aiohttp.ClientResponse, exchange: Exchange, scrubber: Scrubber) -> CIMultiDict[str]:
    """Headers passed back: rate limits, retry hints and the upstream's request id (renamed), secrets scrubbed."""
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.headers.items():
        lower = name.lower()
        if lower.startswith(PASSED_HEADER_PREFIXES) or lower in PASSED_HEADERS:
            headers.add(name, scrubber.text(value))
    for name in UPSTREAM_REQUEST_ID_HEADERS:
        if name in upstream.headers:
            headers["x-upstream-request-id"] = scrubber.text(upstream.headers[name])
            break
    headers["x-dario-backend"] = exchange.backend
    headers["x-dario-credential"] = exchange.credential
    if exchange.failover:
        headers["x-dario-failover"] = " ".join(exchange.failover)
    if exchange.fallback_from:
        headers["x-dario-fallback-from"] = exchange.fallback_from
    return headers


async def relay(request: web.Request, upstream: Upstream, exchange: Exchange, dialect: Dialect) -> web.StreamResponse:
    """The native answer: an error body read whole (bounded, scrubbed); a small body whole, with a Content-Length;
    anything else streamed as it comes."""
    answer, limits = upstream.response, upstream.limits
    headers = client_headers(answer, exchange, upstream.scrubber)
    exchange.status = answer.status
    if answer.status >= 400:
        exchange.error_type = "upstream_error"
        body = await read_whole(request, upstream, PassThrough(dialect, events=False), exchange, limits.error_bytes,
                                "upstream_error_bytes")
        return web.Response(status=answer.status, body=upstream.scrubber.error_body(body), headers=headers)
    is_stream = answer.content_type == "text/event-stream"
    length = answer.content_length  # of the body as sent: a compressed one may inflate past WHOLE_BODY_LIMIT
    whole = not is_stream and length is not None and length <= WHOLE_BODY_LIMIT
    if is_stream:
        headers["cache-control"] = "no-cache"
    sink = ClientSink(request, web.StreamResponse(status=answer.status, headers=headers), exchange,
                      hold=WHOLE_BODY_LIMIT if whole else 0)
    if not whole and not await sink.start():
        return sink.response
    await Relay(upstream, PassThrough(dialect, events=is_stream), sink, events=is_stream, limit=limits.body_bytes,
                setting="upstream_body_bytes", record=record_now(request)).run()
    if sink.open:
        return await sink.end()
    body = sink.body()
    exchange.mark_first_byte()
    exchange.read_usage_later(dialect.usage_from_body, body)
    return web.Response(status=answer.status, body=body, headers=headers)


def record_now(request: web.Request) -> Callable[[Exchange], None]:
    """Hands a complete streamed answer's record to the reporter (and so its journal) before its last bytes go out."""
    reporter = request.app[STATE].pool.reporter

    def record(exchange: Exchange) -> None:
        exchange.recorded = True
        reporter.add(exchange)
    return record
