"""OpenAI ⇄ Anthropic translation: requests, responses, errors and stream state machines (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Mapping


class TranslationError(ValueError):
    """A request field the target API cannot honour without changing the answer: the client gets a 400 naming it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


# Client requests: a field of the wrong type is a 400 naming it (absent or empty counts as absent).
def expect_object(value: object, where: str) -> dict:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise TranslationError(where, "must be an object")
    return value


def expect_list(value: object, where: str) -> list:
    if not value:
        return []
    if not isinstance(value, list):
        raise TranslationError(where, "must be an array")
    return value


def expect_text(value: object, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TranslationError(where, "must be a string")
    return value


# Upstream answers are translated, never refused: what has the wrong type counts as absent.
def lenient_object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def lenient_objects(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def lenient_text(value: object) -> str:
    return value if isinstance(value, str) else ""


def chat_tool_call_key(position: int, call: dict, known: Mapping[object, object],
                       id_of: Callable[[object], str]) -> object:
    """Which tool call a Chat Completions stream fragment belongs to: its `index` (its position when it has
    none), or its id when a server reuses index 0 for calls with distinct ids. `known` maps the keys seen so
    far to their calls; `id_of` reads a known call's id."""
    index = call.get("index") if isinstance(call.get("index"), int) else position
    identifier = lenient_text(call.get("id"))
    seen = known.get(index)
    if seen is not None and identifier and identifier != id_of(seen):
        return identifier
    if identifier and identifier in known:
        return identifier
    return index
