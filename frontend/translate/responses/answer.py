"""Responses API answers from the other formats: a Chat Completion or an Anthropic Message becomes a Response
object (the request's parameters echoed); and the item builders the stream machines share."""

from __future__ import annotations

import json
import time
import uuid

from dario.json_types import JsonObject
from frontend.translate import lenient_count, lenient_object, lenient_objects, lenient_text
from frontend.translate.anthropic_answer_to_chat import to_chat_completion
from frontend.translate.responses.tools import LOCAL_SHELL, SERVER_TOOLS, ToolOrigin, tool_origins

INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
# Request fields a Response echoes as sent (when of the right type).
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
SUMMARIES = ("auto", "concise", "detailed")
ECHOED: dict[str, type | tuple[type, ...]] = {
    "instructions": str, "max_output_tokens": int, "max_tool_calls": int, "temperature": (int, float),
    "top_p": (int, float), "user": str, "safety_identifier": str, "prompt_cache_key": str}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def responses_usage(usage: object) -> JsonObject | None:
    """Chat usage → Responses usage (both count cached tokens inside the input); None when the upstream sent none."""
    if not isinstance(usage, dict):
        return None
    prompt = lenient_object(usage.get("prompt_tokens_details"))
    completion = lenient_object(usage.get("completion_tokens_details"))
    input_tokens = lenient_count(usage.get("prompt_tokens"))
    output_tokens = lenient_count(usage.get("completion_tokens"))
    return {"input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": lenient_count(prompt.get("cached_tokens")),
                                     "cache_write_tokens": lenient_count(prompt.get("cache_write_tokens"))},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": lenient_count(completion.get("reasoning_tokens"))},
            "total_tokens": lenient_count(usage.get("total_tokens")) or input_tokens + output_tokens}


def _echo(document: JsonObject, field: str, kinds: type | tuple[type, ...], default: object = None) -> object:
    value = document.get(field)
    return value if isinstance(value, kinds) and not isinstance(value, bool) else default


def _echoed_text(document: JsonObject) -> JsonObject:
    text = lenient_object(document.get("text"))
    given = lenient_object(text.get("format"))
    kind = given.get("type") if given.get("type") in ("json_object", "json_schema") else "text"
    output_format: JsonObject = {"type": kind}
    if output_format["type"] == "json_schema":
        output_format["name"] = lenient_text(given.get("name")) or "output"
        output_format["schema"] = lenient_object(given.get("schema"))
        if isinstance(given.get("strict"), bool):
            output_format["strict"] = given["strict"]
    echoed = {"format": output_format}
    if text.get("verbosity") in ("low", "medium", "high"):
        echoed["verbosity"] = text["verbosity"]
    return echoed


def _echoed_tool(tool: JsonObject) -> JsonObject:
    """A function or custom tool as the SDK's types have it (anything else is echoed as a function, as before)."""
    if tool.get("type") == "custom":
        echoed: JsonObject = {"type": "custom", "name": lenient_text(tool.get("name"))}
        given = lenient_object(tool.get("format"))
        if given.get("type") == "text":
            echoed["format"] = {"type": "text"}
        elif given.get("type") == "grammar" and given.get("syntax") in ("lark", "regex"):
            echoed["format"] = {"type": "grammar", "syntax": given["syntax"],
                                "definition": lenient_text(given.get("definition"))}
    else:
        echoed = {"type": "function", "name": lenient_text(tool.get("name")),
                  "parameters": lenient_object(tool.get("parameters")) or None,
                  "strict": tool["strict"] if isinstance(tool.get("strict"), bool) else None}
    if lenient_text(tool.get("description")):
        echoed["description"] = tool["description"]
    return echoed


