"""Fuzzing the request and response translators: any body is translated or refused with a 400, never a crash.

The documents are hostile but plausible (every known field, often of the wrong type) or arbitrary JSON; each
goes through the request parser first, as in the frontend, and the translation must serialize as the proxy does.

Why one module over 400 lines: its strategies (the hostile documents of both APIs) are shared by every test in it.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frontend.errors import ApiError
from frontend.request_parsing import parse_chat_request, parse_count_tokens_request, parse_messages_request
from frontend.translate import TranslationError
from frontend.translate.anthropic_answer_to_chat import to_chat_completion
from frontend.translate.anthropic_to_chat import to_chat_request
from frontend.translate.chat_answer_to_anthropic import to_anthropic_message
from frontend.translate.chat_to_anthropic import to_anthropic_request
from frontend.translate.upstream_errors import error_to_anthropic, error_to_openai

FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ANTHROPIC_MODELS = ("claude-opus-5", "claude-3-5-sonnet-20241022", "claude-sonnet-4-6")
OPENAI_MODELS = ("gpt-4o", "o3-mini", "llama-3.1")


def deep(depth: int, leaf: object = 1) -> object:
    """A value nested depth levels (lists and objects alternating), built without recursion."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


# Text with the characters that break naive code: controls, RTL marks, astral planes (lone surrogates: WRONG).
HOSTILE_TEXT = st.text(max_size=12) | st.sampled_from(
    ["", " ", "\n\t ", "\x00", "\u202e", "\ufeff", "héllo ☃ 🚀", "[DONE]", "data: x\n\n", "{", "null"])
NUMBERS = (st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([0, -1, 1, 1024, 1025, 2**31, 2**63, 10**30, 0.5, -0.0]))
SCALARS = st.none() | st.booleans() | NUMBERS | HOSTILE_TEXT
JSON = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(HOSTILE_TEXT, children, max_size=4), max_leaves=12)
NESTED = st.integers(min_value=1, max_value=400).map(deep)
WRONG = JSON | NESTED | st.sampled_from([None, 0, "", [], {}, "x", [1], {"k": 1}, True, "\ud800", "a\udfff"])


def strings(*values: str) -> st.SearchStrategy:
    """One of the documented values, now and then any text."""
    return st.sampled_from(values) | st.sampled_from(values) | HOSTILE_TEXT


def mostly(usual: object, *refused: object) -> st.SearchStrategy:
    """The usual value or none, now and then one the translation refuses (so most documents get further)."""
    return st.sampled_from([usual, usual, usual, None, None, *refused])


def obj(required: dict | None = None, **optional: st.SearchStrategy) -> st.SearchStrategy:
    """An object with any subset of the given fields, sometimes with random extra ones."""
    base = st.fixed_dictionaries(required or {}, optional=optional)
    return st.tuples(base, st.dictionaries(st.text(max_size=6), JSON, max_size=1)).map(
        lambda pair: {**pair[1], **pair[0]})


@st.composite
def mutated(draw: st.DrawFn, documents: st.SearchStrategy) -> object:
    """A well-formed document with up to three values, anywhere in it, swapped for a value of another type."""
    document = draw(documents)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        document = _swap_one(draw, document, root=True)
    return document


def _swap_one(draw: st.DrawFn, value: object, root: bool = False) -> object:
    if root and not value:
        return value  # the document itself stays an object, as the frontend guarantees
    if not isinstance(value, (dict, list)) or not value or (not root and draw(st.integers(0, 4)) == 0):
        return draw(WRONG)
    if isinstance(value, list):
        position = draw(st.integers(min_value=0, max_value=len(value) - 1))
        return [_swap_one(draw, item) if index == position else item for index, item in enumerate(value)]
    key = draw(st.sampled_from(sorted(value)))
    return {name: _swap_one(draw, item) if name == key else item for name, item in value.items()}


ARGUMENTS = (st.sampled_from(['{"city":"Paris"}', "", "{}", "{", "[1,2]", "null", "3", '"s"', " ", "{\"a\":"])
             | st.integers(min_value=1, max_value=3000).map(deep_text) | JSON.map(json.dumps) | HOSTILE_TEXT)
