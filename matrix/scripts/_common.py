"""What every SDK script shares: where dario is, the model, the task and its one tool (run locally)."""

from __future__ import annotations

import os

BASE_URL = os.environ.get("DARIO_BASE_URL", "http://127.0.0.1:3456").rstrip("/")
KEY = os.environ.get("DARIO_KEY", "dario")
MODEL = os.environ.get("MATRIX_MODEL", "gpt-4o-mini")
STREAM = os.environ.get("MATRIX_STREAM", "1") == "1"
MARKER = "DARIO-MATRIX-OK"
TASK = "What is the weather in Paris? Use the get_weather tool, then answer in one sentence."
TOOL_NAME = "get_weather"
TOOL_DESCRIPTION = "The current weather in a city."
TOOL_SCHEMA = {"type": "object", "properties": {"city": {"type": "string", "description": "the city"}},
               "required": ["city"], "additionalProperties": False}


def get_weather(city: str) -> str:
    return f"dario-matrix tool result: sunny in {city}"


def finish(text: str) -> None:
    """Prints the final answer and exits 0 only when it is the upstream's final text."""
    print(text)
    raise SystemExit(0 if MARKER in text else 1)
