"""A request refused for a thinking signature Anthropic made for another model or account, sent once more.

Claude Code switching model, or the pool failing over to another account or backend, leaves earlier assistant turns
with thinking blocks signed for someone else; Anthropic answers 400 ("messages.1.content.0: Invalid `signature` in
`thinking` block") to the whole request. When an Anthropic backend answers a request that has thinking blocks with
a 400, its body is read here (bounded and under the call's deadlines, as it would be to pass it back) and, when it
is that refusal, the request goes once more to the same credential without every thinking and redacted_thinking
block (and without `thinking` when the last assistant turn would then start with its tool_use): translation.md
§5.3. The client is told with x-dario-thinking-dropped; the record counts the attempt, with CREDENTIAL:NOTE among
its failovers.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from dario.catalog import Backend
from dario.presets import speaks
from frontend.exchange import Exchange
from frontend.translate.thinking_history import THINKING_OFF, Stripped, refuses_signature, without_thinking_blocks
from frontend.upstream.relay import PassThrough, Upstream, read_whole

if TYPE_CHECKING:  # frontend.dialects imports the translators, which import this package
    from frontend.dialects import Dialect

log = logging.getLogger(__name__)

HEADER = "x-dario-thinking-dropped"  # how many thinking blocks the retried request went without
DROPPED_HEADER = "x-dario-translation-dropped"  # names `thinking` when the parameter was dropped too
NOTE = "thinking_signature"  # the first attempt's entry in the record's failover


def strippable(payload: bytes, dialect: Dialect, backend: Backend) -> Stripped | None:
    """The request as it would go without its thinking blocks, when it is Anthropic's and has some."""
    if not speaks(backend.kind, "anthropic") or dialect.native_kind != "anthropic" or b"thinking" not in payload:
        return None
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    return without_thinking_blocks(document) if isinstance(document, dict) else None


async def refused(request: web.Request, upstream: Upstream, exchange: Exchange, dialect: Dialect) -> tuple[bool, bytes]:
    """(whether the 400 is the refusal of a signature; its body, read whole and scrubbed, to pass back if not).
    RelayFailed when it cannot be read, as when it is passed back."""
    body = await read_whole(request, upstream, PassThrough(dialect, events=False), exchange,
                            upstream.limits.error_bytes, "upstream_error_bytes")
    return refuses_signature(body.decode("utf-8", "replace")), body


def retried(stripped: Stripped, headers: dict[str, str], backend: str) -> tuple[bytes, dict[str, str]]:
    """The payload to send once more, and the client's headers of dario's with what was dropped."""
    log.info("backend %r refused a thinking signature made for another model or account; sending the request once "
             "more without its %d thinking block(s)%s", backend, stripped.blocks,
             " and without thinking" if stripped.thinking_off else "")
    changed = {**headers, HEADER: str(stripped.blocks)}
    if stripped.thinking_off:
        changed[DROPPED_HEADER] = ",".join(filter(None, (headers.get(DROPPED_HEADER, ""), THINKING_OFF)))
    return json.dumps(stripped.document, ensure_ascii=False).encode(), changed
