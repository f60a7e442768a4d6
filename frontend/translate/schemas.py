"""JSON schemas as Anthropic's structured outputs accept them (translation.md §2): every object closed with
`additionalProperties: false`, the constraints it refuses left out, recursive schemas refused; and how a
`json_object` request is emulated there."""

from __future__ import annotations

from frontend.translate import TranslationError

# Structured outputs refuse these numeric, length and size constraints (and draft URIs): the answer still has
# the schema's shape, without the bound.
REFUSED_CONSTRAINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
                       "maxLength", "maxItems", "minProperties", "maxProperties", "$schema")
JSON_OBJECT_INSTRUCTION = ("Answer with one valid JSON object and nothing else: no prose before or after it, no "
                           "Markdown code fence.")


def structured_output_schema(schema: dict, where: str) -> dict:
    """A copy of the schema normalised for Anthropic; TranslationError(where) when it is recursive."""
    definitions = {**_object(schema.get("definitions")), **_object(schema.get("$defs"))}
    if _recursive(schema, definitions):
        raise TranslationError(where, "is recursive ($ref to itself), which Anthropic's structured outputs do not "
                               "accept: unroll it to a fixed depth")
    try:
        return _normalised(schema)
    except RecursionError:
        raise TranslationError(where, "is nested too deeply") from None


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _normalised(node: object) -> object:
    if isinstance(node, list):
        return [_normalised(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if key in REFUSED_CONSTRAINTS or (key == "minItems" and isinstance(value, int) and value > 1):
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            result[key] = {name: _normalised(item) for name, item in value.items()}
        else:
            result[key] = _normalised(value)
    if result.get("type") == "object" or (isinstance(result.get("type"), list) and "object" in result["type"]) \
            or "properties" in result:
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


def _recursive(schema: dict, definitions: dict) -> bool:
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