IMAGE_URLS = strings("https://example.com/a.png", "http://x", "data:image/png;base64,iVBOR", "data:image/jpg;base64,",
                     "data:image/bmp;base64,AA", "data:;base64,", "ftp://x", "file:///etc/passwd")
SCHEMAS = st.sampled_from([{"type": "object", "properties": {}}, {}, {"type": "string"}]) | NESTED | JSON
BOOLEANS = st.booleans() | st.none()

OPENAI_PART = obj(type=strings("text", "image_url", "text", "image_url", "input_audio", "file", "refusal"),
                  text=HOSTILE_TEXT, image_url=obj(url=IMAGE_URLS, detail=strings("auto", "low")))
OPENAI_CONTENT = HOSTILE_TEXT | st.lists(OPENAI_PART, max_size=4) | st.lists(OPENAI_PART, max_size=4)
OPENAI_TOOL_CALL = obj(id=strings("call_1", "call 1/é", ""), type=strings("function", "custom"),
                       function=obj(name=strings("get_weather", ""), arguments=ARGUMENTS))
OPENAI_MESSAGE = obj(
    {"role": st.sampled_from(("user", "assistant") * 3 + ("system", "developer", "tool", "function", "model")),
     "content": OPENAI_CONTENT}, tool_calls=st.lists(OPENAI_TOOL_CALL, max_size=3) | st.none(),
    tool_call_id=strings("call_1", ""), refusal=HOSTILE_TEXT | st.none(), name=HOSTILE_TEXT,
    reasoning_content=HOSTILE_TEXT)
OPENAI_TOOL = obj(type=strings("function", "function", "custom"), function=obj(
    name=strings("get_weather"), description=HOSTILE_TEXT, parameters=SCHEMAS, strict=BOOLEANS))
CHAT_DOCUMENT = mutated(obj(
    {"model": st.sampled_from(OPENAI_MODELS + ANTHROPIC_MODELS),
     "messages": st.lists(OPENAI_MESSAGE, min_size=1, max_size=5)},
    stream=BOOLEANS, max_tokens=NUMBERS | st.none(), max_completion_tokens=NUMBERS | st.none(),
    n=mostly(1, 2), logit_bias=mostly({}, {"50256": -100}), logprobs=mostly(False, True),
    top_logprobs=mostly(0, 3), modalities=mostly(["text"], ["text", "audio"]),
    stop=HOSTILE_TEXT | st.lists(HOSTILE_TEXT, max_size=3), temperature=NUMBERS | st.none(),
    top_p=NUMBERS | st.none(), user=HOSTILE_TEXT, safety_identifier=HOSTILE_TEXT,
    tools=st.lists(OPENAI_TOOL, max_size=3),
    tool_choice=strings("auto", "none", "required") | obj(type=strings("function"), function=obj(
        name=strings("get_weather"))),
    parallel_tool_calls=BOOLEANS, response_format=obj(type=strings("text", "json_schema", "json_object"),
                                                      json_schema=obj(name=strings("out"), schema=SCHEMAS)),
    reasoning_effort=strings("none", "minimal", "low", "medium", "high", "xhigh", "max") | st.none(),
    stream_options=obj(include_usage=BOOLEANS), seed=NUMBERS, presence_penalty=NUMBERS,
    frequency_penalty=NUMBERS, verbosity=strings("low")))

SOURCE = obj(type=strings("base64", "url", "file", "text"), media_type=strings("image/png", "application/pdf"),
             data=strings("iVBOR"), url=strings("https://example.com/a.png"), file_id=strings("file_1"))
