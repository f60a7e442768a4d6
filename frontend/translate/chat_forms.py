"""Chat Completions request fields in their older or newer forms told in the one form the translators read
(TRANSLATION's §4 rows, translation.md §2): legacy function calling (`functions`, `function_call`, `role:
"function"`) as tools, and `tool_choice: {type: allowed_tools}` as a filter on the tools."""

from __future__ import annotations

from typing import Any

from frontend.translate import TranslationError, expect_list, expect_object, expect_text

JsonObject = dict[str, Any]  # a JSON object as json.loads gives it


def _legacy_messages(messages: list[Any]) -> list[Any]:
    """Assistant `function_call`s become tool calls with ids, and each `function` message the result of the
    latest one (legacy calls carry no id: the position of the assistant turn stands for it)."""
    result, last_id = [], ""
    for index, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "assistant" and \
                isinstance(message.get("function_call"), dict) and not message.get("tool_calls"):
            call = message["function_call"]
            last_id = f"call_legacy_{index}"
            message = {key: value for key, value in message.items() if key != "function_call"}
            message["tool_calls"] = [{"id": last_id, "type": "function", "function": {
                "name": expect_text(call.get("name"), f"messages[{index}].function_call.name"),
                "arguments": expect_text(call.get("arguments"), f"messages[{index}].function_call.arguments")}}]
        elif isinstance(message, dict) and message.get("role") == "function" and not message.get("tool_call_id"):
            message = {"role": "tool", "tool_call_id": last_id or f"call_legacy_{index}",
                       "content": message.get("content")}
        result.append(message)
    return result


def _allowed(document: JsonObject, choice: JsonObject) -> JsonObject:
    allowed = expect_object(choice.get("allowed_tools"), "tool_choice.allowed_tools") or choice
    mode = allowed.get("mode", "auto")
    if mode not in ("auto", "required"):
        raise TranslationError("tool_choice.allowed_tools.mode", "must be auto or required")
    names = set()
    for index, tool in enumerate(expect_list(allowed.get("tools"), "tool_choice.allowed_tools.tools")):
        function = expect_object(expect_object(tool, f"tool_choice.allowed_tools.tools[{index}]").get("function"),
                                 f"tool_choice.allowed_tools.tools[{index}].function")
        names.add(function.get("name") or expect_object(tool, "").get("name"))
    kept = [tool for tool in expect_list(document.get("tools"), "tools")
            if isinstance(tool, dict) and expect_object(tool.get("function"), "tools").get("name") in names]
    if not kept:
        raise TranslationError("tool_choice.allowed_tools.tools", "names none of the request's tools")
    return dict(document, tools=kept, tool_choice=mode)


def core_form(document: JsonObject) -> JsonObject:
    """The request with legacy and allowed_tools forms rewritten (the client's document is left as it was)."""
    if document.get("functions") and not document.get("tools"):
        document = dict(document, tools=[{"type": "function", "function": function}
                                         for function in expect_list(document["functions"], "functions")])
    call = document.get("function_call")
    if call is not None and document.get("tool_choice") is None:
        if call in ("auto", "none"):
            document = dict(document, tool_choice=call)
        elif isinstance(call, dict) and isinstance(call.get("name"), str):
            document = dict(document, tool_choice={"type": "function", "function": {"name": call["name"]}})
        else:
            raise TranslationError("function_call", "must be auto, none or {name}")
    messages = document.get("messages")
    if isinstance(messages, list) and any(isinstance(message, dict) and (
            message.get("function_call") or message.get("role") == "function") for message in messages):
        document = dict(document, messages=_legacy_messages(messages))
    choice = document.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        document = _allowed(document, choice)
    return document
