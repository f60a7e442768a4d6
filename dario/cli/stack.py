"""`dario up`, `down`, `restart` and `proxy`: the whole stack under supervisord, from any folder and shell.

`up` writes $DARIO_HOME/run/supervisord.conf (dario.cli.supervisor_config), starts supervisord on it and returns
once this home's frontend answers /health, printing where to point tools; or, when a process cannot start (the
port is taken, config.toml is broken), its own error from its log, after stopping what it started. `down` returns
once supervisord and every service it ran are gone.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time

from dario import __version__
from dario.cli.client import CliError
from dario.cli.logs import log_path, read_since, size_of, tail
from dario.cli.output import Commands
from dario.cli.status import FrontendState, forget_url, frontend_url, probe_frontend, record_url, url_from_config
from dario.cli.supervisor_client import PROGRAMS, Supervisor, alive, pid_from_file, terminate, wait_gone
from dario.cli.supervisor_config import write_config
from dario.config import Config, Paths

UP_TIMEOUT_SECONDS = 60.0
DOWN_TIMEOUT_SECONDS = 90.0  # supervisord stops the frontend first (it drains up to 20 s), stopwaitsecs 30 each
START_TIMEOUT_SECONDS = 30.0  # supervisord parses its config and daemonizes in well under a second
POLL_SECONDS = 0.2
FAILED_STATES = ("BACKOFF", "FATAL", "EXITED")
RETRIED_MARK = "this start is retried"  # an instance-lock refusal: the old process is draining, not an error
PORT_HELP = ("The frontend listens on 127.0.0.1:3456: set DARIO_PORT=N (or --port N), or `port = N` under "
             "[server] in $DARIO_HOME/config.toml; DARIO_HOST / [server] host choose the address (any other than "
             "loopback needs DARIO_API_KEY). DARIO_HOME (default ~/.dario) holds config, vault, logs and sockets.")


def _with_port(config: Config, arguments: argparse.Namespace) -> Config:
    port = getattr(arguments, "port", None)
    return dataclasses.replace(config, server=dataclasses.replace(config.server, port=port)) if port else config


def _environment(config: Config, arguments: argparse.Namespace) -> dict[str, str]:
    """supervisord's (and so the services') environment: this shell's, with the home and port resolved."""
    environment = dict(config.environment.variables, DARIO_HOME=str(config.paths.home))
    if getattr(arguments, "port", None):
        environment["DARIO_PORT"] = str(arguments.port)
    if getattr(arguments, "model", None):
        environment["DARIO_FORCE_MODEL"] = arguments.model
    return environment


def up(config: Config, arguments: argparse.Namespace) -> int:
    config = _with_port(config, arguments)
    paths = config.paths
    paths.ensure()
    supervisor = Supervisor(paths)
    if supervisor.running():
        url = frontend_url(paths, config)
        print(f"dario is already up (supervisord pid {supervisor.pid()}, DARIO_HOME={paths.home})")
        return _wait_serving(supervisor, paths, url, {}, arguments.timeout, started=False,
                             api_key=config.server.api_key)
    supervisor_config = _write_config(paths)
    url = url_from_config(config)
    offsets = {program: size_of(log_path(paths, program)) for program in PROGRAMS}
    problem = _start_supervisord(["-c", str(supervisor_config)], _environment(config, arguments), paths)
    if problem:
        print(f"dario: supervisord did not start: {problem}", file=sys.stderr)
        return 1
    record_url(paths, url)
    return _wait_serving(supervisor, paths, url, offsets, arguments.timeout, started=True,
                         api_key=config.server.api_key)


def _write_config(paths: Paths) -> os.PathLike[str]:
    try:
        return write_config(paths)
    except ValueError as error:
        raise CliError(str(error)) from None


