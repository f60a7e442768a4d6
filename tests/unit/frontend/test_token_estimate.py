"""The token estimate used when an upstream reports no usage (translation.md §5.4)."""

from __future__ import annotations

from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from frontend import token_estimate
from frontend.token_estimate import IMAGE_TOKENS, MESSAGE_TOKENS, TokenCounter, request_tokens, text_tokens

# Characters of every kind the estimate tells apart, so that generated texts cross every boundary.
ALPHABET = " a.Z9\n\t\r_{}\"éß漢字ЖхΩ🚀\u00a0\x1c-"


def counted(pieces: list[str]) -> int:
    counter = TokenCounter()
    for piece in pieces:
        counter.feed(piece)
    return counter.tokens


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60), st.lists(st.integers(min_value=0, max_value=60), max_size=8))
def test_a_text_fed_in_pieces_counts_as_the_whole_text(text: str, cuts: list[int]) -> None:
    bounds = [0, *sorted(min(cut, len(text)) for cut in cuts), len(text)]
    pieces = [text[start:end] for start, end in zip(bounds, bounds[1:])]
    assert counted(pieces) == counted(list(text)) == text_tokens(text)


def test_words_numbers_and_wide_characters_count_as_a_vocabulary_would() -> None:
    assert text_tokens("") == 0
    assert text_tokens("hello world") == 2  # the space rides with the word
    assert text_tokens("internationalization") == 4  # a long word costs a token per six letters
    assert text_tokens("1234567") == 3  # digits in groups of three
    assert text_tokens("漢字漢字") == 4  # a wide character is a token
    assert text_tokens("foo(self)") == 3  # "foo", "(self", ")"


def test_a_request_counts_its_text_messages_and_images() -> None:
    text_only = {"model": "m", "messages": [{"role": "user", "content": "hello world"}]}
    assert request_tokens(text_only) == text_tokens("role\nuser\ncontent\nhello world") + MESSAGE_TOKENS
    with_image = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100_000}}]}]}
    assert IMAGE_TOKENS <= request_tokens(with_image) < IMAGE_TOKENS + 20  # the image's bytes are not text
    assert request_tokens({"model": "a-very-long-model-name " * 50}) == 0  # only what reaches the model counts


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60), st.lists(st.integers(min_value=0, max_value=60), max_size=8),
       st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=8))
def test_past_the_text_it_holds_the_counter_counts_as_it_goes_with_the_same_result(
        text: str, cuts: list[int], held: int, read_after: int) -> None:
    """Over PENDING_CHARS the counter stops holding text and runs its character rules: the count is text_tokens'
    however the text was cut, and however often it was read on the way."""
    bounds = [0, *sorted(min(cut, len(text)) for cut in cuts), len(text)]
    pieces = [text[start:end] for start, end in zip(bounds, bounds[1:])]
    with mock.patch.object(token_estimate, "PENDING_CHARS", held):
        counter = TokenCounter()
        for number, piece in enumerate(pieces):
            counter.feed(piece)
            if number == read_after:
                assert counter.tokens == text_tokens("".join(pieces[: number + 1]))
        assert counter.tokens == text_tokens(text)
