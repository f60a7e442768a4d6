"""`dario status`: every process (the frontend too, over HTTP), supervisord, and each credential's state in the
pool; exits 1 when any process is down."""

from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass

from rich.table import Table

from dario.cli import accounts
from dario.cli.client import AdminClient, CliError
from dario.cli.output import console, print_json, styled
from dario.cli.supervisor_client import Supervisor
from dario.config import Config, Paths
from dario.json_types import JsonObject
from dario.v1 import pool_pb2

HEALTH_TIMEOUT_SECONDS = 2.0
URL_FILE = "frontend.url"  # in run/: the URL `dario up` started the frontend on (its shell's DARIO_PORT included)


@dataclass(frozen=True)
class FrontendState:
    url: str
    state: str  # ok, degraded (a service is down), not answering, or another server (not this home's frontend)
    version: str = ""
    detail: str = ""

    @property
    def up(self) -> bool:
        return self.state in ("ok", "degraded")


def url_from_config(config: Config) -> str:
    host = config.server.host
    if host in ("0.0.0.0", "::", ""):  # bound everywhere: clients on this machine use loopback
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.server.port}"


def frontend_url(paths: Paths, config: Config) -> str:
    """The URL `dario up` recorded while the stack runs, else the one this shell's config names."""
    with contextlib.suppress(OSError):
        recorded = (paths.run_dir / URL_FILE).read_text(encoding="utf-8").strip()
        if recorded.startswith("http://") and Supervisor(paths).running():
            return recorded
    return url_from_config(config)


def record_url(paths: Paths, url: str) -> None:
    (paths.run_dir / URL_FILE).write_text(url + "\n", encoding="utf-8")


def forget_url(paths: Paths) -> None:
    (paths.run_dir / URL_FILE).unlink(missing_ok=True)


def probe_frontend(url: str, paths: Paths, timeout: float = HEALTH_TIMEOUT_SECONDS) -> FrontendState:
    """GET /health; it must be this home's frontend (its credential socket is ours), not whatever has the port."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as answer:
            document = json.loads(answer.read(65536))
    except (OSError, ValueError) as error:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        return FrontendState(url, "not answering", detail=str(getattr(reason, "strerror", None) or reason))
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict):
        services = {}
    socket_path = (services.get("credential_service") or {}).get("socket")
    if socket_path != str(paths.credential_socket):
        return FrontendState(url, "another server", detail="something else answers on this port (not the frontend "
                                                          f"of {paths.home}): see `dario logs frontend`")
    version = str(document.get("version", ""))
    if document.get("status") == "ok":
        return FrontendState(url, "ok", version)
    down = [name for name, service in services.items() if isinstance(service, dict)
            and service.get("state") != "SERVING"]
    return FrontendState(url, "degraded", version, f"it cannot reach {', '.join(down) or 'a service'}")


def status(config: Config, arguments: argparse.Namespace) -> int:
    paths = config.paths
    supervisor = Supervisor(paths)
    programs = supervisor.processes()
    frontend = probe_frontend(frontend_url(paths, config), paths)
    report: JsonObject = {"home": str(paths.home), "frontend": asdict(frontend),
                    "supervisord": {"running": bool(programs), "pid": supervisor.pid() if programs else None,
                                    "programs": {name: {"state": info["statename"], "pid": info["pid"] or None}
                                                 for name, info in programs.items()}}}
    with AdminClient(paths) as client:
        services = {name: client.health(name) for name in ("credential_service", "pool_service")}
        report["services"] = {name: {"state": state, "socket": str(_socket(paths, name))}
                              for name, state in services.items()}
        rows, pool_known, summary, backends = [], False, None, []
        if services["credential_service"] == "SERVING":
            known = accounts.pool_accounts(client) if services["pool_service"] == "SERVING" else None
            backends = accounts.list_backends(client)
            rows, pool_known = accounts.credential_rows(backends, known), known is not None
        if services["pool_service"] == "SERVING":
            summary = _summary(client)
    report["backends"], report["credentials"], report["summary"] = len(backends), rows, summary
    down = [name for name, state in services.items() if state != "SERVING"] + ([] if frontend.up else ["frontend"])
    report["ok"] = not down
    if arguments.json:
        print_json(report)
    else:
        _print(report, frontend, rows, pool_known, summary)
    if down:
        hint = "dario up" if not programs else "dario logs " + " ".join(down)
        print(f"not running: {', '.join(down)}. See: {hint}", file=sys.stderr)
        return 1
    return 0


def _socket(paths: Paths, name: str) -> pathlib.Path:
    return paths.credential_socket if name == "credential_service" else paths.pool_socket


def _summary(client: AdminClient) -> JsonObject | str:
    try:
        answer = client.call("pool_service", client.pool().Summary, pool_pb2.SummaryRequest())
    except CliError as error:
        return f"pool summary not available: {error}"
    return {"requests": answer.requests, "errors": answer.errors, "input_tokens": answer.input_tokens,
            "output_tokens": answer.output_tokens}


def _print(report: JsonObject, frontend: FrontendState, rows: list[JsonObject], pool_known: bool,
           summary: JsonObject | str | None) -> None:
    table = Table("process", "state", "where")
    style = {"ok": "green", "degraded": "yellow"}.get(frontend.state, "red")
    detail = frontend.url + (f" (dario {frontend.version})" if frontend.version else "")
    detail += f": {frontend.detail}" if frontend.detail else ""
    table.add_row("frontend", styled(frontend.state, style), detail)
    for name, service in report["services"].items():
        table.add_row(name, styled(service["state"], "green" if service["state"] == "SERVING" else "red"),
                      service["socket"])
    supervisord = report["supervisord"]
    table.add_row("supervisord", styled("running" if supervisord["running"] else "not running",
                                        "green" if supervisord["running"] else "yellow"),
                  f"pid {supervisord['pid']}" if supervisord["pid"] else "start everything with `dario up`")
    console.print(table)
    if report["services"]["credential_service"]["state"] == "SERVING":
        console.print(f"{report['backends']} backend(s), {len(rows)} credential(s)")
        if rows:
            console.print(accounts.credentials_table(rows, pool_known))
    if isinstance(summary, dict):
        console.print(f"{summary['requests']} request(s) recorded ({summary['errors']} errors), "
                      f"{summary['input_tokens']} input / {summary['output_tokens']} output tokens")
    elif summary:
        console.print(summary)
