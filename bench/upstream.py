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
import contextlib
import signal

from tests.support.scripted_upstream import ScriptedUpstream


async def serve_until_terminated(port: int, delay: float) -> None:
    upstream = ScriptedUpstream(delay=delay, port=port)
    await upstream.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopping.set)
    print(f"listening on {upstream.base_url}", flush=True)
    try:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1.0)
            upstream.requests.clear()
    finally:
        await upstream.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="delay before every answer's headers")
    arguments = parser.parse_args()
    asyncio.run(serve_until_terminated(arguments.port, arguments.delay_ms / 1000.0))


if __name__ == "__main__":
    main()
