"""An OpenAI Chat Completions request → an Anthropic Messages request (translation.md §2).

Returns the body and the names of fields dropped with a warning; raises TranslationError for fields whose loss
would change the answer.
"""

from __future__ import annotations

import json
import re

from dario.compat import Profile, default_profile
from dario.json_types import JsonArray, JsonObject
from frontend.translate import TranslationError, expect_list, expect_object, expect_text
from frontend.translate.chat_forms import core_form
from frontend.translate.schemas import JSON_OBJECT_INSTRUCTION, structured_output_schema, tool_input_schema

REFUSED = {"n": "only n=1 can be served by an Anthropic backend", "logit_bias": "is not supported by Anthropic",
           "audio": "audio output is not supported by Anthropic",
           "web_search_options": "web search runs on OpenAI's servers: give the model a search tool instead"}
BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192, "max": 16384}
WARNED = ("seed", "presence_penalty", "frequency_penalty", "verbosity")
_DATA_URL = re.compile(r"^data:(?P<type>[\w/+.-]+);base64,(?P<data>.*)$", re.DOTALL)
_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def tool_id(identifier: object) -> str:
    """Anthropic ids must match ^[a-zA-Z0-9_-]+$; the same input always gives the same id."""
    return _ID_UNSAFE.sub("_", identifier if isinstance(identifier, str) else "") or "toolu_missing"


def _text_of(content: object, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(expect_text(part.get("text"), f"{where}[{index}].text")
                       for index, part in enumerate(content) if isinstance(part, dict))
    raise TranslationError(where, "must be a string or a list of text parts")


def _image(url: object, where: str) -> JsonObject:
    url = url if isinstance(url, str) else ""
    match = _DATA_URL.match(url)
    if match is None:
        if url.startswith(("http://", "https://")):
            return {"type": "image", "source": {"type": "url", "url": url}}
        raise TranslationError(where, "image_url must be an http(s) URL or a base64 data URL")
    media_type = "image/jpeg" if match["type"] == "image/jpg" else match["type"]
    if media_type not in IMAGE_TYPES:
        raise TranslationError(where, f"image type {match['type']} is not supported by Anthropic")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": match["data"]}}


def _document(file: JsonObject, where: str) -> JsonObject:
    """A PDF file part (base64 data URL) → a document block titled with its filename."""
    if file.get("file_id"):
        raise TranslationError(f"{where}.file_id", "uploaded files live on OpenAI's servers: send file_data")
    match = _DATA_URL.match(expect_text(file.get("file_data"), f"{where}.file_data"))
    if match is None or match["type"] != "application/pdf":
        raise TranslationError(f"{where}.file_data", "must be a base64 data URL of a PDF (application/pdf)")
    block: JsonObject = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                                  "data": match["data"]}}
    if expect_text(file.get("filename"), f"{where}.filename"):
        block["title"] = file["filename"]
    return block


def _user_blocks(content: object, where: str) -> list[JsonObject]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    if not isinstance(content, list):
        raise TranslationError(where, "must be a string or a list of content parts")
    blocks = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if expect_text(part.get("text"), f"{where}[{index}].text").strip():
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            url = part.get("image_url", {}).get("url", "") if isinstance(part.get("image_url"), dict) else ""
            blocks.append(_image(url, f"{where}[{index}].image_url"))
        elif kind == "file":
            blocks.append(_document(expect_object(part.get("file"), f"{where}[{index}].file"),
                                    f"{where}[{index}].file"))
        else:
            raise TranslationError(f"{where}[{index}]", f"content part type {kind!r} is not supported by Anthropic")
    return blocks


def _assistant_blocks(message: JsonObject, where: str) -> list[JsonObject]:
    blocks: list[JsonObject] = []
    text = (_text_of(message.get("content"), f"{where}.content")
            or expect_text(message.get("refusal"), f"{where}.refusal"))
    if text.strip():
        blocks.append({"type": "text", "text": text})
    for index, call in enumerate(expect_list(message.get("tool_calls"), f"{where}.tool_calls")):
        call = expect_object(call, f"{where}.tool_calls[{index}]")
        function = expect_object(call.get("function"), f"{where}.tool_calls[{index}].function")
        arguments = expect_text(function.get("arguments"), f"{where}.tool_calls[{index}].function.arguments")
        try:
            tool_input = json.loads(arguments or "{}")
        except (ValueError, RecursionError):
            raise TranslationError(f"{where}.tool_calls[{index}].function.arguments", "is not valid JSON") from None
        if not isinstance(tool_input, dict):
            tool_input = {"value": tool_input}
        identifier = expect_text(call.get("id"), f"{where}.tool_calls[{index}].id")
        blocks.append({"type": "tool_use", "id": tool_id(identifier), "name": function.get("name", ""),
                       "input": tool_input})
    return blocks


