"""The client's output limit is clamped to the backend's or the model's cap, with a header saying so (issue 16
item 3), on translated and native requests alike."""

from __future__ import annotations

from dario.catalog import Backend, Catalog
from dario.compat import Capabilities, Compat, Profile, default_profile
from dario.config import parse_config
from dario.routing import fallback_routes, route
from frontend.dialects import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from frontend.profiles import adjust_native, profile_for
from frontend.request_parsing import ParsedRequest
from frontend.translate.limits import CLAMPED_HEADER, clamp_output
from frontend.translation_plan import plan

CLAUDE_CODE = {"model": "qwen", "max_tokens": 32000, "messages": [{"role": "user", "content": "hi"}]}


def test_claude_codes_32000_is_clamped_to_the_cap_and_the_client_is_told() -> None:
    parsed = ParsedRequest(document=CLAUDE_CODE, model="qwen", stream=False)
    translation = plan(ANTHROPIC_MESSAGES, parsed, "qwen", 4096, "openai", Profile(Compat(max_output_tokens=8192)))
    assert translation.body["max_tokens"] == 8192 and translation.headers == {CLAMPED_HEADER: "32000->8192"}
    assert CLAUDE_CODE["max_tokens"] == 32000
    under = plan(ANTHROPIC_MESSAGES, ParsedRequest(document=dict(CLAUDE_CODE, max_tokens=100), model="qwen",
                                                   stream=False), "qwen", 4096, "openai",
                 Profile(Compat(max_output_tokens=8192)))
    assert under.body["max_tokens"] == 100 and not under.headers


def test_the_context_caps_what_the_prompt_leaves_of_it() -> None:
    body = {"max_tokens": 32000, "messages": [{"role": "user", "content": "x" * 4000}]}
    assert clamp_output(body, "openai", Profile(model=Capabilities(context_tokens=8192))).startswith("32000->")
    assert 7000 < body["max_tokens"] < 8192


def test_the_cap_applies_to_every_api_and_to_responses_and_chat_limits() -> None:
    cap = Profile(Compat(max_output_tokens=50))
    for api_format, field in (("responses", "max_output_tokens"), ("openai", "max_completion_tokens"),
                              ("anthropic", "max_tokens")):
        body = {field: 500}
        assert clamp_output(body, api_format, cap) == "500->50" and body[field] == 50
    responses = plan(OPENAI_RESPONSES, ParsedRequest(document={"input": "x", "max_output_tokens": 99999}, model="m",
                                                     stream=False), "gpt-4o", 4096, "openai",
                     default_profile("gpt-4o", "openai"))
    assert responses.body["max_completion_tokens"] == 16384  # the shipped cap of gpt-4o
    chat = plan(OPENAI_CHAT, ParsedRequest(document={"messages": [{"role": "user", "content": "x"}]}, model="c",
                                           stream=False), "claude-haiku", 4096, "anthropic",
                Profile(Compat(max_output_tokens=1000)))
    assert chat.body["max_tokens"] == 1000 and chat.headers[CLAMPED_HEADER] == "4096->1000"


def test_a_native_request_is_rewritten_only_when_its_profile_changes_something() -> None:
    config = parse_config('[compat.local]\nmax_output_tokens = 8192\n[compat.other]\nbilling_header = false\n')
    local = profile_for(config, Backend("local", "anthropic", "http://127.0.0.1:9/v1", (), ()), "m")
    adjusted, headers = adjust_native(CLAUDE_CODE, "anthropic", local)
    assert adjusted is not None and adjusted["max_tokens"] == 8192 and headers == {CLAMPED_HEADER: "32000->8192"}
    plain = profile_for(config, Backend("plain", "anthropic", "https://api.anthropic.com", (), ()), "m")
    billed = dict(CLAUDE_CODE, system=[{"type": "text", "text": "x-anthropic-billing-header: cc_version=1"}])
    assert adjust_native(billed, "anthropic", plain) == (None, {})  # Anthropic's own API keeps it
    other = profile_for(config, Backend("other", "anthropic", "https://api.anthropic.com", (), ()), "m")
    adjusted, _ = adjust_native(billed, "anthropic", other)
    assert adjusted is not None and "system" not in adjusted and "system" in billed
    deepseek = profile_for(config, Backend("ds", "anthropic", "https://api.deepseek.com/anthropic/v1", (), ()), "m")
    assert not deepseek.compat.billing_header


def test_a_chat_clients_own_tool_loop_is_told_as_the_backend_takes_it() -> None:
    turns = [{"role": "system", "content": "S"}, {"role": "user", "content": "go"},
             {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                                                                    "function": {"name": "f", "arguments": "{}"}}]},
             {"role": "tool", "tool_call_id": "c", "content": "ok"}, {"role": "system", "content": "Later."}]
    document = {"model": "m", "messages": turns}
    adjusted, _ = adjust_native(document, "openai", default_profile("m"))
    assert adjusted is not None and turns[2]["content"] is None
    assert adjusted["messages"][0] == {"role": "system", "content": "S\n\nLater."}
    assert adjusted["messages"][2]["content"] == "" and len(adjusted["messages"]) == 4
    assert adjust_native(document, "openai", default_profile("gpt-4o", "openai")) == (None, {})  # OpenAI takes it


def test_a_routes_cap_clamps_its_requests_and_its_fallbacks() -> None:
    config = parse_config('[[routes]]\nmatch = "claude-*"\nbackend = "local"\nmax_output_tokens = 12288\n'
                          'fallbacks = ["other"]\n[compat.other]\nmax_output_tokens = 4096\n')
    catalog = Catalog((Backend("local", "openai", "http://127.0.0.1:9/v1", ("default",), (1,)),
                       Backend("other", "openai", "http://127.0.0.1:8/v1", ("default",), (1,))), 1)
    first = route("claude-sonnet-4-5", catalog, config.routing)
    assert first.output_cap == 12288
    assert profile_for(config, first.backend, first.model, first.output_cap).output_cap == 12288
    fallback = fallback_routes(first, catalog)[0]
    assert profile_for(config, fallback.backend, fallback.model, fallback.output_cap).output_cap == 4096


def test_a_chat_clients_limit_goes_in_the_field_its_backend_and_model_read() -> None:
    asked = {"model": "m", "max_completion_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    adjusted, _ = adjust_native(asked, "openai", default_profile("llama"))
    assert adjusted is not None and adjusted["max_tokens"] == 20 and "max_completion_tokens" not in adjusted
    old = dict(asked, max_tokens=20)
    del old["max_completion_tokens"]
    adjusted, _ = adjust_native(old, "openai", default_profile("o3-mini", "openai"))
    assert adjusted is not None and adjusted["max_completion_tokens"] == 20 and "max_tokens" not in adjusted
    assert adjust_native(old, "openai", default_profile("gpt-4o-mini", "openai")) == (None, {})  # either works
