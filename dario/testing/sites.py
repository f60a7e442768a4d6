"""Small aiohttp helpers the scripted servers share: the port a started site got, and a connection dropped."""

from __future__ import annotations

import asyncio

from aiohttp import web


def site_port(site: web.TCPSite) -> int:
    """The port a started site listens on (it may have asked for port 0)."""
    server = site._server  # aiohttp keeps the asyncio server private; its sockets are the only place the port is
    if not isinstance(server, asyncio.Server) or not server.sockets:
        raise RuntimeError("the site is not listening")
    port: int = server.sockets[0].getsockname()[1]
    return port


def abort(request: web.BaseRequest) -> None:
    """Drops the request's connection at once: the client sees the body end where it is, without a terminator."""
    if request.transport is not None:
        request.transport.abort()
