"""Who may call the frontend (SPEC §7): loopback by default, DARIO_API_KEY for anything wider, CORS by opt-in."""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from frontend.errors import ApiError

OPEN_PATHS = ("/health",)
CORS_HEADERS = "authorization, content-type, x-api-key, anthropic-version, anthropic-beta"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_exposed_without_key(host: str, api_key: str) -> str | None:
    """The message to refuse start with, when binding beyond loopback with no key; else None."""
    if is_loopback(host) or api_key:
        return None
    return (f"refusing to listen on {host}: anyone who can reach it could spend your credentials. "
            "Set DARIO_API_KEY (clients then send it as x-api-key or Authorization: Bearer), "
            "or bind 127.0.0.1.")


def presented_key(request: web.Request) -> str:
    key = request.headers.get("x-api-key", "")
    if key:
        return key
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def check_key(request: web.Request, api_key: str) -> None:
    """Raises 401 unless the request carries the key (compared in constant time); /health is always open."""
    if not api_key or request.path in OPEN_PATHS or request.method == "OPTIONS":
        return
    if not hmac.compare_digest(presented_key(request).encode(), api_key.encode()):
        raise ApiError(401, "a valid dario key is required (DARIO_API_KEY), as x-api-key or Authorization: Bearer",
                       code="invalid_api_key")


def cors_preflight(request: web.Request, origin: str) -> web.Response | None:
    if origin and request.method == "OPTIONS" and request.headers.get("origin") == origin:
        return web.Response(status=204, headers={
            "access-control-allow-origin": origin,
            "access-control-allow-methods": "GET, POST, OPTIONS",
            "access-control-allow-headers": CORS_HEADERS,
            "access-control-max-age": "600",
        })
    return None
