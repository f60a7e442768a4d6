"""Keeps secrets out of logs and error messages: a redaction function and a logging filter using it."""

from __future__ import annotations

import logging
import re

# Order matters: specific token shapes first, then generic "key=value" assignments.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1[REDACTED]"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "[REDACTED]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[REDACTED]"),
    (
        re.compile(
            r"(?i)([\"']?(?:api[_-]?key|x-api-key|authorization|access[_-]?token|refresh[_-]?token|"
            r"client[_-]?secret|code[_-]?verifier|id[_-]?token|password|secret)[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}]{4,})"
        ),
        r"\1[REDACTED]",
    ),
)


# What each pattern cannot match without, in the case-folded text: a pattern runs only where its literal is, so
# most log lines (the access log's among them: one per request) skip the regular expressions (issue 13: redaction
# was 3.5% of the frontend's CPU under load). Every alternative of the last pattern holds one of its needles.
# casefold() maps what (?i) equates (ſ to s, K to k); no needle holds an i, which (?i) also equates with ı and İ.
_NEEDLES: tuple[tuple[str, ...], ...] = (
    ("bearer",),
    ("sk-",),
    ("eyj",),
    ("key", "author", "access", "refresh", "d_token", "d-token", "dtoken", "secret", "code", "password"),
)


# Each pattern's needles as one alternation, and all of them as one: a line holding none (nearly every line) costs
# one search in C.
_NEEDLE_SEARCHES = tuple(re.compile("|".join(map(re.escape, needles))).search for needles in _NEEDLES)
_ANY_NEEDLE = re.compile("|".join(re.escape(needle) for needles in _NEEDLES for needle in needles)).search


def redact(text: str, known_secrets: tuple[str, ...] = ()) -> str:
    """Returns text with every token-shaped or known secret replaced by [REDACTED]."""
    for secret in known_secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[REDACTED]")
    lowered = text.casefold()
    if _ANY_NEEDLE(lowered) is None:
        return text
    for (pattern, replacement), search in zip(_PATTERNS, _NEEDLE_SEARCHES, strict=True):
        if search(lowered) is not None:
            text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message with secrets redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info:
            # Formatted tracebacks may quote secrets too; format them now and redact.
            formatted = logging.Formatter().formatException(record.exc_info)
            cleaned = f"{cleaned}\n{redact(formatted)}"
            record.exc_info = None
            record.exc_text = None
        record.msg = cleaned
        record.args = None
        return True
