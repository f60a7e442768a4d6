"""The official anthropic SDK on Messages: one tool_use, its tool_result sent back, the final answer."""

from __future__ import annotations

from _common import BASE_URL, KEY, MODEL, STREAM, TASK, TOOL_DESCRIPTION, TOOL_NAME, TOOL_SCHEMA, finish, get_weather
from anthropic import Anthropic
from anthropic.types import Message

client = Anthropic(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=60)
tools = [{"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "input_schema": TOOL_SCHEMA}]


def ask(messages: list[dict]) -> Message:
    if not STREAM:
        return client.messages.create(model=MODEL, max_tokens=1024, messages=messages, tools=tools)
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages, tools=tools) as stream:
        for _ in stream:  # every event goes through the SDK's accumulator
            pass
        return stream.get_final_message()


messages: list[dict] = [{"role": "user", "content": TASK}]
message = ask(messages)
calls = [block for block in message.content if block.type == "tool_use"]
if not calls or message.stop_reason != "tool_use":
    raise SystemExit(f"no tool_use in the first answer: {message!r}")
messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]})
messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                              "content": get_weather(**call.input)} for call in calls]})
final = ask(messages)
finish("".join(block.text for block in final.content if block.type == "text"))
