"""The floor under dario's added latency: a bare aiohttp relay, nothing but the HTTP hop.

    python -m bench.relay --upstream http://127.0.0.1:PORT/v1 --port N

It passes each POST to the same path under the upstream (its body and the headers the upstream needs) and the
answer back as it comes, chunk by chunk, on the same aiohttp and uvloop as dario's frontend. No routing,
credentials, translation, records, limits or deadlines: what any Python proxy built on aiohttp pays for the hop
itself on this machine (bench/floor.py sets it beside dario and direct). Prints "listening on URL" when ready.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
import uvloop
from aiohttp import web

PASSED_HEADERS = ("content-type", "authorization", "x-api-key", "anthropic-version", "accept")


async def serve(upstream: str, port: int) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)

    async def relay(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {name: request.headers[name] for name in PASSED_HEADERS if name in request.headers}
        async with session.post(upstream + request.path.removeprefix("/v1"), data=body, headers=headers) as answer:
            if answer.content_type != "text/event-stream":
                return web.Response(body=await answer.read(), status=answer.status,
                                    headers={"content-type": answer.headers.get("content-type", "")})
            response = web.StreamResponse(status=answer.status, headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", relay)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"listening on http://127.0.0.1:{port}/v1", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await session.close()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True, help="the upstream's base URL, ending in /v1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    uvloop.run(serve(arguments.upstream.rstrip("/"), arguments.port))


if __name__ == "__main__":
    main()
