"""Runs the frontend: `python -m frontend [--host H] [--port P]`."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from dario import collector, event_loop
from dario.config import ConfigError, Environment, load_config
from dario.instance import InstanceError, die_with_parent, hold_instance_lock
from dario.logs import setup_logging
from frontend.access import refuse_exposed_without_key
from frontend.app import SHUTDOWN_GRACE_SECONDS, init
from frontend.serving import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m frontend", description="dario's HTTP frontend")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1, or DARIO_HOST)")
    parser.add_argument("--port", type=int, help="port to bind (default 3456, or DARIO_PORT)")
    arguments = parser.parse_args(argv)
    try:
        environment = Environment.read()  # the one read of the process environment
        die_with_parent("frontend", environment.variables)
        config = load_config(environment)
    except (ConfigError, InstanceError) as error:
        print(f"dario frontend: {error}", file=sys.stderr)
        return 2
    server = dataclasses.replace(
        config.server,
        host=arguments.host or config.server.host,
        port=arguments.port if arguments.port is not None else config.server.port,
    )
    config = dataclasses.replace(config, server=server)
    refusal = refuse_exposed_without_key(server.host, server.api_key)
    if refusal:
        print(f"dario frontend: {refusal}", file=sys.stderr)
        return 2
    config.paths.ensure()
    setup_logging("frontend")
    collector.tune()
    try:
        instance = hold_instance_lock(config.paths.run_dir, "frontend")  # before the port: one per DARIO_HOME
    except InstanceError as error:
        print(f"dario frontend: {error}", file=sys.stderr)
        return 2
    try:
        with instance:
            event_loop.run(serve(init(config), server.host, server.port, config.limits.header_seconds,
                                 SHUTDOWN_GRACE_SECONDS), environment)
    except OSError as error:  # the port is taken, or the address cannot be bound
        print(f"dario frontend: cannot listen on {server.host}:{server.port}: {error.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
