"""The bench's upstream: the tests' scripted provider in its own process, with a fixed delay and the bench's answers.

    python -m bench.upstream --port 0 --delay-ms 20     # prints `listening on http://127.0.0.1:PORT/v1`

Serves Chat Completions and Anthropic Messages on one port. The answer depends on the request: one carrying tools
(the bench's Claude Code-shaped requests) gets a realistic answer, a 2 KB text in about 40 events and then one tool
call; a model ending in `-10k` gets 10,000 text events; any other (the small request) a one-line echo.

The scripted provider advertises `x-ratelimit-remaining-requests: 10000 - requests recorded`, with no reset: past
10,000 requests in one process dario (rightly) sees its only credential as exhausted and queues, then answers 429,
while the peers ignore the header. The bench sends more than that in a run, so this forgets the recorded
requests every second: the budget stays full, and the process's memory flat.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
from typing import Any

from aiohttp import web

from bench.workloads import LONG_STREAM_SUFFIX, filler
from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.threaded import serve_until_terminated

ANSWER_SIZE = 2048
ANSWER_PIECE = 52  # characters per text event: 40 events for the 2 KB answer
LONG_EVENTS = 10_000
TOOL_CALL = ("Read", {"file_path": "/src/app/config/parse.py", "limit": 200})


class BenchUpstream(ScriptedUpstream):
    """A ScriptedUpstream whose default answer is chosen from the request (never from a queue), and which says which
    endpoints it was asked since the last time (GET /v1/models?seen=1), so the bench knows what a peer really sent."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.seen: collections.Counter[str] = collections.Counter()

    async def _models(self, request: web.Request) -> web.Response:
        """GET /v1/models?seen=1: the endpoints asked since the last such call (then forgotten); else the listing."""
        if request.query.get("seen"):
            seen, self.seen = dict(self.seen), collections.Counter()
            return web.json_response(seen)
        return await super()._models(request)

    def _record(self, request: web.Request) -> None:
        self.seen[request.path.removeprefix(self.prefix)] += 1

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        return await super()._chat(request)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        return await super()._messages(request)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        return await super()._responses(request)

    def _next_script(self, body: bytes) -> Script:
        document = json.loads(body)
        model = str(document.get("model", ""))
        if model.endswith(LONG_STREAM_SUFFIX):
            return Script(content=filler(4 * LONG_EVENTS), piece=4)
        if document.get("tools"):
            return Script(content=filler(ANSWER_SIZE, 11), piece=ANSWER_PIECE, tools=[TOOL_CALL])
        return Script()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="delay before every answer's headers")
    arguments = parser.parse_args()
    upstream = BenchUpstream(delay=arguments.delay_ms / 1000.0, port=arguments.port)
    asyncio.run(serve_until_terminated(upstream, tick=upstream.requests.clear))


if __name__ == "__main__":
    main()
