"""The clients of the matrix: how each is installed, found, pointed at dario (base URL and key only) and checked.

A `Case` is one row: a client, the API it speaks, the backend format behind dario, streaming or not. Its
driver builds the command line and environment (a fresh HOME under the case's folder, nothing inherited but
PATH and the locale) and judges the output; `dario.testing.matrix.report` judges the tool round trip from the upstream.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from dario.testing.matrix.stack import CLIENT_KEY
from dario.testing.matrix.upstream import MARKER
from dario.testing.processes import REPO

# The matrix tool's folder: the SDK scripts, package.json, and the clients `python -m matrix --install` puts there
# (gitignored), so that a checkout's tool and test suite find the same installs.
HERE = REPO / "matrix"
SCRIPTS = HERE / "scripts"
VENVS = HERE / ".venvs"
NODE_BIN = HERE / "node_modules" / ".bin"
# The versions measured: `python -m matrix --install` installs exactly these (and the npm ones of package.json).
PYTHON_CLIENTS = {"agents": ["openai-agents==0.24.0"], "llm": ["llm==0.36"], "aider": ["aider-chat==0.86.2"]}
SHELL_TASK = "Run the shell command `echo dario-matrix` with your shell tool, then tell me what it printed."
WEATHER_TASK = "What is the weather in Paris? Use the get_weather tool, then answer in one sentence."
# Codex's default model gets its "code mode" tools (a freeform `exec` tool inside namespaces); a model Codex has
# no metadata for (as a Claude model behind dario is) gets the fallback set: `exec_command` and other functions.
CODEX_MODEL = "claude-sonnet-5-5"
# Codex settings that leave only function tools: no hosted web_search tool, no `namespace` of multi-agent tools.
FUNCTIONS_ONLY = "functions-only"
CODEX_FUNCTIONS_ONLY = ('web_search = "disabled"\n', "[agents]\nenabled = false\n\n[features]\ngoals = false\n\n")
AIDER_EDIT = "hello.txt\n```\ndario-matrix\n```\n"


@dataclass(frozen=True)
class Case:
    id: str
    client: str  # a key of DRIVERS
    api: str  # the API the client speaks
    backend: str  # the format of the backend behind dario: "openai" (Chat Completions) or "anthropic"
    stream: bool
    heavy: bool = False  # in the test suite only with DARIO_MATRIX=1
    variant: str = ""  # "chat": the Agents SDK on Chat Completions; for Codex, the model set in its config


@dataclass
class Invocation:
    argv: list[str]
    env: dict[str, str]
    cwd: pathlib.Path
    check: Callable[[str], str]  # stdout -> "" when the client finished the task, else why not


CASES = [
    Case("openai-chat-stream", "openai-sdk", "Chat Completions", "anthropic", True),
    Case("openai-chat-plain", "openai-sdk", "Chat Completions", "anthropic", False),
    Case("openai-responses-stream-anthropic", "openai-sdk-responses", "Responses", "anthropic", True),
    Case("openai-responses-stream-openai", "openai-sdk-responses", "Responses", "openai", True),
    Case("openai-responses-plain-anthropic", "openai-sdk-responses", "Responses", "anthropic", False),
    Case("anthropic-stream", "anthropic-sdk", "Messages", "openai", True),
    Case("anthropic-plain", "anthropic-sdk", "Messages", "openai", False),
    Case("agents-responses-anthropic", "agents-sdk", "Responses", "anthropic", True),
    Case("agents-responses-openai", "agents-sdk", "Responses", "openai", True),
    Case("agents-chat-anthropic", "agents-sdk", "Chat Completions", "anthropic", True, variant="chat"),
    Case("claude-code", "claude-code", "Messages", "openai", True, heavy=True),
    Case("codex-anthropic", "codex", "Responses", "anthropic", True, heavy=True),
    Case("codex-openai", "codex", "Responses", "openai", True, heavy=True),
    Case("codex-claude-model-anthropic", "codex", "Responses", "anthropic", True, heavy=True, variant=CODEX_MODEL),
    Case("codex-functions-only-anthropic", "codex", "Responses", "anthropic", True, heavy=True,
         variant=f"{CODEX_MODEL}+{FUNCTIONS_ONLY}"),
    Case("codex-functions-only-openai", "codex", "Responses", "openai", True, heavy=True,
         variant=f"{CODEX_MODEL}+{FUNCTIONS_ONLY}"),
    Case("aider", "aider", "Chat Completions", "anthropic", True, heavy=True),
    Case("llm", "llm", "Chat Completions", "anthropic", True, heavy=True),
]


def base_env(home: pathlib.Path, extra: dict[str, str]) -> dict[str, str]:
    """Nothing of the caller's environment leaks in (no real keys, no real config): PATH, locale, a fresh HOME."""
    home.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join([str(NODE_BIN), str(pathlib.Path(sys.executable).parent), "/usr/local/bin", "/usr/bin",
                            "/bin"])
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb", **extra}


