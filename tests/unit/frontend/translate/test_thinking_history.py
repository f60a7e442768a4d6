"""Thinking blocks no Anthropic backend can verify leave the history before it gets there (issue 16 item 8): a turn
served through an OpenAI-compatible backend carries dario's synthetic signature, which Anthropic refuses."""

from __future__ import annotations

from frontend.translate.chat_answer_to_anthropic import SYNTHETIC_SIGNATURE
from frontend.translate.thinking_history import without_unverifiable_thinking

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
