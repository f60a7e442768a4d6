"""The mimics of OpenAI-compatible servers refuse what those servers refuse, and stream as they stream."""

from __future__ import annotations

import json

from dario.testing import openai_wire
from dario.testing.llamacpp_like import DEEPSEEK_THINKING, SERVERS, _names_in_every_delta, problem_of

CALL = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def test_the_llamacpp_mimic_refuses_what_llama_cpp_python_refuses() -> None:
    quirks = SERVERS["llama.cpp"]
    user = {"role": "user", "content": "hi"}
    assert problem_of({"messages": [user], "max_tokens": 5}, quirks) is None
    assert problem_of({"messages": [user], "max_completion_tokens": 5}, quirks)[0] == 400
    null_turn = {"role": "assistant", "content": None, "tool_calls": [CALL]}
    assert problem_of({"messages": [user, null_turn]}, quirks) == (500, "Internal Server Error")
    assert problem_of({"messages": [user, dict(null_turn, content="")]}, quirks) is None
    assert problem_of({"messages": [{"role": "system", "content": [{"type": "text", "text": "S"}]}]}, quirks)[0] \
        == 500
    assert problem_of({"messages": [user, {"role": "system", "content": "S"}]}, quirks)[0] == 500
    assert problem_of({"messages": [user, null_turn], "extra": 1}, SERVERS["OpenRouter"]) is None


def test_the_deepseek_mimic_wants_reasoning_content_back_on_tool_call_turns() -> None:
    turn = {"role": "assistant", "content": "", "tool_calls": [CALL]}
    assert problem_of({"messages": [turn]}, DEEPSEEK_THINKING)[0] == 400
    assert problem_of({"messages": [dict(turn, reasoning_content="why")]}, DEEPSEEK_THINKING) is None


def test_streamed_fragments_carry_the_name_again_or_an_empty_one() -> None:
    stream = openai_wire.stream_events("m", "", None, include_usage=False, tools=[("get_weather", {"city": "Paris"})])
    for how, expected in (("repeat", {"get_weather"}), ("empty", {"get_weather", ""})):
        chunks = [json.loads(line[6:]) for line in _names_in_every_delta(stream, how).decode().split("\n\n")
                  if line.startswith("data: {")]
        names = [call["function"]["name"] for chunk in chunks for choice in chunk["choices"]
                 for call in choice["delta"].get("tool_calls") or []]
        assert len(names) > 2 and set(names) == expected
