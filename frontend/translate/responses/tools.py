"""Responses tools ↔ Chat Completions functions: function, custom and namespaced tools flattened into Chat
functions, the built-in local_shell tool told as a function of its action's fields (server tools left out),
tool_choice told in Chat, and the origin of each Chat name, to map the backend's calls back to the tools the client
declared."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from dario.json_types import JsonObject
from frontend.translate import (
    TranslationError,
    expect_flag,
    expect_list,
    expect_object,
    expect_text,
    lenient_text,
    require_text,
)

# Tools that run on OpenAI's servers (or need a client protocol Chat lacks): left out with a warning, so the model
# answers without that capability; a tool_choice forcing one is refused.
SERVER_TOOLS = ("web_search", "web_search_preview", "web_search_preview_2025_03_11", "web_search_2025_08_26",
                "file_search", "code_interpreter", "computer", "computer_use_preview", "image_generation", "mcp",
                "shell", "apply_patch", "tool_search")
# local_shell runs on the client: the backend gets a function of that name whose parameters are the fields of a
# local_shell_call's `action` (without its type, always "exec"), and its calls go back as local_shell_call items.
LOCAL_SHELL = "local_shell"
LOCAL_SHELL_FUNCTION: JsonObject = {
    "name": LOCAL_SHELL,
    "description": "Runs a command on the user's machine and returns its output. The command is an argument "
                   "vector, run as given without a shell: to use shell syntax, run the shell, for example "
                   '["bash", "-lc", "ls -la | head"].',
    "parameters": {"type": "object", "properties": {
        "command": {"type": "array", "items": {"type": "string"},
                    "description": "The program and its arguments, one string each."},
        "timeout_ms": {"type": "integer", "description": "How long the command may run, in milliseconds."},
        "working_directory": {"type": "string", "description": "The directory to run the command in."},
        "env": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "Environment variables to set for the command."},
        "user": {"type": "string", "description": "The user to run the command as."}},
        "required": ["command"], "additionalProperties": False}}
CHAT_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # valid for OpenAI and Anthropic tool names alike
NAMESPACE_SEPARATOR = "__"
GRAMMAR_LIMIT = 8000  # characters of a custom tool's grammar quoted in the description
CUSTOM_PARAMETERS = {"type": "object", "properties": {"input": {
    "type": "string", "description": "The tool's whole input as raw text, exactly as the tool expects it."}},
    "required": ["input"], "additionalProperties": False}


@dataclass(frozen=True)
class ToolOrigin:
    """The Responses tool behind a flattened Chat function: its own name, its namespace, and whether it is custom."""

    name: str
    namespace: str | None
    custom: bool
    local_shell: bool = False


def chat_tool_name(name: str, namespace: str | None) -> str:
    """`<namespace>__<name>` for a namespaced tool (made valid and at most 64 characters, deterministically)."""
    if not namespace:
        return name
    joined = f"{namespace}{NAMESPACE_SEPARATOR}{name}"
    if CHAT_TOOL_NAME.match(joined):
        return joined
    digest = hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{re.sub(r'[^a-zA-Z0-9_-]', '_', joined)[:53]}_{digest}"


def _tool_entries(document: JsonObject) -> list[tuple[str, object]]:
    """(where, tool) for the request's `tools` and the tools of its `additional_tools` input items (Codex's way)."""
    tools = document.get("tools")
    entries: list[tuple[str, object]] = [(f"tools[{index}]", tool) for index, tool in enumerate(tools)] \
        if isinstance(tools, list) else []
    source = document.get("input")
    for index, item in enumerate(source if isinstance(source, list) else []):
        if isinstance(item, dict) and item.get("type") == "additional_tools" and isinstance(item.get("tools"), list):
            entries += [(f"input[{index}].tools[{position}]", tool) for position, tool in enumerate(item["tools"])]
    return entries


def _members(where: str, tool: object, strict: bool) -> list[tuple[str, object, str | None]]:
    """A namespace tool's members with their namespace, or the tool itself (namespace None)."""
    if not isinstance(tool, dict) or tool.get("type") != "namespace":
        return [(where, tool, None)]
    if strict:
        namespace = require_text(tool.get("name"), f"{where}.name")
        members = expect_list(tool.get("tools"), f"{where}.tools")
    else:
        namespace, listed = lenient_text(tool.get("name")), tool.get("tools")
        if not namespace or not isinstance(listed, list):
            return []
        members = listed
    return [(f"{where}.tools[{index}]", member, namespace) for index, member in enumerate(members)]


def tool_origins(document: JsonObject) -> dict[str, ToolOrigin]:
    """Chat function name → the namespaced, custom or local_shell Responses tool it stands for (plain functions map
    to themselves, so they are left out). Read leniently: it maps answers back, after the request was checked."""
    origins: dict[str, ToolOrigin] = {}
    for where, tool in _tool_entries(document):
        for _, member, namespace in _members(where, tool, strict=False):
            kind = member.get("type") if isinstance(member, dict) else None
            if kind == LOCAL_SHELL and namespace is None:
                origins[LOCAL_SHELL] = ToolOrigin(LOCAL_SHELL, None, False, local_shell=True)
                continue
            name = lenient_text(member.get("name")) if isinstance(member, dict) else ""
            if kind in ("function", "custom") and name and (namespace or kind == "custom"):
                origins.setdefault(chat_tool_name(name, namespace), ToolOrigin(name, namespace, kind == "custom"))
    return origins


