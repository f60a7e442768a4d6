"""An OpenAI Responses request → a Chat Completions request (translation.md §4): the conversation from
`instructions` and `input` items, the sampling and format fields, and the tools (responses.tools).

dario keeps no server-side state: fields that need it are refused with a 400 naming them. Anthropic backends are
reached through this Chat request (responses.request_to_anthropic), so both paths share one mapping.
"""

from __future__ import annotations

import json

from dario.compat import Profile, default_profile
from dario.json_types import JsonObject
from frontend.translate import TranslationError, expect_flag, expect_list, expect_object, expect_text, require_text
from frontend.translate.responses.tools import LOCAL_SHELL, chat_tool_choice, chat_tool_name, chat_tools, tool_origins

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
# Input items with nothing a translated backend can read: tools (taken into `tools`), OpenAI-encrypted reasoning.
SKIPPED_ITEMS = ("reasoning", "additional_tools", "compaction_trigger")
OUTPUTS = ("function_call_output", "custom_tool_call_output", "local_shell_call_output")


class _Conversation:
    """Chat messages built from `instructions` and `input` items, each remembering the item it came from."""

    def __init__(self, tool_call_content: str | None = "", reasoning_replay: bool = False) -> None:
        self.tool_call_content = tool_call_content  # of an assistant turn that only calls tools (the profile's)
        self.reasoning_replay = reasoning_replay  # reasoning items told as the next assistant turn's reasoning_content
        self.reasoning: list[str] = []
        self.system: list[str] = []
        self.messages: list[JsonObject] = []
        self.origins: list[str] = []
        self.tool_images: list[JsonObject] = []  # function_call_output images: a user message after the tool messages
        self.tool_images_origin = ""

    def add(self, message: JsonObject, origin: str) -> None:
        if self.reasoning:  # reasoning belongs to the assistant turn right after it, none other
            text, self.reasoning = "\n\n".join(self.reasoning), []
            if message["role"] == "assistant" and text.strip():  # DeepSeek refuses an empty one
                message["reasoning_content"] = text
        self.messages.append(message)
        self.origins.append(origin)

    def _keep_reasoning(self, item: JsonObject) -> None:
        """The readable text of a reasoning item (its reasoning_text content, else its summary)."""
        parts = [part for part in item.get("content") or [] if isinstance(part, dict)] or \
            [part for part in item.get("summary") or [] if isinstance(part, dict)]
        self.reasoning += [part["text"] for part in parts if isinstance(part.get("text"), str)]

    def result(self) -> tuple[list[JsonObject], list[str]]:
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
        if kind == "reasoning" and self.reasoning_replay:
            self._keep_reasoning(item)
            return
        if kind in SKIPPED_ITEMS:
            if kind == "additional_tools":  # its tools were taken into the request's tools
                expect_list(item.get("tools"), f"{where}.tools")
            return  # encrypted reasoning is readable by OpenAI only; the other providers answer the same without it
        if kind not in OUTPUTS:
            self._flush_tool_images()
        if kind == "message":
            self._message(item, where)
        elif kind in ("function_call", "custom_tool_call"):
            self._function_call(item, where, custom=kind == "custom_tool_call")
        elif kind == "local_shell_call":
            self._local_shell_call(item, where)
        elif kind in OUTPUTS:
            self._function_output(item, where)
        elif kind == "item_reference":
            raise TranslationError(where, f"{STATELESS}: send the referenced item itself")
        else:
            raise TranslationError(f"{where}.type", f"input items of type {kind!r} cannot be translated; only "
                                   "message, function_call, custom_tool_call, local_shell_call and their outputs can")

    def _message(self, item: JsonObject, where: str) -> None:
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

    def _function_call(self, item: JsonObject, where: str, custom: bool) -> None:
        name = chat_tool_name(require_text(item.get("name"), f"{where}.name"),
                              expect_text(item.get("namespace"), f"{where}.namespace"))
        if custom:  # a custom tool is a function of one string parameter, `input`, on the backend
            arguments = json.dumps({"input": expect_text(item.get("input"), f"{where}.input")}, ensure_ascii=False)
        else:
            arguments = expect_text(item.get("arguments"), f"{where}.arguments") or "{}"
        self._call(require_text(item.get("call_id"), f"{where}.call_id"), name, arguments, where)

    def _local_shell_call(self, item: JsonObject, where: str) -> None:
        """A local_shell_call → a call of the local_shell function, its action's fields (but `type`) the arguments."""
        call_id = expect_text(item.get("call_id"), f"{where}.call_id") or require_text(item.get("id"), f"{where}.id")
        self._call(call_id, LOCAL_SHELL, json.dumps(_shell_arguments(item.get("action"), f"{where}.action"),
                                                    ensure_ascii=False), where)

    def _call(self, call_id: str, name: str, arguments: str, where: str) -> None:
        call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == "assistant":  # one assistant turn: its text, then all its calls
            last.setdefault("tool_calls", []).append(call)
        else:
            self.add({"role": "assistant", "content": self.tool_call_content, "tool_calls": [call]}, where)

    def _function_output(self, item: JsonObject, where: str) -> None:
        if item.get("type") == "local_shell_call_output" and item.get("call_id") is None:
            call_id = require_text(item.get("id"), f"{where}.id")  # the SDK's type names the call by `id`
        else:
            call_id = require_text(item.get("call_id"), f"{where}.call_id")
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


