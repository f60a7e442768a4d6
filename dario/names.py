"""Validation of the names users give backends and credentials (they become keys and appear in paths)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(name: str, what: str = "name") -> str | None:
    """Returns a message saying what is wrong with name, or None when it is acceptable."""
    if not _NAME.match(name or "") or ".." in name:
        return (
            f"{what} {name!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return None


def check_base_url(url: str) -> str | None:
    """Returns a message saying what is wrong with a backend base URL, or None when it is acceptable."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"base URL {url!r} must be an absolute http:// or https:// URL"
    if parts.query or parts.fragment or parts.username or parts.password:
        return f"base URL {url!r} must not carry a query, fragment or user info"
    if any(ord(character) < 32 for character in url):
        return "base URL must not contain control characters"
    return None
