"""frontend.json_codec: orjson's speed, the standard library's answers wherever the two would differ."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontend import json_codec

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_what_it_writes_reads_back_as_json_reads_what_json_writes(value: object) -> None:
    written = json_codec.dumps(value)
    assert json.loads(written) == json.loads(json.dumps(value)) == json_codec.loads(written)
    assert b" " not in written.replace(b"\\ ", b"") or any(" " in text for text in _strings(value))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (key, *_strings(item))]
    return []


@pytest.mark.parametrize("text", [
    '{"a": NaN}', '{"a": Infinity}', '{"a": 1e400}', '{"a": "\\ud800"}', '{"a": 18446744073709551615}',
    '{"a": -9223372036854775808}', '{"a": 1, "a": 2}',
])
def test_it_reads_what_orjson_refuses_or_reads_otherwise_as_json_does(text: str) -> None:
    expected, got = json.loads(text), json_codec.loads(text)
    assert repr(got) == repr(expected)  # repr: nan != nan, and 1.0 == 1
    assert json_codec.loads(text.encode()) == got or math.isnan(got["a"])


@pytest.mark.parametrize("text", ["", "{", "[1,]", "nul", '{"a" 1}'])
def test_it_refuses_what_json_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        json_codec.loads(text)


def test_an_integer_past_64_bits_is_read_as_a_float_as_its_docstring_warns() -> None:
    """Why request bodies and whole upstream answers (tool inputs) are parsed by json, not by json_codec."""
    assert json_codec.loads('{"a": 123456789012345678901234567890}') == {"a": 1.2345678901234568e29}
    assert json.loads('{"a": 123456789012345678901234567890}') == {"a": 123456789012345678901234567890}


def test_deep_nesting_fails_as_json_fails() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(deep)
    with pytest.raises(RecursionError):
        json_codec.loads(deep)


def test_what_orjson_cannot_write_is_written_exactly() -> None:
    assert json_codec.dumps({"a": 2**70}) == b'{"a":1180591620717411303424}'
    assert json_codec.dumps({1: "x"}) == b'{"1":"x"}'
    assert json_codec.dumps({"t": "\ud800 é"}) == b'{"t":"\\ud800 \\u00e9"}'  # no UTF-8 form: escaped, all of it
    assert json_codec.dumps({"t": "é 😀"}) == '{"t":"é 😀"}'.encode()
    with pytest.raises(TypeError):
        json_codec.dumps({"a": object()})


def test_nan_is_written_as_null() -> None:
    assert json_codec.dumps([math.nan, math.inf]) == b"[null,null]"
