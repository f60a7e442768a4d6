"""Upstream error bodies told in the client's API, the status kept (translation.md §7)."""

from __future__ import annotations

import json

import pytest

from dario.testing import anthropic_wire, openai_wire
from frontend.translate.upstream_errors import error_to_anthropic, error_to_openai, error_to_responses


@pytest.mark.parametrize(
    ("status", "error_type", "openai_type", "code"),
    [(400, "invalid_request_error", "invalid_request_error", None),
     (401, "authentication_error", "authentication_error", "invalid_api_key"),
     (429, "rate_limit_error", "rate_limit_error", "rate_limit_exceeded"),
     (529, "overloaded_error", "overloaded_error", None), (500, "api_error", "server_error", None)],
)
def test_anthropic_errors_for_openai_clients(status: int, error_type: str, openai_type: str, code: str | None) -> None:
    body = json.dumps({"type": "error", "error": {"type": error_type, "message": "m"}}).encode()
    assert error_to_openai(status, body) == {"error": {"message": "m", "type": openai_type, "param": None,
                                                       "code": code}}


@pytest.mark.parametrize(("status", "expected"), [(400, "invalid_request_error"), (401, "authentication_error"),
                                                  (404, "not_found_error"), (429, "rate_limit_error"),
                                                  (500, "api_error"), (503, "overloaded_error")])
def test_openai_errors_for_anthropic_clients(status: int, expected: str) -> None:
    body = json.dumps(openai_wire.error_body(status)).encode()
    assert error_to_anthropic(status, body)["error"]["type"] == expected


def test_quota_and_html_errors() -> None:
    quota = json.dumps({"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}})
    assert error_to_anthropic(429, quota.encode())["error"]["type"] == "billing_error"
    assert "non-JSON (status 502)" in error_to_openai(502, b"<html>bad gateway</html>")["error"]["message"]


@pytest.mark.parametrize(("status", "body", "expected"), [
    (429, json.dumps(openai_wire.error_body(429)).encode(), ("requests", "rate_limit_exceeded")),
    (400, json.dumps(openai_wire.error_body(400)).encode(), ("invalid_request_error", "invalid_value")),
    (529, json.dumps(anthropic_wire.error_body(529)).encode(), ("overloaded_error", None)),
    (429, json.dumps(anthropic_wire.error_body(429)).encode(), ("rate_limit_error", "rate_limit_exceeded")),
    (502, b"<html>bad gateway</html>", ("server_error", None)),
])
def test_upstream_errors_reach_clients_in_the_openai_shape(status: int, body: bytes, expected: tuple) -> None:
    error = error_to_responses(status, body)["error"]
    assert (error["type"], error["code"]) == expected and error["message"]
    assert set(error) == {"message", "type", "param", "code"}
