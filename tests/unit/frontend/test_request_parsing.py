"""Client request checks name the wrong field."""

from __future__ import annotations

import pytest

from frontend.errors import ApiError
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