def _shell_arguments(action: object, where: str) -> JsonObject:
    """A local_shell_call's exec action → the local_shell function's arguments (its fields but `type`)."""
    action = expect_object(action, where)
    if action.get("type", "exec") != "exec":
        raise TranslationError(f"{where}.type", "must be exec")
    command = expect_list(action.get("command"), f"{where}.command")
    if not command or not all(isinstance(part, str) for part in command):
        raise TranslationError(f"{where}.command", "is required: a list of strings, the program and its arguments")
    arguments: JsonObject = {"command": command}
    timeout = action.get("timeout_ms")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
            raise TranslationError(f"{where}.timeout_ms", "must be a whole number of milliseconds")
        arguments["timeout_ms"] = timeout
    for field in ("working_directory", "user"):
        if action.get(field) is not None:
            arguments[field] = require_text(action[field], f"{where}.{field}")
    env = expect_object(action.get("env"), f"{where}.env")
    if not all(isinstance(value, str) for value in env.values()):
        raise TranslationError(f"{where}.env", "must map names to strings")
    if env:
        arguments["env"] = env
    return arguments


def _parts(content: object, where: str) -> list[JsonObject]:
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


def _image(part: JsonObject, where: str) -> JsonObject:
    if part.get("file_id"):
        raise TranslationError(f"{where}.file_id", "uploaded files live on OpenAI's servers: send image_url "
                               "(an https URL or a base64 data URL) instead")
    image = {"url": require_text(part.get("image_url"), f"{where}.image_url")}
    if part.get("detail") in ("auto", "low", "high"):
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}


def _file(part: JsonObject, where: str) -> JsonObject:
    if part.get("file_id"):
        raise TranslationError(f"{where}.file_id", "uploaded files live on OpenAI's servers: send file_data instead")
    if part.get("file_url"):
        raise TranslationError(f"{where}.file_url", "dario does not fetch URLs: send file_data instead")
    file = {"file_data": require_text(part.get("file_data"), f"{where}.file_data")}
    if expect_text(part.get("filename"), f"{where}.filename"):
        file["filename"] = part["filename"]
    return {"type": "file", "file": file}


def _response_format(text: JsonObject) -> JsonObject | None:
    output_format = expect_object(text.get("format"), "text.format")
    kind = output_format.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema: JsonObject = {"name": expect_text(output_format.get("name"), "text.format.name") or "output",
                              "schema": expect_object(output_format.get("schema"), "text.format.schema")}
        if expect_text(output_format.get("description"), "text.format.description"):
            schema["description"] = output_format["description"]
        if output_format.get("strict") is not None:
            schema["strict"] = expect_flag(output_format["strict"], "text.format.strict")
        return {"type": "json_schema", "json_schema": schema}
    raise TranslationError("text.format.type", "must be text, json_object or json_schema")


def _refuse_state_and_extras(document: JsonObject) -> None:
    for field, reason in REFUSED.items():
        if document.get(field):  # store=false, background=false and nulls change nothing
            raise TranslationError(field, reason)
    if "message.output_text.logprobs" in expect_list(document.get("include"), "include"):
        raise TranslationError("include", REFUSED["top_logprobs"])



def _number(document: JsonObject, field: str, low: float, high: float, integer: bool = False) -> int | float | None:
    value = document.get(field)
    if value is None:
        return None
    kinds = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise TranslationError(field, f"must be {kind} from {low:g} to {high:g}")
    return value


def chat_request(document: JsonObject, model: str, reasoning_capable: bool,
                 profile: Profile | None = None) -> tuple[JsonObject, list[str], list[str]]:
    """(Chat request for the backend's profile, warnings, origin of each Chat message)."""
    profile = profile or default_profile(model)
    _refuse_state_and_extras(document)
    conversation = _Conversation(profile.tool_call_content, profile.compat.reasoning_replay)
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
    body: JsonObject = {"model": model, "messages": messages}
    expect_list(document.get("tools"), "tools")
    tools, warnings = chat_tools(document)
    if profile.compat.tools_max and len(tools) > profile.compat.tools_max:
        raise TranslationError("tools", f"this backend takes at most {profile.compat.tools_max} tools, and "
                               f"{len(tools)} were sent")
    choice = document.get("tool_choice")
    if tools or (isinstance(choice, dict) and choice.get("type") not in ("function", "custom", "allowed_tools")):
        choice, tools = chat_tool_choice(choice, tools, tool_origins(document))
    if tools:
        body["tools"] = tools
        if choice is not None:
            body["tool_choice"] = choice
        if document.get("parallel_tool_calls") is not None:
            body["parallel_tool_calls"] = bool(document["parallel_tool_calls"])
    for field, target, low, high in (("max_output_tokens", profile.max_tokens_field, 1, 2**31 - 1),
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
    capable = reasoning_capable or profile.model.reasoning_effort
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
        if profile.compat.stream_usage:
            body["stream_options"] = {"include_usage": True}
    return body, warnings, origins


def responses_to_chat(document: JsonObject, upstream_model: str,
                      profile: Profile | None = None) -> tuple[JsonObject, list[str]]:
    """A Responses request → a Chat Completions request for an OpenAI-compatible backend (its profile's fields),
    and the fields warned."""
    body, warnings, _ = chat_request(document, upstream_model, reasoning_capable=False, profile=profile)
    return body, warnings