def _echoed_tools(document: JsonObject) -> list[JsonObject]:
    """The client tools the model was given: function, custom, namespace and local_shell tools (server tools were
    left out)."""
    tools = []
    for tool in lenient_objects(document.get("tools")):
        if tool.get("type") == "namespace":
            members = [member for member in lenient_objects(tool.get("tools"))
                       if member.get("type") in ("function", "custom")]
            tools.append({"type": "namespace", "name": lenient_text(tool.get("name")),
                          "description": lenient_text(tool.get("description")),
                          "tools": [_echoed_tool(member) for member in members]})
        elif tool.get("type") == LOCAL_SHELL:
            tools.append({"type": LOCAL_SHELL})
        elif tool.get("type") not in SERVER_TOOLS:
            tools.append(_echoed_tool(tool))
    return tools


def _echoed_tool_choice(choice: object) -> object:
    if choice in ("auto", "none", "required"):
        return choice
    if not isinstance(choice, dict):
        return "auto"
    kind = choice.get("type")
    if kind in ("function", "custom") and lenient_text(choice.get("name")):
        return {"type": kind, "name": choice["name"]}
    if kind == "allowed_tools" and choice.get("mode") in ("auto", "required"):
        return {"type": "allowed_tools", "mode": choice["mode"], "tools": lenient_objects(choice.get("tools"))}
    return "auto"


def response_object(response_id: str, model: str, document: JsonObject, status: str, output: list[JsonObject], *,
                    created_at: int, usage: JsonObject | None = None, incomplete_details: JsonObject | None = None,
                    error: JsonObject | None = None) -> JsonObject:
    """A Response with the request's parameters echoed (where well-formed), as the SDK's Response model has them."""
    reasoning = lenient_object(document.get("reasoning"))
    echoed = {field: _echo(document, field, kinds) for field, kinds in ECHOED.items()}
    metadata = {key: value for key, value in lenient_object(document.get("metadata")).items() if isinstance(value, str)}
    return {
        "id": response_id, "object": "response", "created_at": created_at, "status": status, "model": model,
        "completed_at": int(time.time()) if status == "completed" else None, "background": False, "error": error,
        "incomplete_details": incomplete_details, "output": output, "usage": usage, "previous_response_id": None,
        "store": False, **echoed, "parallel_tool_calls": document.get("parallel_tool_calls") is not False,
        "reasoning": {"effort": reasoning.get("effort") if reasoning.get("effort") in EFFORTS else None,
                      "summary": reasoning.get("summary") if reasoning.get("summary") in SUMMARIES else None},
        "text": _echoed_text(document), "tool_choice": _echoed_tool_choice(document.get("tool_choice")),
        "tools": _echoed_tools(document), "metadata": metadata,
        "truncation": "auto" if document.get("truncation") == "auto" else "disabled",
    }


def text_part(text: str) -> JsonObject:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, content: list[JsonObject], status: str) -> JsonObject:
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def reasoning_item(item_id: str, content: list[JsonObject], status: str) -> JsonObject:
    return {"id": item_id, "type": "reasoning", "summary": [], "content": content, "status": status}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> JsonObject:
    return {"id": item_id, "type": "function_call", "status": status, "call_id": call_id, "name": name,
            "arguments": arguments}


def custom_input(arguments: str) -> str:
    """The raw input of a custom tool from the arguments of the one-parameter function that stands for it."""
    try:
        parsed = json.loads(arguments)
    except (ValueError, RecursionError):
        return arguments  # the model wrote the input itself, not wrapped in JSON
    if not isinstance(parsed, dict) or "input" not in parsed:
        return arguments
    value = parsed["input"]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def local_shell_action(arguments: str) -> JsonObject | None:
    """The exec action a call of the local_shell function stands for, or None when its arguments are not a JSON
    object with a command (a list of strings). Other fields of the wrong type count as absent; `env` is always there
    (the SDK's type requires it)."""
    try:
        parsed = json.loads(arguments)
    except (ValueError, RecursionError):
        return None
    command = parsed.get("command") if isinstance(parsed, dict) else None
    if not isinstance(command, list) or not command or not all(isinstance(part, str) for part in command):
        return None
    env = lenient_object(parsed.get("env"))
    action: JsonObject = {"type": "exec", "command": command,
                          "env": {name: value for name, value in env.items() if isinstance(value, str)}}
    timeout = parsed.get("timeout_ms")
    if isinstance(timeout, float) and timeout.is_integer():
        timeout = int(timeout)
    if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout >= 0:
        action["timeout_ms"] = timeout
    for field in ("working_directory", "user"):
        if lenient_text(parsed.get(field)):
            action[field] = parsed[field]
    return action


