"""A whole Chat Completion that came without usage (llama.cpp, Ollama and others may send none): its usage
estimated from the request the upstream got and the answer's text, reasoning and tool calls (translation.md §5.4)."""

from __future__ import annotations

from frontend.token_estimate import request_tokens, text_tokens
from frontend.translate import lenient_count, lenient_object, lenient_objects, lenient_text


def _answer_text(completion: dict[str, object]) -> str:
    parts = []
    for choice in lenient_objects(completion.get("choices")):
        message = lenient_object(choice.get("message"))
        for field in ("reasoning_content", "reasoning", "content", "refusal"):
            parts.append(lenient_text(message.get(field)))
        for call in lenient_objects(message.get("tool_calls")):
            function = lenient_object(call.get("function"))
            parts += [lenient_text(function.get("name")), lenient_text(function.get("arguments"))]
    return "\n".join(part for part in parts if part)


def with_estimated_usage(completion: dict[str, object], request: dict[str, object]) -> tuple[dict[str, object], bool]:
    """The completion with its usage, and whether dario estimated it: the upstream's own when it has counts,
    else (or for the counts it left at zero) the estimate."""
    usage = lenient_object(completion.get("usage"))
    prompt, completion_tokens = lenient_count(usage.get("prompt_tokens")), lenient_count(usage.get("completion_tokens"))
    if prompt and completion_tokens:
        return completion, False
    text = _answer_text(completion)
    if prompt and not text:
        return completion, False
    prompt = prompt or request_tokens(request)
    completion_tokens = completion_tokens or text_tokens(text)
    estimate = {**usage, "prompt_tokens": prompt, "completion_tokens": completion_tokens,
                "total_tokens": prompt + completion_tokens}
    return {**completion, "usage": estimate}, True
