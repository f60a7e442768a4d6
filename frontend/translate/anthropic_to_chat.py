"""An Anthropic Messages request → an OpenAI Chat Completions request (translation.md §3)."""

from __future__ import annotations

import hashlib
import json

from dario.compat import Profile, default_profile
from dario.json_types import JsonArray, JsonObject
from frontend.translate import TranslationError, expect_list, expect_object, expect_text

EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
# Claude Code's first system block: billing metadata for Anthropic, noise (and a cache breaker) as prompt text.
BILLING_HEADER = "x-anthropic-billing-header:"


def _text(blocks: object, where: str) -> str:
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        raise TranslationError(where, "must be a string or a list of blocks")
    texts = (expect_text(block.get("text"), f"{where}[{index}].text") for index, block in enumerate(blocks)
             if isinstance(block, dict) and block.get("type") == "text")
    return "\n\n".join(text for text in texts if text.strip())


def without_billing_header(system: object) -> object:
    """Claude Code's `x-anthropic-billing-header: cc_version=…` block left out (it is for Anthropic's API only)."""
    if isinstance(system, str):
        return "" if system.lstrip().startswith(BILLING_HEADER) else system
    if isinstance(system, list):
        return [block for block in system if not (isinstance(block, dict) and block.get("type") == "text" and
                                                  isinstance(block.get("text"), str) and
                                                  block["text"].lstrip().startswith(BILLING_HEADER))]
    return system


def _image_part(block: JsonObject, where: str) -> JsonObject:
    source = expect_object(block.get("source"), f"{where}.source")
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
        return {"type": "image_url", "image_url": {"url": url}}
    if source.get("type") == "url":
        return {"type": "image_url", "image_url": {"url": source.get("url", "")}}
    raise TranslationError(where, f"image source {source.get('type')!r} cannot be sent to an OpenAI backend")


def _document_part(block: JsonObject, where: str) -> JsonObject:
    """A base64 PDF → a file part (its title as the filename); a text document → a text part; dario fetches no
    URL and has no file store, so other sources are refused."""
    source = expect_object(block.get("source"), f"{where}.source")
    if source.get("type") == "base64" and source.get("media_type") == "application/pdf":
        file = {"file_data": f"data:application/pdf;base64,{expect_text(source.get('data'), f'{where}.source.data')}",
                "filename": expect_text(block.get("title"), f"{where}.title") or "document.pdf"}
        return {"type": "file", "file": file}
    if source.get("type") == "text":
        return {"type": "text", "text": expect_text(source.get("data"), f"{where}.source.data")}
    raise TranslationError(where, f"document source {source.get('type')!r} cannot be sent to an OpenAI backend: "
                           "send a base64 PDF or text")