ANTHROPIC_BLOCK = obj(
    {"type": strings("text", "image", "tool_use", "tool_result", "text", "image", "tool_use", "tool_result",
                     "thinking", "redacted_thinking", "document", "server_tool_use", "search_result")},
    text=HOSTILE_TEXT, source=SOURCE, id=strings("toolu_1", "toolu 1/é"), name=strings("get_weather"),
    input=st.dictionaries(st.text(max_size=4), JSON, max_size=3), tool_use_id=strings("toolu_1", "toolu_2"),
    content=HOSTILE_TEXT | st.lists(obj({"type": strings("text", "image")}, text=HOSTILE_TEXT, source=SOURCE),
                                    max_size=3),
    is_error=BOOLEANS, thinking=HOSTILE_TEXT, signature=HOSTILE_TEXT, data=HOSTILE_TEXT,
    cache_control=obj(type=strings("ephemeral")))
ANTHROPIC_CONTENT = HOSTILE_TEXT | st.lists(ANTHROPIC_BLOCK, max_size=4)
ANTHROPIC_MESSAGE = obj({"role": st.sampled_from(("user", "assistant") * 3 + ("system", "tool")),
                         "content": ANTHROPIC_CONTENT})
ANTHROPIC_TOOL = obj(type=strings("custom", "custom", "web_search_20250305"), name=strings("get_weather"),
                     description=HOSTILE_TEXT, input_schema=SCHEMAS)
MESSAGES_DOCUMENT = mutated(obj(
    {"model": st.sampled_from(OPENAI_MODELS + ANTHROPIC_MODELS),
     "max_tokens": st.integers(min_value=0, max_value=2**40),
     "messages": st.lists(ANTHROPIC_MESSAGE, min_size=1, max_size=5)},
    system=HOSTILE_TEXT | st.lists(obj(type=strings("text"), text=HOSTILE_TEXT), max_size=3),
    stream=BOOLEANS, stop_sequences=st.lists(HOSTILE_TEXT, max_size=3), temperature=NUMBERS, top_p=NUMBERS,
    top_k=NUMBERS, metadata=obj(user_id=HOSTILE_TEXT), tools=st.lists(ANTHROPIC_TOOL, max_size=3),
    tool_choice=obj(type=strings("auto", "any", "tool", "none"), name=strings("get_weather"),
                    disable_parallel_tool_use=BOOLEANS),
    thinking=obj(type=strings("enabled", "adaptive", "disabled"), budget_tokens=NUMBERS),
    output_config=obj(effort=strings("low", "medium", "high", "xhigh", "max"), format=obj(
        type=strings("json_schema"), schema=SCHEMAS)),
    mcp_servers=st.sampled_from([None, [], [{"type": "url"}]])))


def encode(document: object) -> bytes:
    """The bytes a client sends (Python's json writes NaN and Infinity, as some clients do)."""
    return json.dumps(document).encode()


def sent_upstream(body: dict) -> bytes:
    """What the proxy does with a translated body before sending it (frontend/forwarding.py)."""
    return json.dumps(body, ensure_ascii=False).encode()


def assert_openai_request(body: bytes, model: str) -> None:
    """The frontend's path: parse (400 on failure), translate (400 naming the field), serialize."""
    try:
        parsed = parse_chat_request(body)
    except ApiError as error:
        assert error.status == 400 and error.message
        return
    try:
        translated, warnings = to_anthropic_request(parsed.document, model, 4096)
    except TranslationError as error:
        assert error.param and isinstance(error.param, str)
        return
    sent_upstream(translated)
    assert all(isinstance(warning, str) for warning in warnings)
    roles = [turn["role"] for turn in translated["messages"]]
    assert roles[:1] in ([], ["user"]), "an Anthropic conversation starts with a user turn"
    assert all(first != second for first, second in zip(roles, roles[1:])), "turns alternate"


def assert_anthropic_request(body: bytes, model: str) -> None:
    try:
        parsed = parse_messages_request(body)
    except ApiError as error:
        assert error.status == 400 and error.message
        return
    try:
        translated, warnings = to_chat_request(parsed.document, model)
    except TranslationError as error:
        assert error.param and isinstance(error.param, str)
        return
    sent_upstream(translated)
    assert all(isinstance(warning, str) for warning in warnings)


