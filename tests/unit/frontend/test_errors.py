"""Errors dario answers itself come in the shape of the client's API, with the error type the one table of that
API gives a status: the same type an upstream's error of that status gets when it is translated."""

from __future__ import annotations

import json

import pytest

from dario.testing import anthropic_wire, openai_wire
from frontend.errors import ApiError, anthropic_error_body, openai_error_body
from frontend.translate.upstream_errors import error_to_anthropic, error_to_openai

STATUSES = (400, 401, 402, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529)


def test_error_body_has_the_openai_shape() -> None:
    body = json.loads(openai_error_body(ApiError(404, "no route", param="model", code="model_not_found")))
    assert body == {
        "error": {"message": "no route", "type": "not_found_error", "param": "model", "code": "model_not_found"}
    }


@pytest.mark.parametrize("status", STATUSES)
def test_an_anthropic_client_gets_one_type_per_status_from_dario_and_from_a_translated_upstream(status: int) -> None:
    own = json.loads(anthropic_error_body(ApiError(status, "m")))["error"]["type"]
    translated = error_to_anthropic(status, json.dumps(openai_wire.error_body(status)).encode())["error"]["type"]
    assert own == translated


def test_a_503_is_overloaded_for_anthropic_clients_whoever_answers_it() -> None:
    """translation.md §7: an OpenAI upstream's 503 is Anthropic's overloaded_error; dario's own 503 (a service or
    every credential unavailable) is told the same way, not as api_error."""
    own = json.loads(anthropic_error_body(ApiError(503, "pool_service is not available")))
    assert own == {"type": "error", "error": {"type": "overloaded_error", "message": "pool_service is not available"}}


@pytest.mark.parametrize("status", sorted(anthropic_wire.ERRORS))
def test_an_openai_client_gets_one_type_per_status_from_dario_and_from_a_translated_upstream(status: int) -> None:
    own = json.loads(openai_error_body(ApiError(status, "m")))["error"]["type"]
    translated = error_to_openai(status, json.dumps(anthropic_wire.error_body(status)).encode())["error"]["type"]
    assert own == translated