def _start_supervisord(options: list[str], environment: dict[str, str], paths: Paths) -> str:
    """Starts supervisord as a daemon; returns what went wrong ("" once its socket answers)."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", *options], env=environment,
                                   cwd=paths.home, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        try:
            code = process.wait(START_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            return f"it did not daemonize within {START_TIMEOUT_SECONDS:.0f}s"
        output.seek(0)
        text = output.read().decode("utf-8", "replace").strip()
    if code != 0:
        return text or f"it exited with status {code}"
    supervisor, deadline = Supervisor(paths), time.monotonic() + START_TIMEOUT_SECONDS
    while not supervisor.running():
        if time.monotonic() > deadline:
            return f"its socket {supervisor.socket} never answered; see {log_path(paths, 'supervisord')}"
        time.sleep(POLL_SECONDS / 2)
    return ""


def _wait_serving(supervisor: Supervisor, paths: Paths, url: str, offsets: dict[str, int], timeout: float,
                  started: bool, api_key: str) -> int:
    """Until the frontend answers /health as this home's, a process fails to start, or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        frontend = probe_frontend(url, paths, timeout=1.0)
        if frontend.state == "ok" and _all_running(supervisor):
            _print_up(frontend, paths, api_key)
            return 0
        failure = _start_failure(supervisor, paths, offsets)
        if failure or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    print(f"dario: {failure or _timeout_message(frontend, timeout)}", file=sys.stderr)
    for program in _unhealthy(supervisor, frontend):
        lines = _new_lines(paths, program, offsets)[-8:]
        if lines:
            print(f"--- last lines of {log_path(paths, program)}:", *lines, sep="\n", file=sys.stderr)
    if started:
        print("stopping what was started…", file=sys.stderr)
        stop(paths)
    return 1


def _timeout_message(frontend: FrontendState, timeout: float) -> str:
    return (f"the frontend at {frontend.url} is {frontend.state} after {timeout:.0f}s"
            + (f" ({frontend.detail})" if frontend.detail else ""))


def _start_failure(supervisor: Supervisor, paths: Paths, offsets: dict[str, int]) -> str:
    """The error of a program that refused to start, else "".

    A process prints its one-line refusal ("dario frontend: cannot listen on …", "credential_service: …") just
    before it exits 2, and supervisord keeps restarting it, so the line in the log is the signal: the state alone
    may show RUNNING again by the time it is read. A refusal to run twice on one home is not a failure: its old
    process is draining, and the start is retried."""
    for program, info in supervisor.processes().items():
        if program not in offsets and info["statename"] not in FAILED_STATES:
            continue  # a stack this command did not start: old lines in its log say nothing about now
        prefixes = (f"dario {program}: ", f"{program}: ")
        refusals = [line for line in _new_lines(paths, program, offsets) if line.startswith(prefixes)]
        if refusals and RETRIED_MARK not in refusals[-1]:
            reason = next(refusals[-1][len(prefix):] for prefix in prefixes if refusals[-1].startswith(prefix))
            return f"the {program} could not start: {reason}"
        if info["statename"] == "FATAL":
            return f"{program} could not be started: {info['spawnerr'] or 'see its log'}"
    return ""


def _new_lines(paths: Paths, program: str, offsets: dict[str, int]) -> list[str]:
    if program not in offsets:  # a stack this command did not start: its last lines
        return tail(log_path(paths, program), 8)
    return read_since(log_path(paths, program), offsets[program]).decode("utf-8", "replace").splitlines()


def _all_running(supervisor: Supervisor) -> bool:
    """Every program is RUNNING: supervisord says so only once a program has lived `startsecs`, so a frontend may
    answer before; `up` waits for it too, so that a `dario status` (which wants RUNNING) right after it agrees."""
    programs = supervisor.processes()
    return bool(programs) and all(info["statename"] == "RUNNING" for info in programs.values())


def _unhealthy(supervisor: Supervisor, frontend: FrontendState) -> list[str]:
    programs = supervisor.processes()
    failing = [name for name, info in programs.items() if info["statename"] != "RUNNING"]
    return failing or (["frontend"] if not frontend.up else [])


def _print_up(frontend: FrontendState, paths: Paths, api_key: str) -> None:
    key = '"$DARIO_API_KEY"' if api_key else "dario"
    exports = ((f"export ANTHROPIC_BASE_URL={frontend.url} ANTHROPIC_API_KEY={key}", "Anthropic SDKs, Claude Code"),
               (f"export OPENAI_BASE_URL={frontend.url}/v1 OPENAI_API_KEY={key}", "OpenAI SDKs, aider, llm"))
    width = max(len(line) for line, _ in exports)
    print(f"dario {frontend.version or __version__} is up at {frontend.url} (DARIO_HOME={paths.home})\n"
          "Point your tools at it:")
    for line, who in exports:
        print(f"  {line:<{width}}  # {who}")
    print(f"  Codex CLI, in ~/.codex/config.toml: model_provider = \"dario\" and [model_providers.dario] "
          f"base_url = \"{frontend.url}/v1\", env_key = \"OPENAI_API_KEY\", wire_api = \"responses\"\n"
          "Then: dario backend add NAME --preset P --key-env VAR · dario status · dario logs -f · dario down")


