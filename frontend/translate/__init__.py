"""Translation between the client APIs (Anthropic Messages, OpenAI Chat Completions, OpenAI Responses), one module
per direction (pure, no I/O); here the error a request field raises, and the field readers every translator shares."""

from __future__ import annotations

from dario.json_types import JsonArray, JsonObject


class TranslationError(ValueError):
    """A request field the target API cannot honour without changing the answer: the client gets a 400 naming it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


# Client requests: a field of the wrong type is a 400 naming it (absent or empty counts as absent).
def expect_object(value: object, where: str) -> JsonObject:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise TranslationError(where, "must be an object")
    return value


def expect_list(value: object, where: str) -> JsonArray:
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


def require_text(value: object, where: str) -> str:
    text = expect_text(value, where)
    if not text:
        raise TranslationError(where, "is required")
    return text


def expect_flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise TranslationError(where, "must be a boolean")
    return value


# Upstream answers are translated, never refused: what has the wrong type counts as absent.
def lenient_object(value: object) -> JsonObject:
    return value if isinstance(value, dict) else {}


def lenient_objects(value: object) -> list[JsonObject]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def lenient_text(value: object) -> str:
    return value if isinstance(value, str) else ""


def lenient_count(value: object) -> int:
    """A token count: a positive integer, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
