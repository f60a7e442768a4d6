"""OpenAI Responses API requests through Chat Completions (TRANSLATION.md §3); the answers are in responses_answer.

dario keeps no server-side state: fields that need it are refused with a 400 naming them. Anthropic backends are
reached by chaining the Chat ⇄ Anthropic translators, so both paths share one mapping.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass

from frontend.translate import (
    TranslationError,
    expect_list,
    expect_object,
    expect_text,
    lenient_text,
)
from frontend.translate.anthropic_to_chat import REASONING_MODELS
from frontend.translate.chat_to_anthropic import to_anthropic_request

STATELESS = "dario keeps no server-side state"
REFUSED = {
    "store": f"{STATELESS}: send store=false (or leave it out) and keep the conversation on your side",
    "previous_response_id": f"{STATELESS}: send the whole conversation in `input` instead",
    "conversation": f"{STATELESS}: send the whole conversation in `input` instead",
    "background": f"{STATELESS}, so it cannot run a response in the background: stream it instead",
    "prompt": "stored prompt templates live on OpenAI's servers: send `instructions` and `input` instead",
    "top_logprobs": "log probabilities cannot be returned through a translated backend",
    "moderation": "moderated responses are only available from OpenAI's Responses API",
}
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
# Chat field names a translation error or warning can carry, as the Responses client knows them.
RESPONSES_NAMES = {"max_completion_tokens": "max_output_tokens", "reasoning_effort": "reasoning.effort",
                   "response_format": "text.format", "verbosity": "text.verbosity", "logprobs": "include"}
_MESSAGE_PARAM = re.compile(r"^messages\[(\d+)\]")
# Request fields a Response echoes as sent (when of the right type).
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
SUMMARIES = ("auto", "concise", "detailed")
# Tools that run on OpenAI's servers (or need a client protocol Chat lacks): left out with a warning, so the model
# answers without that capability; a tool_choice forcing one is refused.
SERVER_TOOLS = ("web_search", "web_search_preview", "web_search_preview_2025_03_11", "web_search_2025_08_26",
                "file_search", "code_interpreter", "computer", "computer_use_preview", "image_generation", "mcp",
                "local_shell", "shell", "apply_patch", "tool_search")
# Input items with nothing a translated backend can read: tools (taken into `tools`), OpenAI-encrypted reasoning.
SKIPPED_ITEMS = ("reasoning", "additional_tools", "compaction_trigger")
CHAT_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # valid for OpenAI and Anthropic tool names alike
NAMESPACE_SEPARATOR = "__"
GRAMMAR_LIMIT = 8000  # characters of a custom tool's grammar quoted in the description
CUSTOM_PARAMETERS = {"type": "object", "properties": {"input": {
    "type": "string", "description": "The tool's whole input as raw text, exactly as the tool expects it."}},
    "required": ["input"], "additionalProperties": False}
ECHOED = {"instructions": str, "max_output_tokens": int, "max_tool_calls": int, "temperature": (int, float),
          "top_p": (int, float), "user": str, "safety_identifier": str, "prompt_cache_key": str}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class ToolOrigin:
    """The Responses tool behind a flattened Chat function: its own name, its namespace, and whether it is custom."""

    name: str
    namespace: str | None
    custom: bool


def chat_tool_name(name: str, namespace: str | None) -> str:
    """`<namespace>__<name>` for a namespaced tool (made valid and at most 64 characters, deterministically)."""
    if not namespace:
        return name
    joined = f"{namespace}{NAMESPACE_SEPARATOR}{name}"
    if CHAT_TOOL_NAME.match(joined):
        return joined
    digest = hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{re.sub(r'[^a-zA-Z0-9_-]', '_', joined)[:53]}_{digest}"


def _tool_entries(document: dict) -> list[tuple[str, object]]:
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
        namespace = _required_text(tool.get("name"), f"{where}.name")
        members = expect_list(tool.get("tools"), f"{where}.tools")
    else:
        namespace, members = lenient_text(tool.get("name")), tool.get("tools")
        if not namespace or not isinstance(members, list):
            return []
    return [(f"{where}.tools[{index}]", member, namespace) for index, member in enumerate(members)]


def tool_origins(document: dict) -> dict[str, ToolOrigin]:
    """Chat function name → the namespaced or custom Responses tool it stands for (plain functions map to themselves,
    so they are left out). Read leniently: it maps answers back, after the request was checked."""
    origins = {}
    for where, tool in _tool_entries(document):
        for _, member, namespace in _members(where, tool, strict=False):
            kind = member.get("type") if isinstance(member, dict) else None
            name = lenient_text(member.get("name")) if isinstance(member, dict) else ""
            if kind in ("function", "custom") and name and (namespace or kind == "custom"):
                origins.setdefault(chat_tool_name(name, namespace), ToolOrigin(name, namespace, kind == "custom"))
    return origins


class _Conversation:
    """Chat messages built from `instructions` and `input` items, each remembering the item it came from."""

    def __init__(self) -> None:
        self.system: list[str] = []
        self.messages: list[dict] = []
        self.origins: list[str] = []
        self.tool_images: list[dict] = []  # function_call_output images: a user message after the tool messages
        self.tool_images_origin = ""

    def add(self, message: dict, origin: str) -> None:
        self.messages.append(message)
        self.origins.append(origin)

    def result(self) -> tuple[list[dict], list[str]]:
        self._flush_tool_images()
        system = "\n\n".join(text for text in self.system if text.strip())
        if not system:
            return self.messages, self.origins
        return [{"role": "system", "content": system}, *self.messages], ["instructions", *self.origins]

    def item(self, index: int, item: object) -> None:
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise TranslationError(where, "must be an object")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind in SKIPPED_ITEMS:
            if kind == "additional_tools":  # its tools were taken into the request's tools
                expect_list(item.get("tools"), f"{where}.tools")
            return  # encrypted reasoning is readable by OpenAI only; the other providers answer the same without it
        if kind not in ("function_call_output", "custom_tool_call_output"):
            self._flush_tool_images()
        if kind == "message":
            self._message(item, where)
        elif kind in ("function_call", "custom_tool_call"):
            self._function_call(item, where, custom=kind == "custom_tool_call")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self._function_output(item, where)
        elif kind == "item_reference":
            raise TranslationError(where, f"{STATELESS}: send the referenced item itself")
        else:
            raise TranslationError(f"{where}.type", f"input items of type {kind!r} cannot be translated; only "
                                   "message, function_call, custom_tool_call and their outputs can")

    def _message(self, item: dict, where: str) -> None:
        role, content = item.get("role"), item.get("content")
        parts = _parts(content, f"{where}.content")
        texts = [part["text"] for part in parts if part["type"] == "text"]
        if role in ("system", "developer"):
            if len(texts) != len(parts):
                raise TranslationError(f"{where}.content", f"{role} messages can only hold text")
            self.system.append("\n\n".join(texts))  # hoisted: many backends accept system text only at the start
        elif role == "assistant":
            if len(texts) != len(parts):
                raise TranslationError(f"{where}.content", "assistant messages can only hold text")
            text = "".join(texts)
            if text.strip():
                self.add({"role": "assistant", "content": text}, where)
        elif role == "user":
            kept = [part for part in parts if part["type"] != "text" or part["text"].strip()]
            if kept and all(part["type"] == "text" for part in kept):
                self.add({"role": "user", "content": "\n\n".join(part["text"] for part in kept)}, where)
            elif kept:
                self.add({"role": "user", "content": kept}, where)
        else:
            raise TranslationError(f"{where}.role", f"role {role!r} is not supported")

    def _function_call(self, item: dict, where: str, custom: bool) -> None:
        name = chat_tool_name(_required_text(item.get("name"), f"{where}.name"),
                              expect_text(item.get("namespace"), f"{where}.namespace"))
        if custom:  # a custom tool is a function of one string parameter, `input`, on the backend
            arguments = json.dumps({"input": expect_text(item.get("input"), f"{where}.input")}, ensure_ascii=False)
        else:
            arguments = expect_text(item.get("arguments"), f"{where}.arguments") or "{}"
        call = {"id": _required_text(item.get("call_id"), f"{where}.call_id"), "type": "function",
                "function": {"name": name, "arguments": arguments}}
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == "assistant":  # one assistant turn: its text, then all its calls
            last.setdefault("tool_calls", []).append(call)
        else:
            self.add({"role": "assistant", "content": None, "tool_calls": [call]}, where)

    def _function_output(self, item: dict, where: str) -> None:
        call_id = _required_text(item.get("call_id"), f"{where}.call_id")
        output = item.get("output")
        if output is None or isinstance(output, str):
            text = output or ""
        else:
            parts = _parts(output, f"{where}.output")
            text = "\n\n".join(part["text"] for part in parts if part["type"] == "text")
            media = [part for part in parts if part["type"] != "text"]
            if media:  # tool messages are text-only: the images follow the tool messages as a user message
                self.tool_images_origin = self.tool_images_origin or where
                self.tool_images += media
        self.add({"role": "tool", "tool_call_id": call_id, "content": text}, where)

    def _flush_tool_images(self) -> None:
        if self.tool_images:
            self.add({"role": "user", "content": self.tool_images}, self.tool_images_origin)
            self.tool_images, self.tool_images_origin = [], ""


def _parts(content: object, where: str) -> list[dict]:
    """Responses content (a string or input_text/output_text/refusal/input_image/input_file parts) → Chat parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise TranslationError(where, "must be a string or a list of content parts")
    parts = []
    for index, part in enumerate(content):
        at = f"{where}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": expect_text(part.get("text"), f"{at}.text")})
        elif kind == "refusal":
            parts.append({"type": "text", "text": expect_text(part.get("refusal"), f"{at}.refusal")})
        elif kind == "input_image":
            parts.append(_image(part, at))
        elif kind == "input_file":
            parts.append(_file(part, at))
        else:
            raise TranslationError(f"{at}.type", f"content part type {kind!r} cannot be translated")
    return parts


