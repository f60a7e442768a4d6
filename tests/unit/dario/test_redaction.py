"""Secrets never reach a log line: token shapes and key assignments are redacted."""

import logging

import pytest

from dario.redaction import RedactingFilter, redact

SECRETS = [
    ("Authorization: Bearer test-token-abcdefghijklmnop", "test-token-abcdefghijklmnop"),
    ("key sk-testonly0123456789abcdef used", "sk-testonly0123456789abcdef"),
    ('{"api_key": "plain-secret-value-123"}', "plain-secret-value-123"),
    ("x-api-key=another-secret-456789", "another-secret-456789"),
    ("refresh_token=rt-secret-value-abcdef", "rt-secret-value-abcdef"),
    ('{"refresh_token": "rt-json-secret-value", "expires_in": 3600}', "rt-json-secret-value"),
    ("grant_type=client_credentials&client_secret=cs-secret-value-99", "cs-secret-value-99"),
    ("code_verifier=pkce-verifier-secret-0123456789", "pkce-verifier-secret-0123456789"),
    ('"access_token":"at-opaque-access-token-42"', "at-opaque-access-token-42"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl end", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0"),
]


@pytest.mark.parametrize(("line", "secret"), SECRETS)
def test_secret_shapes_are_redacted(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned
    assert "[REDACTED]" in cleaned


def test_known_secrets_are_redacted_whatever_their_shape() -> None:
    assert "hunter2hunter2" not in redact("password was hunter2hunter2!", ("hunter2hunter2",))


def test_ordinary_text_is_left_alone() -> None:
    line = "backend openai added with 1 credential; model gpt-4o-mini"
    assert redact(line) == line


def test_filter_redacts_arguments_and_tracebacks() -> None:
    arguments = ("Bearer test-token-abcdefghijklmnop",)
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "lease %s", arguments, None)
    try:
        raise ValueError("api_key=leaked-in-exception-1234")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    assert "test-token-abcdefghijklmnop" not in record.getMessage()
    assert "leaked-in-exception-1234" not in record.getMessage()


def redact_every_pattern(text: str) -> str:
    """redact() without its needle check: every pattern on every text."""
    from dario.redaction import _PATTERNS

    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


LOOKALIKES = [
    "req_1 openai model=gpt-4o-mini backend=chat credential=default status=200 latency=2.0ms tokens=7/12",
    "client_ſecret=cs-long-s-secret-99", "API_\u212aEY: kelvin-sign-secret-1", "ıd_token=dotless-i-secret-1",
    "İD-TOKEN=dotted-I-secret-22", "AUTHORİZATİON: Basic dXNlcjpwYXNz", "BEARER abcdefghijklmnop",
    "code_verıfıer=pkce-dotless-secret", "PassWord = 'hunter2hunter'", "x-api-key:sk-ant-0123456789",
    "no secret here at all", "tokens=1/2 credential=key0", "Id_Token: eyJabcdefghij.eyJabcdefgh.sig",
]


@pytest.mark.parametrize("line", [line for line, _ in SECRETS] + LOOKALIKES)
def test_the_needle_check_never_skips_a_pattern_that_would_match(line: str) -> None:
    assert redact(line) == redact_every_pattern(line)