def _user_messages(content: object, where: str) -> list[JsonObject]:
    """One tool message per tool_result (first), then the user's other content as one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}] if content.strip() else []
    if not isinstance(content, list):
        raise TranslationError(where, "must be a string or a list of blocks")
    tool_messages, parts, seen = [], [], set()
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            if block.get("tool_use_id") is not None:
                expect_text(block["tool_use_id"], f"{where}[{index}].tool_use_id")
            if block.get("tool_use_id") in seen:
                continue  # "each tool_use must have a single result": keep the first
            seen.add(block.get("tool_use_id"))
            text = _text(block.get("content") or "", f"{where}[{index}].content")
            if block.get("is_error"):
                text = f"Error: {text}"
            tool_messages.append({"role": "tool", "tool_call_id": block.get("tool_use_id", ""), "content": text})
            images = [item for item in block.get("content") or [] if isinstance(item, dict) and
                      item.get("type") == "image"] if isinstance(block.get("content"), list) else []
            parts += [_image_part(image, f"{where}[{index}].content") for image in images]
        elif kind == "text":
            if expect_text(block.get("text"), f"{where}[{index}].text").strip():
                parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            parts.append(_image_part(block, f"{where}[{index}]"))
        elif kind == "document":
            parts.append(_document_part(block, f"{where}[{index}]"))
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            raise TranslationError(f"{where}[{index}]", f"block type {kind!r} cannot be sent to an OpenAI backend")
    messages = list(tool_messages)
    if parts:
        only_text = all(part["type"] == "text" for part in parts)
        body = "\n\n".join(part["text"] for part in parts) if only_text else parts
        messages.append({"role": "user", "content": body})
    return messages


def _assistant_message(content: object, where: str, profile: Profile) -> JsonObject | None:
    if isinstance(content, str):
        return {"role": "assistant", "content": content} if content.strip() else None
    texts, calls, thinking = [], [], []
    for index, block in enumerate(content if isinstance(content, list) else []):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and expect_text(block.get("text"), f"{where}[{index}].text").strip():
            texts.append(block["text"])
        elif kind == "thinking" and profile.compat.reasoning_replay:
            thinking.append(expect_text(block.get("thinking"), f"{where}[{index}].thinking"))
        elif kind == "tool_use":
            calls.append({"id": block.get("id", ""), "type": "function", "function": {
                "name": block.get("name", ""), "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)}})
        elif kind in ("thinking", "redacted_thinking", "text"):
            continue
        else:
            raise TranslationError(f"{where}[{index}]", f"block type {kind!r} cannot be sent to an OpenAI backend")
    if not texts and not calls:
        return None
    # Servers built on llama-cpp-python's request models answer 500 to a null content: "" per profile.
    message: JsonObject = {"role": "assistant", "content": "".join(texts) if texts else profile.tool_call_content}
    if calls:
        message["tool_calls"] = calls
    reasoning = "\n\n".join(text for text in thinking if text.strip())
    if reasoning:  # DeepSeek's thinking mode wants it back, never empty, across a tool loop
        message["reasoning_content"] = reasoning
    return message


def convert_messages(system: object, messages: JsonArray, profile: Profile | None = None) -> list[JsonObject]:
    """One leading system string (system blocks and, unless the profile keeps them in place, inline system
    messages merged), then the turns."""
    profile = profile or Profile()
    system_texts = [_text(without_billing_header(system), "system")] if system else []
    converted: list[JsonObject] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}].content"
        role = message.get("role") if isinstance(message, dict) else None
        if role == "system":
            text = _text(without_billing_header(message.get("content")), where)
            if profile.compat.system_inline and converted and text.strip():
                converted.append({"role": "system", "content": text})
            else:
                system_texts.append(text)
        elif role == "user":
            converted += _user_messages(message.get("content"), where)
        elif role == "assistant":
            assistant = _assistant_message(message.get("content"), where, profile)
            if assistant is not None:
                converted.append(assistant)
        else:
            raise TranslationError(f"messages[{index}].role", f"role {role!r} is not supported")
    system_text = "\n\n".join(text for text in system_texts if text.strip())
    return ([{"role": "system", "content": system_text}] if system_text else []) + converted


def convert_tools(tools: JsonArray) -> list[JsonObject]:
    converted = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise TranslationError(f"tools[{index}]", "must be an object")
        kind = tool.get("type", "custom")
        if kind not in (None, "custom"):  # server tools (web_search_*, bash_*, …) run only at Anthropic
            raise TranslationError(f"tools[{index}]", f"server tool {kind!r} cannot run on an OpenAI backend")
        function = {"name": tool.get("name", ""), "parameters": tool.get("input_schema") or {"type": "object"}}
        if tool.get("description"):
            function["description"] = tool["description"]
        converted.append({"type": "function", "function": function})
    return converted


def convert_tool_choice(choice: JsonObject) -> object:
    kind = choice.get("type")
    mapped = {"auto": "auto", "any": "required", "none": "none"}.get(kind) if isinstance(kind, str) else None
    if mapped is not None:
        return mapped
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name", "")}}
    raise TranslationError("tool_choice", f"unknown tool_choice type {kind!r}")


def to_chat_request(document: JsonObject, model: str, profile: Profile | None = None) -> tuple[JsonObject, list[str]]:
    """The Chat request for the backend's profile (the output limit's field, tool-call content, …; dario.compat)."""
    profile = profile or default_profile(model)
    if document.get("mcp_servers"):
        raise TranslationError("mcp_servers", "MCP servers run only on Anthropic backends")
    messages = convert_messages(document.get("system"), document.get("messages") or [], profile)
    body: JsonObject = {"model": model, "messages": messages, profile.max_tokens_field: document.get("max_tokens")}
    apply_prefill(body, profile, len(document.get("messages") or []) - 1)
    if document.get("stop_sequences"):
        stops = list(expect_list(document["stop_sequences"], "stop_sequences"))
        if profile.compat.stop_max and len(stops) > profile.compat.stop_max:
            raise TranslationError("stop_sequences", f"this backend takes at most {profile.compat.stop_max} stop "
                                   f"sequences, and {len(stops)} were sent")
        body["stop"] = stops
    for field in ("temperature", "top_p"):
        if document.get(field) is not None:
            body[field] = document[field]
    user = expect_object(document.get("metadata"), "metadata").get("user_id")
    if user:
        body["user"] = hashlib.sha256(str(user).encode()).hexdigest()[:64]  # Claude Code sends a long JSON string
    tools = expect_list(document.get("tools"), "tools")
    if profile.compat.tools_max and len(tools) > profile.compat.tools_max:
        raise TranslationError("tools", f"this backend takes at most {profile.compat.tools_max} tools, and "
                               f"{len(tools)} were sent")
    if tools:
        body["tools"] = convert_tools(tools)
        choice = document.get("tool_choice")
        if isinstance(choice, dict):
            body["tool_choice"] = convert_tool_choice(choice)
            if choice.get("disable_parallel_tool_use"):
                body["parallel_tool_calls"] = False
    warnings = []
    if document.get("top_k") is not None:
        if profile.compat.top_k:
            body["top_k"] = document["top_k"]
        else:
            warnings.append("top_k")
    effort = reasoning_effort(document)
    if effort is not None:
        if profile.model.reasoning_effort:
            body["reasoning_effort"] = effort
        else:
            warnings.append("thinking")  # a non-reasoning model answers the same without it
    output_format = expect_object(document.get("output_config"), "output_config").get("format")
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "output", "schema": output_format.get("schema") or {}, "strict": True}}
    if document.get("stream"):
        body["stream"] = True
        if profile.compat.stream_usage:
            body["stream_options"] = {"include_usage": True}
    return body, warnings


def apply_prefill(body: JsonObject, profile: Profile, where: int) -> None:
    """A trailing assistant turn (a prefill): kept, continued (vLLM's continue_final_message), or refused."""
    messages = body["messages"]
    if not messages or messages[-1]["role"] != "assistant" or messages[-1].get("tool_calls"):
        return
    if profile.compat.prefill == "reject":
        raise TranslationError(f"messages[{where}]", "this backend does not continue a final assistant turn "
                               "(a prefill): end the conversation with a user turn")
    if profile.compat.prefill == "continue":
        body["continue_final_message"], body["add_generation_prompt"] = True, False


def reasoning_effort(document: JsonObject) -> str | None:
    """output_config.effort by name, else a thinking budget bucketed (translation.md §5.3); None when off."""
    effort = expect_object(document.get("output_config"), "output_config").get("effort")
    if isinstance(effort, str) and effort in EFFORTS:
        return EFFORTS[effort]
    thinking = expect_object(document.get("thinking"), "thinking")
    if thinking.get("type") == "enabled" and isinstance(thinking.get("budget_tokens"), int):
        budget = thinking["budget_tokens"]
        return "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"
    return None