def _append(turns: list[JsonObject], role: str, blocks: list[JsonObject]) -> None:
    """Adds blocks as a turn, merging same-role neighbours; tool results stay first in a user turn."""
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        merged = turns[-1]["content"] + blocks
        if role == "user":
            merged.sort(key=lambda block: block["type"] != "tool_result")
        turns[-1]["content"] = merged
    else:
        turns.append({"role": role, "content": blocks})


def convert_messages(messages: JsonArray) -> tuple[list[JsonObject], list[JsonObject]]:
    """(system blocks, turns) from OpenAI messages; system/developer messages anywhere are hoisted to `system`."""
    system: list[JsonObject] = []
    turns: list[JsonObject] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise TranslationError(where, "must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            text = _text_of(message.get("content"), f"{where}.content")
            if text.strip():
                system.append({"type": "text", "text": text})
        elif role == "user":
            _append(turns, "user", _user_blocks(message.get("content"), f"{where}.content"))
        elif role == "assistant":
            _append(turns, "assistant", _assistant_blocks(message, where))
        elif role in ("tool", "function"):
            identifier = expect_text(message.get("tool_call_id"), f"{where}.tool_call_id")
            result = {"type": "tool_result", "tool_use_id": tool_id(identifier),
                      "content": _text_of(message.get("content"), f"{where}.content")}
            _append(turns, "user", [result])
        else:
            raise TranslationError(f"{where}.role", f"role {role!r} is not supported")
    if turns and turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "(conversation start)"}]})
    if turns and turns[-1]["role"] == "assistant":
        last = turns[-1]["content"][-1]  # a prefill (refused before this on models that take none)
        if last["type"] == "text":
            last["text"] = last["text"].rstrip()  # Anthropic rejects a prefill ending in whitespace
    return system, turns


def convert_tools(tools: JsonArray) -> list[JsonObject]:
    converted = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise TranslationError(f"tools[{index}]", "only function tools can be translated to Anthropic")
        function = expect_object(tool.get("function"), f"tools[{index}].function")
        parameters = expect_object(function.get("parameters"), f"tools[{index}].function.parameters")
        schema = tool_input_schema(parameters, f"tools[{index}].function.parameters") if parameters \
            else {"type": "object", "properties": {}}
        entry = {"name": function.get("name", ""), "input_schema": schema}
        if function.get("description"):
            entry["description"] = function["description"]
        if function.get("strict") is not None:
            entry["strict"] = function["strict"]
        converted.append(entry)
    return converted


def convert_tool_choice(choice: object, parallel: object) -> JsonObject | None:
    if choice is None and parallel is not False:
        return None
    if choice in (None, "auto"):
        result: JsonObject = {"type": "auto"}
    elif choice == "none":
        result = {"type": "none"}
    elif choice == "required":
        result = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        result = {"type": "tool", "name": choice["function"].get("name", "")}
    else:
        raise TranslationError("tool_choice", "must be auto, none, required or a named function")
    if parallel is False and result["type"] != "none":
        result["disable_parallel_tool_use"] = True
    return result


