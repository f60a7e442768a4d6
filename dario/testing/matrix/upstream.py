"""The matrix's scripted provider: one tool call, then a final answer, in OpenAI Chat and Anthropic wire formats.

It looks at the conversation it is sent: while the last message carries no tool result and the client offered
tools, it calls one of them (a shell tool when there is one, with `echo dario-matrix`; otherwise the first tool,
with arguments built from its schema); once a tool result is there, or when no tools were offered, it answers
with text holding MARKER. A client without tools (aider) can script that text: `[[matrix-reply:BASE64]]` in the
last user message adds the decoded text after the marker. Every request is recorded (in memory and, optionally,
as JSON lines).
Run alone: `python -m dario.testing.matrix.upstream --port 0 [--log FILE]` prints `listening on http://127.0.0.1:PORT/v1`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import pathlib
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dario.json_types import JsonObject
from dario.testing import anthropic_wire, openai_wire
from dario.testing.sites import site_port
from dario.testing.threaded import Threaded, serve_until_terminated

MARKER = "DARIO-MATRIX-OK"
COMMAND = "echo dario-matrix"
CODE_MODE_SOURCE = f'const result = await tools.exec_command({{cmd: "{COMMAND}"}});\ntext(result.output);\n'
PREAMBLE = "Running the tool."  # the short text real models often put before a tool call
# Tool names that run a shell command, preferred over the first tool offered (Claude Code, Codex, llm, …).
REPLY = re.compile(r"\[\[matrix-reply:([A-Za-z0-9+/=]+)\]\]")
SHELL_TOOLS = ("bash", "shell", "exec_command", "shell_command", "local_shell", "run_command", "run_shell")


@dataclass
class Recorded:
    time: float
    path: str
    headers: dict[str, str]
    body: JsonObject
    answer: str  # "tool_call NAME ARGS" or "text"


@dataclass
class Decision:
    tool: tuple[str, JsonObject] | None  # (name, arguments) to call, or None for the final text
    text: str


@dataclass
class MatrixUpstream:
    host: str = "127.0.0.1"
    port: int = 0
    log_path: pathlib.Path | None = None
    preamble: bool = True
    requests: list[Recorded] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site_port(site)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _record(self, request: web.Request, document: JsonObject, decision: Decision) -> None:
        answer = "text" if decision.tool is None else f"tool_call {decision.tool[0]} {json.dumps(decision.tool[1])}"
        entry = Recorded(time.time(), request.path, dict(request.headers), document, answer)
        self.requests.append(entry)
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(entry.__dict__, ensure_ascii=False) + "\n")

    async def _chat(self, request: web.Request) -> web.Response:
        document = await request.json()
        decision = decide(openai_tools(document), openai_has_tool_result(document), self.preamble,
                          last_user_text(document))
        self._record(request, document, decision)
        model = document.get("model", "unknown")
        tools = [decision.tool] if decision.tool else []
        usage = openai_wire.usage(max(1, len(json.dumps(document)) // 4), max(1, len(decision.text.split())))
        headers = {"x-request-id": "req_" + uuid.uuid4().hex, **openai_wire.rate_limit_headers(9999)}
        if document.get("stream"):
            include_usage = bool((document.get("stream_options") or {}).get("include_usage"))
            payload = openai_wire.stream_events(model, decision.text, usage, include_usage, tools=tools)
            return web.Response(body=payload, headers=headers, content_type="text/event-stream", charset="utf-8")
        return web.json_response(openai_wire.completion(model, decision.text, usage, tools=tools), headers=headers)

    async def _messages(self, request: web.Request) -> web.Response:
        document = await request.json()
        decision = decide(anthropic_tools(document), anthropic_has_tool_result(document), self.preamble,
                          last_user_text(document))
        self._record(request, document, decision)
        model = document.get("model", "unknown")
        tools = [decision.tool] if decision.tool else []
        usage = anthropic_wire.usage(max(1, len(json.dumps(document)) // 4), max(1, len(decision.text.split())))
        headers = {"request-id": "req_" + uuid.uuid4().hex, **anthropic_wire.rate_limit_headers(3999)}
        if document.get("stream"):
            payload = anthropic_wire.stream_events(model, decision.text, usage, tools=tools)
            return web.Response(body=payload, headers=headers, content_type="text/event-stream", charset="utf-8")
        return web.json_response(anthropic_wire.message(model, decision.text, usage, tools=tools), headers=headers)

    async def _count_tokens(self, request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({"input_tokens": max(1, len(body) // 4)})

    async def _models(self, request: web.Request) -> web.Response:
        data = [{"id": name, "object": "model", "created": 1700000000, "owned_by": "matrix"}
                for name in ("gpt-4o-mini", "gpt-4o")]
        return web.json_response({"object": "list", "data": data})


def decide(tools: list[tuple[str, JsonObject]], has_tool_result: bool, preamble: bool = True,
           user_text: str = "") -> Decision:
    """A tool call while there is a tool to call and no result yet; otherwise the final text."""
    if has_tool_result or not tools:
        suffix = " The tool ran." if has_tool_result else ""
        return Decision(None, f"{MARKER}{suffix}{scripted_reply(user_text)}")
    name, schema = choose_tool(tools)
    return Decision((name, code_mode_arguments(name, schema) or arguments_for(schema, name)),
                    PREAMBLE if preamble else "")


def code_mode_arguments(name: str, schema: JsonObject) -> JsonObject:
    """Codex's code-mode `exec` is a freeform tool taking JavaScript; a translated backend sees it as a function
    with one string argument. Its script calls the nested shell tool."""
    properties = schema.get("properties") or {}
    if re.split(r"[.:/]|__", name)[-1] != "exec" or len(properties) != 1:
        return {}
    key, value = next(iter(properties.items()))
    return {key: CODE_MODE_SOURCE} if (value or {}).get("type", "string") == "string" else {}


def scripted_reply(user_text: str) -> str:
    found = REPLY.search(user_text)
    if not found:
        return ""
    try:
        return "\n\n" + base64.b64decode(found[1]).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""


def last_user_text(document: JsonObject) -> str:
    """The text of the last user message, in either format (string content or text parts/blocks)."""
    for message in reversed(document.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
            return ""
    return ""


def choose_tool(tools: list[tuple[str, JsonObject]]) -> tuple[str, JsonObject]:
    """A shell tool when there is one, else Codex's code-mode `exec` (which reaches the shell), else the first."""
    for name, schema in tools:
        if name.lower() in SHELL_TOOLS:
            return name, schema
    for name, schema in tools:
        if code_mode_arguments(name, schema):
            return name, schema
    return tools[0]