def _image(part: dict, where: str) -> dict:
    if part.get("file_id"):
        raise TranslationError(f"{where}.file_id", "uploaded files live on OpenAI's servers: send image_url "
                               "(an https URL or a base64 data URL) instead")
    image = {"url": _required_text(part.get("image_url"), f"{where}.image_url")}
    if part.get("detail") in ("auto", "low", "high"):
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}


def _file(part: dict, where: str) -> dict:
    if part.get("file_id"):
        raise TranslationError(f"{where}.file_id", "uploaded files live on OpenAI's servers: send file_data instead")
    if part.get("file_url"):
        raise TranslationError(f"{where}.file_url", "dario does not fetch URLs: send file_data instead")
    file = {"file_data": _required_text(part.get("file_data"), f"{where}.file_data")}
    if expect_text(part.get("filename"), f"{where}.filename"):
        file["filename"] = part["filename"]
    return {"type": "file", "file": file}


def _tools(document: dict) -> tuple[list[dict], list[str]]:
    """(Chat function tools, warnings): function, custom and namespaced tools flattened; server tools left out."""
    converted, warnings, names = [], [], set()
    for entry, tool in _tool_entries(document):
        for where, member, namespace in _members(entry, tool, strict=True):
            kind = member.get("type") if isinstance(member, dict) else None
            if not isinstance(kind, str) or not kind:
                raise TranslationError(f"{where}.type", "is required: function, custom, namespace or a built-in tool")
            if kind not in ("function", "custom"):
                warnings.append(f"{where} ({kind})")  # the model answers without that capability
                continue
            function = _function(member, where, namespace)
            if function["name"] in names:
                warnings.append(f"{where} (repeated name {function['name']})")
                continue
            names.add(function["name"])
            converted.append({"type": "function", "function": function})
    return converted, warnings


