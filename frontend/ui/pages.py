"""The dashboard's routes (issue 14): the page, its files, the login form, and the pages the access rules answer
with under /ui (the login instead of a 401, a refusal instead of a 403), all under a strict CSP."""

from __future__ import annotations

import hmac
import html
from typing import TypeVar

from aiohttp import web

from frontend.state import STATE
from frontend.ui import assets, session
from frontend.ui.attempts import LoginAttempts

PREFIX = "/ui"
# Without the key: the login form and the files it needs (nothing in them is data).
OPEN_PATHS = ("/ui/login",)
OPEN_PREFIXES = ("/ui/static/", "/ui/vendor/")
SECURITY_HEADERS = {
    # No inline script or style, nothing from elsewhere, never in a frame.
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # same-origin, not no-referrer: under no-referrer a form POST carries "Origin: null", which access.py refuses.
    "referrer-policy": "same-origin",
}
KEY_CHARACTERS = 4096
Response = TypeVar("Response", bound=web.StreamResponse)
ATTEMPTS = web.AppKey("login_attempts", LoginAttempts)  # failed logins, per client address (frontend/ui/attempts.py)


def is_ui(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def secured(response: Response, cache: str = "no-store") -> Response:
    response.headers.update(SECURITY_HEADERS)
    response.headers["cache-control"] = cache
    return response


def _document(title: str, body: str) -> str:
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><link rel=\"stylesheet\" href=\"/ui/static/dashboard.css\">"
            "<link rel=\"icon\" href=\"/ui/static/favicon.svg\">"
            f"</head><body class=\"narrow\">{body}</body></html>")


def login_page(message: str = "", status: int = 401, headers: dict[str, str] | None = None) -> web.Response:
    """The login form: the key is posted once, in the body, and answered with the session cookie."""
    shown = f"<p class=\"error\" id=\"login-error\">{html.escape(message)}</p>" if message else ""
    body = ("<main class=\"login\"><h1>dario</h1><p>This dashboard needs the key dario was started with "
            "(<code>DARIO_API_KEY</code>).</p>" + shown +
            "<form method=\"post\" action=\"/ui/login\" id=\"login\"><label for=\"key\">Key</label>"
            "<input type=\"password\" id=\"key\" name=\"key\" autocomplete=\"current-password\" required autofocus>"
            "<button type=\"submit\">Log in</button></form></main>")
    return secured(web.Response(status=status, text=_document("dario · log in", body), content_type="text/html",
                                headers=headers))


def too_many_attempts(seconds: int, status: int = 429) -> web.Response:
    """The form while logins are refused: how long for, with retry-after (never the key that was posted)."""
    return login_page(f"Too many failed attempts: try again in {seconds} s. Until then every key is refused, the "
                      "right one too.", status, {"retry-after": str(seconds)} if status == 429 else None)


def needs_login(request: web.Request) -> web.Response:
    """A browser without the key: the dashboard itself sends it to the login form (a page without a console
    error), anything else under /ui gets the form with a 401."""
    if request.method == "GET" and request.path in (PREFIX, PREFIX + "/"):
        return secured(_see_other(PREFIX + "/login"))
    return login_page()


def refused_page(message: str, status: int = 403) -> web.Response:
    """What a browser refused by the access rules sees: why, and no data."""
    body = (f"<main class=\"login\"><h1>dario</h1><p class=\"error\" id=\"refused\">{html.escape(message)}</p>"
            "</main>")
    return secured(web.Response(status=status, text=_document("dario · refused", body), content_type="text/html"))


async def index(request: web.Request) -> web.StreamResponse:
    return secured(web.FileResponse(assets.STATIC / "index.html", headers={"content-type": "text/html"}))


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"location": location})


async def login_form(request: web.Request) -> web.StreamResponse:
    config = request.app[STATE].config
    if not config.server.api_key:
        return _see_other(PREFIX)  # nothing to log in with: loopback callers see the dashboard
    wait = request.app[ATTEMPTS].retry_after(request.remote, config.limits.login)
    return too_many_attempts(wait, status=200) if wait else login_page(status=200)


async def login(request: web.Request) -> web.StreamResponse:
    config = request.app[STATE].config
    api_key = config.server.api_key
    if not api_key:
        return _see_other(PREFIX)
    form = await request.post()
    # From here to the answer nothing awaits: a burst of parallel posts is checked and counted one by one.
    attempts, limits = request.app[ATTEMPTS], config.limits.login
    wait = attempts.retry_after(request.remote, limits)
    if wait:
        return too_many_attempts(wait)  # the key is not even compared
    presented = str(form.get("key", ""))[:KEY_CHARACTERS]
    if not hmac.compare_digest(presented.encode("utf-8", "surrogateescape"),
                               api_key.encode("utf-8", "surrogateescape")):
        attempts.failed(request.remote, limits)
        return login_page("That is not the key dario was started with.")
    attempts.succeeded(request.remote)
    response = _see_other(PREFIX)
    session.set_session(response, api_key)
    return secured(response)


async def logout(request: web.Request) -> web.StreamResponse:
    response = _see_other(f"{PREFIX}/login")
    session.clear_session(response)
    return secured(response)


async def static(request: web.Request) -> web.StreamResponse:
    path = assets.static_file(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    content_type = assets.CONTENT_TYPES[path.suffix]
    return secured(web.FileResponse(path, headers={"content-type": content_type}), cache="no-cache")


async def vendor(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in assets.VENDOR_FILES:
        raise web.HTTPNotFound()
    path = assets.vendor_files()[name]
    return secured(web.FileResponse(path, headers={"content-type": assets.VENDOR_FILES[name]}),
                   cache="max-age=86400")


def add_routes(app: web.Application) -> None:
    app[ATTEMPTS] = LoginAttempts()
    app.router.add_get(PREFIX, index)
    app.router.add_get(PREFIX + "/", index)
    app.router.add_get(PREFIX + "/login", login_form)
    app.router.add_post(PREFIX + "/login", login)
    app.router.add_post(PREFIX + "/logout", logout)
    app.router.add_get(PREFIX + "/static/{name}", static)
    app.router.add_get(PREFIX + "/vendor/{name}", vendor)
