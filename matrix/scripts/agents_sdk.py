"""The OpenAI Agents SDK (tracing off): an agent with one function tool, run streamed to its final output.

MATRIX_API=responses (the SDK's default, OpenAIResponsesModel) or chat (OpenAIChatCompletionsModel).
"""

from __future__ import annotations

import asyncio
import os

from _common import BASE_URL, KEY, MODEL, STREAM, TASK, finish
from _common import get_weather as weather
from agents import Agent, Runner, function_tool, set_default_openai_api, set_default_openai_client, set_tracing_disabled
from openai import AsyncOpenAI

set_tracing_disabled(True)
set_default_openai_client(AsyncOpenAI(base_url=f"{BASE_URL}/v1", api_key=KEY, max_retries=0, timeout=60),
                          use_for_tracing=False)
set_default_openai_api("chat_completions" if os.environ.get("MATRIX_API") == "chat" else "responses")


@function_tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return weather(city)


async def main() -> None:
    agent = Agent(name="matrix", instructions="Answer with the help of your tools.", tools=[get_weather], model=MODEL)
    if STREAM:
        streamed = Runner.run_streamed(agent, TASK, max_turns=4)
        async for _ in streamed.stream_events():
            pass
        output = streamed.final_output
    else:
        output = (await Runner.run(agent, TASK, max_turns=4)).final_output
    finish(str(output))


asyncio.run(main())