def to_anthropic_request(document: JsonObject, model: str, default_max_tokens: int,
                         profile: Profile | None = None) -> tuple[JsonObject, list[str]]:
    """The Anthropic request; what the model accepts (thinking, sampling) comes from its capabilities."""
    profile = profile or default_profile(model)
    document = core_form(document)
    for field, reason in REFUSED.items():
        value = document.get(field)
        if value is None or (field == "n" and value == 1) or (field == "logit_bias" and not value):
            continue
        raise TranslationError(field, reason)
    if document.get("logprobs") or document.get("top_logprobs"):
        raise TranslationError("logprobs", "log probabilities are not available from Anthropic")
    if document.get("modalities") not in (None, ["text"]):
        raise TranslationError("modalities", "only text output is available from Anthropic")
    expect_object(document.get("stream_options"), "stream_options")  # its include_usage is read for the stream
    system, turns = convert_messages(expect_list(document.get("messages"), "messages"))
    if turns and turns[-1]["role"] == "assistant" and not profile.model.prefill:
        raise TranslationError("messages", f"model {model!r} does not continue a final assistant turn (a "
                               "prefill): end the conversation with a user turn")
    limit = "max_completion_tokens" if document.get("max_completion_tokens") else "max_tokens"
    max_tokens = document.get(limit) or default_max_tokens
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise TranslationError(limit, "must be an integer")
    body: JsonObject = {"model": model, "messages": turns, "max_tokens": max_tokens}
    if system:
        body["system"] = system
    sampling_warnings = []
    stop = document.get("stop")
    if stop:
        stops = [stop] if isinstance(stop, str) else list(expect_list(stop, "stop"))
        kept = [entry for entry in stops if not isinstance(entry, str) or entry.strip()]
        if len(kept) < len(stops):
            sampling_warnings.append("stop")  # Anthropic refuses whitespace-only stop sequences (translation.md §2)
        if kept:
            body["stop_sequences"] = kept
    for field in ("temperature", "top_p"):
        if document.get(field) is None:
            continue
        if not profile.model.sampling:
            sampling_warnings.append(field)  # newer Claude models reject sampling parameters (rule 11)
        elif not isinstance(document[field], (int, float)) or isinstance(document[field], bool):
            raise TranslationError(field, "must be a number")
        else:
            body[field] = min(document[field], 1) if field == "temperature" else document[field]
    user = document.get("safety_identifier") or document.get("user")
    if user:
        body["metadata"] = {"user_id": str(user)}
    if document.get("tools"):
        body["tools"] = convert_tools(expect_list(document["tools"], "tools"))
        choice = convert_tool_choice(document.get("tool_choice"), document.get("parallel_tool_calls"))
        if choice is not None:
            body["tool_choice"] = choice
    apply_response_format(body, document.get("response_format"))
    if document.get("stream"):
        body["stream"] = True
    warnings = [field for field in WARNED if document.get(field) not in (None, 0, 0.0)] + sampling_warnings
    warnings += apply_reasoning_effort(body, document.get("reasoning_effort"), profile)
    return body, warnings


def apply_response_format(body: JsonObject, response_format: object) -> None:
    """json_schema → output_config.format with the schema normalised to what Anthropic accepts; json_object →
    an instruction in the system prompt (Anthropic has no JSON mode; translation.md §2)."""
    if response_format is None or (isinstance(response_format, dict) and response_format.get("type") == "text"):
        return
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        body["system"] = [*body.get("system", []), {"type": "text", "text": JSON_OBJECT_INSTRUCTION}]
        return
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = expect_object(response_format.get("json_schema"), "response_format.json_schema").get("schema")
        if isinstance(schema, dict):
            body.setdefault("output_config", {})["format"] = {
                "type": "json_schema", "schema": structured_output_schema(schema, "response_format.json_schema.schema")}
            return
    raise TranslationError("response_format", "must be {type: text}, {type: json_object} or {type: json_schema} "
                           "with a schema")


def apply_reasoning_effort(body: JsonObject, effort: object, profile: Profile | None = None) -> list[str]:
    """reasoning_effort → thinking (translation.md §5.3); returns warnings when it cannot be honoured."""
    if effort in (None, "none"):
        return []
    if not isinstance(effort, str):
        raise TranslationError("reasoning_effort", "must be a string")
    if effort not in BUDGETS:
        raise TranslationError("reasoning_effort", f"unknown effort {effort!r}")
    forced = body.get("tool_choice", {}).get("type") in ("any", "tool")
    if forced:
        return ["reasoning_effort"]  # Anthropic refuses thinking with a forced tool choice
    thinking = (profile or default_profile(body["model"])).model.thinking
    if thinking == "none":
        return ["reasoning_effort"]  # the model has no thinking to turn on
    if thinking == "adaptive":
        body["thinking"] = {"type": "adaptive"}
        body.setdefault("output_config", {})["effort"] = "low" if effort == "minimal" else effort
        return []
    if body["max_tokens"] <= 1024:
        return ["reasoning_effort"]
    body["thinking"] = {"type": "enabled", "budget_tokens": min(BUDGETS[effort], body["max_tokens"] - 1)}
    body.pop("temperature", None)  # older models refuse sampling parameters with thinking
    body.pop("top_p", None)
    return []
