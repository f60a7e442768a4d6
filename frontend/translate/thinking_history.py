"""Thinking blocks taken out of a request's history for an Anthropic backend (translation.md §5.3).

Before the request goes: those no Anthropic backend can verify, dario's own (made from an OpenAI-compatible
upstream's reasoning, its synthetic signature) and those with no signature, which Anthropic refuses ("Invalid
signature in thinking block") instead of ignoring. After Anthropic refused a signature anyway (one it made for
another model or account: Claude Code switched model, the pool failed over to another account): every thinking and
redacted_thinking block, for the one retry (`frontend.upstream.thinking_retry`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from frontend.translate.chat_answer_to_anthropic import SYNTHETIC_SIGNATURE

DROPPED = "thinking_blocks"  # named in x-dario-translation-dropped
THINKING_OFF = "thinking"  # named when thinking had to be turned off for the request
THINKING_TYPES = ("thinking", "redacted_thinking")
# Anthropic's 400 for a signature it did not make for this model and account, as it words it
# ("messages.1.content.0: Invalid `signature` in `thinking` block"), with or without the backticks.
REFUSED_SIGNATURE = re.compile(r"invalid\W+signature\W+in\W+(?:redacted_)?thinking\W+block", re.IGNORECASE)


@dataclass(frozen=True)
class Stripped:
    document: dict[str, object]  # the request without them
    blocks: int  # how many blocks were taken out
    thinking_off: bool  # the `thinking` parameter was taken out too

    @property
    def notes(self) -> list[str]:
        """What was dropped, for x-dario-translation-dropped."""
        return [DROPPED, THINKING_OFF] if self.thinking_off else [DROPPED]


def _unverifiable(block: object) -> bool:
    if not isinstance(block, dict) or block.get("type") != "thinking":
        return False
    signature = block.get("signature")
    return not isinstance(signature, str) or not signature or signature == SYNTHETIC_SIGNATURE


def _any_thinking(block: object) -> bool:
    return isinstance(block, dict) and block.get("type") in THINKING_TYPES


def without_unverifiable_thinking(document: dict[str, object]) -> tuple[dict[str, object] | None, list[str]]:
    """(the request without dario's and unsigned thinking blocks, or None when it has none; what was dropped, for
    the header)."""
    stripped = _without(document, _unverifiable)
    return (stripped.document, stripped.notes) if stripped is not None else (None, [])


def without_thinking_blocks(document: dict[str, object]) -> Stripped | None:
    """The request without any thinking or redacted_thinking block in its assistant turns; None when it has none."""
    return _without(document, _any_thinking)


def refuses_signature(error_body: str) -> bool:
    """Whether an Anthropic error body is its refusal of a thinking block's signature."""
    return REFUSED_SIGNATURE.search(error_body) is not None


def _without(document: dict[str, object], drop: Callable[[object], bool]) -> Stripped | None:
    """The request without the assistant turns' blocks `drop` picks; None when there are none. An assistant turn
    left empty is left out (Anthropic joins the turns around it). When the last assistant turn lost its thinking
    and calls tools while thinking is enabled, thinking is turned off for this request: Anthropic requires that
    turn to start with a thinking block. The document given is never modified."""
    messages = document.get("messages")
    if not isinstance(messages, list):
        return None
    assistants = [index for index, message in enumerate(messages)
                  if isinstance(message, dict) and message.get("role") == "assistant"]
    result, dropped_last, count = [], False, 0
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list) or message.get("role") != "assistant" \
                or not any(drop(block) for block in content):
            result.append(message)
            continue
        kept = [block for block in content if not drop(block)]
        count += len(content) - len(kept)
        if index == assistants[-1]:
            dropped_last = any(isinstance(block, dict) and block.get("type") == "tool_use" for block in kept)
        if kept:
            result.append({**message, "content": kept})
    if not count:
        return None
    changed: dict[str, object] = {**document, "messages": result}
    thinking = document.get("thinking")
    off = dropped_last and isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
    if off:
        del changed["thinking"]
    return Stripped(changed, count, off)
