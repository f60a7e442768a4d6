"""Token counts estimated when an upstream reports none (translation.md §5.4): a heuristic over character runs,
the same whether the text comes whole or in stream deltas split anywhere (pure; no vocabulary, no I/O)."""

from __future__ import annotations

import json
import re
import unicodedata

# Characters a token covers, per run of one kind (fitted against a BPE vocabulary: translation.md §5.4).
LETTERS_PER_TOKEN = 6  # a run of Latin letters (a word); its leading space rides along, as in BPE vocabularies
DIGITS_PER_TOKEN = 3  # BPE vocabularies split numbers into groups of up to three digits
SPACES_PER_TOKEN = 8  # indentation
OTHER_LETTERS_PER_TOKEN = 3  # Cyrillic, Greek, Arabic …: smaller merges than Latin
SYMBOLS_PER_TOKEN = 3  # punctuation and symbols merge in short runs ('":', '();', '{"')
NEWLINES_PER_TOKEN = 4
# Per message of a conversation (its role and separators), and per image (whose pixels dario does not read).
MESSAGE_TOKENS = 4
IMAGE_TOKENS = 1000
# Keys of a request whose values never reach the model as text.
UNCOUNTED_KEYS = frozenset(("cache_control", "signature", "id", "tool_use_id", "tool_call_id", "call_id"))
# A request's fields that reach the model as text.
TEXT_FIELDS = ("system", "messages", "instructions", "input", "tools", "functions", "tool_choice", "response_format",
               "output_config", "text")

_LATIN, _DIGIT, _SPACE, _NEWLINE, _SYMBOL, _OTHER_LETTER, _WIDE = range(7)
_PER_TOKEN = {_LATIN: LETTERS_PER_TOKEN, _DIGIT: DIGITS_PER_TOKEN, _SPACE: SPACES_PER_TOKEN,
              _NEWLINE: NEWLINES_PER_TOKEN, _SYMBOL: SYMBOLS_PER_TOKEN, _OTHER_LETTER: OTHER_LETTERS_PER_TOKEN,
              _WIDE: 1}


def _kind(character: str) -> int:
    if character.isascii():
        if character.isalpha():
            return _LATIN
        if character.isdigit():
            return _DIGIT
        if character in "\n\r":
            return _NEWLINE
        return _SPACE if character.isspace() else _SYMBOL
    if character.isspace():
        return _SPACE
    if unicodedata.east_asian_width(character) in ("W", "F"):
        return _WIDE  # CJK ideographs, kana, hangul, emoji: a token or more each
    if character.isalpha():
        return _LATIN if unicodedata.name(character, "").startswith("LATIN") else _OTHER_LETTER
    return _SYMBOL


# Text a TokenCounter holds before it counts: below it, one pass of text_tokens (in C) when the count is read;
# past it, the rest is counted character by character as it comes, so memory stays bounded.
PENDING_CHARS = 1 << 20


