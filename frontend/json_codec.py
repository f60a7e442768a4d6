"""JSON on the request path: orjson (3x faster than the standard library at parsing the bodies and events dario
reads, 30x at writing them), and the standard library wherever orjson would give another result.

loads: what orjson refuses (NaN, a lone surrogate escape, a number past a double, nesting past 1024) is parsed by
json as before, so nothing json accepted is refused. orjson reads an integer past 64 bits as a float, so what
holds numbers that go on to another party as they came stays with json: client request bodies
(frontend.request_parsing) and whole upstream answers, whose tool inputs are JSON values
(frontend.upstream.translated). loads is for stream events (tool arguments travel in them as strings) and usage.

dumps: compact UTF-8; what orjson cannot write (an integer past 64 bits, a string holding half a surrogate pair, a
key that is no string) is written by json, half a surrogate pair as its \\u escape. Where the two differ on what
both write: NaN and infinities become null (json wrote the invalid NaN), and exponents lose their leading zero
(1e-7, not 1e-07).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """The document; ValueError (or RecursionError) when it is not JSON, as json.loads."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of value (\\u escapes only where a string has no UTF-8 form)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: a big integer, half a surrogate pair, a key that is no string
        pass
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate (an upstream's \ud800 escape) has no UTF-8: keep it escaped
        return json.dumps(value, separators=(",", ":")).encode()
