"""Real clients through the supervised stack (the matrix of docs/clients.md): each one, given only dario's URL and
a key, completes a task with one tool call and its result against a scripted upstream of the other format.

The official openai and anthropic SDKs always run. The Agents SDK runs where it is importable (or installed by
`python -m matrix --install agents-sdk`). Claude Code, Codex CLI, aider and the `llm` CLI run only with
DARIO_MATRIX=1 after `python -m matrix --install`; `python -m matrix` runs them all and writes the doc.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import pytest

from dario.testing.matrix.clients import CASES, Case, missing
from dario.testing.matrix.report import run_case
from dario.testing.matrix.stack import Matrix, matrix_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
CLIENT_SECONDS = 240.0


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    with matrix_stack(tmp_path_factory.mktemp("matrix")) as running:
        yield running


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_client_completes_one_tool_call_through_dario(case: Case, matrix: Matrix, tmp_path: pathlib.Path) -> None:
    if case.heavy and os.environ.get("DARIO_MATRIX") != "1":
        pytest.skip("a heavy client: runs with DARIO_MATRIX=1 (after `python -m matrix --install`)")
    why_not = missing(case.client)
    if why_not:
        pytest.skip(why_not)

    outcome = run_case(case, matrix, tmp_path / case.id, timeout=CLIENT_SECONDS)

    if not outcome.passed:
        pytest.fail(f"{outcome.reason}\n{outcome.output}", pytrace=False)
    assert [value.endswith(f"->{case.backend}") for value in outcome.dario["translation"]] == [True], outcome.dario
    assert outcome.upstream["paths"], "nothing reached the scripted upstream"
    if case.client != "aider":  # aider edits files with its text formats instead of calling tools
        assert outcome.tool and outcome.upstream["tool_result_seen"], outcome.upstream
