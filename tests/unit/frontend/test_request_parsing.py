"""Client request checks name the wrong field; errors have the OpenAI shape; gRPC failures map once."""

import json

import grpc
import pytest

from frontend.error_mapping import from_rpc_error
from frontend.errors import ApiError, ServiceUnavailable, openai_error_body
from frontend.request_parsing import parse_chat_request


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"messages":[{"role":"user","content":"hi"}]}', "model"),
        (b'{"model":"","messages":[{"role":"user","content":"hi"}]}', "model"),
        (b'{"model":7,"messages":[{"role":"user","content":"hi"}]}', "model"),
        (b'{"model":"gpt-4o"}', "messages"),
        (b'{"model":"gpt-4o","messages":"hi"}', "messages"),
        (b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":"yes"}', "stream"),
    ],
)
def test_wrong_fields_are_named(body: bytes, param: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_chat_request(body)
    assert caught.value.status == 400
    assert caught.value.param == param
    assert param in caught.value.message


@pytest.mark.parametrize("body", [b"", b"   ", b"{not json", b"[1]", b"\xff\xfe"])
def test_malformed_bodies_are_400(body: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        parse_chat_request(body)
    assert caught.value.status == 400


def test_valid_request_reads_model_and_stream() -> None:
    parsed = parse_chat_request(b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}')
    assert parsed.model == "gpt-4o" and parsed.stream is True


def test_error_body_has_the_openai_shape() -> None:
    body = json.loads(openai_error_body(ApiError(404, "no route", param="model", code="model_not_found")))
    assert body == {
        "error": {"message": "no route", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}
    }


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str = "") -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def test_unavailable_service_becomes_503_naming_it_and_how_to_start() -> None:
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE), "pool_service", "/h/run/pool.sock")
    assert isinstance(error, ServiceUnavailable)
    assert error.status == 503
    assert "pool_service" in error.message and "/h/run/pool.sock" in error.message
    assert "supervisord -c deploy/dario.conf" in error.message


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.DEADLINE_EXCEEDED, 503),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.FAILED_PRECONDITION, 503),
        (grpc.StatusCode.INTERNAL, 500),
    ],
)
def test_grpc_codes_map_to_http_statuses(code: grpc.StatusCode, status: int) -> None:
    assert from_rpc_error(FakeRpcError(code, "detail"), "credential_service", "/s").status == status