def local_shell_item(item_id: str, call_id: str, action: JsonObject, status: str) -> JsonObject:
    return {"id": item_id, "type": "local_shell_call", "call_id": call_id, "status": status, "action": action}


def call_item(origins: dict[str, ToolOrigin], call_id: str, chat_name: str, arguments: str, status: str) -> JsonObject:
    """A Chat tool call → the Responses item of the tool it stands for: function_call (with its namespace),
    custom_tool_call, or local_shell_call (a function_call when its arguments make no exec action). custom_tool_call
    items have no status in the API; arguments stay raw (the caller defaults)."""
    origin = origins.get(chat_name)
    if origin is not None and origin.local_shell:
        action = local_shell_action(arguments)
        if action is not None:
            return local_shell_item(new_id("lsh"), call_id, action, status)
    if origin is None or origin.local_shell:
        return function_call_item(new_id("fc"), call_id, chat_name, arguments, status)
    if origin.custom:
        item = {"id": new_id("ctc"), "type": "custom_tool_call", "call_id": call_id, "name": origin.name,
                "input": custom_input(arguments) if arguments else ""}
    else:
        item = function_call_item(new_id("fc"), call_id, origin.name, arguments, status)
    if origin.namespace:
        item["namespace"] = origin.namespace
    return item


def incomplete_details(finish_reason: object) -> JsonObject | None:
    reason = INCOMPLETE.get(finish_reason) if isinstance(finish_reason, str) else None
    return {"reason": reason} if reason else None


def chat_to_response(completion: JsonObject, requested_model: str, request_document: JsonObject) -> JsonObject:
    """A Chat completion → a Response: reasoning, message (text, refusal) and tool call items, in that order.
    The upstream's answer is translated, never refused: what has the wrong type counts as absent."""
    choice = (lenient_objects(completion.get("choices")) or [{}])[0]
    answer = lenient_object(choice.get("message"))
    output = []
    reasoning = lenient_text(answer.get("reasoning_content")) or lenient_text(answer.get("reasoning"))
    if reasoning:
        output.append(reasoning_item(new_id("rs"), [{"type": "reasoning_text", "text": reasoning}], "completed"))
    text = answer.get("content")
    if isinstance(text, list):
        text = "".join(lenient_text(part.get("text")) for part in lenient_objects(text))
    text = lenient_text(text)
    content = [text_part(text)] if text else []
    refusal = lenient_text(answer.get("refusal"))
    if refusal and refusal != text:
        content.append({"type": "refusal", "refusal": refusal})
    if content:
        output.append(message_item(new_id("msg"), content, "completed"))
    origins = tool_origins(request_document)
    for call in lenient_objects(answer.get("tool_calls")):
        function = lenient_object(call.get("function"))
        output.append(call_item(origins, lenient_text(call.get("id")) or new_id("call"),
                                lenient_text(function.get("name")), lenient_text(function.get("arguments")) or "{}",
                                "completed"))
    details = incomplete_details(choice.get("finish_reason"))
    if details and output and "status" in output[-1]:
        output[-1]["status"] = "incomplete"
    return response_object(new_id("resp"), requested_model, request_document,
                           "incomplete" if details else "completed", output, created_at=int(time.time()),
                           usage=responses_usage(completion.get("usage")), incomplete_details=details)


def anthropic_to_response(message: JsonObject, requested_model: str, request_document: JsonObject) -> JsonObject:
    """An Anthropic Message → a Response (through the Chat completion it translates to)."""
    return chat_to_response(to_chat_completion(message, requested_model), requested_model, request_document)
