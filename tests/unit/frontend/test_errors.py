"""Errors dario answers itself come in the shape of the client's API."""

from __future__ import annotations

import json

from frontend.errors import ApiError, openai_error_body


def test_error_body_has_the_openai_shape() -> None:
    body = json.loads(openai_error_body(ApiError(404, "no route", param="model", code="model_not_found")))
    assert body == {
        "error": {"message": "no route", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}
    }
