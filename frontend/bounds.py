"""Bounds on the client- and upstream-supplied strings dario records or labels: cut to a length with a visible
mark, and always valid UTF-8 (a JSON "\\ud800" escape decodes to a lone surrogate, which protobuf refuses)."""

from __future__ import annotations

from collections.abc import Mapping

MARK = "…"
MODEL_CHARS = 256  # the longest real model ids are well under 100 characters
ID_CHARS = 128
ERROR_TYPE_CHARS = 128
NAME_CHARS = 256  # backend and credential names, fallback_from
FAILOVER_CHARS = 2048
HEADER_NAME_CHARS = 64
HEADER_VALUE_CHARS = 256
HEADERS_KEPT = 32  # providers send about a dozen rate-limit headers


def bounded(text: str, limit: int) -> str:
    """text cut to at most limit characters (the last one MARK when cut), lone surrogates replaced by U+FFFD."""
    if len(text) > limit:
        text = text[: limit - 1] + MARK
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16 with surrogatepass, a pair joins into its character and a lone half becomes U+FFFD.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def bounded_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """At most HEADERS_KEPT headers, names and values bounded."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if len(kept) >= HEADERS_KEPT:
            break
        kept[bounded(name, HEADER_NAME_CHARS)] = bounded(value, HEADER_VALUE_CHARS)
    return kept
