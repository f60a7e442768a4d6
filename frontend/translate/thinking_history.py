"""Thinking blocks an Anthropic backend cannot verify, taken out of a request's history (translation.md §5.3):
those dario made from an OpenAI-compatible upstream's reasoning (its synthetic signature) and those with no
signature, which Anthropic refuses ("Invalid signature in thinking block") instead of ignoring."""

from __future__ import annotations

from frontend.translate.chat_answer_to_anthropic import SYNTHETIC_SIGNATURE

DROPPED = "thinking_blocks"  # named in x-dario-translation-dropped
THINKING_OFF = "thinking"  # named when thinking had to be turned off for the request


def _unverifiable(block: object) -> bool:
    if not isinstance(block, dict) or block.get("type") != "thinking":
        return False
    signature = block.get("signature")
    return not isinstance(signature, str) or not signature or signature == SYNTHETIC_SIGNATURE


def without_unverifiable_thinking(document: dict[str, object]) -> tuple[dict[str, object] | None, list[str]]:
    """(the request without them, or None when it has none; what was dropped, for the header). An assistant turn
    left empty is left out (Anthropic joins the turns around it). When the last assistant turn lost its thinking
    and calls tools while thinking is enabled, thinking is turned off for this request: Anthropic requires that
    turn to start with a thinking block."""
    messages = document.get("messages")
    if not isinstance(messages, list):
        return None, []
    assistants = [index for index, message in enumerate(messages)
                  if isinstance(message, dict) and message.get("role") == "assistant"]
    result, dropped_last = [], False
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not assistants or not isinstance(content, list) or not any(_unverifiable(block) for block in content):
            result.append(message)
            continue
        kept = [block for block in content if not _unverifiable(block)]
        if index == assistants[-1]:
            dropped_last = any(isinstance(block, dict) and block.get("type") == "tool_use" for block in kept)
        if kept:
            result.append({**message, "content": kept})
    if len(result) == len(messages) and all(new is old for new, old in zip(result, messages)):
        return None, []
    changed, notes = {**document, "messages": result}, [DROPPED]
    thinking = document.get("thinking")
    if dropped_last and isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        del changed["thinking"]
        notes.append(THINKING_OFF)
    return changed, notes
