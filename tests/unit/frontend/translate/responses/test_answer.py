"""Whole Chat Completions and Anthropic Messages → Response objects the openai SDK reads."""

from __future__ import annotations

import json

import pytest
from openai.types.responses import Response

from dario.testing import anthropic_wire, openai_wire
from frontend.translate.responses.answer import anthropic_to_response, chat_to_response
from tests.unit.frontend.translate.responses.checks import CODEX, CODEX_CALLS, REQUEST, check_codex_calls, client_for
from tests.unit.frontend.translate.stream_checks import TOOLS


def test_a_completion_becomes_a_response_the_sdk_reads() -> None:
    completion = openai_wire.completion("gpt-4o", "It is sunny.", openai_wire.usage(40, 9, cached=8, reasoning=3),
                                        tools=TOOLS[:2])
    document = {**REQUEST, "temperature": 0.2, "max_output_tokens": 300}
    result = chat_to_response(completion, "alias", document)
    response = Response.model_validate(result)
    assert response.output_text == "It is sunny." and response.status == "completed"
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(call.name, json.loads(call.arguments), call.call_id) for call in calls] == [
        (name, arguments, tool["id"]) for (name, arguments), tool in
        zip(TOOLS[:2], completion["choices"][0]["message"]["tool_calls"])]
    assert result["id"].startswith("resp_") and all(call.id.startswith("fc_") for call in calls)
    usage = response.usage
    assert (usage.input_tokens, usage.input_tokens_details.cached_tokens, usage.output_tokens,
            usage.output_tokens_details.reasoning_tokens, usage.total_tokens) == (40, 8, 9, 3, 49)
    assert (response.model, response.instructions, response.temperature, response.max_output_tokens) == (
        "alias", "Be brief.", 0.2, 300)
    assert [tool.name for tool in response.tools] == [name for name, _ in TOOLS]
    sdk = client_for(json.dumps(result).encode(), "application/json").responses.create(model="alias", input="x")
    assert sdk.output_text == "It is sunny."


def test_a_cut_off_completion_is_incomplete() -> None:
    completion = openai_wire.completion("gpt-4o", "It is", openai_wire.usage(5, 2))
    completion["choices"][0]["finish_reason"] = "length"
    response = Response.model_validate(chat_to_response(completion, "alias", {"input": "x"}))
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.output[-1].status == "incomplete"


def test_reasoning_and_refusal_are_kept() -> None:
    completion = openai_wire.completion("deepseek-reasoner", "", None)
    completion["choices"][0]["message"].update(reasoning_content="thinking…", refusal="I can't help with that.")
    response = Response.model_validate(chat_to_response(completion, "alias", {"input": "x"}))
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].content[0].text == "thinking…"
    assert response.output[1].content[0].refusal == "I can't help with that." and response.usage is None


def test_an_anthropic_message_becomes_a_response() -> None:
    message = anthropic_wire.message("claude-sonnet-5", "Sunny.", anthropic_wire.usage(30, 7, cache_read=10),
                                     tools=TOOLS[:1])
    response = Response.model_validate(anthropic_to_response(message, "alias", REQUEST))
    assert response.output_text == "Sunny."
    assert (response.output[1].name, json.loads(response.output[1].arguments)) == TOOLS[0]
    assert (response.usage.input_tokens, response.usage.input_tokens_details.cached_tokens) == (40, 10)


@pytest.mark.parametrize("backend", ["chat", "anthropic"])
def test_codex_calls_map_back_whole(backend: str) -> None:
    if backend == "chat":
        result = chat_to_response(openai_wire.completion("g", "On it.", openai_wire.usage(5, 6), tools=CODEX_CALLS),
                                  "alias", CODEX)
    else:
        result = anthropic_to_response(anthropic_wire.message("m", "On it.", anthropic_wire.usage(5, 6),
                                                              tools=CODEX_CALLS), "alias", CODEX)
    response = Response.model_validate(result)
    check_codex_calls(response.output)
    assert response.output_text == "On it."
    assert [tool.type for tool in response.tools] == ["function", "namespace"]
