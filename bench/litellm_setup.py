"""LiteLLM's proxy for the bench: its own virtual environment (installed from PyPI when missing), a config for the
scripted upstream, and the process, started on 127.0.0.1 with everything that would reach the internet turned off."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

BENCH = pathlib.Path(__file__).resolve().parent
VENV = BENCH / ".litellm-venv"  # gitignored; also holds matplotlib for the chart
# Pinned: the newest release whose `proxy` extra resolves on PyPI as mirrored here (later ones need
# litellm-proxy-extras versions it does not have). A 1.107.0 release was reported compromised; it is not on PyPI.
LITELLM_REQUIREMENT = ("litellm", "1.106.12", "litellm[proxy]==1.106.12")
MATPLOTLIB_REQUIREMENT = ("matplotlib", "3.11.2", "matplotlib==3.11.2")
INSTALL_TIMEOUT_SECONDS = 1200
START_TIMEOUT_SECONDS = 120

# No network beyond the upstream: LiteLLM otherwise fetches its model cost map and other lists from GitHub at start.
OFFLINE_ENVIRONMENT = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_MODE": "PRODUCTION",  # DEV (the default) loads a .env from the working directory
    "LITELLM_LOG": "ERROR",
    # dario on loopback without DARIO_API_KEY authenticates nobody; LiteLLM refuses that unless told, so both
    # sides do the same work. Only ever bound to 127.0.0.1.
    "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


class Unavailable(RuntimeError):
    """LiteLLM could not be installed or started; the message says why."""


def venv_python() -> pathlib.Path:
    return VENV / "bin" / "python"


def installed_version(distribution: str) -> str | None:
    if not venv_python().exists():
        return None
    found = subprocess.run(
        [venv_python(), "-c", f"import importlib.metadata as m; print(m.version({distribution!r}))"],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() if found.returncode == 0 else None


def ensure_installed(*requirements: tuple[str, str, str]) -> None:
    """Creates bench/.litellm-venv and pip-installs the requirements whose pinned version is not there yet."""
    missing = [spec for name, version, spec in requirements if installed_version(name) != version]
    if not missing:
        return
    if not venv_python().exists():
        created = subprocess.run([sys.executable, "-m", "venv", VENV], capture_output=True, text=True)
        if created.returncode != 0:
            raise Unavailable(f"could not create {VENV}: {created.stderr.strip()[-500:]}")
    print(f"installing {', '.join(missing)} into {VENV} (once; about a minute)", file=sys.stderr, flush=True)
    try:
        installed = subprocess.run(
            [venv_python(), "-m", "pip", "install", "--disable-pip-version-check", "-q", *missing],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as error:
        raise Unavailable(f"pip install {' '.join(missing)} took over {INSTALL_TIMEOUT_SECONDS} s") from error
    if installed.returncode != 0:
        errors = [line for line in installed.stderr.splitlines() if line.startswith("ERROR")] or [installed.stderr]
        raise Unavailable(f"pip install {' '.join(missing)} failed: {'; '.join(line[:300] for line in errors[:3])}")


def write_config(directory: pathlib.Path, upstream_url: str) -> pathlib.Path:
    """The bench's models, served by the scripted upstream: Chat ones as `hosted_vllm/` (LiteLLM's provider for an
    OpenAI-compatible server: as `openai/` it sends /v1/messages to the upstream's /responses, which such a server
    does not have), Claude ones as `anthropic/` (LiteLLM then translates Chat ↔ Anthropic itself), and the pool's
    name as three deployments with three keys (LiteLLM's router balances between them)."""
    from bench.workloads import CHAT_MODEL, CLAUDE_MODEL, LONG_STREAM_SUFFIX, POOL_MODEL

    def deployment(name: str, model: str, key: str = "bench-key-not-secret") -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {"model": model, "api_base": upstream_url, "api_key": key}}

    claude_base = upstream_url.removesuffix("/v1")  # LiteLLM appends /v1/messages to an Anthropic api_base
    models = [deployment(CHAT_MODEL, f"hosted_vllm/{CHAT_MODEL}")]
    for name in (CLAUDE_MODEL, CLAUDE_MODEL + LONG_STREAM_SUFFIX):
        models.append({"model_name": name, "litellm_params": {"model": f"anthropic/{name}", "api_base": claude_base,
                                                              "api_key": "bench-key-not-secret"}})
    models += [deployment(POOL_MODEL, f"hosted_vllm/{CHAT_MODEL}", f"bench-pool-key-{index}") for index in range(3)]
    config = {  # JSON is YAML, so no YAML library is needed on this side
        "model_list": models,
        "litellm_settings": {"telemetry": False, "callbacks": [], "success_callback": [], "failure_callback": []},
        "general_settings": {},
    }
    path = directory / "litellm-config.yaml"
    path.write_text(json.dumps(config, indent=1))
    return path


