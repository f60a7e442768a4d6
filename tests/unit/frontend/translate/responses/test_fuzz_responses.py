"""Hostile input to the Responses translators: a request translates or is refused naming a field, and any
answer or stream from either upstream becomes what the openai SDK accepts, ending in one terminal event."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.responses import Response

from dario.testing import openai_wire
from dario.testing.splitting import split_at
from frontend.translate import TranslationError
from frontend.translate.responses.answer import chat_to_response
from frontend.translate.responses.anthropic_stream import AnthropicToResponsesStream
from frontend.translate.responses.chat_stream import ChatToResponsesStream
from frontend.translate.responses.request_to_anthropic import responses_to_anthropic
from frontend.translate.responses.request_to_chat import responses_to_chat
from tests.unit.frontend.translate.responses.checks import REQUEST, checked_events
from tests.unit.frontend.translate.stream_checks import run

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TEXTS = st.text(max_size=8) | st.sampled_from(["", " ", "\ud800", "héllo ☃ 🚀", "[DONE]", "{", "data: x\n\n"])
SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | TEXTS
JSON = st.recursive(SCALARS, lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(TEXTS, children, max_size=3), max_leaves=10)


def one_of(*values: object) -> st.SearchStrategy:
    """A documented value most of the time, sometimes any JSON."""
    return st.sampled_from(values) | st.sampled_from(values) | JSON


def fields(**optional: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional=optional)


PART = fields(type=one_of("input_text", "output_text", "input_image", "input_file", "refusal", "input_audio"),
              text=TEXTS, image_url=one_of("https://x.test/a.png", "data:image/png;base64,AA"),
              file_id=one_of(None, "file_1"), file_data=one_of("data:application/pdf;base64,AA"))
ITEM = fields(type=one_of("message", "function_call", "function_call_output", "reasoning", "item_reference"),
              role=one_of("user", "assistant", "system", "developer", "tool"),
              content=TEXTS | st.lists(PART, max_size=3), call_id=one_of("call_1", ""), name=one_of("get_time"),
              arguments=one_of("{}", '{"a":1}', ""), output=TEXTS | st.lists(PART, max_size=2))
RESPONSES_DOCUMENT = fields(
    input=TEXTS | st.lists(ITEM, max_size=5), instructions=TEXTS | JSON,
    tools=st.lists(fields(type=one_of("function", "web_search", "custom"), name=one_of("get_time"),
                          parameters=one_of({"type": "object"}), strict=JSON, description=TEXTS), max_size=2),
    tool_choice=one_of("auto", "none", "required", {"type": "function", "name": "get_time"},
                       {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_time"}]}),
    parallel_tool_calls=JSON, max_output_tokens=one_of(1, 4096, 0, -1, 2.5, 10**400),
    temperature=one_of(0.5, 2, 10**400, float("nan")),
    top_p=one_of(1), text=fields(format=fields(type=one_of("text", "json_object", "json_schema"), name=TEXTS,
                                               schema=one_of({"type": "object"})), verbosity=one_of("low")),
    reasoning=fields(effort=one_of("low", "high", "none"), summary=one_of("auto")), store=one_of(False, None, True),
    include=one_of([], ["reasoning.encrypted_content"]), stream=JSON, user=TEXTS, metadata=JSON,
    previous_response_id=one_of(None), truncation=one_of("auto", "disabled"))


@FUZZ
@given(RESPONSES_DOCUMENT, st.sampled_from(["gpt-4o", "gpt-5.1", "llama-3.1"]),
       st.sampled_from(["claude-sonnet-5", "claude-3-5-sonnet-20241022"]))
def test_hostile_responses_requests_translate_or_are_refused_naming_a_field(document: dict, openai_model: str,
                                                                             anthropic_model: str) -> None:
    for translate in (lambda: responses_to_chat(document, openai_model),
                      lambda: responses_to_anthropic(document, anthropic_model, 4096)):
        try:
            body, warnings = translate()
        except TranslationError as error:
            assert error.param and isinstance(error.param, str)
            continue
        json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
        assert all(isinstance(warning, str) for warning in warnings)
        # a request that translated echoes into a Response the SDK accepts
        Response.model_validate(chat_to_response({"choices": [{"message": {"content": "ok"}}]}, "alias", document))


TOOL_CALL = fields(index=one_of(0, 1), id=one_of("call_1", "call_2"),
                   function=fields(name=one_of("get_time", ""), arguments=TEXTS | JSON))
DELTA = fields(content=TEXTS | JSON, refusal=TEXTS, reasoning_content=TEXTS,
               tool_calls=JSON | st.lists(TOOL_CALL, max_size=2))
CHOICE = fields(delta=JSON | DELTA, finish_reason=one_of(None, "stop", "length", "tool_calls", "content_filter"))
CHUNK = fields(id=TEXTS, object=one_of("chat.completion.chunk"), usage=JSON | st.just(openai_wire.usage(3, 4)),
               error=one_of(None, {"message": "x", "type": "server_error"}),
               choices=JSON | st.lists(CHOICE, max_size=2))


@FUZZ
@given(JSON | fields(choices=st.lists(fields(message=JSON, finish_reason=JSON), max_size=2), usage=JSON))
def test_any_chat_answer_becomes_a_response_the_sdk_accepts(completion: object) -> None:
    if isinstance(completion, dict):
        Response.model_validate(chat_to_response(completion, "alias", REQUEST))


@FUZZ
@given(st.lists(CHUNK | JSON, max_size=6), st.booleans(), st.lists(st.integers(0, 10_000), max_size=8))
def test_any_chat_stream_becomes_events_the_sdk_accepts(chunks: list, done: bool, cuts: list[int]) -> None:
    upstream = b"".join(b"data: " + json.dumps(chunk).encode("utf-8", "surrogatepass") + b"\n\n" for chunk in chunks)
    output = run(ChatToResponsesStream("alias", REQUEST), split_at(upstream + b"data: [DONE]\n\n" * done, cuts))
    events = checked_events(output)
    assert events[-1].type in ("response.completed", "response.incomplete", "response.failed")
    assert sum(event.type.startswith("response.") and event.type.count(".") == 1 for event in events) == 3


@FUZZ
@given(st.binary(max_size=300) | st.lists(CHUNK | JSON | fields(type=one_of(
    "message_start", "content_block_start", "content_block_delta", "message_delta", "message_stop", "error"),
    index=one_of(0, 1), delta=JSON, content_block=JSON, message=JSON, error=JSON), max_size=5).map(
    lambda events: b"".join(b"event: e\ndata: " + json.dumps(event).encode("utf-8", "surrogatepass") + b"\n\n"
                            for event in events)))
def test_any_bytes_from_either_upstream_end_in_one_terminal_event(upstream: bytes) -> None:
    for machine in (ChatToResponsesStream("alias", REQUEST), AnthropicToResponsesStream("alias", REQUEST)):
        events = checked_events(run(machine, [upstream]))
        terminal = [event.type for event in events if event.type in (
            "response.completed", "response.incomplete", "response.failed")]
        assert terminal == [events[-1].type] and machine.finished