@FUZZ
@given(CHAT_DOCUMENT, st.sampled_from(ANTHROPIC_MODELS))
def test_hostile_chat_requests_translate_or_are_refused_naming_a_field(document: dict, model: str) -> None:
    assert_openai_request(encode(document), model)


@FUZZ
@given(MESSAGES_DOCUMENT, st.sampled_from(OPENAI_MODELS))
def test_hostile_messages_requests_translate_or_are_refused_naming_a_field(document: dict, model: str) -> None:
    assert_anthropic_request(encode(document), model)


@FUZZ
@given(st.dictionaries(st.sampled_from(["model", "messages", "max_tokens", "stream", "system", "tools"]), JSON)
       | JSON, st.sampled_from(ANTHROPIC_MODELS), st.sampled_from(OPENAI_MODELS))
def test_any_json_body_translates_or_is_refused(document: object, anthropic_model: str, openai_model: str) -> None:
    assert_openai_request(encode(document), anthropic_model)
    assert_anthropic_request(encode(document), openai_model)


@FUZZ
@given(st.binary(max_size=200) | HOSTILE_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_any_bytes_are_parsed_or_refused_with_a_400(body: bytes) -> None:
    for parse in (parse_chat_request, parse_messages_request, parse_count_tokens_request):
        try:
            parse(body)
        except ApiError as error:
            assert error.status == 400


CHAT = {"model": "claude-opus-5", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON decoder recurses
    b'{"model":"gpt-4o","messages":[{"role":"user","content":' + b"[" * 5000 + b"]" * 5000 + b"}]}",
])
def test_json_nested_too_deeply_is_a_400(body: bytes) -> None:
    for parse in (parse_chat_request, parse_messages_request, parse_count_tokens_request):
        with pytest.raises(ApiError) as raised:
            parse(body)
        assert raised.value.status == 400 and "too deeply" in raised.value.message


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udfff", b"x\\ud83d", b"\\ude80x", b"\\ud83d\\ud83d"])
def test_a_lone_surrogate_escape_is_a_400_not_a_crash_when_forwarded(escape: bytes) -> None:
    body = b'{"model":"gpt-4o","messages":[{"role":"user","content":"' + escape + b'"}]}'
    with pytest.raises(ApiError) as raised:
        parse_chat_request(body)
    assert raised.value.status == 400 and raised.value.code == "invalid_json"


@pytest.mark.parametrize("text", [b"\\ud83d\\ude80", b"\\\\ud800", b"\\u00e9\\u2603", "é🚀".encode()])
def test_escaped_pairs_and_escaped_backslashes_still_parse(text: bytes) -> None:
    parsed = parse_chat_request(b'{"model":"gpt-4o","messages":[{"role":"user","content":"' + text + b'"}]}')
    sent_upstream(parsed.document)


