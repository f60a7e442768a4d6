"""JSON schemas as Anthropic's structured outputs accept them (translation.md §2): every object closed with
`additionalProperties: false`, the constraints it refuses left out, recursive schemas refused; and how a
`json_object` request is emulated there."""

from __future__ import annotations

from typing import Any

from frontend.translate import TranslationError

JsonObject = dict[str, Any]  # a JSON object as json.loads gives it

# Structured outputs refuse these numeric, length and size constraints (and draft URIs): the answer still has
# the schema's shape, without the bound.
REFUSED_CONSTRAINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
                       "maxLength", "maxItems", "minProperties", "maxProperties", "$schema")
JSON_OBJECT_INSTRUCTION = ("Answer with one valid JSON object and nothing else: no prose before or after it, no "
                           "Markdown code fence.")


def structured_output_schema(schema: JsonObject, where: str) -> JsonObject:
    """A copy of the schema normalised for Anthropic; TranslationError(where) when it is recursive."""
    definitions = {**_object(schema.get("definitions")), **_object(schema.get("$defs"))}
    if _recursive(schema, definitions):
        raise TranslationError(where, "is recursive ($ref to itself), which Anthropic's structured outputs do not "
                               "accept: unroll it to a fixed depth")
    try:
        return _object(_normalised(schema))
    except RecursionError:
        raise TranslationError(where, "is nested too deeply") from None


def tool_input_schema(schema: JsonObject, where: str) -> JsonObject:
    """A tool's parameters as Anthropic's JSON Schema 2020-12 check accepts them (translation.md §2): draft-04
    idioms rewritten (boolean exclusiveMinimum/Maximum made numeric, `required: true` on a property moved to its
    parent's `required`), draft URIs left out, an untyped top level made an object; another type is refused."""
    if schema.get("type", "object") != "object":
        raise TranslationError(where, "must be a JSON schema of type object (Anthropic tools take an object input)")
    try:
        return {"type": "object", **_object(_draft04(schema))}
    except RecursionError:
        raise TranslationError(where, "is nested too deeply") from None


def _draft04(node: object) -> object:
    if isinstance(node, list):
        return [_draft04(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: JsonObject = {key: value if key in ("enum", "const", "default", "examples") else _draft04(value)
                          for key, value in node.items() if key != "$schema"}
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(result.get(flag), bool):
            if result[flag] and isinstance(result.get(bound), int | float):
                result[flag] = result.pop(bound)
            else:
                del result[flag]
    properties = result.get("properties")
    if isinstance(properties, dict):
        required = [name for name, item in properties.items()
                    if isinstance(item, dict) and item.get("required") is True]
        for name, item in properties.items():
            if isinstance(item, dict) and isinstance(item.get("required"), bool):
                properties[name] = {key: value for key, value in item.items() if key != "required"}
        if required:
            given = result.get("required")
            listed: list[Any] = given if isinstance(given, list) else []
            result["required"] = [*listed, *(name for name in required if name not in listed)]
    return result


def _object(value: object) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _normalised(node: object) -> object:
    if isinstance(node, list):
        return [_normalised(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: JsonObject = {}
    for key, value in node.items():
        if key in REFUSED_CONSTRAINTS or (key == "minItems" and isinstance(value, int) and value > 1):
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            result[key] = {name: _normalised(item) for name, item in value.items()}
        else:
            result[key] = _normalised(value)
    kind = result.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in result:
        result["additionalProperties"] = False
    return result


def _references(node: object) -> set[str]:
    """The $ref targets anywhere inside a schema node."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            reference = current.get("$ref")
            if isinstance(reference, str):
                found.add(reference)
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return found


def _recursive(schema: JsonObject, definitions: JsonObject) -> bool:
    """Whether a $ref reaches the root or a definition that reaches itself."""
    if "#" in _references(schema):
        return True
    graph = {name: {reference.rsplit("/", 1)[-1] for reference in _references(body)
                    if reference.startswith(("#/$defs/", "#/definitions/"))} for name, body in definitions.items()}
    for start in graph:
        seen, stack = set(), list(graph[start])
        while stack:
            name = stack.pop()
            if name == start:
                return True
            if name not in seen:
                seen.add(name)
                stack.extend(graph.get(name, ()))
    return False


# What Gemini's OpenAI-compatible endpoint refuses in a tool's parameters ("Invalid JSON payload received").
GEMINI_REFUSED = ("$schema", "additionalProperties", "$id", "$comment", "examples")


def without_keywords(node: object, keywords: tuple[str, ...]) -> object:
    """A copy of a schema without those keywords anywhere (a property of that name is kept)."""
    if isinstance(node, list):
        return [without_keywords(item, keywords) for item in node]
    if not isinstance(node, dict):
        return node
    result: JsonObject = {}
    for key, value in node.items():
        if key in keywords:
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            result[key] = {name: without_keywords(item, keywords) for name, item in value.items()}
        else:
            result[key] = without_keywords(value, keywords)
    return result


def gemini_tool_schemas(body: JsonObject) -> None:
    """The tools of a Chat request with what Gemini refuses left out of their parameters, in place."""
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("parameters"), dict):
            function["parameters"] = without_keywords(function["parameters"], GEMINI_REFUSED)
