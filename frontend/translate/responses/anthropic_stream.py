"""Anthropic upstream stream → OpenAI Responses client stream: Anthropic → Chat (AnthropicToChatStream) → Responses
(ChatToResponsesStream), so both upstream kinds share the one Responses grammar."""

from __future__ import annotations

from dario.json_types import JsonObject
from frontend.translate.anthropic_stream_to_chat import AnthropicToChatStream
from frontend.translate.responses.chat_stream import ChatToResponsesStream
from frontend.usage import Usage


class AnthropicToResponsesStream:
    """Anthropic upstream stream → Responses client stream: Anthropic → Chat (AnthropicToChatStream) → Responses."""

    def __init__(self, requested_model: str, request_document: JsonObject) -> None:
        self.chat = AnthropicToChatStream(requested_model, include_usage=True, include_reasoning=True)
        self.responses = ChatToResponsesStream(requested_model, request_document)

    @property
    def started(self) -> bool:
        return self.responses.started

    @property
    def finished(self) -> bool:
        return self.responses.finished

    @property
    def delivered(self) -> bool:
        return self.responses.finished and self.failure is None

    @property
    def failure(self) -> tuple[int, str] | None:
        """What the record says when the stream ended in an error: the Anthropic side's reading of it first."""
        return self.chat.failure or self.responses.failure

    @property
    def progress(self) -> int:
        return self.chat.progress

    def upstream_usage(self) -> Usage:
        return self.chat.upstream_usage()

    def fail(self, message: str, code: str) -> bytes:
        return self.responses.fail(message, code)

    def feed(self, chunk: bytes) -> bytes:
        return self.responses.feed(self.chat.feed(chunk))

    def finish(self) -> bytes:
        return self.responses.feed(self.chat.finish()) + self.responses.finish()
