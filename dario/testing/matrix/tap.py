"""A recording pass-through in front of dario: what each client sent, and what dario answered (headers, status).

Clients get the tap's URL instead of dario's; bytes go both ways unchanged (streams chunk by chunk), and each
exchange is kept as an `Exchange` with the request's headers and JSON body and the response's headers, status
and (bounded) body. Key headers are recorded as present, never with their value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from dario.json_types import JsonObject
from dario.testing.sites import site_port
from dario.testing.threaded import Threaded

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length",
              "proxy-authorization", "proxy-connection"}
SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "cookie"}
BODY_LIMIT = 2 * 1024 * 1024  # bytes of each response kept for the report


@dataclass
class Exchange:
    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: object  # the parsed JSON, or the text when it is not JSON
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    client_closed: bool = False  # the client closed the connection before the response's end

    @property
    def response_text(self) -> str:
        return self.response_body.decode("utf-8", "replace")

    def to_json(self) -> JsonObject:
        return {"method": self.method, "path": self.path, "query": self.query,
                "request_headers": self.request_headers, "request_body": self.request_body, "status": self.status,
                "response_headers": self.response_headers, "response_body": self.response_text[:20000]}


def _visible(headers: Mapping[str, str]) -> dict[str, str]:
    shown = {}
    for name, value in headers.items():
        key = name.lower()
        shown[key] = "<present>" if key in SECRET_HEADERS else value
    return shown


class Tap:
    def __init__(self, target: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target, self.host, self.port = target.rstrip("/"), host, port
        self.exchanges: list[Exchange] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._session = aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=600))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site_port(site)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            parsed: object = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        exchange = Exchange(request.method, request.path, request.query_string, _visible(request.headers), parsed)
        self.exchanges.append(exchange)
        headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP}
        url = self.target + str(request.rel_url)
        assert self._session is not None
        async with self._session.request(request.method, url, data=body, headers=headers,
                                         allow_redirects=False) as upstream:
            exchange.status = upstream.status
            exchange.response_headers = _visible(upstream.headers)
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers.add(name, value)
            await response.prepare(request)
            kept = bytearray()
            try:
                async for chunk in upstream.content.iter_any():
                    if len(kept) < BODY_LIMIT:
                        kept += chunk[: BODY_LIMIT - len(kept)]
                    await response.write(chunk)
                await response.write_eof()
            except ConnectionError:  # the client hung up once it had what it wanted (SDKs do after [DONE])
                exchange.client_closed = True
            finally:
                exchange.response_body = bytes(kept)
            return response


def threaded(target: str) -> Threaded[Tap]:
    """`with threaded(dario_url) as tap:` a Tap served from its own loop in a background thread."""
    return Threaded(Tap(target), name="matrix-tap")
