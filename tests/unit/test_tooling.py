"""The tools that keep the code in shape run with the tests: mypy ([tool.mypy] in pyproject.toml: strict on the
four packages, mypy's default flags on tests/, bench/, matrix/ and scripts/, in one run) and ruff ([tool.ruff]);
each fails with the tool's own report."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_accepts_the_packages_and_the_code_around_them() -> None:
    result = run("mypy")
    if result.returncode != 0:
        pytest.fail(f"mypy found errors:\n{result.stdout}{result.stderr}", pytrace=False)


def test_ruff_accepts_the_tree() -> None:
    result = run("ruff", "check", "--no-cache", ".")
    if result.returncode != 0:
        pytest.fail(f"ruff found problems:\n{result.stdout}{result.stderr}", pytrace=False)