@pytest.mark.parametrize("document", [
    dict(CHAT, messages=[{"role": "system", "content": [{"type": "text", "text": 5}]}]),
    dict(CHAT, messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 7}}]}]),
    dict(CHAT, messages=[{"role": "assistant", "content": None, "refusal": 5}]),
    dict(CHAT, messages=[{"role": "assistant", "content": "x", "tool_calls": 5}]),
    dict(CHAT, messages=[{"role": "assistant", "content": "x", "tool_calls": ["call"]}]),
    dict(CHAT, messages=[{"role": "assistant", "tool_calls": [{"id": 5, "function": {"name": "f"}}]}]),
    dict(CHAT, messages=[{"role": "assistant", "tool_calls": [{"id": "c", "function": "f"}]}]),
    dict(CHAT, messages=[{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": {"a": 1}}}]}]),
    dict(CHAT, messages=[{"role": "assistant", "tool_calls": [{"function": {"arguments": deep_text(5000)}}]}]),
    dict(CHAT, messages=[{"role": "tool", "tool_call_id": ["x"], "content": "42"}]),
    dict(CHAT, tools=5), dict(CHAT, tools=[{"type": "function", "function": "f"}]),
    dict(CHAT, stop=5), dict(CHAT, temperature="hot"), dict(CHAT, max_tokens="many", reasoning_effort="high"),
    dict(CHAT, reasoning_effort=["high"]), dict(CHAT, response_format={"type": "json_schema", "json_schema": "s"}),
])
def test_wrong_types_in_chat_requests_are_400s_naming_the_field(document: dict) -> None:
    """Each of these raised TypeError or AttributeError (a 500) before the fuzzing found it."""
    with pytest.raises(TranslationError) as raised:
        to_anthropic_request(document, "claude-3-5-sonnet", 4096)
    assert raised.value.param


@pytest.mark.parametrize("document", [
    dict(MESSAGES, system=[{"type": "text", "text": 5}]),
    dict(MESSAGES, messages=[{"role": "user", "content": [{"type": "text", "text": 5}]}]),
    dict(MESSAGES, messages=[{"role": "assistant", "content": [{"type": "text", "text": 5}]}]),
    dict(MESSAGES, messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": ["x"]}]}]),
    dict(MESSAGES, messages=[{"role": "user", "content": [{"type": "image", "source": "s"}]}]),
    dict(MESSAGES, tools=5), dict(MESSAGES, tools=[5]), dict(MESSAGES, tools=[{"name": "f"}], tool_choice={
        "type": ["auto"]}),
    dict(MESSAGES, stop_sequences=5), dict(MESSAGES, metadata="user"), dict(MESSAGES, output_config="high"),
    dict(MESSAGES, thinking="on"),
])
def test_wrong_types_in_messages_requests_are_400s_naming_the_field(document: dict) -> None:
    with pytest.raises(TranslationError) as raised:
        to_chat_request(document, "gpt-4o")
    assert raised.value.param


# Upstream answers: a backend that answers 200 with garbage must not crash the translation.

ANTHROPIC_USAGE = obj(input_tokens=NUMBERS, output_tokens=NUMBERS, cache_read_input_tokens=NUMBERS,
                      cache_creation_input_tokens=NUMBERS, output_tokens_details=obj(thinking_tokens=NUMBERS))
ANTHROPIC_ANSWER = mutated(obj(
    id=HOSTILE_TEXT, type=strings("message"), role=strings("assistant"), content=ANTHROPIC_CONTENT,
    stop_reason=strings("end_turn", "tool_use", "refusal", "max_tokens"),
    stop_details=obj(type=strings("refusal"), explanation=HOSTILE_TEXT), usage=ANTHROPIC_USAGE))
OPENAI_USAGE = obj(prompt_tokens=NUMBERS, completion_tokens=NUMBERS,
                   prompt_tokens_details=obj(cached_tokens=NUMBERS, cache_write_tokens=NUMBERS),
                   completion_tokens_details=obj(reasoning_tokens=NUMBERS))
OPENAI_ANSWER = mutated(obj(
    id=HOSTILE_TEXT, object=strings("chat.completion"), usage=OPENAI_USAGE, choices=st.lists(obj(
        index=NUMBERS, finish_reason=strings("stop", "length", "tool_calls", "content_filter"),
        message=obj(role=strings("assistant"), content=OPENAI_CONTENT, refusal=HOSTILE_TEXT,
                    reasoning_content=HOSTILE_TEXT, reasoning=HOSTILE_TEXT,
                    tool_calls=st.lists(OPENAI_TOOL_CALL, max_size=3))), max_size=2)))


def assert_client_answer(answer: dict) -> None:
    """Serializable the way aiohttp's json_response does it, and again as bytes."""
    json.dumps(answer)
    assert isinstance(answer, dict)


@FUZZ
@given(ANTHROPIC_ANSWER | st.dictionaries(HOSTILE_TEXT, JSON, max_size=5))
def test_any_anthropic_answer_translates_for_openai_clients(message: dict) -> None:
    completion = to_chat_completion(message, "claude-opus-5")
    assert_client_answer(completion)
    answer = completion["choices"][0]["message"]
    assert answer["content"] is None or isinstance(answer["content"], str)
    assert all(isinstance(call["function"]["arguments"], str) for call in answer.get("tool_calls", []))
    usage = completion["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] >= 0


@FUZZ
@given(OPENAI_ANSWER | st.dictionaries(HOSTILE_TEXT, JSON, max_size=5))
def test_any_openai_answer_translates_for_anthropic_clients(completion: dict) -> None:
    message = to_anthropic_message(completion, "gpt-4o")
    assert_client_answer(message)
    for block in message["content"]:
        assert block["type"] in ("text", "thinking", "tool_use")
        assert block["type"] != "text" or (isinstance(block["text"], str) and block["text"].strip())
        assert block["type"] != "tool_use" or isinstance(block["input"], dict)
    assert all(isinstance(value, int) and value >= 0 for value in message["usage"].values()
               if not isinstance(value, dict))


ERROR_BODY = (st.binary(max_size=120) | JSON.map(encode)
              | mutated(obj(type=strings("error"), error=obj(type=strings("overloaded_error", "rate_limit_error"),
                                                             message=HOSTILE_TEXT, code=strings(
                                                                 "insufficient_quota")))).map(encode)
              | st.integers(min_value=1, max_value=100_000).map(lambda depth: deep_text(depth).encode()))
STATUSES = st.integers(min_value=100, max_value=599) | st.integers()


@FUZZ
@given(STATUSES, ERROR_BODY)
def test_any_upstream_error_body_becomes_an_error_in_the_clients_format(status: int, body: bytes) -> None:
    openai_error = error_to_openai(status, body)["error"]
    assert set(openai_error) == {"message", "type", "param", "code"}
    assert isinstance(openai_error["message"], str) and openai_error["message"]
    assert isinstance(openai_error["type"], str)
    anthropic_error = error_to_anthropic(status, body)
    assert anthropic_error["type"] == "error" and set(anthropic_error["error"]) == {"type", "message"}
    assert isinstance(anthropic_error["error"]["message"], str) and anthropic_error["error"]["message"]
    assert isinstance(anthropic_error["error"]["type"], str)
    json.dumps([openai_error, anthropic_error])


def test_an_error_body_nested_too_deeply_is_reported_as_non_json() -> None:
    body = deep_text(50_000).encode()
    assert "non-JSON" in error_to_openai(502, body)["error"]["message"]
    assert "non-JSON" in error_to_anthropic(502, body)["error"]["message"]


@pytest.mark.parametrize("message", [
    {"content": "text"}, {"content": [5]}, {"content": [{"type": "text", "text": 5}]},
    {"content": [{"type": "thinking", "thinking": ["x"]}]}, {"stop_reason": "refusal", "stop_details": "why"},
    {"stop_reason": ["end_turn"]}, {"usage": 5}, {"usage": {"output_tokens_details": 5}},
])
def test_malformed_anthropic_answers_still_translate(message: dict) -> None:
    assert_client_answer(to_chat_completion(message, "claude-opus-5"))


@pytest.mark.parametrize("completion", [
    {"choices": 5}, {"choices": [5]}, {"choices": [{"message": "hi"}]},
    {"choices": [{"message": {"tool_calls": 5}}]}, {"choices": [{"message": {"tool_calls": [{"function": "f"}]}}]},
    {"choices": [{"message": {"tool_calls": [{"id": 5}]}}]}, {"choices": [{"finish_reason": ["stop"]}]},
    {"usage": 5}, {"usage": {"prompt_tokens_details": 5, "completion_tokens_details": 5}},
    {"choices": [{"message": {"content": [{"text": 5}]}}]},
])
def test_malformed_openai_answers_still_translate(completion: dict) -> None:
    assert_client_answer(to_anthropic_message(completion, "gpt-4o"))


def test_nan_and_infinity_in_usage_count_as_nothing() -> None:
    usage = to_chat_completion({"usage": {"input_tokens": math.inf, "output_tokens": math.nan}}, "m")["usage"]
    assert usage["prompt_tokens"] == usage["completion_tokens"] == 0