def arguments_for(schema: JsonObject, name: str = "") -> JsonObject:
    """Plausible arguments for an object schema: its required properties (and any command), filled by type."""
    properties = schema.get("properties") or {}
    wanted = list(schema.get("required") or [])
    wanted += [key for key in properties if key in ("command", "cmd") and key not in wanted]
    if not wanted and properties and not schema.get("required"):
        wanted = list(properties)[:1]  # llm's and other clients' optional-only tools still get one argument
    return {key: value_for(properties.get(key) or {}, key) for key in wanted}


def value_for(schema: JsonObject, key: str) -> object:
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for union in ("anyOf", "oneOf"):
        if schema.get(union):
            return value_for(schema[union][0], key)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "string")
    commandish = key.lower() in ("command", "cmd", "script")
    if kind == "array":
        items = schema.get("items") or {}
        if commandish:
            return ["bash", "-lc", COMMAND]
        return [value_for(items, key)] if items else []
    if kind == "object":
        return arguments_for(schema)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if commandish:
        return COMMAND
    if "path" in key.lower() or "file" in key.lower():
        return "dario-matrix.txt"
    return "dario-matrix"


def openai_tools(document: JsonObject) -> list[tuple[str, JsonObject]]:
    found = []
    for tool in document.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("name"):
            found.append((function["name"], function.get("parameters") or {}))
    return found


def anthropic_tools(document: JsonObject) -> list[tuple[str, JsonObject]]:
    return [(tool["name"], tool.get("input_schema") or {}) for tool in document.get("tools") or []
            if isinstance(tool, dict) and tool.get("name") and "input_schema" in tool]


def openai_has_tool_result(document: JsonObject) -> bool:
    messages = document.get("messages") or []
    return bool(messages) and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"


def anthropic_has_tool_result(document: JsonObject) -> bool:
    messages = document.get("messages") or []
    if not messages or not isinstance(messages[-1], dict) or messages[-1].get("role") != "user":
        return False
    content = messages[-1].get("content")
    return isinstance(content, list) and any(isinstance(block, dict) and block.get("type") == "tool_result"
                                             for block in content)


def threaded(**options: Any) -> Threaded[MatrixUpstream]:  # MatrixUpstream's own parameters
    """`with threaded() as upstream:` the upstream served from its own loop in a background thread."""
    return Threaded(MatrixUpstream(**options), name="matrix-upstream")


def main() -> None:
    parser = argparse.ArgumentParser(description="the client matrix's scripted upstream on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=pathlib.Path, default=None, help="append every request here as JSON lines")
    arguments = parser.parse_args()
    asyncio.run(serve_until_terminated(MatrixUpstream(port=arguments.port, log_path=arguments.log)))


if __name__ == "__main__":
    main()