@dataclass
class Proxy:
    base_url: str  # ends in /v1
    pid: int
    version: str
    log_path: pathlib.Path


@contextlib.contextmanager
def litellm_proxy(directory: pathlib.Path, upstream_url: str, port: int) -> Iterator[Proxy]:
    """Runs `litellm --config … --port port` (one worker, its default) until the block ends; raises Unavailable."""
    config = write_config(directory, upstream_url)
    log_path = directory / "litellm.log"
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("LITELLM_", "DATABASE_"))}
    environment.update(OFFLINE_ENVIRONMENT)
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [VENV / "bin" / "litellm", "--config", config, "--host", "127.0.0.1", "--port", str(port)],
            cwd=directory,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it stops any worker it forked
        )
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        wait_until_answering(process, base_url, log_path)
        yield Proxy(base_url, process.pid, installed_version("litellm") or "?", log_path)
    finally:
        stop_group(process)


def wait_until_answering(process: subprocess.Popen[bytes], base_url: str, log_path: pathlib.Path) -> None:
    """Until a chat completion through the proxy succeeds; raises Unavailable if it exits or the deadline passes."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never an HTTP proxy
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ready?"}]}).encode()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Unavailable(f"litellm exited with {process.returncode} at start: {log_tail(log_path)}")
        request = urllib.request.Request(
            f"{base_url}/chat/completions", data=body, headers={"content-type": "application/json"}
        )
        with contextlib.suppress(OSError, ValueError):
            with opener.open(request, timeout=5) as answer:
                if answer.status == 200 and json.loads(answer.read()).get("choices"):
                    return
        time.sleep(0.25)
    raise Unavailable(f"litellm did not answer within {START_TIMEOUT_SECONDS} s: {log_tail(log_path)}")


def log_tail(log_path: pathlib.Path, lines: int = 3) -> str:
    """Why LiteLLM stopped, from its log: its first error lines if it wrote any, else its last lines."""
    with contextlib.suppress(OSError):
        text = [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
        errors = [line for line in text if line.startswith(("ERROR", "Error", "OSError")) or "refused to start" in line]
        return " | ".join(dict.fromkeys(errors[:lines] or text[-lines:]))[-800:]
    return "(no log)"


def stop_group(process: subprocess.Popen[bytes], grace_seconds: float = 10.0) -> None:
    """SIGTERM to the process group, SIGKILL to what is left after the grace period."""
    for number, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, number)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
        if process.poll() is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # a worker that outlived its parent
            return


def log_findings(log_path: pathlib.Path) -> list[str]:
    """The distinct warning and error lines LiteLLM logged (its banner aside), for the report."""
    findings: list[str] = []
    with contextlib.suppress(OSError):
        for line in log_path.read_text(errors="replace").splitlines():
            text = line.strip()
            if any(word in text for word in ("ERROR", "WARNING", "Traceback", "Exception")) and text not in findings:
                findings.append(text[:300])
    return findings[:20]
