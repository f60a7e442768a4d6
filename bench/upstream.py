"""The bench's upstream: the tests' scripted OpenAI-compatible provider in its own process, with a fixed delay.

    python -m bench.upstream --port 0 --delay-ms 20     # prints `listening on http://127.0.0.1:PORT/v1`

The scripted provider advertises `x-ratelimit-remaining-requests: 10000 - requests recorded`, with no reset: past
10,000 requests in one process dario (rightly) sees its only credential as exhausted and queues, then answers 429,
while LiteLLM ignores the header. The bench sends about 11,000 in a default run, so this forgets the recorded
requests every second: the budget stays full, and the process's memory flat.
"""

from __future__ import annotations

import argparse
import asyncio

from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.threaded import serve_until_terminated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="delay before every answer's headers")
    arguments = parser.parse_args()
    upstream = ScriptedUpstream(delay=arguments.delay_ms / 1000.0, port=arguments.port)
    asyncio.run(serve_until_terminated(upstream, tick=upstream.requests.clear))


if __name__ == "__main__":
    main()
