"""Portkey's gateway for the bench: `npm install @portkey-ai/gateway` into bench/.peers/portkey (gitignored) when
missing, started with `node build/start-server.js --port=N --headless` from the package, and the headers that
point it at the scripted upstream (`x-portkey-provider`, `x-portkey-custom-host`; a pool as `x-portkey-config`
with a load-balancing strategy over three keys). Nothing of Portkey's is in the repository."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from bench.litellm_setup import Unavailable, log_tail, stop_group

BENCH = pathlib.Path(__file__).resolve().parent
FOLDER = BENCH / ".peers" / "portkey"
PACKAGE = "@portkey-ai/gateway"
VERSION = "1.15.2"  # seen to work with this bench
# The gateway's own range (^1.3.3) now resolves to a @hono/node-server whose Response has immutable headers: every
# streamed answer is then a 500 "Something went wrong" (TypeError: immutable in updateHeaders; Portkey-AI/gateway
# issue 1389 reports the same for plain answers past 1.14.2, and streaming still fails with 1.14.2). 1.12.2 works.
NODE_SERVER = "1.12.2"
INSTALL_TIMEOUT_SECONDS = 600
START_TIMEOUT_SECONDS = 60


# Binds the gateway to 127.0.0.1 (it has no host option and would listen on every interface).
LOOPBACK_PRELOAD = pathlib.Path(__file__).with_name("portkey_loopback.cjs")


def package_dir() -> pathlib.Path:
    return FOLDER / "node_modules" / "@portkey-ai" / "gateway"


def installed_version(package: pathlib.Path | None = None) -> str | None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return str(json.loads(((package or package_dir()) / "package.json").read_text())["version"])
    return None


def node_server_versions() -> set[str | None]:
    """Every @hono/node-server the install holds (npm may nest one under the gateway)."""
    found = {installed_version(folder) for folder in FOLDER.glob("node_modules/**/@hono/node-server")}
    return found or {None}


def ensure_installed() -> str:
    """Installs the pinned gateway with npm (once); its version. Raises Unavailable without node or npm."""
    if installed_version() == VERSION and node_server_versions() == {NODE_SERVER}:
        return VERSION
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise Unavailable("node and npm are not installed")
    FOLDER.mkdir(parents=True, exist_ok=True)
    manifest = {"private": True, "dependencies": {PACKAGE: VERSION}, "overrides": {"@hono/node-server": NODE_SERVER}}
    (FOLDER / "package.json").write_text(json.dumps(manifest, indent=1))
    print(f"installing {PACKAGE}@{VERSION} into {FOLDER} (once)", flush=True)
    try:
        installed = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund"],
            cwd=FOLDER, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as error:
        raise Unavailable(f"npm install {PACKAGE} took over {INSTALL_TIMEOUT_SECONDS} s") from error
    if installed.returncode != 0 or installed_version() is None:
        raise Unavailable(f"npm install {PACKAGE}@{VERSION} failed: {installed.stderr.strip()[-400:]}")
    return installed_version() or "?"


@dataclass
class Gateway:
    base_url: str  # ends in /v1
    pid: int
    version: str
    log_path: pathlib.Path
    upstream_url: str

    def headers(self, backend_api: str, pool: bool = False) -> dict[str, str]:
        """What tells the gateway where to send a request: the upstream as the provider's custom host."""
        if pool:
            targets = [{"provider": "openai", "api_key": f"bench-pool-key-{index}", "custom_host": self.upstream_url}
                       for index in range(3)]
            return {"x-portkey-config": json.dumps({"strategy": {"mode": "loadbalance"}, "targets": targets})}
        if backend_api == "anthropic":
            return {"x-portkey-provider": "anthropic", "x-portkey-custom-host": self.upstream_url,
                    "x-api-key": "bench-key-not-secret"}
        return {"x-portkey-provider": "openai", "x-portkey-custom-host": self.upstream_url,
                "authorization": "Bearer bench-key-not-secret"}


@contextlib.contextmanager
def portkey_gateway(directory: pathlib.Path, upstream_url: str, port: int) -> Iterator[Gateway]:
    """Runs the gateway until the block ends; raises Unavailable if it cannot be installed or started."""
    version = ensure_installed()
    log_path = directory / "portkey.log"
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PORTKEY_", "REDIS_"))}
    environment.update({"NODE_ENV": "production", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1"})
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            ["node", "--require", str(LOOPBACK_PRELOAD), "build/start-server.js", f"--port={port}", "--headless"],
            cwd=package_dir(), env=environment, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        gateway = Gateway(f"http://127.0.0.1:{port}/v1", process.pid, version, log_path, upstream_url)
        wait_until_answering(process, gateway)
        yield gateway
    finally:
        stop_group(process)


def wait_until_answering(process: subprocess.Popen[bytes], gateway: Gateway) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ready?"}]}).encode()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Unavailable(f"portkey exited with {process.returncode} at start: {log_tail(gateway.log_path)}")
        request = urllib.request.Request(f"{gateway.base_url}/chat/completions", data=body,
                                         headers={"content-type": "application/json", **gateway.headers("chat")})
        with contextlib.suppress(OSError, ValueError):
            with opener.open(request, timeout=5) as answer:
                if answer.status == 200 and json.loads(answer.read()).get("choices"):
                    return
        time.sleep(0.25)
    raise Unavailable(f"portkey did not answer within {START_TIMEOUT_SECONDS} s: {log_tail(gateway.log_path)}")
