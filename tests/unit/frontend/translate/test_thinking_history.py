"""Thinking blocks no Anthropic backend can verify leave the history before it gets there (issue 16 item 8): a turn
served through an OpenAI-compatible backend carries dario's synthetic signature, which Anthropic refuses."""

from __future__ import annotations

from frontend.translate.chat_answer_to_anthropic import SYNTHETIC_SIGNATURE
from frontend.translate.thinking_history import (
    refuses_signature,
    without_thinking_blocks,
    without_unverifiable_thinking,
)

SYNTHETIC = {"type": "thinking", "thinking": "Let me check.", "signature": SYNTHETIC_SIGNATURE}
REAL = {"type": "thinking", "thinking": "Real.", "signature": "EqQBCkgIARABGAIiQL"}
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
TOOL_RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}


def conversation(*assistant_blocks: dict, thinking: dict | None = None) -> dict:
    document = {"model": "claude-sonnet-4-5", "max_tokens": 2048, "messages": [
        {"role": "user", "content": "Weather?"}, {"role": "assistant", "content": list(assistant_blocks)},
        {"role": "user", "content": [TOOL_RESULT]}]}
    return {**document, "thinking": thinking} if thinking else document


def test_synthetic_and_unsigned_thinking_blocks_are_dropped_and_real_ones_kept() -> None:
    unsigned = {"type": "thinking", "thinking": "x", "signature": ""}
    changed, notes = without_unverifiable_thinking(conversation(SYNTHETIC, unsigned, REAL, TOOL_USE))
    assert changed is not None and changed["messages"][1]["content"] == [REAL, TOOL_USE]
    assert notes == ["thinking_blocks"]


def test_a_history_without_them_is_left_alone() -> None:
    document = conversation(REAL, TOOL_USE)
    assert without_unverifiable_thinking(document) == (None, [])
    assert without_unverifiable_thinking({"model": "m", "messages": "not a list"}) == (None, [])


def test_thinking_is_turned_off_when_the_last_tool_turn_loses_its_thinking() -> None:
    enabled = {"type": "enabled", "budget_tokens": 1024}
    document = conversation(SYNTHETIC, TOOL_USE, thinking=enabled)
    changed, notes = without_unverifiable_thinking(document)
    assert changed is not None and "thinking" not in changed and notes == ["thinking_blocks", "thinking"]
    assert document["thinking"] == enabled and document["messages"][1]["content"][0] == SYNTHETIC  # not modified


def test_an_assistant_turn_of_thinking_only_is_left_out() -> None:
    document = {"model": "m", "messages": [{"role": "user", "content": "a"},
                                           {"role": "assistant", "content": [SYNTHETIC]},
                                           {"role": "user", "content": "b"}]}
    changed, _ = without_unverifiable_thinking(document)
    assert changed is not None and isinstance(changed["messages"], list)
    assert [message["content"] for message in changed["messages"]] == ["a", "b"]


REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}


def test_after_a_refused_signature_every_thinking_block_goes_and_is_counted() -> None:
    document = conversation(REAL, REDACTED, {"type": "text", "text": "Let me look."}, TOOL_USE,
                            thinking={"type": "adaptive"})
    stripped = without_thinking_blocks(document)
    assert stripped is not None and stripped.blocks == 2 and stripped.thinking_off
    assert stripped.document["messages"][1]["content"] == [{"type": "text", "text": "Let me look."}, TOOL_USE]
    assert "thinking" not in stripped.document and stripped.notes == ["thinking_blocks", "thinking"]
    assert document["thinking"] == {"type": "adaptive"} and document["messages"][1]["content"][0] == REAL


def test_thinking_in_an_earlier_turn_only_keeps_thinking_on() -> None:
    document = {"model": "m", "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": [REAL, {"type": "text", "text": "b"}]},
        {"role": "user", "content": "c"}, {"role": "assistant", "content": [TOOL_USE]},
        {"role": "user", "content": [TOOL_RESULT]}]}
    stripped = without_thinking_blocks(document)
    assert stripped is not None and stripped.blocks == 1 and not stripped.thinking_off
    assert stripped.document["thinking"] == document["thinking"]


def test_a_history_without_thinking_blocks_has_nothing_to_strip() -> None:
    assert without_thinking_blocks(conversation(TOOL_USE)) is None
    assert without_thinking_blocks({"messages": [{"role": "user", "content": [REAL]}]}) is None  # not a turn of theirs


def test_the_refusal_is_recognised_as_anthropic_words_it() -> None:
    assert refuses_signature('{"type":"error","error":{"type":"invalid_request_error","message":'
                             '"messages.1.content.0: Invalid `signature` in `thinking` block"}}')
    assert refuses_signature("messages.3.content.0: Invalid signature in thinking block")
    assert not refuses_signature("`max_tokens` must be greater than `thinking.budget_tokens`")
    assert not refuses_signature("messages.1.content.0.type: Expected `thinking` or `redacted_thinking`")