def agents_python() -> str:
    """An interpreter that has the Agents SDK: this one, or the matrix's own virtual environment."""
    if importlib.util.find_spec("agents") is not None:
        return sys.executable
    candidate = VENVS / "agents" / "bin" / "python"
    return str(candidate) if candidate.exists() else ""


def marker_check(stdout: str) -> str:
    return "" if MARKER in stdout else f"the final answer never reached the client (stdout ends {stdout[-300:]!r})"


# --- the drivers: one per client -------------------------------------------------------------------------------

def _sdk(script: str, python: str, model: str, case: Case, url: str, folder: pathlib.Path) -> Invocation:
    env = base_env(folder / "home", {"DARIO_BASE_URL": url, "DARIO_KEY": CLIENT_KEY, "MATRIX_MODEL": model,
                                      "MATRIX_STREAM": "1" if case.stream else "0", "MATRIX_API": case.variant,
                                      "PYTHONWARNINGS": "ignore::DeprecationWarning"})
    return Invocation([python, str(SCRIPTS / script)], env, SCRIPTS, marker_check)


def openai_sdk(case: Case, url: str, folder: pathlib.Path) -> Invocation:
    return _sdk("openai_chat.py", sys.executable, "gpt-4o-mini", case, url, folder)


def openai_sdk_responses(case: Case, url: str, folder: pathlib.Path) -> Invocation:
    return _sdk("openai_responses.py", sys.executable, "gpt-4o-mini", case, url, folder)


def anthropic_sdk(case: Case, url: str, folder: pathlib.Path) -> Invocation:
    return _sdk("anthropic_messages.py", sys.executable, "claude-sonnet-5-5", case, url, folder)


def agents_sdk(case: Case, url: str, folder: pathlib.Path) -> Invocation:
    return _sdk("agents_sdk.py", agents_python(), "gpt-4o-mini", case, url, folder)


def claude_code(case: Case, url: str, folder: pathlib.Path) -> Invocation:
    env = base_env(folder / "home", {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": CLIENT_KEY,
                                      "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1",
                                      "DISABLE_AUTOUPDATER": "1"})
    argv = [str(NODE_BIN / "claude"), "-p", SHELL_TASK, "--allowedTools", "Bash(echo:*)", "--max-turns", "4",
            "--output-format", "json"]

    def check(stdout: str) -> str:
        try:
            result = json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return f"no JSON result on stdout: {stdout[-300:]!r}"
        if result.get("is_error"):
            return f"claude reported an error: {str(result.get('result'))[:300]}"
        return marker_check(str(result.get("result")))

    work = folder / "work"
    work.mkdir(parents=True, exist_ok=True)
    return Invocation(argv, env, work, check)


def codex(case: Case, url: str, folder: pathlib.Path) -> Invocation:
    home = folder / "codex-home"
    home.mkdir(parents=True, exist_ok=True)
    model, _, settings = case.variant.partition("+")
    top, tables = CODEX_FUNCTIONS_ONLY if settings == FUNCTIONS_ONLY else ("", "")
    (home / "config.toml").write_text(
        (f'model = "{model}"\n' if model else "") + f'model_provider = "dario"\n{top}\n{tables}'
        f'[model_providers.dario]\nname = "dario"\nbase_url = "{url}/v1"\nenv_key = "DARIO_KEY"\n'
        'wire_api = "responses"\n', encoding="utf-8")
    env = base_env(folder / "home", {"CODEX_HOME": str(home), "DARIO_KEY": CLIENT_KEY})
    work = folder / "work"
    work.mkdir(parents=True, exist_ok=True)
    # The scripted upstream chooses the command (echo), so the sandbox adds nothing but a dependency on landlock.
    argv = [str(NODE_BIN / "codex"), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
            SHELL_TASK]
    return Invocation(argv, env, work, marker_check)


