"""The official openai SDK on the Responses API: one function call, its output sent back (stateless), the answer."""

from __future__ import annotations

import json

from _common import BASE_URL, KEY, MODEL, STREAM, TASK, TOOL_DESCRIPTION, TOOL_NAME, TOOL_SCHEMA, finish, get_weather
from openai import OpenAI
from openai.types.responses import Response

client = OpenAI(base_url=f"{BASE_URL}/v1", api_key=KEY, max_retries=0, timeout=60)
tools = [{"type": "function", "name": TOOL_NAME, "description": TOOL_DESCRIPTION, "parameters": TOOL_SCHEMA,
          "strict": True}]


def ask(items: list) -> Response:
    """One turn; the whole Response, from the stream's response.completed event or the plain answer."""
    if not STREAM:
        return client.responses.create(model=MODEL, input=items, tools=tools, store=False)
    completed = None
    for event in client.responses.create(model=MODEL, input=items, tools=tools, store=False, stream=True):
        if event.type == "response.completed":
            completed = event.response
        elif event.type in ("response.failed", "error"):
            raise SystemExit(f"stream failed: {event}")
    if completed is None:
        raise SystemExit("the stream ended without response.completed")
    return completed


items: list = [{"role": "user", "content": TASK}]
response = ask(items)
calls = [item for item in response.output if item.type == "function_call"]
if not calls:
    raise SystemExit(f"no function_call in the first answer: {response.output_text!r}")
items += [item.model_dump(exclude_none=True) for item in response.output]
for call in calls:
    items.append({"type": "function_call_output", "call_id": call.call_id,
                  "output": get_weather(**json.loads(call.arguments))})
finish(ask(items).output_text)
