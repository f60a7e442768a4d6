"""Who may call the frontend (architecture.md, Security): loopback by default, DARIO_API_KEY for anything wider, CORS
by opt-in, and nothing a web page could send on its own: a foreign Host (DNS rebinding), a foreign Origin, a form
POST."""

from __future__ import annotations

import functools
import hmac
import ipaddress

from aiohttp import web

from dario.config import Config
from frontend.errors import ApiError
from frontend.ui import pages as dashboard
from frontend.ui.session import has_session

OPEN_PATHS = ("/health",)
CORS_HEADERS = "authorization, content-type, x-api-key, anthropic-version, anthropic-beta"
JSON_POSTS = frozenset({"/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/messages/count_tokens",
                        "/v1/embeddings"})
# Sec-Fetch-Site values of requests no other origin made: the page's own, or the user's (address bar, bookmark).
OWN_FETCH_SITES = ("same-origin", "none")
SHOWN_CHARACTERS = 80  # of a refused Host or Origin, in the error message


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The addresses dario may bind without DARIO_API_KEY: the default one and its IPv6 and named forms. Another
# loopback address (127.0.0.2) is as local, but the rule users read is "any other address needs the key", and
# a non-default bind is a deliberate choice the key makes explicit.
KEYLESS_BINDS = ("127.0.0.1", "::1", "localhost")


def refuse_exposed_without_key(host: str, api_key: str) -> str | None:
    """The message to refuse start with, when binding anything but 127.0.0.1 (::1, localhost) with no key."""
    if host.lower() in KEYLESS_BINDS or api_key:
        return None
    return (f"refusing to listen on {host}: anyone who can reach it could spend your credentials. "
            "Set DARIO_API_KEY (clients then send it as x-api-key or Authorization: Bearer), "
            "or bind 127.0.0.1.")


def host_name(header: str) -> str:
    """The name in a Host header: no port, no IPv6 brackets, lowercase, without a trailing dot."""
    value = header.strip().lower()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


@functools.lru_cache(maxsize=256)  # every request asks of its Host; parsing an address cost ~30 µs a request
def is_loopback_name(name: str) -> bool:
    """Names a browser resolves to loopback itself (RFC 6761: localhost and *.localhost), and loopback addresses:
    a DNS-rebinding page cannot make a Host header carry one of them."""
    return name.endswith(".localhost") or is_loopback(name)


def check_browser(request: web.Request, config: Config) -> None:
    """Raises 403 for requests only a foreign web page sends. Without a key, the Host must be a loopback name
    or one in [server] allowed_hosts; with a key, a page cannot send it cross-site anyway (CORS would ask first)."""
    host = request.headers.get("host")
    if not config.server.api_key and host is not None:
        name = host_name(host)
        if not is_loopback_name(name) and name not in config.server.allowed_hosts:
            raise ApiError(403, f"dario does not serve the host {_shown(host)}: without DARIO_API_KEY it answers "
                                "only loopback names (localhost, 127.0.0.1, [::1]), so that a web page cannot reach "
                                "it by DNS rebinding. To reach it by this name, add it to [server] allowed_hosts in "
                                "config.toml", code="host_not_allowed")
    origin = request.headers.get("origin")
    if origin is not None:
        origin = origin.strip().lower()
        if origin == config.server.cors_origin and origin:
            return
        if host is not None and origin in (f"http://{host.lower()}", f"https://{host.lower()}"):
            return  # same origin: a page dario itself served
        configured = f"it is {config.server.cors_origin}" if config.server.cors_origin else "none is set"
        raise ApiError(403, f"requests from the web page at {_shown(origin)} are refused: only the origin in "
                            f"DARIO_CORS_ORIGIN ({configured}) may call dario from a browser. Set DARIO_CORS_ORIGIN "
                            "to the origin of the web app allowed to call dario", code="origin_not_allowed")
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in OWN_FETCH_SITES:
        raise ApiError(403, f"a browser request from another origin (Sec-Fetch-Site: {_shown(site)}) is refused; "
                            "set DARIO_CORS_ORIGIN to the origin of the web app that should call dario",
                       code="cross_origin_request")


def check_json_body(request: web.Request) -> None:
    """API POSTs must say their body is JSON: a page can POST text/plain or a form cross-site without asking
    (a CORS "simple" request), but any JSON type makes the browser ask first, and CORS refuses."""
    if request.method != "POST" or request.path not in JSON_POSTS:
        return
    given = request.headers.get("content-type", "")
    essence = given.partition(";")[0].strip().lower()
    if essence == "application/json" or (essence.startswith("application/") and essence.endswith("+json")):
        return
    shown = f"Content-Type {_shown(given)}" if given else "no Content-Type"
    raise ApiError(415, f"the request body must be sent as Content-Type: application/json (got {shown})",
                   code="unsupported_media_type")


def _shown(value: str) -> str:
    return repr(value if len(value) <= SHOWN_CHARACTERS else value[:SHOWN_CHARACTERS] + "...")


def presented_key(request: web.Request) -> str:
    key = request.headers.get("x-api-key", "")
    if key:
        return key
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def check_key(request: web.Request, api_key: str) -> None:
    """Raises 401 unless the request carries the key (compared in constant time); /health is always open."""
    if not api_key or request.path in OPEN_PATHS or request.method == "OPTIONS" or dashboard.is_open(request.path):
        return
    if has_session(request, api_key):  # the dashboard's login cookie: reads only (frontend/ui/session.py)
        return
    # Header bytes that are not UTF-8 arrive as surrogate escapes: compared as the bytes the client sent.
    presented = presented_key(request).encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(presented, api_key.encode("utf-8", "surrogateescape")):
        raise ApiError(401, "a valid dario key is required (DARIO_API_KEY), as x-api-key or Authorization: Bearer",
                       code="invalid_api_key")


def cors_preflight(request: web.Request, origin: str) -> web.Response | None:
    if origin and request.method == "OPTIONS" and request.headers.get("origin", "").strip().lower() == origin:
        return web.Response(status=204, headers={
            "access-control-allow-origin": origin,
            "access-control-allow-methods": "GET, POST, OPTIONS",
            "access-control-allow-headers": CORS_HEADERS,
            "access-control-max-age": "600",
            "vary": "origin",
        })
    return None
