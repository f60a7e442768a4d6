"""An upstream's 404, told so the user can fix it (issue 12 item 5): the upstream's own message, the URL dario called
(scheme, host, port and path only: never a query, which may carry a key, nor user info), and the hint to check the
backend's base URL; in the client's API format, with the upstream's error code kept."""

from __future__ import annotations

import json

from yarl import URL

from frontend.errors import ApiError, error_body
from frontend.upstream.scrub import Scrubber

MAX_UPSTREAM_MESSAGE = 300  # characters of the upstream's own message quoted


def called_url(url: URL) -> str:
    """The URL as it may be shown: no user info, query or fragment."""
    try:
        return str(url.with_user(None).with_password(None).with_query(None).with_fragment(None))
    except (ValueError, TypeError):
        return "an unreadable URL"


def _upstream_message(body: bytes) -> tuple[str, str]:
    """The upstream's message and error code (either may be empty), from a JSON error body or plain text."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError, UnicodeDecodeError):
        document = None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict):
            message, code = error.get("message"), error.get("code") or error.get("type")
            return (message if isinstance(message, str) else ""), (code if isinstance(code, str) else "")
        if isinstance(error, str):
            return error, ""
        message = document.get("message") or document.get("detail")
        return (message if isinstance(message, str) else ""), ""
    text = body.decode("utf-8", "replace").strip()
    return ("" if text.startswith("<") else " ".join(text.split())), ""  # an HTML page says nothing useful


def not_found_body(backend: str, url: URL, body: bytes, api_format: str, scrubber: Scrubber) -> bytes:
    """The client's 404 body for an upstream 404 to a POST of `url`."""
    message, code = _upstream_message(body)
    message = message[:MAX_UPSTREAM_MESSAGE]
    told = (f"{message} (" if message else "") + (
        f"backend {backend!r} answered 404 to POST {called_url(url)}; check the backend's base URL with "
        f"`dario backend test {backend}`") + (")" if message else "")
    return scrubber.error_body(error_body(ApiError(404, told, code=code or "upstream_not_found"), api_format))