def chat_tools(document: JsonObject) -> tuple[list[JsonObject], list[str]]:
    """(Chat function tools, warnings): function, custom and namespaced tools flattened, local_shell told as a
    function; server tools left out."""
    converted, warnings, names = [], [], set()
    shell = _declares_local_shell(document)
    for entry, tool in _tool_entries(document):
        for where, member, namespace in _members(entry, tool, strict=True):
            kind = member.get("type") if isinstance(member, dict) else None
            if not isinstance(member, dict) or not isinstance(kind, str) or not kind:
                raise TranslationError(f"{where}.type", "is required: function, custom, namespace or a built-in tool")
            if kind == LOCAL_SHELL and namespace is None:
                function = json.loads(json.dumps(LOCAL_SHELL_FUNCTION))
            elif kind not in ("function", "custom"):
                warnings.append(f"{where} ({kind})")  # the model answers without that capability
                continue
            else:
                function = _function(member, where, namespace)
                if shell and function["name"] == LOCAL_SHELL:  # its calls could not be told apart from the shell's
                    raise TranslationError(f"{where}.name", "local_shell is the name of the local_shell tool this "
                                           "request declares: give this tool another name")
            if function["name"] in names:
                warnings.append(f"{where} (repeated name {function['name']})")
                continue
            names.add(function["name"])
            converted.append({"type": "function", "function": function})
    return converted, warnings


def _declares_local_shell(document: JsonObject) -> bool:
    return any(isinstance(tool, dict) and tool.get("type") == LOCAL_SHELL for _, tool in _tool_entries(document))


def _function(tool: JsonObject, where: str, namespace: str | None) -> JsonObject:
    """A Responses function or custom tool → a Chat function (Responses tools are flat; Chat nests them)."""
    function: JsonObject = {"name": chat_tool_name(require_text(tool.get("name"), f"{where}.name"), namespace)}
    description = expect_text(tool.get("description"), f"{where}.description")
    if tool["type"] == "custom":
        description = "\n\n".join(text for text in (description, _custom_note(tool, where)) if text)
        function["parameters"] = json.loads(json.dumps(CUSTOM_PARAMETERS))
    else:
        function["parameters"] = expect_object(tool.get("parameters"), f"{where}.parameters") \
            or {"type": "object", "properties": {}}
    if description:
        function["description"] = description
    if tool["type"] == "function" and tool.get("strict") is not None:
        function["strict"] = expect_flag(tool["strict"], f"{where}.strict")
    return function


def _custom_note(tool: JsonObject, where: str) -> str:
    """How a freeform tool's input goes into `input`, with its grammar when it has one."""
    note = "Put the tool's whole input in `input` as raw text (not JSON)."
    input_format = expect_object(tool.get("format"), f"{where}.format")
    if input_format.get("type") != "grammar":
        return note
    definition = expect_text(input_format.get("definition"), f"{where}.format.definition")
    syntax = expect_text(input_format.get("syntax"), f"{where}.format.syntax") or "lark"
    if len(definition) > GRAMMAR_LIMIT:
        definition = definition[:GRAMMAR_LIMIT] + "\n[grammar truncated]"
    return f"{note} It must follow this {syntax} grammar:\n{definition}"


def _chosen(choice: JsonObject, where: str, tools: list[JsonObject], origins: dict[str, ToolOrigin]) -> str:
    """The Chat name of the function or custom tool a tool_choice entry names."""
    name = require_text(choice.get("name"), f"{where}.name")
    namespace = expect_text(choice.get("namespace"), f"{where}.namespace")
    if namespace or any(tool["function"]["name"] == name for tool in tools):
        return chat_tool_name(name, namespace)
    matches = [chat_name for chat_name, origin in origins.items() if origin.name == name]
    return matches[0] if len(matches) == 1 else name  # a bare name that only one namespaced tool carries


def chat_tool_choice(choice: object, tools: list[JsonObject],
                     origins: dict[str, ToolOrigin]) -> tuple[object, list[JsonObject]]:
    """(Chat tool_choice, tools kept): allowed_tools becomes a filter on the tools, which both backends can honour."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice, tools
    kind = choice.get("type") if isinstance(choice, dict) else None
    shell = LOCAL_SHELL in origins and origins[LOCAL_SHELL].local_shell
    if isinstance(choice, dict) and kind in ("function", "custom"):
        return {"type": "function", "function": {"name": _chosen(choice, "tool_choice", tools, origins)}}, tools
    if kind == LOCAL_SHELL and shell:
        return {"type": "function", "function": {"name": LOCAL_SHELL}}, tools
    if isinstance(choice, dict) and kind == "allowed_tools" and choice.get("mode", "auto") in ("auto", "required"):
        allowed = expect_list(choice.get("tools"), "tool_choice.tools")
        names = {_chosen(tool, "tool_choice.tools", tools, origins) for tool in allowed
                 if isinstance(tool, dict) and tool.get("type") in ("function", "custom")}
        if shell and any(isinstance(tool, dict) and tool.get("type") == LOCAL_SHELL for tool in allowed):
            names.add(LOCAL_SHELL)
        kept = [tool for tool in tools if tool["function"]["name"] in names]
        if not kept:
            raise TranslationError("tool_choice.tools", "names none of the function or custom tools in `tools` "
                                   "(built-in tools are left out on a translated backend)")
        return choice.get("mode", "auto"), kept
    if isinstance(kind, str) and kind:
        raise TranslationError("tool_choice", f"forces the {kind!r} tool, which runs only on OpenAI's servers and "
                               "is left out on a translated backend: use auto, required, or a function tool")
    raise TranslationError("tool_choice", "must be auto, none, required, {type: function, name}, {type: custom, "
                           "name} or {type: allowed_tools}")
