"""The official openai SDK on Chat Completions: one tool call, its result sent back, the final answer."""

from __future__ import annotations

import json

from _common import BASE_URL, KEY, MODEL, STREAM, TASK, TOOL_DESCRIPTION, TOOL_NAME, TOOL_SCHEMA, finish, get_weather
from openai import OpenAI

client = OpenAI(base_url=f"{BASE_URL}/v1", api_key=KEY, max_retries=0, timeout=60)
tools = [{"type": "function",
          "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "parameters": TOOL_SCHEMA}}]


def ask(messages: list[dict]) -> tuple[str, list[dict]]:
    """One turn: the text and the tool calls, streamed (assembled from the deltas) or not."""
    if not STREAM:
        message = client.chat.completions.create(model=MODEL, messages=messages, tools=tools).choices[0].message
        calls = [{"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
                 for call in message.tool_calls or []]
        return message.content or "", calls
    text = ""
    assembled: dict[int, dict[str, str]] = {}  # by the tool call's index
    stream = client.chat.completions.create(model=MODEL, messages=messages, tools=tools, stream=True,
                                            stream_options={"include_usage": True})
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for fragment in choice.delta.tool_calls or []:
                call = assembled.setdefault(fragment.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = fragment.id or call["id"]
                if fragment.function:
                    call["name"] += fragment.function.name or ""
                    call["arguments"] += fragment.function.arguments or ""
    return text, [assembled[index] for index in sorted(assembled)]


messages: list[dict] = [{"role": "user", "content": TASK}]
text, calls = ask(messages)
if not calls:
    raise SystemExit(f"no tool call in the first answer: {text!r}")
messages.append({"role": "assistant", "content": text or None,
                 "tool_calls": [{"id": call["id"], "type": "function",
                                 "function": {"name": call["name"], "arguments": call["arguments"]}}
                                for call in calls]})
for call in calls:
    messages.append({"role": "tool", "tool_call_id": call["id"],
                     "content": get_weather(**json.loads(call["arguments"]))})
finish(ask(messages)[0])