def _function(tool: dict, where: str, namespace: str | None) -> dict:
    """A Responses function or custom tool → a Chat function (Responses tools are flat; Chat nests them)."""
    function: dict = {"name": chat_tool_name(_required_text(tool.get("name"), f"{where}.name"), namespace)}
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
        function["strict"] = _flag(tool["strict"], f"{where}.strict")
    return function


def _custom_note(tool: dict, where: str) -> str:
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


def _chosen(choice: dict, where: str, tools: list[dict], origins: dict[str, ToolOrigin]) -> str:
    """The Chat name of the function or custom tool a tool_choice entry names."""
    name = _required_text(choice.get("name"), f"{where}.name")
    namespace = expect_text(choice.get("namespace"), f"{where}.namespace")
    if namespace or any(tool["function"]["name"] == name for tool in tools):
        return chat_tool_name(name, namespace)
    matches = [chat_name for chat_name, origin in origins.items() if origin.name == name]
    return matches[0] if len(matches) == 1 else name  # a bare name that only one namespaced tool carries


def _tool_choice(choice: object, tools: list[dict], origins: dict[str, ToolOrigin]) -> tuple[object, list[dict]]:
    """(Chat tool_choice, tools kept): allowed_tools becomes a filter on the tools, which both backends can honour."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice, tools
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in ("function", "custom"):
        return {"type": "function", "function": {"name": _chosen(choice, "tool_choice", tools, origins)}}, tools
    if kind == "allowed_tools" and choice.get("mode", "auto") in ("auto", "required"):
        allowed = expect_list(choice.get("tools"), "tool_choice.tools")
        names = {_chosen(tool, "tool_choice.tools", tools, origins) for tool in allowed
                 if isinstance(tool, dict) and tool.get("type") in ("function", "custom")}
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


def _response_format(text: dict) -> dict | None:
    output_format = expect_object(text.get("format"), "text.format")
    kind = output_format.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {"name": expect_text(output_format.get("name"), "text.format.name") or "output",
                  "schema": expect_object(output_format.get("schema"), "text.format.schema")}
        if expect_text(output_format.get("description"), "text.format.description"):
            schema["description"] = output_format["description"]
        if output_format.get("strict") is not None:
            schema["strict"] = _flag(output_format["strict"], "text.format.strict")
        return {"type": "json_schema", "json_schema": schema}
    raise TranslationError("text.format.type", "must be text, json_object or json_schema")


def _refuse_state_and_extras(document: dict) -> None:
    for field, reason in REFUSED.items():
        if document.get(field):  # store=false, background=false and nulls change nothing
            raise TranslationError(field, reason)
    if "message.output_text.logprobs" in expect_list(document.get("include"), "include"):
        raise TranslationError("include", REFUSED["top_logprobs"])


def _required_text(value: object, where: str) -> str:
    text = expect_text(value, where)
    if not text:
        raise TranslationError(where, "is required")
    return text


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise TranslationError(where, "must be a boolean")
    return value


def _number(document: dict, field: str, low: float, high: float, integer: bool = False) -> int | float | None:
    value = document.get(field)
    if value is None:
        return None
    kinds = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise TranslationError(field, f"must be {kind} from {low:g} to {high:g}")
    return value


def _translate(document: dict, model: str, reasoning_capable: bool) -> tuple[dict, list[str], list[str]]:
    """(Chat request, warnings, origin of each Chat message)."""
    _refuse_state_and_extras(document)
    conversation = _Conversation()
    conversation.system.append(expect_text(document.get("instructions"), "instructions"))
    source = document.get("input")
    if isinstance(source, str):
        conversation.add({"role": "user", "content": source}, "input")
    elif isinstance(source, list):
        for index, item in enumerate(source):
            conversation.item(index, item)
    elif source is not None:
        raise TranslationError("input", "must be a string or a list of items")
    messages, origins = conversation.result()
    if not any(message["role"] != "system" for message in messages):
        raise TranslationError("input", "is required: there is nothing for the model to answer")
    body: dict = {"model": model, "messages": messages}
    expect_list(document.get("tools"), "tools")
    tools, warnings = _tools(document)
    choice = document.get("tool_choice")
    if tools or (isinstance(choice, dict) and choice.get("type") not in ("function", "custom", "allowed_tools")):
        choice, tools = _tool_choice(choice, tools, tool_origins(document))
    if tools:
        body["tools"] = tools
        if choice is not None:
            body["tool_choice"] = choice
        if document.get("parallel_tool_calls") is not None:
            body["parallel_tool_calls"] = bool(document["parallel_tool_calls"])
    for field, target, low, high in (("max_output_tokens", "max_completion_tokens", 1, 2**31 - 1),
                                     ("temperature", "temperature", 0, 2), ("top_p", "top_p", 0, 1)):
        if _number(document, field, low, high, integer=field == "max_output_tokens") is not None:
            body[target] = document[field]
    for field in ("user", "safety_identifier"):
        if expect_text(document.get(field), field):
            body[field] = document[field]
    text = expect_object(document.get("text"), "text")
    response_format = _response_format(text)
    if response_format is not None:
        body["response_format"] = response_format
    reasoning = expect_object(document.get("reasoning"), "reasoning")
    capable = reasoning_capable or bool(REASONING_MODELS.search(model))
    for source_name, target, value in (("reasoning.effort", "reasoning_effort", reasoning.get("effort")),
                                       ("text.verbosity", "verbosity", text.get("verbosity"))):
        if not expect_text(value, source_name):
            continue
        if capable:
            body[target] = value
        elif value != "none":
            warnings.append(source_name)  # other backends refuse the field; they answer the same without it
    if document.get("truncation") == "auto":
        warnings.append("truncation")  # only matters past the context window, where the backend answers 400
    if document.get("context_management"):
        warnings.append("context_management")
    if document.get("stream"):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body, warnings, origins


def responses_to_chat(document: dict, upstream_model: str) -> tuple[dict, list[str]]:
    """A Responses request → a Chat Completions request for an OpenAI-compatible backend, and the fields warned."""
    body, warnings, _ = _translate(document, upstream_model, reasoning_capable=False)
    return body, warnings


def _responses_param(param: str, origins: list[str]) -> str:
    match = _MESSAGE_PARAM.match(param)
    if match and int(match[1]) < len(origins):
        return origins[int(match[1])]
    return RESPONSES_NAMES.get(param, param)


def responses_to_anthropic(document: dict, upstream_model: str, default_max_tokens: int) -> tuple[dict, list[str]]:
    """A Responses request → an Anthropic Messages request (through Chat), errors named as the client sent them."""
    chat, warnings, origins = _translate(document, upstream_model, reasoning_capable=True)
    try:
        body, more = to_anthropic_request(chat, upstream_model, default_max_tokens)
    except TranslationError as error:
        raise TranslationError(_responses_param(error.param, origins), str(error).partition(": ")[2]) from None
    return body, warnings + [_responses_param(field, origins) for field in more]