def stop(paths: Paths, timeout: float = DOWN_TIMEOUT_SECONDS) -> list[int]:
    """Shuts supervisord down and waits for it and every service it ran; returns the pids still running."""
    supervisor = Supervisor(paths)
    pid = supervisor.pid() or pid_from_file(supervisor.pidfile)
    children = [info["pid"] for info in supervisor.processes().values() if info["pid"]]
    if not supervisor.shutdown():
        terminate([pid])  # it no longer answers its socket: its signal handler still stops everything
    left = wait_gone([pid, *children], timeout)
    if not left:
        forget_url(paths)
    return left


def down(paths: Paths, arguments: argparse.Namespace) -> int:
    supervisor = Supervisor(paths)
    pid = supervisor.pid() or pid_from_file(supervisor.pidfile)
    if not supervisor.running() and not alive(pid):
        print(f"dario is not running (DARIO_HOME={paths.home})")
        return 0
    print(f"stopping dario (supervisord pid {pid}); the frontend finishes requests in flight first…", flush=True)
    left = stop(paths, arguments.timeout)
    if left:
        raise CliError(f"still running after {arguments.timeout:.0f}s: pid(s) {', '.join(map(str, left))}")
    print("dario is down")
    return 0


def restart(config: Config, arguments: argparse.Namespace) -> int:
    code = down(config.paths, argparse.Namespace(timeout=DOWN_TIMEOUT_SECONDS))
    return code or up(config, arguments)


def proxy(config: Config, arguments: argparse.Namespace) -> int:
    """The whole stack in the foreground (supervisord -n) until Ctrl-C; --model forces one model for every request."""
    config = _with_port(config, arguments)
    paths = config.paths
    paths.ensure()
    if Supervisor(paths).running():
        raise CliError(f"dario is already running in the background on {paths.home}: `dario down` first")
    supervisor_config = _write_config(paths)
    record_url(paths, url_from_config(config))
    command = [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(supervisor_config)]
    os.execve(sys.executable, command, _environment(config, arguments))


def add_arguments(commands: Commands) -> None:
    up_parser = commands.add_parser("up", help="start the stack in the background and wait until it serves",
                                    description="Starts supervisord with credential_service, pool_service and the "
                                                "frontend, and waits until the frontend answers. " + PORT_HELP)
    up_parser.add_argument("--port", type=int, help="port of the frontend (default DARIO_PORT, [server] port, 3456)")
    up_parser.add_argument("--timeout", type=float, default=UP_TIMEOUT_SECONDS, help="seconds to wait (default 60)")
    up_parser.set_defaults(with_config=up)
    down_parser = commands.add_parser("down", help="stop the stack; returns once every process is gone")
    down_parser.add_argument("--timeout", type=float, default=DOWN_TIMEOUT_SECONDS,
                             help=f"seconds to wait (default {DOWN_TIMEOUT_SECONDS:.0f})")
    down_parser.set_defaults(handler=down)  # config.toml unread: a broken one must not keep dario up
    restart_parser = commands.add_parser("restart", help="down, then up (picks up [server] and environment changes)",
                                         description=PORT_HELP)
    restart_parser.add_argument("--port", type=int, help="port of the frontend")
    restart_parser.add_argument("--timeout", type=float, default=UP_TIMEOUT_SECONDS, help="seconds to wait")
    restart_parser.set_defaults(with_config=restart)
    proxy_parser = commands.add_parser("proxy", help="run the whole stack in the foreground (Ctrl-C stops it)",
                                       description=PORT_HELP)
    proxy_parser.add_argument("--model", help="force this model for every request")
    proxy_parser.add_argument("--port", type=int, help="port of the frontend (default 3456)")
    proxy_parser.set_defaults(with_config=proxy)
