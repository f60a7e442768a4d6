"""The upstream call: the request posted with its lease (one forced refresh after a 401), redirects refused, and
the deadline for the answer's headers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from dario.catalog import Lease
from dario.config import UpstreamLimits
from frontend.dialects import Dialect
from frontend.errors import ApiError, DeadlineExpired
from frontend.upstream.deadlines import CallClock
from frontend.upstream.headers import upstream_headers
from frontend.upstream.scrub import Scrubber

log = logging.getLogger(__name__)


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
    client_headers: Mapping[str, str]  # the client request's headers (case-insensitive)
    lease: Lease
    reauthenticate: Callable[[Lease], Awaitable[Lease | None]]
    backend: str
    limits: UpstreamLimits
    retried: bool = False
    header_values: list[str] = field(default_factory=list)  # the secret of every lease sent: never passed back
    # Where deadlines of `limits` come from when not [limits] (a route's rule), by name, for deadline messages.
    origin: dict[str, str] = field(default_factory=dict)
    clock: CallClock | None = None
    response: aiohttp.ClientResponse | None = None  # the answer, once post() returned it

    @property
    def answer(self) -> aiohttp.ClientResponse:
        """The response, once post() has returned it (and the caller kept it in `response`)."""
        if self.response is None:
            raise RuntimeError("the upstream call has no answer yet")
        return self.response

    @property
    def deadlines(self) -> CallClock:
        """The call's clock, set when post() starts."""
        if self.clock is None:
            raise RuntimeError("the upstream call has not started")
        return self.clock

    async def post(self, url: str, payload: bytes, dialect: Dialect) -> aiohttp.ClientResponse:
        loop = asyncio.get_running_loop()
        self.clock = CallClock(self.limits, self.backend, loop.time(), self.origin)
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
