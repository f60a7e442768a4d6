"""The header policy both ways: what is sent upstream (never the client's own auth; the lease's header), and what
of the upstream's answer is passed back (rate limits, retry hints, its request id renamed; secrets scrubbed)."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from multidict import CIMultiDict

from dario import __version__
from dario.catalog import Lease
from frontend.dialects import Dialect
from frontend.exchange import Exchange
from frontend.upstream.scrub import Scrubber

RATE_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
RETRY_HEADERS = ("retry-after", "retry-after-ms")
PASSED_HEADER_PREFIXES = (*RATE_LIMIT_PREFIXES, "openai-")
PASSED_HEADERS = (*RETRY_HEADERS, "content-type")
UPSTREAM_REQUEST_ID_HEADERS = ("x-request-id", "request-id")
USER_AGENT = f"dario/{__version__}"


def upstream_headers(client_headers: Mapping[str, str], lease: Lease, dialect: Dialect) -> dict[str, str]:
    """Headers sent upstream: the client's own auth is never forwarded, the lease's header is added. client_headers
    is the request's (case-insensitive) headers."""
    headers = {"content-type": "application/json", "user-agent": USER_AGENT, **dialect.default_headers}
    for name in dialect.passed_headers:
        value = client_headers.get(name)
        if value:
            headers[name] = value
    if lease.header_name:
        headers[lease.header_name] = lease.header_value
    return headers


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
    headers.update(exchange.reply_headers)  # e.g. x-dario-max-tokens-clamped (frontend.translate.limits)
    return headers


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The rate-limit and retry headers of an upstream answer (recorded, and sent to pool_service on failover)."""
    kept = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith(RATE_LIMIT_PREFIXES) or lower in RETRY_HEADERS:
            kept[lower] = value
    return kept