class TokenCounter:
    """Counts the tokens of a text fed in pieces; the count does not depend on where the pieces were cut.

    The pieces are only kept until the count is read (most streams report their usage, and then it never is):
    text_tokens counts them in one pass, as the character-by-character rules below would."""

    def __init__(self) -> None:
        self._counted = 0  # of the text fed character by character (past PENDING_CHARS)
        self._kind = -1
        self._run = 0  # length of the current run of one kind
        self._absorbed = False  # the current run's first token took in the character before it
        self._pending: list[str] = []
        self._held = 0
        self._streaming = False
        self._count: int | None = None  # text_tokens of the pending text, once read

    @property
    def tokens(self) -> int:
        if self._streaming:
            return self._counted
        if self._count is None:
            joined = "".join(self._pending)
            self._pending = [joined] if joined else []
            self._count = text_tokens(joined)
        return self._count

    def feed(self, text: str) -> None:
        if self._streaming:
            self._feed(text)
            return
        self._pending.append(text)
        self._held += len(text)
        self._count = None
        if self._held > PENDING_CHARS:
            self._streaming = True
            pending, self._pending = self._pending, []
            for piece in pending:
                self._feed(piece)

    def _feed(self, text: str) -> None:
        for character in text:
            kind = _kind(character)
            if kind != self._kind:
                self._absorbed = self._absorbs(kind)
                if self._absorbed:
                    self._counted -= 1  # " word", "(self", " (": the lone character was counted for nothing
                self._kind, self._run = kind, 0
            if self._run % _PER_TOKEN[kind] == 0:
                self._counted += 1
            self._run += 1

    def _absorbs(self, kind: int) -> bool:
        """Whether a run of `kind` starting now takes in the one character before it, as BPE pre-tokenisers do
        with a space before a word or a symbol, and a symbol before a word."""
        if self._run != 1 or self._absorbed:
            return False
        if self._kind == _SPACE:
            return kind in (_LATIN, _OTHER_LETTER, _SYMBOL)
        return self._kind == _SYMBOL and kind in (_LATIN, _OTHER_LETTER)


class _Classes(dict[int, str]):
    """code point → the one-letter name of its kind (a cache str.translate reads, filled on first sight)."""

    def __missing__(self, code: int) -> str:
        name = _NAMES[_kind(chr(code))]
        self[code] = name
        return name


_NAMES = {_LATIN: "a", _DIGIT: "0", _SPACE: " ", _NEWLINE: "\n", _SYMBOL: ".", _OTHER_LETTER: "o", _WIDE: "w"}
_CLASSES = _Classes()
# On the text's kinds: each run of a kind costs ceil(length / its characters per token) tokens (one pass of the
# regex engine: a run of 13 letters is matched as 6 + 6 + 1), minus the lone characters that the following run
# takes in (TokenCounter._absorbs), counted with str.count.
_RUNS = re.compile("|".join(f"{re.escape(name)}{{1,{_PER_TOKEN[kind]}}}" for kind, name in _NAMES.items()))


def _absorbed(kinds: str) -> int:
    spaces = sum(kinds.count(" " + after) - kinds.count("  " + after) for after in "ao.")
    symbols = sum(kinds.count("." + after) - kinds.count(".." + after)
                  - kinds.count(" ." + after) + kinds.count("  ." + after) for after in "ao")
    return spaces + symbols


def text_tokens(text: str) -> int:
    """The tokens of a whole text, as TokenCounter counts them (the same rules, run in C)."""
    kinds = text.translate(_CLASSES)
    return _RUNS.subn("", kinds)[1] - _absorbed(kinds)


def _strings(value: object, parts: list[str]) -> int:
    """Collects every string inside value (keys too: a schema's property names reach the model); returns the
    images met, which are counted apart."""
    if isinstance(value, str):
        if value.startswith("data:") and ";base64," in value[:100]:
            return 1
        parts.append(value)
        return 0
    if isinstance(value, dict):
        if value.get("type") in ("image", "image_url", "input_image"):
            return 1
        images = 0
        for key, item in value.items():
            if key not in UNCOUNTED_KEYS:
                parts.append(key)
                images += _strings(item, parts)
        return images
    if isinstance(value, list):
        return sum(_strings(item, parts) for item in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        parts.append(json.dumps(value))
    return 0


def request_tokens(document: dict[str, object]) -> int:
    """The input tokens of a Chat, Anthropic or Responses request body, estimated: its text fields (messages,
    system prompt, tool schemas), a few tokens per message, a fixed count per image."""
    parts: list[str] = []
    images = sum(_strings(document.get(field), parts) for field in TEXT_FIELDS)
    messages = document.get("messages")
    count = len(messages) if isinstance(messages, list) else 0
    return text_tokens("\n".join(parts)) + MESSAGE_TOKENS * count + IMAGE_TOKENS * images
