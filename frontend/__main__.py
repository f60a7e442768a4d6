"""Runs the frontend: `python -m frontend [--host H] [--port P]`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys

from dario.instance import InstanceError, die_with_parent, hold_instance_lock
from dario.redaction import setup_logging
from dario.settings import ConfigError, load_settings
from frontend.access import refuse_exposed_without_key
from frontend.app import SHUTDOWN_GRACE_SECONDS, init
from frontend.serving import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m frontend", description="dario's HTTP frontend")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1, or DARIO_HOST)")
    parser.add_argument("--port", type=int, help="port to bind (default 3456, or DARIO_PORT)")
    arguments = parser.parse_args(argv)
    try:
        die_with_parent("frontend")
        settings = load_settings()
    except (ConfigError, InstanceError) as error:
        print(f"dario frontend: {error}", file=sys.stderr)
        return 2
    settings = dataclasses.replace(
        settings,
        host=arguments.host or settings.host,
        port=arguments.port if arguments.port is not None else settings.port,
    )
    refusal = refuse_exposed_without_key(settings.host, settings.api_key)
    if refusal:
        print(f"dario frontend: {refusal}", file=sys.stderr)
        return 2
    settings.paths.ensure()
    setup_logging("frontend")
    try:
        instance = hold_instance_lock(settings.paths.run_dir, "frontend")  # before the port: one per DARIO_HOME
    except InstanceError as error:
        print(f"dario frontend: {error}", file=sys.stderr)
        return 2
    try:
        with instance:
            asyncio.run(serve(init(settings), settings.host, settings.port, settings.header_read_timeout,
                              SHUTDOWN_GRACE_SECONDS))
    except OSError as error:  # the port is taken, or the address cannot be bound
        print(f"dario frontend: cannot listen on {settings.host}:{settings.port}: {error.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