def aider(case: Case, url: str, folder: pathlib.Path) -> Invocation:
    work = folder / "work"
    work.mkdir(parents=True, exist_ok=True)
    (work / "hello.txt").write_text("old\n", encoding="utf-8")
    reply = base64.b64encode(AIDER_EDIT.encode()).decode()
    # LITELLM_LOCAL_MODEL_COST_MAP: litellm would otherwise fetch its price list from the internet at import.
    env = base_env(folder / "home", {"OPENAI_API_BASE": f"{url}/v1", "OPENAI_API_KEY": CLIENT_KEY,
                                      "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    argv = [str(VENVS / "aider" / "bin" / "aider"), "--model", "openai/gpt-4o-mini", "--edit-format", "whole",
            "--no-git", "--no-check-update", "--analytics-disable", "--no-show-model-warnings", "--yes-always",
            "--no-pretty", "--no-fancy-input", "--no-detect-urls", "--no-show-release-notes",
            # aider writes its history files at the git root it finds, even with --no-git: keep them in the case
            "--chat-history-file", str(folder / "chat.history.md"),
            "--input-history-file", str(folder / "input.history"),
            "--message", f"Replace the contents of hello.txt. [[matrix-reply:{reply}]]", "hello.txt"]

    def check(stdout: str) -> str:
        content = (work / "hello.txt").read_text(encoding="utf-8").strip()
        if content != "dario-matrix":
            return f"hello.txt was not edited (it holds {content!r}); stdout ends {stdout[-300:]!r}"
        return marker_check(stdout)

    return Invocation(argv, env, work, check)


def llm(case: Case, url: str, folder: pathlib.Path) -> Invocation:
    user = folder / "llm"
    user.mkdir(parents=True, exist_ok=True)
    (user / "extra-openai-models.yaml").write_text(
        f'- model_id: dario\n  model_name: gpt-4o-mini\n  api_base: "{url}/v1"\n  api_key_name: dario\n'
        "  supports_tools: true\n", encoding="utf-8")
    (user / "keys.json").write_text(json.dumps({"dario": CLIENT_KEY}), encoding="utf-8")  # as `llm keys set`
    function = ("def get_weather(city: str) -> str:\n    'The current weather in a city.'\n"
                "    return f'dario-matrix tool result: sunny in {city}'\n")
    env = base_env(folder / "home", {"LLM_USER_PATH": str(user)})
    argv = [str(VENVS / "llm" / "bin" / "llm"), "-m", "dario", "--functions", function, "--td", WEATHER_TASK]
    return Invocation(argv, env, folder, marker_check)


DRIVERS: dict[str, Callable[[Case, str, pathlib.Path], Invocation]] = {
    "openai-sdk": openai_sdk, "openai-sdk-responses": openai_sdk_responses, "anthropic-sdk": anthropic_sdk,
    "agents-sdk": agents_sdk, "claude-code": claude_code, "codex": codex, "aider": aider, "llm": llm,
}
NAMES = {"openai-sdk": "openai SDK (Python)", "openai-sdk-responses": "openai SDK (Python)",
         "anthropic-sdk": "anthropic SDK (Python)", "agents-sdk": "OpenAI Agents SDK",
         "claude-code": "Claude Code `-p`", "codex": "Codex CLI `exec`", "aider": "aider", "llm": "`llm` CLI"}


def _python_version(python: str, distribution: str) -> str:
    if not python:
        return ""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    return result.stdout.strip()


def _command_version(argv: list[str]) -> str:
    if not pathlib.Path(argv[0]).exists():
        return ""
    with tempfile.TemporaryDirectory(prefix="matrix-version-") as home:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=base_env(pathlib.Path(home), {}))
    text = (result.stdout or result.stderr).strip().splitlines()
    return text[0] if text else ""


def version(client: str) -> str:
    """The installed version of a client, or "" when it is not installed."""
    if client in ("openai-sdk", "openai-sdk-responses"):
        return "openai " + _python_version(sys.executable, "openai")
    if client == "anthropic-sdk":
        return "anthropic " + _python_version(sys.executable, "anthropic")
    if client == "agents-sdk":
        found = _python_version(agents_python(), "openai-agents")
        return f"openai-agents {found}" if found else ""
    commands = {"claude-code": [str(NODE_BIN / "claude"), "--version"],
                "codex": [str(NODE_BIN / "codex"), "--version"],
                "aider": [str(VENVS / "aider" / "bin" / "aider"), "--version"],
                "llm": [str(VENVS / "llm" / "bin" / "llm"), "--version"]}
    return _command_version(commands[client])


def missing(client: str) -> str:
    """Why a client cannot run here ("" when it can), and the command that installs it."""
    needs: dict[str, str | pathlib.Path] = {
        "agents-sdk": agents_python(), "claude-code": NODE_BIN / "claude", "codex": NODE_BIN / "codex",
        "aider": VENVS / "aider" / "bin" / "aider", "llm": VENVS / "llm" / "bin" / "llm"}
    if client in needs and not (needs[client] and pathlib.Path(needs[client]).exists()):
        return f"not installed: `python -m matrix --install {client}`"
    return ""


def install(clients: list[str], timeout: float = 900.0) -> None:
    """Installs the Python clients into matrix/.venvs/NAME and the npm ones into matrix/node_modules."""
    venv_of = {"agents-sdk": "agents", "llm": "llm", "aider": "aider"}
    for client in clients:
        if client in venv_of:
            name = venv_of[client]
            folder = VENVS / name
            if not (folder / "bin" / "python").exists():
                subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
            subprocess.run([str(folder / "bin" / "pip"), "install", "-q", *PYTHON_CLIENTS[name]], check=True,
                           timeout=timeout)
    if {"claude-code", "codex"} & set(clients):
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed for Claude Code and Codex CLI (Node 20 or later)")
        subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=timeout)
