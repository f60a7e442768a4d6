"""The dashboard's login (issue 14): with DARIO_API_KEY set, a browser proves it once with a form and then carries
an HttpOnly, SameSite=Strict cookie; the key itself is never put in a cookie or a URL.

The cookie holds an expiry and an HMAC of it keyed by DARIO_API_KEY: nothing is stored, a new key logs every
browser out, and a cookie cannot be extended without the key."""

from __future__ import annotations

import hashlib
import hmac
import time

from aiohttp import web

COOKIE = "dario_ui"
LIFETIME_SECONDS = 7 * 86_400
# Requests a cookie may authorise: reads only, so a cookie never spends a credential (the API wants the key).
COOKIE_METHODS = ("GET", "HEAD")


def _signature(api_key: str, expires: int) -> str:
    return hmac.new(api_key.encode("utf-8", "surrogateescape"), f"dario-ui:{expires}".encode(),
                    hashlib.sha256).hexdigest()


def new_token(api_key: str, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + LIFETIME_SECONDS)
    return f"{expires}.{_signature(api_key, expires)}"


def valid_token(token: str, api_key: str, now: float | None = None) -> bool:
    expires_text, _, signature = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if expires < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(signature.encode(), _signature(api_key, expires).encode())


def has_session(request: web.Request, api_key: str) -> bool:
    """A read the dashboard's cookie authorises."""
    if request.method not in COOKIE_METHODS:
        return False
    token = request.cookies.get(COOKIE, "")
    return bool(token) and valid_token(token, api_key)


def set_session(response: web.StreamResponse, api_key: str) -> None:
    response.set_cookie(COOKIE, new_token(api_key), max_age=LIFETIME_SECONDS, path="/", httponly=True,
                        samesite="Strict")


def clear_session(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")
